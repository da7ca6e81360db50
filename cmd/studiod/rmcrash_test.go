package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// TestRemoveCrashRecovery kills the daemon (SIGKILL, from inside) right
// after each step of `rm --force` of a live session with committed and
// uncommitted work: the agent stopped, the work kept, the worktree gone
// (or, with the warm pool, half way through recycling it), the branch
// deleted. After the restart the work is never gone: it is in the
// session's worktree and branch, or in its salvage ref; and the removal is
// finished (the session removed, its worktree and branch gone, no journal
// left) or, cut short before anything was deleted, can simply run again.
func TestRemoveCrashRecovery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		step     string
		pool     bool
		finished bool // the restarted daemon finishes the removal
	}{
		{step: "rm-stopped"},
		{step: "rm-salvaged", finished: true},
		{step: "rm-released", finished: true},
		{step: "rm-branch", finished: true},
		{step: "rm-salvaged", pool: true, finished: true},
		{step: "pool-recycle", pool: true, finished: true},
		{step: "rm-released", pool: true, finished: true},
	} {
		name := tc.step
		if tc.pool {
			name += "/pool"
		}
		t.Run(name, func(t *testing.T) {
			files := map[string]string{"a.txt": "a\n"}
			if tc.pool {
				files[".studio.toml"] = "[pool]\nsize = 1\n"
			}
			repo := gittest.NewRepo(t, files)
			home := newHome(t)
			// The pool must not refill before the removal: the session's
			// tree is the one it wants back.
			d := startDaemonEnv(t, home, "STUDIOD_DEBUG_CRASH_AFTER="+tc.step, "STUDIOD_DEBUG_POOL_SETTLE=10m")
			c, w := d.watch()
			if tc.pool {
				poolOf(t, c, repo)
			}
			s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "work",
				Command: []string{"fakeagent", "-edit", "work.txt", "-echo"}})
			if err != nil {
				t.Fatal(err)
			}
			w.Await(t, "work's change", func() bool {
				got, _ := w.Session(s.ID)
				return got.State == protocol.StateIdle && got.Changes.Files == 1
			})
			gittest.Write(t, s.Worktree, map[string]string{"done.txt": "committed\n"})
			gittest.Git(t, s.Worktree, "add", "done.txt")
			gittest.Git(t, s.Worktree, "commit", "-q", "-m", "done")
			tip := gittest.Git(t, repo, "rev-parse", "studio/work")

			if _, err := c.Remove(t.Context(), protocol.RemoveParams{SessionRef: protocol.SessionRef{Session: s.ID}, Force: true}); err == nil {
				t.Fatal("the removal finished although the daemon was to die")
			}
			select {
			case <-d.exited:
			case <-t.Context().Done():
				t.Fatal("the daemon did not die")
			}

			d2 := startDaemon(t, home)
			c2 := d2.client(nil)
			got := sessionState(t, c2, s.ID)
			if _, err := os.Stat(filepath.Join(home, "state", "sessions", s.ID, "rm.journal")); err == nil {
				t.Error("the removal's journal is still there after the restart")
			}
			list, err := c2.Salvage(t.Context(), protocol.SalvageParams{Repo: repo})
			if err != nil {
				t.Fatal(err)
			}
			// The work: committed in the branch or a salvage, uncommitted in
			// the worktree or a salvage.
			holders := []string{}
			for _, sv := range list.Salvages {
				holders = append(holders, sv.Ref)
			}
			if _, err := gittest.Try(repo, "rev-parse", "--verify", "refs/heads/studio/work"); err == nil {
				holders = append(holders, "refs/heads/studio/work")
			}
			hasCommit, hasWork := false, false
			for _, ref := range holders {
				if _, err := gittest.Try(repo, "merge-base", "--is-ancestor", tip, ref); err == nil {
					hasCommit = true
				}
				if out, err := gittest.Try(repo, "show", ref+":work.txt"); err == nil && out == "edited by work" {
					hasWork = true
				}
			}
			if b, err := os.ReadFile(filepath.Join(s.Worktree, "work.txt")); err == nil && strings.TrimSpace(string(b)) == "edited by work" {
				hasWork = true
			}
			if !hasCommit || !hasWork {
				t.Fatalf("work lost after a crash at %s: commit kept %t, uncommitted work kept %t (refs %v)", tc.step, hasCommit, hasWork, holders)
			}

			if !tc.finished {
				if got.State == protocol.StateRemoved {
					t.Fatalf("crash at %s: the session is removed", tc.step)
				}
				if _, err := os.Stat(s.Worktree); err != nil {
					t.Fatalf("crash at %s: the worktree is gone: %v", tc.step, err)
				}
				// Nothing was deleted: the removal runs again.
				if _, err := c2.Remove(t.Context(), protocol.RemoveParams{SessionRef: protocol.SessionRef{Session: s.ID}, Force: true}); err != nil {
					t.Fatalf("rm again after the crash: %v", err)
				}
				got = sessionState(t, c2, s.ID)
			}
			if got.State != protocol.StateRemoved {
				t.Fatalf("after a crash at %s the session is %s (%s), want removed", tc.step, got.State, got.Detail)
			}
			if !strings.Contains(got.Detail, "studiod restore work") {
				t.Errorf("the removed session does not say where its work is: %q", got.Detail)
			}
			if _, err := os.Stat(s.Worktree); err == nil {
				t.Errorf("the worktree %s is still there", s.Worktree)
			}
			if _, err := gittest.Try(repo, "rev-parse", "--verify", "refs/heads/studio/work"); err == nil {
				t.Error("the branch is still there after rm --force")
			}
			if wts := worktreeList(t, repo); strings.Contains(wts, s.Worktree+"\n") {
				t.Errorf("git still lists the worktree: %s", wts)
			}
			// The salvage restores both the commit and the uncommitted work.
			r, err := c2.Restore(t.Context(), protocol.RestoreParams{Repo: repo, Name: "work", Branch: "rescued"})
			if err != nil {
				t.Fatal(err)
			}
			if out := gittest.Git(t, repo, "show", r.Branch+":work.txt"); out != "edited by work" {
				t.Errorf("restored work.txt: %q", out)
			}
			if out := gittest.Git(t, repo, "show", r.Branch+":done.txt"); out != "committed" {
				t.Errorf("restored done.txt: %q", out)
			}
			if tc.pool {
				// The pool is consistent again: no tree left of the removal,
				// no directory, no worktree git still knows.
				checkPoolConsistent(t, c2, repo)
			}
		})
	}
}

// TestRestoreCrash kills the daemon while `restore` brings a salvage back
// as a session (during the new session's setup): the next daemon rolls the
// half-made session back, the salvage is still there, unchanged, and
// restoring it again gives the work back.
func TestRestoreCrash(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	// The setup says it started through a FIFO the test reads, and only
	// while the FIFO exists: the first spawn runs it as a no-op.
	fifo := filepath.Join(t.TempDir(), "setup-started")
	repo := gittest.NewRepo(t, map[string]string{
		"a.txt":        "a\n",
		".studio.toml": "[setup]\ncommands = [\"if [ -p " + fifo + " ]; then echo $STUDIO_WORKTREE > " + fifo + "; sleep 30; fi\"]\n",
	})
	d := startDaemon(t, home)
	c, w := d.watch()
	if _, err := c.Trust(t.Context(), protocol.TrustParams{Repo: repo}); err != nil {
		t.Fatal(err)
	}
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "work", Command: []string{"fakeagent", "-edit", "work.txt", "-echo"}})
	if err != nil {
		t.Fatal(err)
	}
	w.Await(t, "work's change", func() bool {
		got, _ := w.Session(s.ID)
		return got.State == protocol.StateIdle && got.Changes.Files == 1
	})
	if _, err := c.Remove(t.Context(), protocol.RemoveParams{SessionRef: protocol.SessionRef{Session: s.ID}, Force: true}); err != nil {
		t.Fatal(err)
	}
	salvaged := gittest.Git(t, repo, "rev-parse", "refs/studio/salvage/work")

	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	restored := make(chan error, 1)
	go func() {
		_, err := c.Restore(context.Background(), protocol.RestoreParams{Repo: repo, Name: "work", Command: []string{"fakeagent", "-echo"}})
		restored <- err
	}()
	read := make(chan []byte, 1)
	go func() {
		b, _ := os.ReadFile(fifo)
		read <- b
	}()
	var wt string
	select {
	case b := <-read:
		wt = strings.TrimSpace(string(b))
	case err := <-restored:
		t.Fatalf("the restore ended before its setup started: %v", err)
	}
	d.kill9()
	<-restored

	d2 := startDaemon(t, home)
	c2 := d2.client(nil)
	r, err := c2.Sessions(t.Context(), protocol.SessionsParams{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range r.Sessions {
		if got.ID != s.ID && (got.State != protocol.StateFailed || !strings.Contains(got.Detail, "interrupted")) {
			t.Errorf("the cut restore: %s (%s), want failed: interrupted", got.State, got.Detail)
		}
	}
	if _, err := os.Stat(wt); err == nil {
		t.Errorf("the cut restore's worktree %s is still there", wt)
	}
	if _, err := gittest.Try(repo, "rev-parse", "--verify", "refs/heads/studio/work"); err == nil {
		t.Error("the cut restore's branch is still there")
	}
	if got := gittest.Git(t, repo, "rev-parse", "refs/studio/salvage/work"); got != salvaged {
		t.Fatalf("the salvage moved: %s, was %s", got, salvaged)
	}

	// Restored again, the session has the work.
	os.Remove(fifo)
	res, err := c2.Restore(t.Context(), protocol.RestoreParams{Repo: repo, Name: "work", Command: []string{"fakeagent", "-echo"}})
	if err != nil {
		t.Fatalf("restore after the crash: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(res.Session.Worktree, "work.txt")); err != nil || strings.TrimSpace(string(b)) != "edited by work" {
		t.Errorf("restored work.txt: %q, %v", b, err)
	}
}

// worktreeList is `git worktree list --porcelain` of repo, asked again
// while the daemon's pool makes a tree beside it: git writes a new
// worktree's files one after the other, and lists fail in between.
func worktreeList(t *testing.T, repo string) string {
	t.Helper()
	for i := 0; ; i++ {
		out, err := gittest.Try(repo, "worktree", "list", "--porcelain")
		if err == nil {
			return out
		}
		if i == 50 {
			t.Fatalf("git worktree list: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
