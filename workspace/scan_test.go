package workspace

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
)

// rootLog records the batches of one root.
type rootLog struct {
	mu      sync.Mutex
	paths   map[string]bool
	rescans int
}

func (l *rootLog) add(b WatchBatch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b.Rescan {
		l.rescans++
	}
	for _, p := range b.Paths {
		l.paths[p] = true
	}
}

// TestWatchDegradedManySessions runs many worktrees of one repository under
// a watch limit most of them cannot fit in: the degraded ones are rescanned
// through git status, and every change (an edit, an edit of an edited file,
// a new directory, an edit undone, a deletion, a commit) is reported by
// path, with no full rescan after the first: the degraded path loses no
// change and costs what changed.
func TestWatchDegradedManySessions(t *testing.T) {
	const sessions = 16
	root := gittest.NewRepo(t, map[string]string{"a.txt": "a\n", "d1/b.txt": "b\n", "d2/d3/c.txt": "c\n"})
	w, err := NewWatcher(testGit(), WatcherOptions{MaxWatches: 8, Rescan: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	wts := make([]string, sessions)
	logs := make([]*rootLog, sessions)
	for i := range wts {
		wts[i] = filepath.Join(t.TempDir(), fmt.Sprint("s", i))
		gittest.Git(t, root, "worktree", "add", "-q", "-b", fmt.Sprint("studio/s", i), wts[i], "main")
		logs[i] = &rootLog{paths: map[string]bool{}}
		if _, err := w.Add(t.Context(), WatchRoot{Dir: wts[i], GitIgnore: true, Notify: logs[i].add}); err != nil {
			t.Fatal(err)
		}
	}
	st := w.Status()
	if len(st.Degraded) < sessions/2 || st.Watches > 8 || st.Unwatched == 0 {
		t.Fatalf("status: got %d degraded, %d watches, %d unwatched; want at least %d degraded, at most 8 watches, some unwatched", len(st.Degraded), st.Watches, st.Unwatched, sessions/2)
	}
	degraded := map[string]bool{}
	for _, d := range st.Degraded {
		degraded[d.Root] = true
	}
	// Each root's first rescan is a full one.
	await(t, "first rescans", func() bool {
		for i, l := range logs {
			l.mu.Lock()
			n := l.rescans
			l.mu.Unlock()
			if degraded[wts[i]] && n == 0 {
				return false
			}
		}
		return true
	})
	steps := []struct {
		name string
		do   func(dir string)
		want []string
	}{
		{"edit", func(dir string) { write(t, dir, "a.txt", "a1\n") }, []string{"a.txt"}},
		{"edit again", func(dir string) { write(t, dir, "a.txt", "a22\n") }, []string{"a.txt"}},
		{"rewrite in place", func(dir string) { inPlace(t, dir, "d1/b.txt", "b1\n") }, []string{"d1/b.txt"}},
		{"sed -i", func(dir string) {
			if out, err := exec.Command("sed", "-i", "s/b1/b2/", filepath.Join(dir, "d1/b.txt")).CombinedOutput(); err != nil {
				t.Fatalf("sed: %v: %s", err, out)
			}
		}, []string{"d1/b.txt"}},
		{"new directory", func(dir string) { write(t, dir, "new/deep/n.txt", "n\n") }, []string{"new/deep/n.txt"}},
		{"undo", func(dir string) { gittest.Git(t, dir, "checkout", "-q", "--", "a.txt") }, []string{"a.txt"}},
		{"delete", func(dir string) { os.Remove(filepath.Join(dir, "d2/d3/c.txt")) }, []string{"d2/d3/c.txt"}},
		{"commit", func(dir string) {
			gittest.Git(t, dir, "add", "-A")
			gittest.Git(t, dir, "commit", "-q", "-m", "work")
		}, []string{"new/deep/n.txt", "d2/d3/c.txt"}},
	}
	for _, step := range steps {
		rescans := make([]int, sessions)
		for i, l := range logs {
			l.mu.Lock()
			clear(l.paths)
			rescans[i] = l.rescans
			l.mu.Unlock()
			step.do(wts[i])
		}
		await(t, step.name, func() bool {
			for i, l := range logs {
				l.mu.Lock()
				// A full rescan covers every path too.
				ok := l.rescans > rescans[i]
				all := true
				for _, p := range step.want {
					all = all && l.paths[p]
				}
				l.mu.Unlock()
				if !ok && !all {
					return false
				}
			}
			return true
		})
		for i, l := range logs {
			l.mu.Lock()
			// A root degraded from the start rescans by path; one that
			// ran out of watches now (the new directory) starts with a
			// full rescan.
			if degraded[wts[i]] && l.rescans != rescans[i] {
				t.Errorf("%s: %s got a full rescan; want its changes by path", step.name, wts[i])
			}
			l.mu.Unlock()
		}
	}
}

// inPlace rewrites an existing file without replacing it: its directory
// does not change.
func inPlace(t *testing.T, dir, rel, content string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, rel), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestWatchTouch: a write an agent reports reaches a degraded root's
// subscribers at once, with no rescan due for an hour.
func TestWatchTouch(t *testing.T) {
	root := gittest.NewRepo(t, map[string]string{"a.txt": "a\n", "d/b.txt": "b\n"})
	w, err := NewWatcher(testGit(), WatcherOptions{MaxWatches: 1, Rescan: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	l := &rootLog{paths: map[string]bool{}}
	if _, err := w.Add(t.Context(), WatchRoot{Dir: root, GitIgnore: true, Notify: l.add}); err != nil {
		t.Fatal(err)
	}
	if len(w.Status().Degraded) != 1 {
		t.Fatalf("got %v degraded, want the root", w.Status().Degraded)
	}
	await(t, "the first rescan", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.rescans > 0 })
	inPlace(t, root, "d/b.txt", "b1\n")
	w.Touch(root, []string{filepath.Join(root, "d/b.txt"), "/elsewhere/x.txt", "../up.txt"})
	await(t, "the touched path", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.paths["d/b.txt"] })
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.paths) != 1 {
		t.Errorf("got %v, want only d/b.txt (paths outside the root are not reported)", l.paths)
	}
}

func write(t *testing.T, dir, rel, content string) {
	t.Helper()
	gittest.Write(t, dir, map[string]string{rel: content})
}

// await polls cond until it holds, failing after a generous deadline.
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
