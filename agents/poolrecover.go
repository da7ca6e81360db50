package agents

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/studiod/studiod/workspace"
)

// recover loads the tree records and reconciles them with git, before
// sessions are recovered: a spawn cut short finds its tree in a known
// state. Slow work (removals, checks) goes to the worker.
func (p *pool) recover(ctx context.Context) {
	entries, _ := os.ReadDir(p.dir)
	byRepo := map[string][]*poolTree{}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			os.Remove(filepath.Join(p.dir, e.Name()))
			continue
		}
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(p.dir, e.Name()))
		var rec poolRecord
		if err != nil || json.Unmarshal(b, &rec) != nil || rec.ID == "" || rec.Repo == "" {
			p.log.Warn("unreadable pool record: dropped", "file", e.Name())
			os.Remove(filepath.Join(p.dir, e.Name()))
			continue
		}
		byRepo[rec.Repo] = append(byRepo[rec.Repo], &poolTree{poolRecord: rec, bytes: rec.Bytes})
	}
	roots := map[string]bool{}
	for root := range byRepo {
		roots[root] = true
	}
	for _, root := range p.env.recentRepos() {
		roots[root] = true
	}
	for root := range roots {
		repo, err := workspace.Open(ctx, p.git, root)
		if err != nil {
			// The repository is gone: so are its worktrees.
			for _, t := range byRepo[root] {
				p.forget(t.ID)
			}
			continue
		}
		list, err := repo.Worktrees(ctx)
		if err != nil {
			p.log.Warn("recover pool: list worktrees", "repo", root, "err", err)
			continue
		}
		for _, wt := range list {
			if wt.Path != repo.Root {
				p.repairIndex(ctx, repo, wt.Path)
			}
		}
		known := map[string]bool{}
		for _, t := range byRepo[root] {
			known[t.Path] = true
			if t.From != "" {
				known[t.From] = true
			}
			p.recoverTree(ctx, repo, t, list)
		}
		for _, wt := range list {
			if wt.Locked && strings.HasPrefix(wt.LockReason, poolReasonPrefix) && !known[wt.Path] && wt.Branch == "" {
				// A pool tree whose record was lost: remove it.
				id := "orphan-" + newID()
				t := &poolTree{poolRecord: poolRecord{ID: id, Repo: root, Path: wt.Path, State: poolCreating, Created: time.Now()}, recovered: true}
				p.mu.Lock()
				p.trees[id] = t
				p.mu.Unlock()
			}
		}
		p.register(ctx, repo, time.Time{})
	}
}

func (p *pool) recoverTree(ctx context.Context, repo *workspace.Repo, t *poolTree, list []workspace.Worktree) {
	var wt *workspace.Worktree
	for i := range list {
		if list[i].Path == t.Path || t.From != "" && list[i].Path == t.From {
			wt = &list[i]
		}
	}
	switch {
	case wt == nil:
		// Never made, or deleted behind our back: only its directory may
		// remain, which git does not know.
		if _, err := os.Stat(t.Path); err == nil && filepath.Base(t.Path) == t.ID {
			os.RemoveAll(t.Path)
		}
		p.forget(t.ID)
		return
	case t.State == poolTaking && wt.Branch != "":
		// A spawn had put it on its branch: the tree is the session's
		// now, and the session's recovery rolls it back.
		repo.UnlockWorktree(ctx, wt.Path)
		p.forget(t.ID)
		return
	case t.State == poolReady && wt.Branch == "" && wt.Head == t.Commit:
		// Ready before the crash: check with git before trusting it.
		t.lost = true
	default:
		t.recovered = true
	}
	p.mu.Lock()
	p.trees[t.ID] = t
	p.mu.Unlock()
}
