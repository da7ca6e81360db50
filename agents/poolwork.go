package agents

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/workspace"
)

// run is the worker: it does one job at a time until nothing is left, then
// waits for a change.
func (p *pool) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		for ctx.Err() == nil && p.step(ctx) {
		}
		timer.Reset(p.nextWake())
		select {
		case <-p.wake:
		case <-timer.C:
		case <-ctx.Done():
			return
		}
	}
}

// nextWake is how long until a repository's settle or retry time passes.
func (p *pool) nextWake() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	next := time.Hour
	now := time.Now()
	for _, r := range p.repos {
		for _, at := range []time.Time{r.settle, r.retry} {
			if at.After(now) && at.Sub(now) < next {
				next = at.Sub(now) + 10*time.Millisecond
			}
		}
	}
	return next
}

// step does the next job of some repository and reports whether it did one.
func (p *pool) step(ctx context.Context) bool {
	p.mu.Lock()
	var roots []string
	for root, r := range p.repos {
		if !r.planned {
			roots = append(roots, root)
		}
	}
	// Trees of repositories the pool does not follow (found at start).
	for _, t := range p.trees {
		if p.repos[t.Repo] == nil && !t.busy {
			t.doomed = true
			p.mu.Unlock()
			p.remove(ctx, t)
			return true
		}
	}
	p.mu.Unlock()
	slices.Sort(roots)
	for _, root := range roots {
		if job := p.plan(ctx, root); job != nil {
			job()
			return true
		}
	}
	return false
}

// plan chooses the next job for root, marking what it works on busy; nil
// means nothing to do.
func (p *pool) plan(ctx context.Context, root string) func() {
	set := p.settings(ctx, root)
	p.mu.Lock()
	r := p.repos[root]
	needTip := r.refsDirty || r.tip == "" || r.target != set.target
	r.refsDirty = false
	p.mu.Unlock()
	if needTip && set.target != "" {
		tip, err := p.git.Run(ctx, root, "rev-parse", "--verify", "-q", "refs/heads/"+set.target+"^{commit}")
		p.mu.Lock()
		r.target, r.tip = set.target, strings.TrimSpace(string(tip))
		if err != nil {
			r.tip = ""
		}
		p.mu.Unlock()
	}
	// Before the first tree, the disk cap needs an estimate of one: the
	// size of what a checkout writes.
	p.mu.Lock()
	tip, needEstimate := r.tip, r.estimate == 0 && r.tip != ""
	p.mu.Unlock()
	if needEstimate {
		if repo, err := workspace.Open(ctx, p.git, root); err == nil {
			if n, err := repo.TreeBytes(ctx, tip); err == nil {
				p.mu.Lock()
				if r.estimate == 0 {
					r.estimate = max(n, 1)
				}
				p.mu.Unlock()
			}
		}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	r.note = set.note
	var mine []*poolTree
	for _, t := range p.trees {
		if t.Repo == root {
			mine = append(mine, t)
		}
	}
	slices.SortFunc(mine, func(a, b *poolTree) int { return a.Created.Compare(b.Created) })
	busy := func(t *poolTree, job func()) func() {
		t.busy = true
		return func() {
			job()
			p.mu.Lock()
			t.busy = false
			p.changedLocked(root)
			p.mu.Unlock()
		}
	}
	count := 0
	for _, t := range mine {
		switch {
		case t.busy:
			if !t.doomed && !t.claimed && t.State != poolTaking {
				count++
			}
			continue
		case t.doomed, t.recovered:
			return busy(t, func() { p.remove(ctx, t) })
		case t.claimed || t.State == poolTaking:
			continue // leaving the pool
		}
		switch {
		case t.recycle:
			return busy(t, func() { p.recycleJob(ctx, t, r.tip, set) })
		case t.lost:
			return busy(t, func() { p.verify(ctx, t) })
		case t.dirty, r.tip != "" && t.Commit != r.tip, t.Prepared != set.hash:
			if set.want == 0 {
				return busy(t, func() { p.remove(ctx, t) })
			}
			return busy(t, func() { p.refresh(ctx, t, r.tip, set) })
		}
		count++
	}
	// Over the disk cap (lowered since, or the trees grew): remove the
	// newest unclaimed ready ones, as for too many.
	if set.maxDisk > 0 && p.usedLocked() > set.maxDisk {
		for i := len(mine) - 1; i >= 0; i-- {
			if t := mine[i]; !t.busy && !t.claimed && !t.doomed && t.State == poolReady {
				t.doomed = true
				r.note = fmt.Sprintf("disk cap reached ([pool] max_disk = %s)", FormatSize(set.maxDisk))
				return busy(t, func() { p.remove(ctx, t) })
			}
		}
	}
	// Too many: remove the newest unclaimed ready ones.
	if count > set.want {
		for i := len(mine) - 1; i >= 0; i-- {
			if t := mine[i]; !t.busy && !t.claimed && !t.doomed && t.State == poolReady {
				t.doomed = true
				return busy(t, func() { p.remove(ctx, t) })
			}
		}
	}
	now := time.Now()
	switch {
	case count >= set.want:
	case r.pruned:
		r.note = "pruned: refills after the next spawn"
	case r.tip == "":
		if r.note == "" {
			r.note = fmt.Sprintf("target branch %q not found", set.target)
		}
	case now.Before(r.settle), now.Before(r.retry):
		return nil // not planned yet: the timer comes back
	case !p.fitsLocked(r, set):
		r.note = fmt.Sprintf("disk cap reached ([pool] max_disk = %s)", FormatSize(set.maxDisk))
	default:
		id := "pool." + newID()[:8]
		t := &poolTree{poolRecord: poolRecord{ID: id, Repo: root, Path: filepath.Join(set.dir, id), Commit: r.tip,
			State: poolCreating, Created: now.UTC()}}
		p.trees[id] = t
		return busy(t, func() { p.create(ctx, t, set) })
	}
	r.planned = true
	close(p.changed)
	p.changed = make(chan struct{})
	return nil
}

// setState records a tree's new state.
func (p *pool) setState(t *poolTree, state string, fn func(*poolRecord)) error {
	p.mu.Lock()
	t.State = state
	if fn != nil {
		fn(&t.poolRecord)
	}
	rec := t.poolRecord
	p.changedLocked(t.Repo)
	p.mu.Unlock()
	return p.save(rec)
}

// failed gives up on a tree after err: it is removed, and the repository
// waits before making another.
func (p *pool) failed(ctx context.Context, t *poolTree, what string, err error) {
	if ctx.Err() != nil {
		return // the daemon stops: recovery removes the tree
	}
	p.log.Warn("pool tree failed", "repo", t.Repo, "tree", t.Path, "step", what, "err", err)
	p.mu.Lock()
	if r := p.repos[t.Repo]; r != nil {
		r.failures++
		r.retry = time.Now().Add(min(time.Duration(1<<min(r.failures, 8))*time.Second, 5*time.Minute))
		r.note = fmt.Sprintf("%s: %v", what, err)
	}
	p.mu.Unlock()
	p.remove(ctx, t)
}

func (p *pool) succeeded(t *poolTree) {
	p.mu.Lock()
	if r := p.repos[t.Repo]; r != nil {
		r.failures, r.note = 0, ""
	}
	p.mu.Unlock()
}

// create makes a new tree at the tip and prepares it.
func (p *pool) create(ctx context.Context, t *poolTree, set poolSettings) {
	if err := p.save(t.poolRecord); err != nil {
		p.failed(ctx, t, "record", err)
		return
	}
	repo, err := workspace.Open(ctx, p.git, t.Repo)
	if err != nil {
		p.failed(ctx, t, "open repository", err)
		return
	}
	if err := repo.AddDetachedWorktree(ctx, t.Path, t.Commit, poolReason); err != nil {
		p.failed(ctx, t, "check out", err)
		return
	}
	crashPoint("pool-create")
	if err := p.ready(ctx, repo, t, t.Commit, set); err != nil {
		p.failed(ctx, t, "prepare", err)
		return
	}
	p.succeeded(t)
}

// ready prepares a checked-out tree, watches it and records it ready.
func (p *pool) ready(ctx context.Context, repo *workspace.Repo, t *poolTree, commit string, set poolSettings) error {
	if err := p.setState(t, poolPreparing, func(r *poolRecord) { r.Commit = commit }); err != nil {
		return err
	}
	if err := p.configureFsmonitor(ctx, repo, t.Path, set.hook); err != nil {
		p.log.Info("fsmonitor not configured", "tree", t.Path, "err", err)
	}
	for _, c := range set.prepare {
		if err := p.prepare(ctx, t, c); err != nil {
			return err
		}
	}
	p.watch(ctx, t)
	size, _ := workspace.DiskUsage(ctx, t.Path)
	p.mu.Lock()
	t.bytes, t.dirty, t.lost = size, false, false
	if r := p.repos[t.Repo]; r != nil && size > 0 {
		r.estimate = size
	}
	p.mu.Unlock()
	return p.setState(t, poolReady, func(r *poolRecord) { r.Prepared, r.Pgid, r.From, r.Bytes = set.hash, 0, "", size })
}

// watch watches a tree, so that a change to it is known without asking
// git, unless the watcher could not cover it before.
func (p *pool) watch(ctx context.Context, t *poolTree) {
	p.mu.Lock()
	skip := p.w == nil || t.unwatch != nil || t.noWatch
	p.mu.Unlock()
	if skip {
		return
	}
	id := t.ID
	stop, err := p.w.Add(ctx, workspace.WatchRoot{Dir: t.Path, GitIgnore: true, Notify: func(b workspace.WatchBatch) { p.touched(id, b) }})
	if err == nil {
		mark := p.w.Mark(t.Path)
		p.mu.Lock()
		t.unwatch, t.mark = stop, mark
		p.mu.Unlock()
	}
}

// touched records the watcher's report of a change in a pool tree.
func (p *pool) touched(id string, b workspace.WatchBatch) {
	p.mu.Lock()
	t := p.trees[id]
	if t == nil || t.busy || t.State != poolReady {
		p.mu.Unlock()
		return
	}
	if b.Rescan {
		t.lost = true
	} else {
		t.dirty = true
	}
	p.changedLocked(t.Repo)
	p.mu.Unlock()
	p.kick()
}

// configureFsmonitor sets or clears the fsmonitor hook of a worktree.
func (p *pool) configureFsmonitor(ctx context.Context, repo *workspace.Repo, dir, hook string) error {
	p.cfgMu.Lock()
	defer p.cfgMu.Unlock()
	if err := repo.FsmonitorConfig(ctx, dir, hook); err != nil {
		return err
	}
	p.repairIndex(ctx, repo, dir)
	return nil
}

// repairIndex undoes the split index earlier daemons gave a worktree,
// saying so in the log (workspace.RepairIndex).
func (p *pool) repairIndex(ctx context.Context, repo *workspace.Repo, dir string) {
	r, err := repo.Git.RepairIndex(ctx, dir, false)
	switch {
	case err != nil:
		p.log.Warn("index not repaired", "worktree", dir, "err", err)
	case r != workspace.IndexRepair{}:
		p.log.Warn("index repaired", "worktree", dir, "repair", r.String())
	}
}

// prepare runs one prepare command in t, in its own process group (recorded,
// so that a restarted daemon can end what a killed one left running) and
// dying with the daemon.
func (p *pool) prepare(ctx context.Context, t *poolTree, command string) error {
	logPath := filepath.Join(p.dir, t.ID+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "$ %s\n", command)
	// The command waits at a gate until its process group is recorded: a
	// daemon killed at any moment leaves a record naming every process
	// the command started.
	gateR, gateW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer gateW.Close()
	cmd := exec.Command("sh", "-c", `read -r _ <&3; exec 3<&-; eval "$1"`, "sh", command)
	cmd.Dir = t.Path
	cmd.Env = append(os.Environ(), "STUDIO_WORKTREE="+t.Path, "STUDIO_REPO="+t.Repo, "STUDIO_POOL=1")
	var tail tailBuffer
	cmd.Stdout = io.MultiWriter(logf, &tail)
	cmd.Stderr = cmd.Stdout
	cmd.ExtraFiles = []*os.File{gateR}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	gateR.Close()
	if err != nil {
		return err
	}
	pgid := cmd.Process.Pid
	if err := p.setState(t, t.State, func(r *poolRecord) { r.Pgid = pgid }); err != nil {
		syscall.Kill(-pgid, syscall.SIGKILL)
		cmd.Wait()
		return err
	}
	gateW.Write([]byte("\n"))
	gateW.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			syscall.Kill(-pgid, syscall.SIGKILL)
		case <-done:
		}
	}()
	if err := cmd.Wait(); err != nil {
		syscall.Kill(-pgid, syscall.SIGKILL)
		return fmt.Errorf("%q: %v: %s (full output in %s)", command, err, strings.TrimSpace(tail.String()), logPath)
	}
	return nil
}

// refresh brings a tree to tip and prepares it again.
func (p *pool) refresh(ctx context.Context, t *poolTree, tip string, set poolSettings) {
	p.mu.Lock()
	stop, dirty := t.unwatch, t.dirty
	t.unwatch = nil
	p.mu.Unlock()
	if stop != nil {
		stop()
	}
	if tip == "" {
		tip = t.Commit
	}
	if err := p.setState(t, poolRefreshing, nil); err != nil {
		p.failed(ctx, t, "record", err)
		return
	}
	repo, err := workspace.Open(ctx, p.git, t.Repo)
	if err != nil {
		p.failed(ctx, t, "open repository", err)
		return
	}
	g := p.git
	if dirty {
		err = g.ResetClean(ctx, t.Path, tip, false)
	} else if err = g.Checkout(ctx, t.Path, tip); err != nil {
		err = g.ResetClean(ctx, t.Path, tip, false)
	}
	if err != nil {
		p.failed(ctx, t, "refresh", err)
		return
	}
	crashPoint("pool-refresh")
	if err := p.ready(ctx, repo, t, tip, set); err != nil {
		p.failed(ctx, t, "prepare", err)
		return
	}
	p.succeeded(t)
}

// verify checks with git that a tree is clean and at its commit, after
// events for it were lost; a tree the watcher cannot cover is no longer
// watched (its take checks it instead).
func (p *pool) verify(ctx context.Context, t *poolTree) {
	if _, err := os.Stat(t.Path); err != nil {
		p.remove(ctx, t)
		return
	}
	if p.w != nil {
		for _, d := range p.w.Status().Degraded {
			if d.Root == t.Path {
				// Out of watches: the tree is checked when taken instead,
				// and its watches go to the sessions.
				p.mu.Lock()
				stop := t.unwatch
				t.unwatch, t.noWatch = nil, true
				p.mu.Unlock()
				if stop != nil {
					stop()
				}
			}
		}
	}
	// What changes from now on, the watch shows.
	mark := ""
	if p.w != nil {
		mark = p.w.Mark(t.Path)
	}
	g := p.git
	commit, branch, err := g.Head(ctx, t.Path)
	clean := err == nil && commit == t.Commit && branch == ""
	if clean {
		st, err := g.WorktreeStatus(ctx, t.Path)
		clean = err == nil && !st.Dirty()
	}
	p.mu.Lock()
	t.lost, t.dirty = false, !clean
	watched := t.unwatch != nil
	if clean && watched {
		t.mark = mark
	}
	p.changedLocked(t.Repo)
	p.mu.Unlock()
	if clean && !watched {
		p.watch(ctx, t)
	}
}

// recycleJob makes a released session worktree a fresh pool tree at tip:
// reset, cleaned of everything not tracked (ignored files included: they
// were the session's), prepared.
func (p *pool) recycleJob(ctx context.Context, t *poolTree, tip string, set poolSettings) {
	p.mu.Lock()
	t.recycle = false
	p.mu.Unlock()
	repo, err := workspace.Open(ctx, p.git, t.Repo)
	if err != nil {
		p.failed(ctx, t, "open repository", err)
		return
	}
	if tip == "" {
		p.failed(ctx, t, "recycle", errors.New("no target tip"))
		return
	}
	if err := p.setState(t, poolRefreshing, nil); err != nil {
		p.failed(ctx, t, "record", err)
		return
	}
	if err := p.git.ResetClean(ctx, t.Path, tip, true); err != nil {
		p.failed(ctx, t, "recycle", err)
		return
	}
	if err := p.ready(ctx, repo, t, tip, set); err != nil {
		p.failed(ctx, t, "prepare", err)
		return
	}
	p.succeeded(t)
}

// remove deletes a tree and its record.
func (p *pool) remove(ctx context.Context, t *poolTree) {
	p.mu.Lock()
	stop := t.unwatch
	t.unwatch = nil
	p.mu.Unlock()
	if stop != nil {
		stop()
	}
	host.EndGroup(t.Pgid, t.Path)
	repo, err := workspace.Open(ctx, p.git, t.Repo)
	if err == nil {
		for _, path := range []string{t.Path, t.From} {
			if path == "" {
				continue
			}
			if _, serr := os.Stat(path); serr == nil || path == t.Path {
				if err := repo.ForceRemoveWorktree(ctx, path); err != nil && ctx.Err() == nil {
					p.log.Warn("remove pool tree", "tree", path, "err", err)
				}
			}
		}
	}
	p.mu.Lock()
	delete(p.trees, t.ID)
	p.changedLocked(t.Repo)
	p.mu.Unlock()
	p.forget(t.ID)
}
