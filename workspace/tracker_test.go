package workspace

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
)

// fixture is a repository with session worktrees and a tracker over them.
type fixture struct {
	t     *testing.T
	root  string // main worktree
	wts   map[string]string
	repo  *Repo
	w     *Watcher
	tr    *Tracker
	mu    sync.Mutex
	delts []Delta
}

func newFixture(t *testing.T, files map[string]string, sessions []string, wopts WatcherOptions) *fixture {
	t.Helper()
	f := &fixture{t: t, root: gittest.NewRepo(t, files), wts: map[string]string{}}
	base := t.TempDir()
	for _, s := range sessions {
		dir := filepath.Join(base, s)
		gittest.Git(t, f.root, "worktree", "add", "-q", "-b", "studio/"+s, dir, "main")
		f.wts[s] = dir
	}
	repo, err := Open(t.Context(), testGit(), f.root)
	if err != nil {
		t.Fatal(err)
	}
	f.repo = repo
	if f.w, err = NewWatcher(testGit(), wopts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.w.Close() })
	f.start(t.TempDir())
	return f
}

// start makes a tracker over every session, private indexes under ixdir.
func (f *fixture) start(ixdir string) {
	f.tr = f.newTracker(ixdir, false)
}

// newTracker makes a tracker over every session, private indexes under
// ixdir; indexOnly turns incremental snapshots off.
func (f *fixture) newTracker(ixdir string, indexOnly bool) *Tracker {
	t := f.t
	tr, err := NewTracker(t.Context(), f.repo, TrackerOptions{Watcher: f.w, OnDelta: func(d Delta) {
		f.mu.Lock()
		f.delts = append(f.delts, d)
		f.mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	tr.mu.Lock()
	tr.indexOnly = indexOnly
	tr.mu.Unlock()
	for s, dir := range f.wts {
		if err := tr.Add(t.Context(), s, s, dir, filepath.Join(ixdir, s+".index"), "main"); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

// await waits for cond on the tracker's state, failing after a generous
// deadline with the last state seen.
func (f *fixture) await(what string, cond func([]Conflict) bool) []Conflict {
	f.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c := f.tr.Conflicts()
		if f.tr.Idle() && cond(c) {
			return c
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out waiting for %s; conflicts:\n%s", what, dump(c))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func dump(cs []Conflict) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "  %s %s %s/%s %s%v vs %s%v\n", c.Path, c.Kind, c.A.Name, c.B.Name, c.A.Path, c.A.Ranges, c.B.Path, c.B.Ranges)
	}
	return b.String()
}

func find(cs []Conflict, a, b, path string) *Conflict {
	for i := range cs {
		if cs[i].A.Name == a && cs[i].B.Name == b && cs[i].Path == path {
			return &cs[i]
		}
	}
	return nil
}

func has(a, b, path, kind string) func([]Conflict) bool {
	return func(cs []Conflict) bool {
		c := find(cs, a, b, path)
		return c != nil && c.Kind == kind
	}
}

func TestTrackerConflictAndOverlap(t *testing.T) {
	f := newFixture(t, map[string]string{"f.txt": gittest.Lines(30), "g.txt": gittest.Lines(30)}, []string{"a", "b"}, WatcherOptions{})
	f.await("initial state", func(cs []Conflict) bool { return len(cs) == 0 })

	gittest.Write(t, f.wts["a"], map[string]string{"f.txt": edit(30, map[int]string{10: "A10"}, "top"), "g.txt": edit(30, map[int]string{2: "A2"})})
	gittest.Write(t, f.wts["b"], map[string]string{"f.txt": edit(30, map[int]string{10: "B10", 11: "B11"}), "g.txt": edit(30, map[int]string{25: "B25"})})
	cs := f.await("conflict on f.txt", func(cs []Conflict) bool {
		return has("a", "b", "f.txt", KindContent)(cs) && has("a", "b", "g.txt", KindOverlap)(cs)
	})
	c := find(cs, "a", "b", "f.txt")
	wantA := Side{Name: "a", Path: "f.txt", File: filepath.Join(f.wts["a"], "f.txt"), Ranges: []Range{{11, 11}}}
	wantB := Side{Name: "b", Path: "f.txt", File: filepath.Join(f.wts["b"], "f.txt"), Ranges: []Range{{10, 11}}}
	if !reflect.DeepEqual(c.A, wantA) || !reflect.DeepEqual(c.B, wantB) || c.Severity != SeverityConflict {
		t.Errorf("f.txt: got %+v\nwant A %+v B %+v", *c, wantA, wantB)
	}
	o := find(cs, "a", "b", "g.txt")
	if o.Severity != SeverityOverlap || !reflect.DeepEqual(o.A.Ranges, []Range{{2, 2}}) || !reflect.DeepEqual(o.B.Ranges, []Range{{25, 25}}) {
		t.Errorf("g.txt overlap: got %+v", *o)
	}
	if len(cs) != 2 {
		t.Errorf("got %d conflicts, want 2:\n%s", len(cs), dump(cs))
	}

	// A moves its change away: the conflict resolves into an overlap.
	gittest.Write(t, f.wts["a"], map[string]string{"f.txt": edit(30, map[int]string{20: "A20"})})
	f.await("conflict resolved", func(cs []Conflict) bool {
		return find(cs, "a", "b", "f.txt") != nil && find(cs, "a", "b", "f.txt").Kind == KindOverlap
	})
	f.mu.Lock()
	var resolved, added int
	for _, d := range f.delts {
		resolved += len(d.Resolved)
		added += len(d.Added)
	}
	f.mu.Unlock()
	if resolved == 0 || added < 3 {
		t.Errorf("deltas: %d added, %d resolved; want ≥3 and ≥1", added, resolved)
	}
}

func TestTrackerTargetAndCommittedWork(t *testing.T) {
	f := newFixture(t, map[string]string{"f.txt": gittest.Lines(30), "m.txt": gittest.Lines(5)}, []string{"a", "b"}, WatcherOptions{})
	f.await("initial state", func(cs []Conflict) bool { return len(cs) == 0 })

	// Uncommitted work in a; a commit lands on the target.
	gittest.Write(t, f.wts["a"], map[string]string{"f.txt": edit(30, map[int]string{5: "A5"})})
	f.await("a vs b clean", func(cs []Conflict) bool { return len(cs) == 0 })
	gittest.Write(t, f.root, map[string]string{"f.txt": edit(30, map[int]string{5: "T5"})})
	gittest.Commit(t, f.root, "target moves")
	cs := f.await("a vs target", has("a", TargetSide, "f.txt", KindContent))
	c := find(cs, "a", TargetSide, "f.txt")
	if c.B.File != filepath.Join(f.root, "f.txt") || !reflect.DeepEqual(c.B.Ranges, []Range{{5, 5}}) || !reflect.DeepEqual(c.A.Ranges, []Range{{5, 5}}) {
		t.Errorf("target side: got %+v", *c)
	}

	// Committed work in b against uncommitted work in a; b deletes m.txt
	// which a modifies.
	gittest.Write(t, f.wts["b"], map[string]string{"f.txt": edit(30, map[int]string{5: "B5"})})
	os.Remove(filepath.Join(f.wts["b"], "m.txt"))
	gittest.Commit(t, f.wts["b"], "b work")
	gittest.Write(t, f.wts["a"], map[string]string{"m.txt": edit(5, map[int]string{1: "A1"})})
	f.await("a vs b on committed work", func(cs []Conflict) bool {
		return has("a", "b", "f.txt", KindContent)(cs) && has("a", "b", "m.txt", KindModifyDelete)(cs)
	})
}

func TestTrackerGoneAndRebuild(t *testing.T) {
	f := newFixture(t, map[string]string{"f.txt": gittest.Lines(30)}, []string{"a", "b", "c"}, WatcherOptions{})
	for _, s := range []string{"a", "b", "c"} {
		gittest.Write(t, f.wts[s], map[string]string{"f.txt": edit(30, map[int]string{7: s})})
	}
	cs := f.await("three-way conflicts", func(cs []Conflict) bool {
		return has("a", "b", "f.txt", KindContent)(cs) && has("a", "c", "f.txt", KindContent)(cs) && has("b", "c", "f.txt", KindContent)(cs)
	})

	// A new tracker over the same worktrees rebuilds the same set.
	old := f.tr
	f.start(t.TempDir())
	f.await("rebuilt", func(got []Conflict) bool { return reflect.DeepEqual(got, cs) })
	old.Close()

	// Deleting c's worktree drops its conflicts and reports it gone.
	if err := os.RemoveAll(f.wts["c"]); err != nil {
		t.Fatal(err)
	}
	f.await("c gone", func(cs []Conflict) bool {
		for _, c := range cs {
			if c.A.Name == "c" || c.B.Name == "c" {
				return false
			}
		}
		return has("a", "b", "f.txt", KindContent)(cs) && reflect.DeepEqual(f.tr.Gone(), []string{"c"})
	})
	gittest.Write(t, f.wts["a"], map[string]string{"f.txt": gittest.Lines(30)})
	f.await("a reverts", func(cs []Conflict) bool { return len(cs) == 0 })

	f.tr.Remove("b")
	f.tr.Remove("c")
}

func TestTrackerWatchLimit(t *testing.T) {
	files := map[string]string{"f.txt": gittest.Lines(30)}
	for i := range 20 {
		files[fmt.Sprintf("d%d/x.txt", i)] = "x\n"
	}
	// The common git dir takes a few watches; the worktrees cannot all fit.
	f := newFixture(t, files, []string{"a", "b"}, WatcherOptions{MaxWatches: 12, Rescan: 50 * time.Millisecond})
	st := f.w.Status()
	if len(st.Degraded) == 0 || st.Watches > 12 {
		t.Fatalf("status: got %+v, want degraded roots and at most 12 watches", st)
	}
	// A change deep in a directory that has no watch is still found.
	gittest.Write(t, f.wts["a"], map[string]string{"d19/x.txt": "A\n"})
	gittest.Write(t, f.wts["b"], map[string]string{"d19/x.txt": "B\n"})
	f.await("conflict found by rescans", has("a", "b", "d19/x.txt", KindContent))
}

func TestTrackerCheckoutBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("5k files")
	}
	files := map[string]string{"f.txt": gittest.Lines(30)}
	f := newFixture(t, files, []string{"a", "b"}, WatcherOptions{})
	// A branch with 5k more files and a change to f.txt.
	gittest.Git(t, f.root, "checkout", "-q", "-b", "big")
	big := map[string]string{"f.txt": edit(30, map[int]string{3: "BIG3"})}
	for i := range 5000 {
		big[fmt.Sprintf("pkg%02d/sub%d/file%d.txt", i%50, i%7, i)] = fmt.Sprintf("file %d\n", i)
	}
	gittest.Write(t, f.root, big)
	gittest.Commit(t, f.root, "big")
	gittest.Git(t, f.root, "checkout", "-q", "main")

	gittest.Write(t, f.wts["b"], map[string]string{"f.txt": edit(30, map[int]string{3: "B3"}), "pkg07/sub0/file7.txt": "b's\n"})
	f.await("b alone", func(cs []Conflict) bool { return len(cs) == 0 })
	gittest.Git(t, f.wts["a"], "checkout", "-q", "-B", "studio/a", "big")
	f.await("burst settles", func(cs []Conflict) bool {
		return has("a", "b", "f.txt", KindContent)(cs) && has("a", "b", "pkg07/sub0/file7.txt", KindAddAdd)(cs) && len(cs) == 2
	})
	// And back: everything a brought disappears again.
	gittest.Git(t, f.wts["a"], "checkout", "-q", "-B", "studio/a", "main")
	f.await("burst reverted", func(cs []Conflict) bool { return len(cs) == 0 })
}
