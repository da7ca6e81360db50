package server

import (
	"context"

	"github.com/studiod/studiod/plan"
	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/workspace"
)

// PlanCheck serves studio/planCheck.
func (a *core) PlanCheck(ctx context.Context, p protocol.PlanCheckParams) (*protocol.PlanReport, error) {
	return CheckPlan(ctx, a.m.Git(), p)
}

// CheckPlan parses and analyses a plan against its repository. The CLI
// runs it without a daemon (it is analysis, nothing starts), so its errors
// are already the wire's.
func CheckPlan(ctx context.Context, git *workspace.Git, p protocol.PlanCheckParams) (*protocol.PlanReport, error) {
	rep, err := checkPlan(ctx, git, p)
	if err != nil {
		return nil, wireError(err)
	}
	return rep, nil
}

func checkPlan(ctx context.Context, git *workspace.Git, p protocol.PlanCheckParams) (*protocol.PlanReport, error) {
	pl, err := plan.Parse([]byte(p.Text))
	if err != nil {
		return nil, err
	}
	if p.Repo == "" {
		return nil, protocol.Errorf(protocol.CodeInvalid, "no repository given: pass --repo or run inside a git repository")
	}
	repo, err := workspace.Open(ctx, git, p.Repo)
	if err != nil {
		return nil, err
	}
	// The history is the HEAD of the directory given: a worktree's own.
	rep, err := plan.Check(ctx, git, p.Repo, pl, plan.Options{})
	if err != nil {
		return nil, err
	}
	return wirePlanReport(repo.Root, rep), nil
}

func wirePlanReport(root string, r *plan.Report) *protocol.PlanReport {
	out := &protocol.PlanReport{Repo: root, Commits: r.Commits, Skipped: r.Skipped,
		Tasks: []protocol.PlanTaskReport{}, Pairs: []protocol.PlanPair{}, Order: []protocol.PlanOrderStep{}}
	for _, t := range r.Tasks {
		out.Tasks = append(out.Tasks, protocol.PlanTaskReport(t))
	}
	for _, pr := range r.Pairs {
		w := protocol.PlanPair{A: pr.A, B: pr.B, Risk: protocol.PlanRisk(pr.Risk), Ordered: pr.Ordered,
			Overlap: pr.Overlap, Overlaps: pr.Overlaps, CoChange: pr.CoChange, Strength: pr.Strength}
		for _, e := range pr.Evidence {
			w.Evidence = append(w.Evidence, protocol.PlanPathPair(e))
		}
		out.Pairs = append(out.Pairs, w)
	}
	for _, s := range r.Order {
		w := protocol.PlanOrderStep{Task: s.Task, Wave: s.Wave}
		for _, x := range s.Waits {
			w.Waits = append(w.Waits, protocol.PlanWait(x))
		}
		out.Order = append(out.Order, w)
	}
	return out
}
