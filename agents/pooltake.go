package agents

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/studiod/studiod/agents/host"
)

// claim reserves a ready tree of root at commit base, prepared as the
// current settings say, for a spawn being reserved; it returns the tree's
// path, or "" when there is none. Caller holds root's repo lock.
func (p *pool) claim(root, base, hash string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var best *poolTree
	for _, t := range p.trees {
		if t.Repo != root || t.State != poolReady || t.busy || t.claimed || t.dirty || t.lost || t.doomed || t.recycle ||
			t.Commit != base || t.Prepared != hash {
			continue
		}
		if best == nil || t.Created.Before(best.Created) {
			best = t
		}
	}
	if best == nil {
		return ""
	}
	best.claimed = true
	if r := p.repos[root]; r != nil {
		// The refill waits for the spawn to settle.
		r.settle = time.Now().Add(p.settle)
	}
	p.changedLocked(root)
	return best.Path
}

// unclaim gives back a tree a spawn claimed and will not take.
func (p *pool) unclaim(path string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.trees {
		if t.Path == path && t.claimed && t.State == poolReady {
			t.claimed = false
			p.changedLocked(t.Repo)
		}
	}
	p.kick()
}

func (p *pool) claimedAt(path string) *poolTree {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.trees {
		if t.Path == path && t.claimed {
			return t
		}
	}
	return nil
}

// take turns the tree claimed at s.Worktree into s's workspace: s.Branch
// created at s.Base and checked out there, with no checkout of files. A
// tree touched since it was claimed, or not watched, is checked and if
// need be reset first, so it is never handed out other than clean at
// s.Base. It reports false when no tree was claimed there.
func (p *pool) take(ctx context.Context, spec host.WorkspaceSpec) (bool, error) {
	repo := spec.Repo
	t := p.claimedAt(spec.Path)
	if t == nil {
		return false, nil
	}
	p.mu.Lock()
	t.State, t.Session, t.Branch = poolTaking, spec.Session, spec.Branch
	rec, watched, mark := t.poolRecord, t.unwatch != nil, t.mark
	p.mu.Unlock()
	giveBack := func(err error) (bool, error) {
		p.mu.Lock()
		t.State, t.Session, t.Branch, t.claimed, t.dirty = poolReady, "", "", false, true
		rec := t.poolRecord
		p.changedLocked(t.Repo)
		p.mu.Unlock()
		p.save(rec)
		p.kick()
		return true, err
	}
	if err := p.save(rec); err != nil {
		return giveBack(err)
	}
	g := p.git
	commit, branch, err := g.Head(ctx, t.Path)
	clean := err == nil && commit == spec.Base && branch == ""
	switch {
	case !clean:
	case watched:
		// Every event up to now, not only the debounced ones: a write a
		// moment ago counts.
		clean = !p.w.ChangedSince(ctx, t.Path, mark)
	default:
		st, err := g.WorktreeStatus(ctx, t.Path)
		clean = err == nil && !st.Dirty()
	}
	if !clean {
		// Someone was here: make it the tree it should be. Ignored files
		// (what prepare made) stay.
		if err := g.ResetClean(ctx, t.Path, spec.Base, false); err != nil {
			return giveBack(err)
		}
	}
	if err := repo.CreateBranch(ctx, spec.Branch, spec.Base, spec.Target); err != nil {
		return giveBack(err)
	}
	crashPoint("pool-branch")
	if err := g.AttachHead(ctx, t.Path, spec.Branch); err != nil {
		// The branch is the spawn's to roll back; the tree is still ours.
		return giveBack(err)
	}
	crashPoint("pool-head")
	// From here the tree is the session's, whatever fails.
	p.mu.Lock()
	delete(p.trees, t.ID)
	if t.unwatch != nil {
		// The session's tracker watches the same directory: keeping the
		// pool's watch until the tree is released spares a walk of it.
		p.handoff[t.Path] = t.unwatch
		t.unwatch = nil
	}
	p.changedLocked(t.Repo)
	p.mu.Unlock()
	p.kick()
	// Unlocked before its record goes: a tree on a branch and locked by
	// the pool with no record would look like a lost pool tree.
	_, err = repo.Run(ctx, "worktree", "unlock", "--", t.Path)
	p.forget(t.ID)
	if err != nil {
		return true, fmt.Errorf("unlock %s: %w", t.Path, err)
	}
	return true, nil
}

// dropHandoff ends the pool's watch of a tree it handed to a session.
func (p *pool) dropHandoff(path string) {
	p.mu.Lock()
	stop := p.handoff[path]
	delete(p.handoff, path)
	p.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// release recycles a session's worktree into the pool when the pool of its
// repository wants one, and reports whether it did. What it does under the
// caller's repo lock is quick (detach HEAD, lock, rename): the reset and
// cleaning happen in the worker. The session's path is free when it
// returns, as if the worktree had been deleted.
func (p *pool) release(ctx context.Context, spec host.WorkspaceSpec, force bool) (bool, error) {
	repo := spec.Repo
	set := p.settings(ctx, repo.Root)
	if set.want == 0 || filepath.Dir(spec.Path) != set.dir {
		return false, nil
	}
	if _, err := os.Stat(spec.Path); err != nil {
		return false, nil
	}
	p.mu.Lock()
	r := p.repos[repo.Root]
	n := 0
	for _, t := range p.trees {
		if t.Repo == repo.Root && !t.doomed && !t.claimed {
			n++
		}
	}
	wants := r != nil && !r.pruned && n < set.want && p.fitsLocked(r, set)
	p.mu.Unlock()
	if !wants {
		return false, nil
	}
	if !force {
		st, err := p.git.WorktreeStatus(ctx, spec.Path)
		if err != nil {
			return true, err
		}
		if st.Dirty() {
			return true, fmt.Errorf("%w: %s has uncommitted changes: commit them, or pass --force to discard them", ErrUncommitted, spec.Path)
		}
	}
	if _, err := p.git.DetachHead(ctx, spec.Path); err != nil {
		p.log.Warn("recycle: detach", "worktree", spec.Path, "err", err)
		return false, nil
	}
	// The record comes first and the lock second, so that a crash at any
	// point leaves a tree recovery knows to remove; then the rename.
	id := "pool." + newID()[:8]
	t := &poolTree{poolRecord: poolRecord{ID: id, Repo: repo.Root, Path: filepath.Join(set.dir, id), From: spec.Path,
		State: poolRecycling, Created: time.Now().UTC()}, recycle: true}
	if err := p.save(t.poolRecord); err != nil {
		return false, nil
	}
	repo.UnlockWorktree(ctx, spec.Path)
	if err := repo.LockWorktree(ctx, spec.Path, poolReason); err != nil {
		p.forget(id)
		return false, nil
	}
	crashPoint("pool-recycle")
	// The conflict tracker lets go of the directory before it moves (it
	// would do so a moment later, when the session is marked removed).
	p.untrack(spec.Session)
	if err := repo.MoveWorktree(ctx, spec.Path, t.Path); err != nil {
		// Submodules, say: delete it instead.
		p.log.Info("recycle: move", "worktree", spec.Path, "err", err)
		repo.UnlockWorktree(ctx, spec.Path)
		p.forget(id)
		return false, nil
	}
	if err := p.setState(t, poolRecycling, func(r *poolRecord) { r.From = "" }); err != nil {
		p.log.Warn("recycle: record", "tree", t.Path, "err", err)
	}
	p.mu.Lock()
	p.trees[id] = t
	p.changedLocked(repo.Root)
	p.mu.Unlock()
	p.kick()
	return true, nil
}

// fitsLocked reports whether one more tree fits under the disk cap. Caller
// holds mu.
func (p *pool) fitsLocked(r *poolRepo, set poolSettings) bool {
	return p.usedLocked()+r.estimate <= set.maxDisk
}

// usedLocked is the disk the pool's trees take. Caller holds mu.
func (p *pool) usedLocked() int64 {
	var used int64
	for _, t := range p.trees {
		if !t.doomed {
			used += t.bytes
		}
	}
	return used
}
