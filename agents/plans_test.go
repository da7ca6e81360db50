package agents

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/plan"
)

const twoTaskPlan = `
[[task]]
name = "api"
command = ["agent"]

[[task]]
name = "client"
command = ["agent"]
after = ["api"]

[[task]]
name = "docs"
command = ["agent"]
stack = "api"
`

// awaitSession waits until a session named name has started (its
// worktree made, its agent running), and returns it once the plan that
// started it has recorded so (reconciles run one at a time).
func (r *rig) awaitSession(name string) Session {
	r.t.Helper()
	changed := make(chan struct{}, 1)
	cancel := r.m.Subscribe(func(Event) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer cancel()
	for {
		if s, err := r.m.Lookup(Ref{Session: name, Repo: r.repo}); err == nil && s.State != Starting {
			r.m.plans.reconcile(r.t.Context())
			return s
		}
		select {
		case <-changed:
		case <-r.t.Context().Done():
			r.t.Fatalf("no session %s", name)
		}
	}
}

// TestPlanRun runs a plan in process: what is ready starts, what is after
// another task waits for it to land, a stacked task starts on its
// parent's finished turn and follows its branch; cancel starts nothing
// more.
func TestPlanRun(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	if _, err := r.m.RunPlan(ctx, PlanRequest{Repo: r.repo, Text: twoTaskPlan}); err == nil {
		t.Fatalf("a plan of command tasks from an untrusted caller: no error")
	}
	if _, err := r.m.RunPlan(ctx, PlanRequest{Repo: r.repo, Text: twoTaskPlan, Target: "nope", AllowCommands: true}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a plan onto a missing target: %v, want invalid", err)
	}
	run, err := r.m.RunPlan(ctx, PlanRequest{Repo: r.repo, Text: twoTaskPlan, AllowCommands: true})
	if err != nil {
		t.Fatalf("RunPlan: %v", err)
	}
	if run.State != PlanRunning || run.Target != "main" {
		t.Fatalf("plan: %s onto %s, want running onto main", run.State, run.Target)
	}
	states := func() map[string]PlanTask {
		got, err := r.m.Plan(run.ID)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]PlanTask{}
		for _, tk := range got.Tasks {
			out[tk.Name] = tk
		}
		return out
	}
	st := states()
	if st["api"].State != TaskStarted || st["client"].State != TaskWaiting || !strings.Contains(st["client"].Detail, "api to land") ||
		st["docs"].State != TaskWaiting || !strings.Contains(st["docs"].Detail, "api to finish its turn") {
		t.Fatalf("tasks: %+v", st)
	}
	if _, err := r.m.RunPlan(ctx, PlanRequest{Repo: r.repo, Text: twoTaskPlan, AllowCommands: true}); err == nil {
		t.Errorf("a plan whose tasks are named like sessions: no error")
	} else if pe := (*plan.Error)(nil); !errors.As(err, &pe) {
		t.Errorf("a plan whose tasks are named like sessions: %v, want a plan.Error", err)
	}

	// api's turn ends: docs starts on its branch.
	api, _ := r.m.Lookup(Ref{Session: "api", Repo: r.repo})
	gittest.Write(t, api.Worktree, map[string]string{"api.txt": "v1\n"})
	gittest.Commit(t, api.Worktree, "api v1")
	r.rt.Proc(api.ID).End(0)
	r.awaitState(api.ID, Exited)
	docs := r.awaitSession("docs")
	if _, err := os.Stat(filepath.Join(docs.Worktree, "api.txt")); err != nil {
		t.Errorf("docs does not start on api's work: %v", err)
	}

	// api's branch moves on; docs, not working, follows it.
	gittest.Write(t, api.Worktree, map[string]string{"api.txt": "v2\n"})
	gittest.Commit(t, api.Worktree, "api v2")
	r.rt.Proc(docs.ID).End(0)
	r.awaitState(docs.ID, Exited)
	r.m.plans.reconcile(ctx)
	if b, err := os.ReadFile(filepath.Join(docs.Worktree, "api.txt")); err != nil || string(b) != "v2\n" {
		t.Errorf("docs after api moved: %q, %v; want v2", b, err)
	}

	// api lands: client starts.
	if _, _, err := r.m.Merge(ctx, Ref{Session: api.ID}, MergeRequest{}); err != nil {
		t.Fatalf("Merge api: %v", err)
	}
	r.awaitSession("client")
	if st := states(); st["api"].State != TaskLanded || st["client"].State != TaskStarted {
		t.Errorf("after api landed: %+v", st)
	}
	if got := r.m.Plans(r.repo); len(got) != 1 || got[0].ID != run.ID {
		t.Errorf("Plans: %+v", got)
	}
	if _, err := r.m.Plan("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Plan of an unknown id: %v, want not found", err)
	}

	c, err := r.m.CancelPlan(ctx, r.repo, "")
	if err != nil || c.State != PlanCancelled {
		t.Fatalf("CancelPlan: %+v, %v", c, err)
	}
	if _, err := r.m.CancelPlan(ctx, r.repo, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("a second cancel: %v, want no running plan", err)
	}
	// Stored whole: a restart finds it as it was.
	r.restart()
	if got, err := r.m.Plan(run.ID); err != nil || got.State != PlanCancelled {
		t.Errorf("after a restart: %+v, %v", got, err)
	}
}
