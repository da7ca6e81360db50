package server

import (
	"context"

	"github.com/studiod/studiod/agents"
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

// PlanRun serves studio/planRun.
func (a *core) PlanRun(ctx context.Context, p protocol.PlanRunParams) (*protocol.Plan, error) {
	if err := a.actsOn(ctx, "plan run"); err != nil {
		return nil, err
	}
	r, err := a.m.RunPlan(ctx, agents.PlanRequest{Repo: p.Repo, File: p.Path, Text: p.Text, Target: p.Target, AllowCommands: !p.NoCommands})
	if err != nil {
		return nil, err
	}
	return ptr(a.wirePlan(r)), nil
}

// Plans serves studio/plans.
func (a *core) Plans(ctx context.Context, p protocol.PlansParams) (*protocol.PlansResult, error) {
	out := &protocol.PlansResult{Plans: []protocol.Plan{}}
	if p.Plan != "" {
		r, err := a.m.Plan(p.Plan)
		if err != nil {
			return nil, err
		}
		out.Plans = append(out.Plans, a.wirePlan(r))
		return out, nil
	}
	for _, r := range a.m.Plans(p.Repo) {
		out.Plans = append(out.Plans, a.wirePlan(r))
	}
	return out, nil
}

// PlanCancel serves studio/planCancel.
func (a *core) PlanCancel(ctx context.Context, p protocol.PlanCancelParams) (*protocol.Plan, error) {
	if err := a.actsOn(ctx, "plan cancel"); err != nil {
		return nil, err
	}
	r, err := a.m.CancelPlan(ctx, p.Repo, p.Plan)
	if err != nil {
		return nil, err
	}
	return ptr(a.wirePlan(r)), nil
}

func (a *core) wirePlan(r agents.PlanRun) protocol.Plan {
	out := protocol.Plan{ID: r.ID, Repo: r.Repo, File: r.File, Target: r.Target, State: protocol.PlanState(r.State),
		Tasks: []protocol.PlanTask{}, Created: r.Created}
	p, _ := plan.Parse([]byte(r.Text))
	for _, t := range r.Tasks {
		w := protocol.PlanTask{Name: t.Name, State: protocol.PlanTaskState(t.State), Session: t.Session, Detail: t.Detail}
		if p != nil {
			if spec := p.Task(t.Name); spec != nil {
				w.After, w.Stack, w.Reviews = spec.After, spec.Stack, spec.Reviews
			}
		}
		if t.Session != "" {
			if s, err := a.m.Lookup(agents.Ref{Session: t.Session}); err == nil {
				w.SessionState = protocol.State(s.State)
				if ws := wireSession(s); ws.Usage != nil {
					w.Usage = ws.Usage
					if out.Usage == nil {
						out.Usage = new(protocol.Usage)
					}
					out.Usage.Add(*ws.Usage)
				}
				infos, _ := a.m.Reviews(context.Background(), s)
				for _, r := range infos {
					w.ReviewedBy = append(w.ReviewedBy, r.Reviewer)
					w.Reviewed = w.Reviewed || r.Done
				}
			}
		}
		out.Tasks = append(out.Tasks, w)
	}
	return out
}

// ReviewBy serves studio/reviewBy.
func (a *core) ReviewBy(ctx context.Context, p protocol.ReviewByParams) (*protocol.Session, error) {
	by, err := a.author(ctx, p.By)
	if err != nil {
		return nil, err
	}
	s, err := a.m.ReviewBy(context.WithoutCancel(ctx), agents.ReviewRequest{Reviewed: ref(p.SessionRef), By: by, Name: p.Name,
		Role: p.Role, Agent: p.Agent, Prompt: p.Prompt, Command: p.Command, Forward: p.Forward})
	if err != nil {
		return nil, err
	}
	return ptr(a.withReviews(ctx, s)), nil
}

// withReviews is the wire session with its reviewers and whom it reviews.
func (a *core) withReviews(ctx context.Context, s agents.Session) protocol.Session {
	w := wireSession(s)
	infos, reviews := a.m.Reviews(ctx, s)
	for _, r := range infos {
		w.ReviewedBy = append(w.ReviewedBy, protocol.Review{Reviewer: r.Reviewer, ID: r.ID, Done: r.Done, Comments: r.Comments})
	}
	w.Reviews = reviews
	return w
}
