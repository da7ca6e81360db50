package workspace

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
)

// branch commits files (content "" deletes) on a new branch from main and
// returns the commit.
func branch(t *testing.T, dir, name string, files map[string]string, renames ...[2]string) string {
	t.Helper()
	gittest.Git(t, dir, "checkout", "-q", "-b", name, "main")
	defer gittest.Git(t, dir, "checkout", "-q", "main")
	for _, r := range renames {
		gittest.Git(t, dir, "mv", r[0], r[1])
	}
	for name, content := range files {
		if content == "" {
			os.Remove(filepath.Join(dir, name))
			continue
		}
		gittest.Write(t, dir, map[string]string{name: content})
	}
	return gittest.Commit(t, dir, name)
}

// edit replaces lines (1-based) of a gittest.Lines(n) file.
func edit(n int, repl map[int]string, insertTop ...string) string {
	lines := strings.Split(strings.TrimSuffix(gittest.Lines(n), "\n"), "\n")
	for i, s := range repl {
		lines[i-1] = s
	}
	lines = append(append([]string{}, insertTop...), lines...)
	return strings.Join(lines, "\n") + "\n"
}

func newTestPredictor(t *testing.T, dir string) *Predictor {
	t.Helper()
	p, err := NewPredictor(t.Context(), testGit(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestPredictAndLocate(t *testing.T) {
	dir := gittest.NewRepo(t, map[string]string{
		"f.txt":   gittest.Lines(30),
		"g.txt":   gittest.Lines(30),
		"bin.dat": "a\x00b",
		"m.txt":   gittest.Lines(5),
	})
	type side struct {
		files   map[string]string
		renames [][2]string
	}
	tests := []struct {
		name string
		a, b side
		want []FileConflict
	}{
		{
			name: "same lines",
			a:    side{files: map[string]string{"f.txt": edit(30, map[int]string{10: "A10", 11: "A11"}, "new1", "new2", "new3")}},
			b:    side{files: map[string]string{"f.txt": edit(30, map[int]string{10: "B10", 25: "B25"})}},
			want: []FileConflict{{Path: "f.txt", Kind: KindContent, Severity: SeverityConflict,
				A: FileSide{Path: "f.txt", Ranges: []Range{{13, 14}}},
				B: FileSide{Path: "f.txt", Ranges: []Range{{10, 10}}}}},
		},
		{
			name: "different regions",
			a:    side{files: map[string]string{"f.txt": edit(30, map[int]string{2: "A2"})}},
			b:    side{files: map[string]string{"f.txt": edit(30, map[int]string{20: "B20", 21: "B21"})}},
			want: []FileConflict{{Path: "f.txt", Kind: KindOverlap, Severity: SeverityOverlap,
				A: FileSide{Path: "f.txt", Ranges: []Range{{2, 2}}},
				B: FileSide{Path: "f.txt", Ranges: []Range{{20, 21}}}}},
		},
		{
			name: "modify/delete",
			a:    side{files: map[string]string{"m.txt": edit(5, map[int]string{3: "A3"})}},
			b:    side{files: map[string]string{"m.txt": ""}},
			want: []FileConflict{{Path: "m.txt", Kind: KindModifyDelete, Severity: SeverityConflict,
				A: FileSide{Path: "m.txt", Ranges: []Range{{3, 3}}},
				B: FileSide{Path: "m.txt"}}},
		},
		{
			name: "rename vs edit",
			a:    side{renames: [][2]string{{"g.txt", "h.txt"}}, files: map[string]string{"h.txt": edit(30, map[int]string{1: "A1"})}},
			b:    side{files: map[string]string{"g.txt": edit(30, map[int]string{20: "B20"})}},
			want: []FileConflict{{Path: "h.txt", Kind: KindOverlap, Severity: SeverityOverlap,
				A: FileSide{Path: "h.txt", Ranges: []Range{{1, 1}}},
				B: FileSide{Path: "g.txt", Ranges: []Range{{20, 20}}}}},
		},
		{
			name: "rename vs edit of the same lines",
			a:    side{renames: [][2]string{{"g.txt", "h.txt"}}, files: map[string]string{"h.txt": edit(30, map[int]string{7: "A7"})}},
			b:    side{files: map[string]string{"g.txt": edit(30, map[int]string{7: "B7"})}},
			want: []FileConflict{{Path: "h.txt", Kind: KindContent, Severity: SeverityConflict,
				A: FileSide{Path: "h.txt", Ranges: []Range{{7, 7}}},
				B: FileSide{Path: "g.txt", Ranges: []Range{{7, 7}}}}},
		},
		{
			name: "binary",
			a:    side{files: map[string]string{"bin.dat": "a\x00A"}},
			b:    side{files: map[string]string{"bin.dat": "a\x00B"}},
			want: []FileConflict{{Path: "bin.dat", Kind: KindBinary, Severity: SeverityConflict,
				A: FileSide{Path: "bin.dat", Binary: true},
				B: FileSide{Path: "bin.dat", Binary: true}}},
		},
		{
			name: "add/add",
			a:    side{files: map[string]string{"new.txt": "one\ntwo\n"}},
			b:    side{files: map[string]string{"new.txt": "uno\n"}},
			want: []FileConflict{{Path: "new.txt", Kind: KindAddAdd, Severity: SeverityConflict,
				A: FileSide{Path: "new.txt", Ranges: []Range{{1, 2}}},
				B: FileSide{Path: "new.txt", Ranges: []Range{{1, 1}}}}},
		},
		{
			name: "disjoint files",
			a:    side{files: map[string]string{"f.txt": edit(30, map[int]string{1: "A"})}},
			b:    side{files: map[string]string{"g.txt": edit(30, map[int]string{1: "B"})}},
		},
	}
	p := newTestPredictor(t, dir)
	var pairs []Pair
	for i, tt := range tests {
		a := branch(t, dir, "a"+string(rune('0'+i)), tt.a.files, tt.a.renames...)
		b := branch(t, dir, "b"+string(rune('0'+i)), tt.b.files, tt.b.renames...)
		pairs = append(pairs, Pair{A: a, B: b})
	}
	// One batch for all, with a bad ref in the middle.
	batch := append(append(append([]Pair{}, pairs[:2]...), Pair{A: "nosuch", B: pairs[0].B}), pairs[2:]...)
	preds, err := p.Predict(t.Context(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(preds[2].Err, ErrBadRef) {
		t.Errorf("bad ref: got err %v, want ErrBadRef", preds[2].Err)
	}
	preds = append(preds[:2], preds[3:]...)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pred := preds[i]
			if pred.Err != nil {
				t.Fatal(pred.Err)
			}
			wantClean := true
			for _, w := range tt.want {
				if w.Severity == SeverityConflict {
					wantClean = false
				}
			}
			if pred.Clean != wantClean {
				t.Errorf("clean: got %v, want %v (%+v)", pred.Clean, wantClean, pred.Conflicts)
			}
			got, err := p.Locate(t.Context(), pred)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}

	// Unchanged pairs cost nothing.
	before := p.Stats()
	if _, err := p.Predict(t.Context(), pairs); err != nil {
		t.Fatal(err)
	}
	after := p.Stats()
	if after.Merges != before.Merges || after.CacheHits != before.CacheHits+len(pairs) {
		t.Errorf("second Predict: stats %+v, before %+v", after, before)
	}
}

func TestChangedPaths(t *testing.T) {
	dir := gittest.NewRepo(t, map[string]string{"a": "a\n", "b": gittest.Lines(20), "c": "c\n"})
	base := gittest.Git(t, dir, "rev-parse", "HEAD")
	head := branch(t, dir, "x", map[string]string{"a": "A\n", "c": "", "d": "d\n"}, [2]string{"b", "B"})
	p := newTestPredictor(t, dir)
	ch, err := p.ChangedPaths(t.Context(), base, head)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range ch {
		got = append(got, string(c.Status)+" "+c.BasePath()+" "+c.Path)
	}
	want := []string{"R b B", "M a a", "D c c", "A d d"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
