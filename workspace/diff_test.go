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

func TestDiff(t *testing.T) {
	ctx := t.Context()
	g := testGit()
	dir := gittest.NewRepo(t, map[string]string{
		"keep.txt":   gittest.Lines(20),
		"gone.txt":   "bye\n",
		"old/mv.txt": gittest.Lines(30),
		"img.bin":    "\x00\x01\x02",
		"crlf.txt":   "a\r\nb\r\n",
	})
	base := gittest.Git(t, dir, "rev-parse", "HEAD")

	// A committed change, then uncommitted and untracked work on top.
	gittest.Write(t, dir, map[string]string{"keep.txt": strings.Replace(gittest.Lines(20), "line 10\n", "ten\n", 1)})
	gittest.Commit(t, dir, "edit")
	os.Remove(filepath.Join(dir, "gone.txt"))
	os.Remove(filepath.Join(dir, "old/mv.txt"))
	gittest.Write(t, dir, map[string]string{
		"new/mv.txt":    strings.Replace(gittest.Lines(30), "line 1\n", "first\n", 1),
		"img.bin":       "\x00\x09",
		"untracked.txt": "u1\nu2\n",
		"crlf.txt":      "a\r\nB\r\n",
	})
	snap, err := g.TakeSnapshot(ctx, dir, filepath.Join(t.TempDir(), "index"), nil)
	if err != nil {
		t.Fatal(err)
	}

	files, err := g.Diff(ctx, dir, base, snap.Commit, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]FileDiff{}
	for _, f := range files {
		byPath[f.Path] = f
	}
	if len(files) != 6 {
		t.Errorf("got %d files, want 6: %+v", len(files), files)
	}

	keep := byPath["keep.txt"]
	if keep.Status != StatusModified || keep.Additions != 1 || keep.Deletions != 1 {
		t.Errorf("keep.txt: got %+v", keep)
	}
	wantHunk := Hunk{OldStart: 7, OldLines: 7, NewStart: 7, NewLines: 7, Header: "line 6", Lines: []string{
		" line 7", " line 8", " line 9", "-line 10", "+ten", " line 11", " line 12", " line 13",
	}}
	if len(keep.Hunks) != 1 || !reflect.DeepEqual(keep.Hunks[0], wantHunk) {
		t.Errorf("keep.txt hunks: got %+v, want %+v", keep.Hunks, wantHunk)
	}

	if f := byPath["gone.txt"]; f.Status != StatusDeleted || f.Deletions != 1 || len(f.Hunks) != 1 || f.Hunks[0].Lines[0] != "-bye" {
		t.Errorf("gone.txt: got %+v", f)
	}
	if f := byPath["new/mv.txt"]; f.Status != StatusRenamed || f.OldPath != "old/mv.txt" || f.Additions != 1 || f.Deletions != 1 {
		t.Errorf("new/mv.txt: got %+v", f)
	}
	if f := byPath["img.bin"]; !f.Binary || f.Status != StatusModified || len(f.Hunks) != 0 || f.Additions != 0 {
		t.Errorf("img.bin: got %+v", f)
	}
	if f := byPath["untracked.txt"]; f.Status != StatusAdded || f.Additions != 2 ||
		!reflect.DeepEqual(f.Hunks, []Hunk{{OldStart: 0, OldLines: 0, NewStart: 1, NewLines: 2, Lines: []string{"+u1", "+u2"}}}) {
		t.Errorf("untracked.txt: got %+v", f)
	}
	if f := byPath["crlf.txt"]; len(f.Hunks) != 1 || !reflect.DeepEqual(f.Hunks[0].Lines, []string{" a\r", "-b\r", "+B\r"}) {
		t.Errorf("crlf.txt: got %#v", f.Hunks)
	}
	if c := Total(files); c.Files != 6 || c.Additions != 1+0+1+2+1 || c.Deletions != 1+1+1+1 {
		t.Errorf("total: got %+v", c)
	}

	// Stat only: same files, no hunks.
	stat, err := g.Diff(ctx, dir, base, snap.Commit, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	for i := range stat {
		if stat[i].Hunks != nil {
			t.Errorf("stat diff has hunks for %s", stat[i].Path)
		}
		files[i].Hunks = nil
	}
	if !reflect.DeepEqual(stat, files) {
		t.Errorf("stat: got %+v, want %+v", stat, files)
	}

	// Paths limit the diff and are literal.
	some, err := g.Diff(ctx, dir, base, snap.Commit, []string{"keep.txt", "*.bin"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(some) != 1 || some[0].Path != "keep.txt" {
		t.Errorf("limited diff: got %+v", some)
	}
	// Nothing changed: empty, not an error.
	none, err := g.Diff(ctx, dir, snap.Commit, snap.Commit, nil, false)
	if err != nil || len(none) != 0 {
		t.Errorf("empty diff: got %+v, %v", none, err)
	}
}

func TestDiffTrickyContent(t *testing.T) {
	ctx := t.Context()
	g := testGit()
	// Lines that look like patch headers, a file without a final newline,
	// and a name with spaces and a tab.
	tricky := "x\ndiff --git a/b c/d\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n"
	dir := gittest.NewRepo(t, map[string]string{"t.txt": tricky, "no eol.txt": "a\nb", "tab\there.txt": "1\n"})
	base := gittest.Git(t, dir, "rev-parse", "HEAD")
	gittest.Write(t, dir, map[string]string{
		"t.txt":         strings.ReplaceAll(tricky, "\n", "\n\n"),
		"no eol.txt":    "a\nc",
		"tab\there.txt": "2\n",
	})
	head := gittest.Commit(t, dir, "tricky")
	files, err := g.Diff(ctx, dir, base, head, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("got %d files: %+v", len(files), files)
	}
	for _, f := range files {
		var adds, dels int
		for _, h := range f.Hunks {
			for _, l := range h.Lines {
				switch l[0] {
				case '+':
					adds++
				case '-':
					dels++
				}
			}
		}
		if adds != f.Additions || dels != f.Deletions {
			t.Errorf("%s: hunks have +%d -%d, numstat +%d -%d", f.Path, adds, dels, f.Additions, f.Deletions)
		}
	}
	if files[2].Path != "tab\there.txt" {
		t.Errorf("path with tab: got %q", files[2].Path)
	}
}

func TestDiffRejectsBadArgs(t *testing.T) {
	ctx := t.Context()
	g := testGit()
	dir := gittest.NewRepo(t, nil)
	for _, tc := range []struct {
		name     string
		from, to string
		paths    []string
		want     error
	}{
		{"option as ref", "--output=/tmp/x", "HEAD", nil, ErrBadRef},
		{"option as path", "HEAD", "HEAD", []string{"-p"}, ErrBadPath},
		{"dotdot", "HEAD", "HEAD", []string{"../x"}, ErrBadPath},
		{"absolute", "HEAD", "HEAD", []string{"/etc/passwd"}, ErrBadPath},
		{"git dir", "HEAD", "HEAD", []string{".git/config"}, ErrBadPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := g.Diff(ctx, dir, tc.from, tc.to, tc.paths, false); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}
