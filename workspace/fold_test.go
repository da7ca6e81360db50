package workspace

import (
	"errors"
	"slices"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
)

func newTestFolder(t *testing.T, dir string) *Folder {
	t.Helper()
	repo, err := Open(t.Context(), testGit(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return NewFolder(repo, newTestPredictor(t, dir))
}

func names(sides []FoldSide, idx []int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, sides[i].Name)
	}
	return out
}

func stepNames(sides []FoldSide, r FoldResult) []string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, sides[s.Side].Name)
	}
	return out
}

func leftOf(t *testing.T, sides []FoldSide, r FoldResult, name string) FoldLeft {
	t.Helper()
	for _, l := range r.Left {
		if sides[l.Side].Name == name {
			return l
		}
	}
	t.Fatalf("%s is not left out: %+v", name, r.Left)
	return FoldLeft{}
}

// TestFoldOrder: sides that fit land in order; one that collides with a
// side in the order, one that collides with the target and one with
// nothing to merge are left out, each with its reason and lines.
func TestFoldOrder(t *testing.T) {
	dir := gittest.NewRepo(t, map[string]string{"shared.txt": gittest.Lines(20), "main.txt": gittest.Lines(20)})
	sides := []FoldSide{
		{Name: "alpha", Commit: branch(t, dir, "alpha", map[string]string{"shared.txt": edit(20, map[int]string{5: "alpha"}), "a.txt": "a\n"})},
		{Name: "beta", Commit: branch(t, dir, "beta", map[string]string{"b.txt": "b\n"})},
		{Name: "gamma", Commit: branch(t, dir, "gamma", map[string]string{"shared.txt": edit(20, map[int]string{5: "gamma"})})},
		{Name: "delta", Commit: branch(t, dir, "delta", map[string]string{"main.txt": edit(20, map[int]string{10: "delta"})})},
		{Name: "empty", Commit: gittest.Git(t, dir, "rev-parse", "main")},
	}
	// The target moves on under delta's lines.
	gittest.Write(t, dir, map[string]string{"main.txt": edit(20, map[int]string{10: "main"})})
	tip := gittest.Commit(t, dir, "main moves")
	f := newTestFolder(t, dir)
	r, err := f.Fold(t.Context(), tip, sides)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := stepNames(sides, r), []string{"alpha", "beta"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v (left %+v)", got, want, r.Left)
	}
	g := leftOf(t, sides, r, "gamma")
	if g.Reason != LeftSession || !slices.Equal(names(sides, g.With), []string{"alpha"}) {
		t.Errorf("gamma: %+v, want left out for alpha", g)
	}
	if len(g.Files) != 1 || g.Files[0].Path != "shared.txt" || len(g.Files[0].A.Ranges) == 0 || g.Files[0].A.Ranges[0] != (Range{5, 5}) {
		t.Errorf("gamma's conflict: %+v, want shared.txt line 5", g.Files)
	}
	if d := leftOf(t, sides, r, "delta"); d.Reason != LeftTarget || !slices.Equal(d.Paths(), []string{"main.txt"}) {
		t.Errorf("delta: %+v, want a conflict with the target on main.txt", d)
	}
	if e := leftOf(t, sides, r, "empty"); e.Reason != LeftEmpty {
		t.Errorf("empty: %+v, want nothing to merge", e)
	}
	// The fold is the merge of both onto the tip, and nothing moved.
	if got := gittest.Git(t, dir, "show", r.Commit()+":a.txt"); got != "a" {
		t.Errorf("fold lacks alpha's file: %q", got)
	}
	if got := gittest.Git(t, dir, "show", r.Commit()+":b.txt"); got != "b" {
		t.Errorf("fold lacks beta's file: %q", got)
	}
	if got := gittest.Git(t, dir, "rev-parse", "main"); got != tip {
		t.Errorf("main moved to %s", got)
	}
	if st := gittest.Git(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("the worktree changed:\n%s", st)
	}
	// Folding again finds every step in the cache, with the same commits.
	before := f.pred.Stats().Merges
	r2, err := f.Fold(t.Context(), tip, sides)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Commit() != r.Commit() || f.pred.Stats().Merges != before {
		t.Errorf("second fold: commit %s (was %s), %d new merges", r2.Commit(), r.Commit(), f.pred.Stats().Merges-before)
	}
}

// TestFoldPrefersMost: when the earliest side collides with two others
// that fit together, the two land and the earliest waits.
func TestFoldPrefersMost(t *testing.T) {
	dir := gittest.NewRepo(t, map[string]string{"f.txt": gittest.Lines(30)})
	sides := []FoldSide{
		{Name: "wide", Commit: branch(t, dir, "wide", map[string]string{"f.txt": edit(30, map[int]string{5: "w", 6: "w", 7: "w", 20: "w"})})},
		{Name: "top", Commit: branch(t, dir, "top", map[string]string{"f.txt": edit(30, map[int]string{6: "t"})})},
		{Name: "bottom", Commit: branch(t, dir, "bottom", map[string]string{"f.txt": edit(30, map[int]string{20: "b"})})},
	}
	tip := gittest.Git(t, dir, "rev-parse", "main")
	r, err := newTestFolder(t, dir).Fold(t.Context(), tip, sides)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := stepNames(sides, r), []string{"top", "bottom"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if w := leftOf(t, sides, r, "wide"); w.Reason != LeftSession || !slices.Equal(names(sides, w.With), []string{"top", "bottom"}) {
		t.Errorf("wide: %+v, want left out for top and bottom", w)
	}
}

// TestFoldCombination: three sides that merge cleanly two by two but not
// all together (a directory renamed by one, a file added to it by another
// and the same path added by a third) are caught by the fold.
func TestFoldCombination(t *testing.T) {
	dir := gittest.NewRepo(t, map[string]string{"d/x": gittest.Lines(5), "d/y": gittest.Lines(6), "d/z": gittest.Lines(7)})
	gittest.Git(t, dir, "config", "merge.directoryRenames", "true")
	gittest.Git(t, dir, "checkout", "-q", "-b", "mover", "main")
	gittest.Git(t, dir, "mv", "d", "e")
	mover := gittest.Commit(t, dir, "move d to e")
	gittest.Git(t, dir, "checkout", "-q", "main")
	sides := []FoldSide{
		{Name: "mover", Commit: mover},
		{Name: "adder", Commit: branch(t, dir, "adder", map[string]string{"d/new.txt": "from adder\n"})},
		{Name: "late", Commit: branch(t, dir, "late", map[string]string{"e/new.txt": "from late\n"})},
	}
	tip := gittest.Git(t, dir, "rev-parse", "main")
	r, err := newTestFolder(t, dir).Fold(t.Context(), tip, sides)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := stepNames(sides, r), []string{"mover", "adder"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v (left %+v)", got, want, r.Left)
	}
	l := leftOf(t, sides, r, "late")
	if l.Reason != LeftCombination || !slices.Equal(l.Paths(), []string{"e/new.txt"}) || !slices.Equal(names(sides, l.With), []string{"mover", "adder"}) {
		t.Errorf("late: %+v, want a conflict with the combination on e/new.txt", l)
	}
	if len(r.Pairs) != 0 {
		t.Errorf("pairs: %+v, want none (they merge two by two)", r.Pairs)
	}
}

func TestChain(t *testing.T) {
	dir := gittest.NewRepo(t, map[string]string{"f.txt": gittest.Lines(10)})
	a := branch(t, dir, "a", map[string]string{"f.txt": edit(10, map[int]string{2: "a"})})
	b := branch(t, dir, "b", map[string]string{"f.txt": edit(10, map[int]string{2: "b"})})
	c := branch(t, dir, "c", map[string]string{"c.txt": "c\n"})
	tip := gittest.Git(t, dir, "rev-parse", "main")
	f := newTestFolder(t, dir)
	steps, err := f.Chain(t.Context(), tip, []string{a, c})
	if err != nil || len(steps) != 2 {
		t.Fatalf("chain a, c: %v, %v", steps, err)
	}
	if got := gittest.Git(t, dir, "rev-parse", steps[1].Commit+"^1"); got != steps[0].Commit {
		t.Errorf("the second step's first parent is %s, want the first step %s", got, steps[0].Commit)
	}
	steps, err = f.Chain(t.Context(), tip, []string{a, b, c})
	var ce *ConflictError
	if !errors.As(err, &ce) || len(steps) != 1 || ce.Commit != b {
		t.Fatalf("chain a, b, c: steps %v, err %v; want to stop at b", steps, err)
	}
}
