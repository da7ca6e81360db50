package agents

import (
	"context"
	"path/filepath"
	"slices"
	"time"
)

// PoolTree is one pool worktree, for status.
type PoolTree struct {
	ID, Path, State, Commit string
	Bytes                   int64
}

// PoolRepo is one repository's pool, for status.
type PoolRepo struct {
	Repo, Target, Tip, Note string
	Size                    int
	MaxBytes, Bytes         int64
	Trees                   []PoolTree
}

// Pool reports the pools of the repository containing repo (all when
// empty). With prune it removes their trees first, and no refill happens
// until the next spawn there; with wait it returns once their work is done.
func (m *Manager) Pool(ctx context.Context, repo string, prune, wait bool) ([]PoolRepo, error) {
	p := m.pool
	if p == nil {
		return nil, nil
	}
	var roots []string
	if repo != "" {
		r, err := m.openRepo(ctx, repo)
		if err != nil {
			return nil, err
		}
		p.register(ctx, r, time.Time{})
		roots = []string{r.Root}
	} else {
		p.mu.Lock()
		for root := range p.repos {
			roots = append(roots, root)
		}
		p.mu.Unlock()
	}
	if wait {
		// Refs may have moved a moment ago, before their event came.
		p.mu.Lock()
		for _, root := range roots {
			if r := p.repos[root]; r != nil {
				r.refsDirty = true
				p.changedLocked(root)
			}
		}
		p.mu.Unlock()
	}
	if prune {
		p.mu.Lock()
		for _, root := range roots {
			p.repos[root].pruned = true
			for _, t := range p.trees {
				if t.Repo == root && !t.claimed && t.State != poolTaking {
					t.doomed = true
				}
			}
			p.changedLocked(root)
		}
		p.mu.Unlock()
		p.kick()
		wait = true
	}
	if wait {
		if err := p.wait(ctx, roots); err != nil {
			return nil, err
		}
	}
	return p.status(ctx, roots), nil
}

// wait returns once the worker has nothing left to do for roots.
func (p *pool) wait(ctx context.Context, roots []string) error {
	for {
		p.mu.Lock()
		ch := p.changed
		done := true
		for _, root := range roots {
			if r := p.repos[root]; r != nil && !r.planned {
				done = false
			}
		}
		p.mu.Unlock()
		if done {
			return nil
		}
		p.kick()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *pool) status(ctx context.Context, roots []string) []PoolRepo {
	slices.Sort(roots)
	var out []PoolRepo
	for _, root := range roots {
		set := p.settings(ctx, root)
		p.mu.Lock()
		r := p.repos[root]
		pr := PoolRepo{Repo: root, Size: set.want, MaxBytes: set.maxDisk, Trees: []PoolTree{}}
		if r != nil {
			pr.Target, pr.Tip, pr.Note = r.target, r.tip, r.note
		}
		var mine []*poolTree
		for _, t := range p.trees {
			if t.Repo == root && (t.State != poolTaking && !t.claimed || t.recovered) {
				mine = append(mine, t)
			}
		}
		slices.SortFunc(mine, func(a, b *poolTree) int { return a.Created.Compare(b.Created) })
		for _, t := range mine {
			state := "ready"
			switch {
			case t.doomed || t.recovered:
				state = "removing"
			case t.State == poolCreating || t.State == poolPreparing:
				state = "preparing"
			case t.State == poolRefreshing || t.State == poolRecycling || t.dirty || t.lost || t.busy || t.Commit != pr.Tip:
				state = "refreshing"
			}
			pr.Trees = append(pr.Trees, PoolTree{ID: t.ID, Path: t.Path, State: state, Commit: t.Commit, Bytes: t.bytes})
			pr.Bytes += t.bytes
		}
		p.mu.Unlock()
		out = append(out, pr)
	}
	return out
}

// settingsDir is where a repository's worktrees go under cfg.
func (p *pool) settingsDir(cfg Config, root string) string {
	wtRoot := cfg.Defaults.WorktreeDir
	if wtRoot == "" {
		wtRoot = p.worktreeDir
	}
	return filepath.Join(wtRoot, repoKey(root))
}
