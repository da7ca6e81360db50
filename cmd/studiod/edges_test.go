package main

import (
	"os"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// TestMergeDeletedWorktree merges a session whose worktree was deleted
// behind studiod's back: git cannot run in it, which is not "git missing";
// the committed work on the branch merges.
func TestMergeDeletedWorktree(t *testing.T) {
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	d := startDaemon(t, home)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "gone",
		Command: []string{"fakeagent", "-edit", "work.txt", "-echo"}})
	if err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	gittest.Git(t, s.Worktree, "add", "-A")
	gittest.Commit(t, s.Worktree, "work")
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: protocol.SessionRef{Session: s.ID}}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(s.Worktree); err != nil {
		t.Fatal(err)
	}
	res, err := c.Merge(t.Context(), protocol.MergeParams{SessionRef: protocol.SessionRef{Session: s.ID}})
	if err != nil {
		t.Fatalf("merge after the worktree was deleted: %v (code %d)", err, protocol.CodeOf(err))
	}
	if got := gittest.Git(t, repo, "show", "main:work.txt"); got != "edited by gone" {
		t.Errorf("main:work.txt after the merge: %q", got)
	}
	if res.Session.State != protocol.StateMerged {
		t.Errorf("state after the merge: %s, want merged", res.Session.State)
	}
}
