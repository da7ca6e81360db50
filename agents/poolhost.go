package agents

import (
	"context"

	"github.com/studiod/studiod/workspace"
)

// poolHost is a Host with the warm pool in front of it: Acquire takes the
// ready tree the spawn claimed, if any, and otherwise makes a fresh
// worktree through the Host it wraps; Release recycles the worktree into
// the pool when the pool wants one, and otherwise removes it through the
// wrapped Host. Either way the session's worktree gets the daemon's
// fsmonitor hook, unless its repository's config turns it off.
type poolHost struct {
	Host
	p *pool
}

func (h *poolHost) Acquire(ctx context.Context, repo *workspace.Repo, s *Session) error {
	if took, err := h.p.take(ctx, repo, s); took {
		return err
	}
	if err := h.Host.Acquire(ctx, repo, s); err != nil {
		return err
	}
	cfg, _, err := h.p.m.effectiveConfig(ctx, repo.Root)
	if err != nil {
		return nil // the spawn read it a moment ago; fsmonitor is a bonus
	}
	if hook := h.p.m.fsmonitorHookFor(cfg); hook != "" {
		if err := h.p.configureFsmonitor(ctx, repo, s.Worktree, hook); err != nil {
			h.p.log.Info("fsmonitor not configured", "worktree", s.Worktree, "err", err)
		}
	}
	return nil
}

func (h *poolHost) Release(ctx context.Context, repo *workspace.Repo, s *Session, force bool) error {
	h.p.dropHandoff(s.Worktree)
	if recycled, err := h.p.release(ctx, repo, s, force); recycled {
		return err
	}
	// A tree a spawn took may still carry the pool's lock if the daemon
	// stopped half-way through taking it.
	repo.UnlockWorktree(ctx, s.Worktree)
	return h.Host.Release(ctx, repo, s, force)
}

// discard removes a rolled-back spawn's worktree, never recycling it: a
// spawn that failed leaves nothing behind, not even a pool tree.
func (h *poolHost) discard(ctx context.Context, repo *workspace.Repo, s *Session) error {
	h.p.dropHandoff(s.Worktree)
	repo.UnlockWorktree(ctx, s.Worktree)
	return h.Host.Release(ctx, repo, s, true)
}
