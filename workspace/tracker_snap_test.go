package workspace

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
)

// Two trackers over the same worktrees, one snapshotting incrementally and
// one through the private index only, see the same snapshots and predict
// the same conflicts after every step.
func TestTrackerIncrementalSnapshotsPredictTheSame(t *testing.T) {
	f := newFixture(t, map[string]string{
		"f.txt":     gittest.Lines(30),
		"g.txt":     gittest.Lines(10),
		"dir/h.txt": gittest.Lines(10),
		"m.txt":     gittest.Lines(5),
	}, []string{"a", "b"}, WatcherOptions{})
	slow := f.newTracker(t.TempDir(), true)
	a, b := f.wts["a"], f.wts["b"]

	// settled waits until both trackers' snapshots are those of the
	// worktrees as they are now, then compares their predictions.
	settled := func(what string) []Conflict {
		t.Helper()
		want := map[string]string{}
		for s, dir := range f.wts {
			snap, err := f.repo.Git.TakeSnapshot(t.Context(), dir, filepath.Join(t.TempDir(), "index"), nil)
			if err != nil {
				t.Fatal(err)
			}
			want[s] = snap.Commit
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			fast, index := snapshotsOf(f.tr), snapshotsOf(slow)
			if f.tr.Idle() && slow.Idle() && reflect.DeepEqual(fast, want) && reflect.DeepEqual(index, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: snapshots never settled:\nincremental %v\nindex       %v\nwant        %v", what, fast, index, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
		got, ref := f.tr.Conflicts(), slow.Conflicts()
		if !reflect.DeepEqual(got, ref) {
			t.Fatalf("%s: predictions differ:\nincremental\n%s\nindex\n%s", what, dump(got), dump(ref))
		}
		return got
	}
	settled("start")

	gittest.Write(t, a, map[string]string{"f.txt": edit(30, map[int]string{10: "A10"}), "n.txt": "a's\n"})
	gittest.Write(t, b, map[string]string{"f.txt": edit(30, map[int]string{10: "B10"}), "n.txt": "b's\n"})
	cs := settled("content and add/add")
	if !has("a", "b", "f.txt", KindContent)(cs) || !has("a", "b", "n.txt", KindAddAdd)(cs) {
		t.Errorf("content and add/add: got\n%s", dump(cs))
	}

	os.Remove(filepath.Join(a, "g.txt"))
	gittest.Write(t, b, map[string]string{"g.txt": edit(10, map[int]string{3: "B3"})})
	cs = settled("modify/delete")
	if !has("a", "b", "g.txt", KindModifyDelete)(cs) {
		t.Errorf("modify/delete: got\n%s", dump(cs))
	}

	os.Rename(filepath.Join(a, "dir"), filepath.Join(a, "dir2"))
	gittest.Write(t, b, map[string]string{"dir/h.txt": edit(10, map[int]string{5: "B5"})})
	settled("a directory renamed")

	// a commits: its HEAD moves; b's ignore rules change.
	gittest.Commit(t, a, "a's work")
	gittest.Write(t, b, map[string]string{".gitignore": "n.txt\n"})
	cs = settled("a commits, b ignores n.txt")
	if has("a", "b", "n.txt", KindAddAdd)(cs) {
		t.Errorf("n.txt is ignored in b: got\n%s", dump(cs))
	}

	os.Symlink("f.txt", filepath.Join(a, "link"))
	os.Chmod(filepath.Join(a, "m.txt"), 0o755)
	gittest.Write(t, a, map[string]string{"new/deep/x.txt": "x\n", "new/y.txt": "y\n", "m.txt": edit(5, map[int]string{2: "A2"})})
	gittest.Write(t, b, map[string]string{"m.txt": edit(5, map[int]string{2: "B2"})})
	settled("symlink, mode, new directories")

	// a undoes its commit, keeping the work, then resets hard: the next
	// snapshots start from the new HEAD.
	gittest.Git(t, a, "reset", "-q", "HEAD~1")
	settled("a resets its commit")
	gittest.Write(t, a, map[string]string{"g.txt": "back\n"})
	settled("a edits after the reset")
	gittest.Git(t, a, "reset", "-q", "--hard", "HEAD")
	settled("a resets hard")

	gittest.Write(t, a, map[string]string{"f.txt": gittest.Lines(30)})
	os.RemoveAll(filepath.Join(a, "new"))
	cs = settled("a reverts f.txt")
	if find(cs, "a", "b", "f.txt") != nil {
		t.Errorf("f.txt reverted in a: got\n%s", dump(cs))
	}

	f.tr.mu.Lock()
	inc, full := f.tr.incSnaps, f.tr.fullSnaps
	f.tr.mu.Unlock()
	slow.mu.Lock()
	slowInc := slow.incSnaps
	slow.mu.Unlock()
	t.Logf("incremental tracker: %d incremental, %d full snapshots", inc, full)
	if inc == 0 || slowInc != 0 {
		t.Errorf("incremental snapshots: %d and %d (index only); want some and none", inc, slowInc)
	}
}

func snapshotsOf(tr *Tracker) map[string]string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	m := map[string]string{}
	for id, t := range tr.trees {
		if t.haveSnap {
			m[id] = t.snap.Commit
		}
	}
	return m
}
