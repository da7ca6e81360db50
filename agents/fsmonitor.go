package agents

import (
	"context"
	"path/filepath"

	"github.com/studiod/studiod/workspace"
)

// Fsmonitor answers git's fsmonitor hook for the worktree at dir: what
// changed since token, from the daemon's file watcher. Whatever it cannot
// vouch for (no watcher, a worktree not watched, a degraded one, a token
// from another daemon) gets a full answer, which makes git look at
// everything itself.
func (m *Manager) Fsmonitor(ctx context.Context, dir, token string) (workspace.FsmonitorAnswer, error) {
	if !filepath.IsAbs(dir) {
		return workspace.FsmonitorAnswer{}, invalidf("worktree %q: give an absolute path", dir)
	}
	dir = filepath.Clean(dir)
	for _, s := range m.List("", false) {
		if s.Worktree == dir {
			// A session's worktree: its runtime knows what changed.
			return m.files(s).Changes(ctx, token)
		}
	}
	// A pool tree, or a path by another name: the daemon's watcher.
	if m.conf.watcher == nil {
		return workspace.FsmonitorAnswer{Token: "studiod:none:0", Full: true, Why: "no file watcher"}, nil
	}
	return m.conf.watcher.Changes(ctx, dir, token), nil
}
