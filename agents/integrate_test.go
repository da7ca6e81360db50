package agents

import (
	"slices"
	"strings"
	"testing"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/internal/gittest"
)

// token is the secret in the agent's environment, which its hooks present.
func token(p *host.FakeProc) string {
	for _, kv := range p.Spec().Env {
		if v, ok := strings.CutPrefix(kv, TokenEnv+"="); ok {
			return v
		}
	}
	return ""
}

func TestHookWaitingAndTypedAnswer(t *testing.T) {
	r := newRig(t)
	s, p := r.spawn("hooked")
	ref := Ref{Session: s.ID}
	if _, _, err := r.m.Hook(t.Context(), ref, HookRequest{Event: "waiting", Message: "Proceed?", Token: "wrong"}); err == nil {
		t.Fatalf("Hook with a wrong secret: no error")
	}
	if _, _, err := r.m.Hook(t.Context(), ref, HookRequest{Event: "dance", Token: token(p)}); err == nil {
		t.Errorf("Hook with an unknown event: no error")
	}
	w, _, err := r.m.Hook(t.Context(), ref, HookRequest{Event: "waiting", Message: "Proceed?", Token: token(p)})
	if err != nil {
		t.Fatalf("Hook: %v", err)
	}
	if w.State != Waiting || w.Ask == nil || w.Ask.Question != "Proceed?" || w.Ask.Kind != WaitQuestion {
		t.Fatalf("after a waiting hook: got %s, ask %+v; want waiting on the question", w.State, w.Ask)
	}
	if _, _, err := r.m.Answer(t.Context(), ref, AnswerAllow, "yes", "test"); err == nil {
		t.Errorf("Answer with both an answer and a text: no error")
	}
	a, _, err := r.m.Answer(t.Context(), ref, "", "yes please", "test")
	if err != nil {
		t.Fatalf("Answer: %v", err)
	}
	if a.State != Working {
		t.Errorf("after the answer: got %s, want %s", a.State, Working)
	}
	awaitProc(t, p, "the answer typed", func(p *host.FakeProc) bool { return p.HasTyped("yes please\r") })
	if _, _, err := r.m.Answer(t.Context(), ref, "", "again", "test"); err == nil {
		t.Errorf("a second answer to a session no longer waiting: no error")
	}
	if i, _, err := r.m.Hook(t.Context(), ref, HookRequest{Event: "idle", Token: token(p)}); err != nil || i.State != Idle {
		t.Errorf("idle hook: got %s, %v; want %s", i.State, err, Idle)
	}
	if n, _, err := r.m.Hook(t.Context(), ref, HookRequest{Event: "note", Message: "writing tests", Token: token(p)}); err != nil || n.Note != "writing tests" {
		t.Errorf("note hook: got %q, %v", n.Note, err)
	}
}

func TestPreviewAndLand(t *testing.T) {
	r := newRig(t)
	var names []string
	for _, n := range []string{"one", "two"} {
		s, p := r.spawn(n)
		gittest.Write(t, s.Worktree, map[string]string{n + ".txt": n + "\n"})
		gittest.Commit(t, s.Worktree, "add "+n)
		p.End(0)
		r.awaitState(s.ID, Exited)
		names = append(names, n)
	}
	pv, err := r.m.Preview(t.Context(), PreviewRequest{Repo: r.repo})
	if err != nil {
		t.Fatalf("Preview: %v", err)
	}
	if got := pv.Order(); !slices.Equal(got, names) {
		t.Errorf("landing order: got %v, want %v", got, names)
	}
	l, err := r.m.Land(t.Context(), LandRequest{Repo: r.repo})
	if err != nil {
		t.Fatalf("Land: %v", err)
	}
	if l.Status != LandDone || len(l.Landed) != 2 {
		t.Fatalf("Land: got %s with %d landed, want done with 2", l.Status, len(l.Landed))
	}
	for _, n := range names {
		if got := gittest.Git(t, r.repo, "show", "main:"+n+".txt"); got != n {
			t.Errorf("main:%s.txt: got %q", n, got)
		}
	}
	if _, err := r.m.UndoLand(t.Context(), r.repo, l.ID); err != nil {
		t.Fatalf("UndoLand: %v", err)
	}
	if _, err := gittest.Try(r.repo, "show", "main:one.txt"); err == nil {
		t.Errorf("main:one.txt after undoing the land: still there")
	}
}

func TestConflictPredicted(t *testing.T) {
	r := newRig(t)
	found := make(chan struct{}, 1)
	cancel := r.m.SubscribeConflicts(func(ConflictEvent) {
		select {
		case found <- struct{}{}:
		default:
		}
	})
	defer cancel()
	for _, n := range []string{"left", "right"} {
		s, _ := r.spawn(n)
		gittest.Write(t, s.Worktree, map[string]string{"a.txt": n + "\n"})
	}
	for len(r.m.Conflicts(r.repo, "", "a.txt")) == 0 {
		select {
		case <-found:
		case <-t.Context().Done():
			t.Fatalf("no conflict predicted on a.txt")
		}
	}
	c := r.m.Conflicts(r.repo, "", "a.txt")[0]
	if c.Severity != "conflict" {
		t.Errorf("conflict on a.txt: severity %q, want conflict", c.Severity)
	}
}
