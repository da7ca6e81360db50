package agents

import (
	"context"

	"github.com/studiod/studiod/agents/host"
)

// poolRuntime is a Runtime with the warm pool in front of it: Acquire takes
// the ready tree the spawn claimed, if any, and otherwise makes a fresh
// worktree through the Runtime it wraps; a workspace's Release recycles
// the worktree into the pool when the pool wants one, and otherwise removes
// it through the wrapped Runtime. Either way the session's worktree gets
// the daemon's fsmonitor hook, unless its repository's config turns it off.
type poolRuntime struct {
	host.Runtime
	p *pool
}

func (h *poolRuntime) Acquire(ctx context.Context, spec host.WorkspaceSpec) (host.Workspace, error) {
	if took, err := h.p.take(ctx, spec); took {
		if err != nil {
			return nil, err
		}
		return h.Workspace(spec), nil
	}
	if _, err := h.Runtime.Acquire(ctx, spec); err != nil {
		return nil, err
	}
	ws := h.Workspace(spec)
	cfg, _, err := h.p.env.effectiveConfig(ctx, spec.Repo.Root)
	if err != nil {
		return ws, nil // the spawn read it a moment ago; fsmonitor is a bonus
	}
	if hook := h.p.env.fsmonitorHookFor(cfg); hook != "" {
		if err := h.p.configureFsmonitor(ctx, spec.Repo, spec.Path, hook); err != nil {
			h.p.log.Info("fsmonitor not configured", "worktree", spec.Path, "err", err)
		}
	}
	return ws, nil
}

func (h *poolRuntime) Workspace(spec host.WorkspaceSpec) host.Workspace {
	return poolWorkspace{Workspace: h.Runtime.Workspace(spec), p: h.p, spec: spec}
}

type poolWorkspace struct {
	host.Workspace
	p    *pool
	spec host.WorkspaceSpec
}

// Release recycles the worktree unless how is Discard: a spawn that
// failed leaves nothing behind, not even a pool tree.
func (w poolWorkspace) Release(ctx context.Context, how host.Release) error {
	w.p.dropHandoff(w.spec.Path)
	if how != host.Discard {
		if recycled, err := w.p.release(ctx, w.spec, how == host.Force); recycled {
			return err
		}
	}
	// A tree a spawn took may still carry the pool's lock if the daemon
	// stopped half-way through taking it.
	w.spec.Repo.UnlockWorktree(ctx, w.spec.Path)
	return w.Workspace.Release(ctx, how)
}
