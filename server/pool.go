package server

import (
	"context"

	"github.com/studiod/studiod/protocol"
)

// Pool serves studio/pool: the warm pools of ready worktrees, pruned or
// awaited on request.
func (a *core) Pool(ctx context.Context, p protocol.PoolParams) (*protocol.PoolResult, error) {
	repos, err := a.m.Pool(ctx, p.Repo, p.Prune, p.Wait)
	if err != nil {
		return nil, err
	}
	res := &protocol.PoolResult{Repos: []protocol.PoolRepo{}}
	for _, r := range repos {
		pr := protocol.PoolRepo{Repo: r.Repo, Target: r.Target, Tip: r.Tip, Size: r.Size, Bytes: r.Bytes,
			MaxBytes: r.MaxBytes, Note: r.Note, Trees: []protocol.PoolTree{}}
		for _, t := range r.Trees {
			pr.Trees = append(pr.Trees, protocol.PoolTree{ID: t.ID, Path: t.Path, State: protocol.PoolTreeState(t.State),
				Commit: t.Commit, Bytes: t.Bytes})
		}
		res.Repos = append(res.Repos, pr)
	}
	return res, nil
}

// Fsmonitor serves studio/fsmonitor: git's fsmonitor hook question,
// answered from the daemon's file watcher.
func (a *core) Fsmonitor(ctx context.Context, p protocol.FsmonitorParams) (*protocol.FsmonitorResult, error) {
	ans, err := a.m.Fsmonitor(ctx, p.Worktree, p.Token)
	if err != nil {
		return nil, err
	}
	paths := ans.Paths
	if paths == nil {
		paths = []string{}
	}
	return &protocol.FsmonitorResult{Token: ans.Token, Paths: paths, Full: ans.Full}, nil
}
