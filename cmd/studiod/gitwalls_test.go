package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/internal/studiotest"
	"github.com/studiod/studiod/protocol"
)

// idleSession spawns a fake agent that writes work.txt and waits.
func idleSession(t *testing.T, c *protocol.Client, w *studiotest.Watch, repo, name string) *protocol.Session {
	t.Helper()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: name,
		Command: []string{"fakeagent", "-edit", "work.txt", "-echo"}})
	if err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	return s
}

// TestMergeWhileGitLocked: a merge, sync or land while the agent's git
// holds the worktree's index.lock is busy (try again), never git's advice
// to remove the lock by hand, and changes nothing; once the lock is gone
// the merge goes through.
func TestMergeWhileGitLocked(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	home := newHome(t)
	d := startDaemon(t, home)
	c, w := d.watch()
	s := idleSession(t, c, w, repo, "locked")
	gd := gittest.Git(t, s.Worktree, "rev-parse", "--absolute-git-dir")
	lock := filepath.Join(gd, "index.lock")
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// main moves on, so that a sync has something to bring.
	gittest.Write(t, repo, map[string]string{"b.txt": "b\n"})
	tip := gittest.Commit(t, repo, "main moves")
	ref := protocol.SessionRef{Session: s.ID}
	check := func(what string, err error) {
		t.Helper()
		if protocol.CodeOf(err) != protocol.CodeBusy || strings.Contains(err.Error(), "manually") || !strings.Contains(err.Error(), "index.lock") {
			t.Errorf("%s with index.lock held: %v; want busy, naming the lock, without git's advice", what, err)
		}
	}
	_, err := c.Merge(t.Context(), protocol.MergeParams{SessionRef: ref})
	check("merge", err)
	_, err = c.Sync(t.Context(), protocol.SyncParams{SessionRef: ref})
	check("sync", err)
	if got := gittest.Git(t, repo, "rev-parse", "main"); got != tip {
		t.Errorf("main moved to %s", got)
	}
	if _, err := os.Stat(lock); err != nil {
		t.Errorf("the agent's lock is gone: %v", err)
	}
	os.Remove(lock)
	if _, err := c.Merge(t.Context(), protocol.MergeParams{SessionRef: ref}); err != nil {
		t.Fatalf("merge once the lock is gone: %v", err)
	}
	if got := gittest.Git(t, repo, "show", "main:work.txt"); got != "edited by locked" {
		t.Errorf("main:work.txt is %q", got)
	}
}

// TestUndoAfterHumanCommit: once the person commits on top of a merge,
// undo says it can no longer move the branch back, as a final answer
// (invalid, not busy: running it again cannot help), and changes nothing.
func TestUndoAfterHumanCommit(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	home := newHome(t)
	d := startDaemon(t, home)
	c, w := d.watch()
	s := idleSession(t, c, w, repo, "undone")
	if _, err := c.Merge(t.Context(), protocol.MergeParams{SessionRef: protocol.SessionRef{Session: s.ID}}); err != nil {
		t.Fatal(err)
	}
	gittest.Write(t, repo, map[string]string{"mine.txt": "mine\n"})
	tip := gittest.Commit(t, repo, "the person's commit")
	_, err := c.Undo(t.Context(), protocol.SessionRef{Session: s.ID})
	if protocol.CodeOf(err) != protocol.CodeInvalid || strings.Contains(err.Error(), "again") || !strings.Contains(err.Error(), "git revert") {
		t.Errorf("undo after a commit on main: %v; want a final error pointing at git revert", err)
	}
	if got := gittest.Git(t, repo, "rev-parse", "main"); got != tip {
		t.Errorf("main moved to %s", got)
	}
}

// TestMergeBranchDeleted: a session whose branch was deleted by hand
// cannot be merged, and the error says so and what to do.
func TestMergeBranchDeleted(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	home := newHome(t)
	d := startDaemon(t, home)
	c, w := d.watch()
	s := idleSession(t, c, w, repo, "gone")
	gittest.Git(t, s.Worktree, "checkout", "-q", "--detach")
	gittest.Git(t, repo, "branch", "-D", "studio/gone")
	_, err := c.Merge(t.Context(), protocol.MergeParams{SessionRef: protocol.SessionRef{Session: s.ID}})
	if err == nil || !strings.Contains(err.Error(), "branch studio/gone no longer exists") || !strings.Contains(err.Error(), "switch -c studio/gone") {
		t.Errorf("merge of a deleted branch: %v; want it to say the branch is gone and how to recreate it", err)
	}
}
