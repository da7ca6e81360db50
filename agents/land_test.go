package agents

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/internal/gittest"
)

// TestLandStopsAtConflict: a queue lands what merges, stops at the first
// session that conflicts with the target as landed so far, tells its agent
// why, and resumes to the same stop until the conflict is resolved.
func TestLandStopsAtConflict(t *testing.T) {
	r := newRig(t)
	one, p1 := r.spawn("one")
	gittest.Write(t, one.Worktree, map[string]string{"a.txt": "one\n"})
	gittest.Commit(t, one.Worktree, "one")
	p1.End(0)
	r.awaitState(one.ID, Exited)
	two, p2 := r.spawn("two") // still working: landed only with Force
	gittest.Write(t, two.Worktree, map[string]string{"a.txt": "two\n"})
	gittest.Commit(t, two.Worktree, "two")

	if _, err := r.m.Land(t.Context(), LandRequest{Repo: r.repo, Sessions: []string{"one", "two"}, Strategy: "octopus"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Land with an unknown strategy: %v, want invalid", err)
	}
	l, err := r.m.Land(t.Context(), LandRequest{Repo: r.repo, Sessions: []string{"one", "two"}, Force: true, SendFailures: true})
	if err != nil {
		t.Fatalf("Land: %v", err)
	}
	if l.Status != LandStopped || len(l.Landed) != 1 || l.Landed[0].Name != "one" {
		t.Fatalf("Land: %s with %+v landed, want stopped after one", l.Status, l.Landed)
	}
	if l.Stopped == nil || l.Stopped.Name != "two" || l.Stopped.Reason != StopConflict || !l.Stopped.Sent {
		t.Fatalf("stopped at %+v, want two, a conflict, sent to its agent", l.Stopped)
	}
	awaitProc(t, p2, "the conflict typed to the agent", func(p *host.FakeProc) bool { return p.HasTyped("could not land your work on main") })
	if got := gittest.Git(t, r.repo, "show", "main:a.txt"); got != "one" {
		t.Errorf("main:a.txt: %q, want one's", got)
	}
	if rem := l.Remaining(); len(rem) != 0 {
		t.Errorf("remaining: %v, want none but the stop", rem)
	}

	again, err := r.m.Land(t.Context(), LandRequest{Repo: r.repo, Resume: "last"})
	if err != nil || again.ID != l.ID || again.Status != LandStopped || again.Stopped.Reason != StopConflict {
		t.Fatalf("resume: %+v, %v; want the same land stopped at the same conflict", again, err)
	}
	if _, err := r.m.Land(t.Context(), LandRequest{Repo: r.repo, Resume: "not-an-id"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("resume of a malformed id: %v, want invalid", err)
	}
	if _, err := r.m.Land(t.Context(), LandRequest{Repo: r.repo, Resume: "0123abcd"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("resume of an unknown land: %v, want not found", err)
	}

	u, err := r.m.UndoLand(t.Context(), r.repo, l.ID)
	if err != nil || u.Land.Status != LandUndone {
		t.Fatalf("UndoLand: %+v, %v", u, err)
	}
	if got := gittest.Git(t, r.repo, "show", "main:a.txt"); got != "a" {
		t.Errorf("main:a.txt after the undo: %q, want the base's", got)
	}
	if one = r.awaitState(one.ID, Exited); one.State != Exited {
		t.Errorf("one after the undo: %s", one.State)
	}
	if _, err := r.m.UndoLand(t.Context(), r.repo, l.ID); !errors.Is(err, ErrInvalid) {
		t.Errorf("a second undo: %v, want invalid", err)
	}
	if _, err := r.m.Land(t.Context(), LandRequest{Repo: r.repo, Resume: l.ID}); !errors.Is(err, ErrInvalid) {
		t.Errorf("resume of an undone land: %v, want invalid", err)
	}
}

// TestLandNothing refuses a queue with nothing to land, and an undo of a
// land that landed nothing.
func TestLandNothing(t *testing.T) {
	r := newRig(t)
	if _, err := r.m.Land(t.Context(), LandRequest{Repo: r.repo}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "nothing to land") {
		t.Errorf("Land with no sessions: %v, want nothing to land", err)
	}
	if _, err := r.m.UndoLand(t.Context(), r.repo, "last"); !errors.Is(err, ErrNotFound) {
		t.Errorf("UndoLand with no land: %v, want not found", err)
	}
	l := &Land{Version: 1, ID: newID(), Repo: r.repo, Target: "main", Status: LandStopped, Started: time.Now()}
	if err := r.m.lands.save(l); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.UndoLand(t.Context(), r.repo, l.ID); !errors.Is(err, ErrInvalid) {
		t.Errorf("UndoLand of a land that landed nothing: %v, want invalid", err)
	}
}

// TestLandInterruptedByCrash: a queue journaled as running when the daemon
// died is interrupted at the next start, resumable, with the merge in
// flight counted when its session's merge record says it happened.
func TestLandInterruptedByCrash(t *testing.T) {
	r := newRig(t)
	s, p := r.spawn("flight")
	gittest.Write(t, s.Worktree, map[string]string{"f.txt": "f\n"})
	gittest.Commit(t, s.Worktree, "f")
	p.End(0)
	r.awaitState(s.ID, Exited)
	old := gittest.Git(t, r.repo, "rev-parse", "main")
	if _, _, err := r.m.Merge(t.Context(), Ref{Session: s.ID}, MergeRequest{}); err != nil {
		t.Fatalf("Merge: %v", err)
	}
	// The journal as a daemon killed between the merge and recording it
	// left it.
	l := &Land{Version: 1, ID: newID(), Repo: r.repo, Target: "main", Status: LandRunning, Old: old,
		Queue: []string{s.ID}, Current: &landing{Session: s.ID, Old: old}, Started: time.Now()}
	if err := r.m.lands.save(l); err != nil {
		t.Fatal(err)
	}
	r.restart()
	got, err := r.m.lands.load(l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != LandInterrupted || got.Current != nil || len(got.Landed) != 1 || got.Landed[0].Name != "flight" || got.New() == old {
		t.Errorf("after the restart: %s, landed %+v, current %+v; want interrupted with flight landed", got.Status, got.Landed, got.Current)
	}
	done, err := r.m.Land(t.Context(), LandRequest{Repo: r.repo, Resume: l.ID})
	if err != nil || done.Status != LandDone {
		t.Errorf("resume: %+v, %v; want done", done, err)
	}
}
