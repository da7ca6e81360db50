package agents

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/studiod/studiod/plan"
	"github.com/studiod/studiod/workspace"
)

// A plan task's session: started (spawned, reviewing, or adopted after a
// crash), and, when stacked, kept on its parent's branch.

// startTask spawns task t: from the target's tip, or on its stack parent's
// branch. A session of its name made after the plan (a spawn a crash
// cut short of being recorded here) is adopted instead.
func (ps *plans) startTask(ctx context.Context, r *PlanRun, t *plan.Task) (Session, string, error) {
	if s, err := ps.env.Lookup(Ref{Session: t.Name, Repo: r.Repo}); err == nil && active(s.State) && !s.Created.Before(r.Created) {
		return s, s.Base, nil
	}
	var budget *Budget
	if b := r.plan.BudgetOf(t); b != "" {
		v, err := ParseBudget(b)
		if err != nil {
			return Session{}, "", err
		}
		budget = &v
	}
	if t.Reviews != "" {
		// A plan's reviewer forwards its comments: they are the
		// reviewed task's review.
		s, err := ps.env.ReviewBy(ctx, ReviewRequest{Reviewed: Ref{Session: r.task(t.Reviews).Session}, Name: t.Name,
			Role: t.Role, Agent: t.Agent, Prompt: t.Prompt, Command: t.Command, Forward: true, Budget: budget})
		return s, "", err
	}
	req := SpawnRequest{Repo: r.Repo, Name: t.Name, Agent: t.Agent, Command: t.Command, Prompt: t.Prompt,
		Target: r.Target, Scopes: t.Scope, Budget: budget}
	if t.Role != "" {
		role, err := ps.env.role(ctx, r.Repo, t.Role)
		if err != nil {
			return Session{}, "", err
		}
		req.Agent, req.Prompt, req.Gate = role.Agent, withBrief(role.Brief, t.Prompt), role.Gate
		if len(req.Scopes) == 0 {
			req.Scopes = role.Scope
		}
	}
	synced := ""
	if t.Stack != "" && r.task(t.Stack).State == TaskStarted {
		parent, err := ps.env.Lookup(Ref{Session: r.task(t.Stack).Session})
		if err != nil {
			return Session{}, "", err
		}
		out, err := ps.git.Run(ctx, r.Repo, "rev-parse", "--verify", "-q", "refs/heads/"+parent.Branch+"^{commit}")
		if err != nil {
			return Session{}, "", err
		}
		req.Base = strings.TrimSpace(string(out))
		synced = req.Base
	}
	s, err := ps.env.Spawn(ctx, req, nil)
	return s, synced, err
}

func hasRole(cfg Config, name string) bool {
	_, ok := cfg.Roles[name]
	return ok
}

// follow brings the stack parent's branch into t's when it has moved
// since, unless t's agent is working. A conflict goes to t's agent as a
// task, once per parent tip. It returns the tip and what to say.
func (ps *plans) follow(ctx context.Context, t, parent *PlanTask) (string, string, bool) {
	ps2, err := ps.env.Lookup(Ref{Session: parent.Session})
	if err != nil || !active(ps2.State) {
		return "", "", false
	}
	s, err := ps.env.Lookup(Ref{Session: t.Session})
	if err != nil || !active(s.State) || s.State == Starting || s.State == Working {
		return "", "", false
	}
	out, err := ps.git.Run(ctx, s.Repo, "rev-parse", "--verify", "-q", "refs/heads/"+ps2.Branch+"^{commit}")
	if err != nil {
		return "", "", false
	}
	tip := strings.TrimSpace(string(out))
	if tip == t.Synced {
		return "", "", false
	}
	repo, err := workspace.Open(ctx, ps.git, s.Repo)
	if err != nil {
		return "", "", false
	}
	wt := s.Worktree
	if !ps.env.hasWorktree(ctx, s) {
		wt = ""
	}
	lock := ps.env.repoLock(repo.Root)
	lock.Lock()
	_, err = workspace.Sync(ctx, workspace.SyncOptions{Repo: repo, Branch: s.Branch, Target: ps2.Branch, Worktree: wt, Strategy: workspace.StrategyMerge})
	lock.Unlock()
	var ce *workspace.ConflictError
	switch {
	case errors.As(err, &ce):
		msg := fmt.Sprintf("%s, the branch this work is stacked on, has moved on and bringing it into your branch conflicts in %s. Please merge %s into your branch (git merge %s), resolve the conflicts keeping both sides' intent, and commit.",
			ps2.Branch, strings.Join(ce.Paths, ", "), ps2.Branch, ps2.Branch)
		detail := "conflicts with " + parent.Name + " in " + strings.Join(ce.Paths, ", ")
		if _, err := ps.env.tell(ctx, s, msg); err != nil {
			detail += " (telling its agent failed: " + err.Error() + ")"
		} else {
			detail += ": sent to its agent"
		}
		return tip, detail, true
	case err != nil:
		ps.log.Warn("plan: sync a stacked task", "session", s.Name, "from", ps2.Branch, "err", err)
		return "", "", false
	}
	ps.env.refreshDerived(ctx, s.Repo)
	ps.env.refreshChanges(ctx, s.ID)
	return tip, "", true
}
