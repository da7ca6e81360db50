package agents

import (
	"context"
	"errors"
	"fmt"

	"github.com/studiod/studiod/workspace"
)

// SyncRequest asks to bring a session's target into its branch.
type SyncRequest struct {
	// Strategy is merge (default) or rebase.
	Strategy string
	// Send gives the conflict list to the agent as a task when refused.
	Send  bool
	Force bool
}

// Sync brings the target's tip into a session's branch (see
// workspace.Sync): refused, with the predicted conflicts, when it would
// conflict; uncommitted work is checkpointed first. The session's base
// becomes the target's tip, so its changes are counted from there.
func (m *Manager) Sync(ctx context.Context, ref Ref, req SyncRequest) (Session, workspace.SyncResult, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return Session{}, workspace.SyncResult{}, err
	}
	if !active(s.State) || s.State == Starting {
		return s, workspace.SyncResult{}, invalidf("session %s is %s: there is no branch to sync", s.Name, s.State)
	}
	// Syncing moves the agent's files under it: not while it works, nor
	// while it waits for an answer in the middle of its work.
	if err := notDone(s, req.Force); err != nil {
		return s, workspace.SyncResult{}, err
	}
	strategy := req.Strategy
	switch strategy {
	case "":
		strategy = workspace.StrategyMerge
	case workspace.StrategyMerge, workspace.StrategyRebase:
	default:
		return s, workspace.SyncResult{}, invalidf("strategy %q: sync by merge or rebase", strategy)
	}
	repo, err := workspace.Open(ctx, m.opts.Git, s.Repo)
	if err != nil {
		return s, workspace.SyncResult{}, err
	}
	wt := s.Worktree
	if !m.hasWorktree(ctx, s) {
		wt = ""
	}
	lock := m.repoLock(repo.Root)
	lock.Lock()
	res, err := workspace.Sync(ctx, workspace.SyncOptions{Repo: repo, Branch: s.Branch, Target: s.Target, Worktree: wt, Strategy: strategy})
	lock.Unlock()
	var ce *workspace.ConflictError
	if errors.As(err, &ce) {
		var cs []workspace.Conflict
		for _, c := range m.Conflicts(s.Repo, s.Name, "") {
			if c.Severity == workspace.SeverityConflict && (c.A.Name == workspace.TargetSide || c.B.Name == workspace.TargetSide) {
				cs = append(cs, c)
			}
		}
		mc := &MergeConflictError{Paths: ce.Paths, Conflicts: cs, Err: err, Again: "sync"}
		if req.Send {
			where := conflictLines(cs, s.Name)
			if where == "" {
				where = fmt.Sprint(ce.Paths)
			}
			msg := fmt.Sprintf("%s has moved on and bringing it into your branch conflicts in %s. Please merge %s into your branch (git merge %s), resolve the conflicts keeping both sides' intent, and commit.",
				s.Target, where, s.Target, s.Target)
			if d, derr := m.tell(ctx, s, msg); derr != nil {
				m.log.Warn("sync: send the conflicts to the agent", "session", s.Name, "err", derr)
			} else {
				mc.Sent, mc.Via = true, d.Via
			}
		}
		return s, res, mc
	}
	if err != nil {
		return s, res, err
	}
	if !res.UpToDate {
		tip := res.TargetTip
		s, err = m.update(s.ID, func(r *Session) bool {
			if r.Base == tip {
				return false
			}
			r.Base = tip
			return true
		})
		if err != nil {
			return s, res, err
		}
	}
	m.refreshDerived(ctx, s.Repo)
	m.refreshChanges(ctx, s.ID)
	s, _ = m.Lookup(Ref{Session: s.ID})
	return s, res, nil
}
