package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/studiod/studiod/workspace"
)

// The warm pool keeps, per repository, a few worktrees checked out ahead of
// time at the tip of the branch sessions start from: detached (no branch
// shows in `git branch`), locked with a reason naming studiod (so `git
// worktree prune` leaves them and `git worktree list` says whose they are),
// with the repository's [setup] prepare commands run. A spawn whose base is
// a ready tree's commit takes it: the branch is created there and HEAD put
// on it, two ref updates instead of a checkout, and the tree's path becomes
// the session's worktree. The pool watches its ready trees, so a tree
// anyone touched is reset before use, and the repository's refs, so trees
// follow the tip when it moves; a tree at another commit is never handed
// out. A removed session's worktree is recycled into the pool (reset and
// cleaned) when the pool wants one, instead of deleted.
//
// State: each pool tree has a record, <state>/pool/<id>.json, written
// before every step that changes the tree (creating, preparing, ready,
// refreshing, recycling, taking). A daemon killed mid-way finds the record
// at restart: a ready tree is checked with git before it is trusted again;
// a tree in any other step is removed (whatever git or a prepare command
// was doing to it died with the daemon), except a tree a spawn had already
// put on its branch, which belongs to that session and is rolled back with
// it. Worktrees locked with the pool's reason that no record names are
// removed too.
//
// Concurrency: one worker goroutine does the slow work (checkouts, prepare
// commands, refreshes, removals) one job at a time; spawns claim and take
// ready trees in their own goroutines and never wait for it. pool.mu
// guards the pool's tables and is never held while git or a command runs,
// nor together with Manager.mu. Lock order: repo lock, then pool.mu.
type pool struct {
	m    *Manager
	dir  string // <state>/pool: tree records and prepare logs
	w    *workspace.Watcher
	log  *slog.Logger
	wake chan struct{}
	// cfgMu serializes turning on extensions.worktreeConfig, which
	// writes the repository's config.
	cfgMu sync.Mutex

	// mu guards the fields below.
	mu      sync.Mutex
	repos   map[string]*poolRepo // by main worktree
	trees   map[string]*poolTree // by ID
	handoff map[string]func()    // session worktree → the pool's watch of it, kept until released
	changed chan struct{}        // closed at every change, for waiters
}

// Pool tree states, as recorded.
const (
	poolCreating   = "creating"
	poolPreparing  = "preparing"
	poolReady      = "ready"
	poolRefreshing = "refreshing"
	poolRecycling  = "recycling"
	poolTaking     = "taking"
)

// poolRecord is a pool tree as recorded on disk.
type poolRecord struct {
	ID       string    `json:"id"`
	Repo     string    `json:"repo"`
	Path     string    `json:"path"`
	From     string    `json:"from,omitempty"` // recycling: the session worktree it comes from
	Commit   string    `json:"commit,omitempty"`
	State    string    `json:"state"`
	Prepared string    `json:"prepared,omitempty"` // what it was prepared with (poolSettings.hash)
	Session  string    `json:"session,omitempty"`  // taking: the session taking it
	Branch   string    `json:"branch,omitempty"`   // taking: its branch
	Pgid     int       `json:"pgid,omitempty"`     // the prepare commands' process group while they run
	Bytes    int64     `json:"bytes,omitempty"`    // on disk, measured when it became ready
	Created  time.Time `json:"created"`
}

type poolTree struct {
	poolRecord
	claimed   bool   // reserved by a spawn (in memory only: a crash frees it)
	busy      bool   // the worker is working on it
	recycle   bool   // queued by Release: the worker recycles it
	dirty     bool   // changed since it was ready
	lost      bool   // events for it were lost: check it with git
	doomed    bool   // to be removed
	recovered bool   // found unfinished at start: to be removed
	unwatch   func() // its watch, while watched
	mark      string // the watcher's token from when it was last known clean
	noWatch   bool   // the watcher cannot cover it: not watched
	bytes     int64  // on disk, measured when it became ready
}

type poolRepo struct {
	root, common string
	target, tip  string
	refsDirty    bool      // refs changed since tip was read
	pruned       bool      // emptied by prune: no refill until the next spawn
	settle       time.Time // no refill before (just after a spawn)
	retry        time.Time // no creation before (after a failure)
	failures     int
	planned      bool // the worker found nothing to do since the last change
	unwatchRefs  func()
	note         string // why the pool does not fill, when it does not
	estimate     int64  // bytes a new tree takes
}

// poolSettings are a repository's pool settings from its config.
type poolSettings struct {
	want    int
	maxDisk int64
	prepare []string
	hook    string // the fsmonitor hook for its worktrees; "" when off
	hash    string // names what a ready tree must have been prepared with
	target  string
	dir     string // where its worktrees go
	note    string // why it keeps no tree, when it does not
}

// recentSpawn is how recently a repository must have been spawned from to
// get a pool tree by default.
const recentSpawn = 7 * 24 * time.Hour

// poolSettle is how long after a spawn the pool waits before refilling:
// an agent that dies at once rolls its spawn back, and a checkout competing
// with the agent's own start slows both.
const poolSettle = 2 * time.Second

// maxPoolSize bounds [pool] size.
const maxPoolSize = 16

// defaultPoolDisk is the default [pool] max_disk.
const defaultPoolDisk = "20GiB"

// poolReason is the lock reason of pool trees; recovery recognizes them by
// its prefix.
const poolReason = "studiod pool: a ready worktree for the next spawn (`studiod pool prune` frees it)"

const poolReasonPrefix = "studiod pool:"

func newPool(m *Manager) (*pool, error) {
	p := &pool{
		m: m, dir: filepath.Join(m.opts.StateDir, "pool"), w: m.conf.watcher, log: m.log.With("component", "pool"),
		wake: make(chan struct{}, 1), repos: map[string]*poolRepo{}, trees: map[string]*poolTree{},
		handoff: map[string]func(){}, changed: make(chan struct{}),
	}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return nil, err
	}
	return p, nil
}

// start runs the worker until the manager closes.
func (p *pool) start() {
	p.m.wg.Go(func() { p.run(p.m.ctx) })
	p.kick()
}

// close stops watching; the worker stops with the manager's context.
func (p *pool) close() {
	p.mu.Lock()
	var stops []func()
	for _, t := range p.trees {
		if t.unwatch != nil {
			stops = append(stops, t.unwatch)
			t.unwatch = nil
		}
	}
	for path, stop := range p.handoff {
		stops = append(stops, stop)
		delete(p.handoff, path)
	}
	for _, r := range p.repos {
		if r.unwatchRefs != nil {
			stops = append(stops, r.unwatchRefs)
			r.unwatchRefs = nil
		}
	}
	p.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
}

func (p *pool) kick() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// changedLocked wakes waiters and marks every repository for planning.
// Caller holds mu.
func (p *pool) changedLocked(root string) {
	close(p.changed)
	p.changed = make(chan struct{})
	if r := p.repos[root]; r != nil {
		r.planned = false
	}
}

func (p *pool) recordPath(id string) string { return filepath.Join(p.dir, id+".json") }

func (p *pool) save(rec poolRecord) error {
	b, _ := json.MarshalIndent(rec, "", "  ")
	tmp := p.recordPath(rec.ID) + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p.recordPath(rec.ID))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("record pool tree %s: %w", rec.ID, err)
	}
	return nil
}

func (p *pool) forget(id string) {
	os.Remove(p.recordPath(id))
	os.Remove(filepath.Join(p.dir, id+".log"))
}

// crashPoint kills the daemon as kill -9 would when the crash tests ask
// for it at this step (STUDIOD_DEBUG_CRASH_AFTER).
func crashPoint(step string) {
	if workspace.CrashAfterStep == step {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
}

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
	for _, root := range p.m.recentRepos() {
		roots[root] = true
	}
	for root := range roots {
		repo, err := workspace.Open(ctx, p.m.opts.Git, root)
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

// recentRepos lists the repositories spawned from lately.
func (m *Manager) recentRepos() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, s := range m.sessions {
		if s.State != Failed && time.Since(s.Created) < recentSpawn && !seen[s.Repo] {
			seen[s.Repo] = true
			out = append(out, s.Repo)
		}
	}
	return out
}

// spawnedRecently reports whether a session that did not fail was spawned
// in root lately.
func (m *Manager) spawnedRecently(root string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.sessions {
		if s.Repo == root && s.State != Failed && time.Since(s.Created) < recentSpawn {
			return true
		}
	}
	return false
}

// register makes the pool follow repo: its refs are watched so trees follow
// the tip. A spawn passes when the refill may start; zero is now.
func (p *pool) register(ctx context.Context, repo *workspace.Repo, settle time.Time) *poolRepo {
	p.mu.Lock()
	if r := p.repos[repo.Root]; r != nil {
		if !settle.IsZero() {
			r.pruned, r.settle = false, settle
			p.changedLocked(repo.Root)
		}
		p.mu.Unlock()
		p.kick()
		return r
	}
	r := &poolRepo{root: repo.Root, common: repo.CommonDir, refsDirty: true, settle: settle}
	p.repos[repo.Root] = r
	p.mu.Unlock()
	if p.w != nil {
		root := repo.Root
		stop, err := p.w.Add(ctx, workspace.WatchRoot{
			Dir:  repo.CommonDir,
			Skip: func(rel string) bool { return rel != "refs" && !strings.HasPrefix(rel, "refs/") },
			Notify: func(workspace.WatchBatch) {
				p.mu.Lock()
				if r := p.repos[root]; r != nil {
					r.refsDirty = true
					p.changedLocked(root)
				}
				p.mu.Unlock()
				p.kick()
			},
		})
		if err != nil {
			p.log.Warn("watch refs", "repo", repo.Root, "err", err)
		} else {
			p.mu.Lock()
			r.unwatchRefs = stop
			p.mu.Unlock()
		}
	}
	p.kick()
	return r
}

// spawned notes a spawn in repo: the pool refills once it has settled.
func (p *pool) spawned(ctx context.Context, repo *workspace.Repo) {
	p.register(ctx, repo, time.Now().Add(p.m.opts.PoolSettle))
}

// settings reads a repository's pool settings from its config.
func (p *pool) settings(ctx context.Context, root string) poolSettings {
	cfg, rc, err := p.m.effectiveConfig(ctx, root)
	if err != nil {
		return poolSettings{note: err.Error()}
	}
	if !rc.Trusted {
		return poolSettings{note: fmt.Sprintf("%s defines commands and is not trusted: no pool until you run `studiod trust` in %s", rc.Path, root)}
	}
	s := poolSettings{prepare: cfg.Setup.Prepare, target: cfg.Defaults.Target}
	s.maxDisk, _ = parseBytes(cfg.Pool.MaxDisk)
	switch {
	case cfg.Pool.Size != nil:
		s.want = *cfg.Pool.Size
	case p.m.spawnedRecently(root):
		s.want = 1
	}
	if s.target == "" {
		b, err := p.m.opts.Git.Run(ctx, root, "symbolic-ref", "-q", "--short", "HEAD")
		if err != nil {
			s.want, s.note = 0, "the main worktree has a detached HEAD: set [defaults] target for the pool to follow a branch"
		}
		s.target = strings.TrimSpace(string(b))
	}
	s.hook = p.m.fsmonitorHookFor(cfg)
	s.hash = poolHash(cfg, s.hook)
	s.dir = p.settingsDir(cfg, root)
	return s
}

// fsmonitorHookFor is the command git runs in session worktrees to ask the
// daemon what changed, or "" when cfg turns fsmonitor off.
func (m *Manager) fsmonitorHookFor(cfg Config) string {
	if f := cfg.Defaults.Fsmonitor; f != nil && !*f {
		return ""
	}
	// The small hook binary starts in a few milliseconds, studiod itself
	// in tens: git runs it at every status.
	if small := filepath.Join(filepath.Dir(m.opts.Self), "studiod-fsmonitor"); isExecutable(small) {
		return shellQuote(small) + " --socket " + shellQuote(m.opts.Socket)
	}
	return shellQuote(m.opts.Self) + " fsmonitor --socket " + shellQuote(m.opts.Socket)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// poolHash names what a ready tree must have been prepared with to serve a
// spawn under cfg: a tree prepared otherwise is prepared again first.
func poolHash(cfg Config, hook string) string {
	return hashBytes([]byte(strings.Join(append([]string{"fsmonitor=" + hook}, cfg.Setup.Prepare...), "\x00")))[:16]
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

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
		r.settle = time.Now().Add(p.m.opts.PoolSettle)
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
func (p *pool) take(ctx context.Context, repo *workspace.Repo, s *Session) (bool, error) {
	t := p.claimedAt(s.Worktree)
	if t == nil {
		return false, nil
	}
	p.mu.Lock()
	t.State, t.Session, t.Branch = poolTaking, s.ID, s.Branch
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
	g := p.m.opts.Git
	commit, branch, err := g.Head(ctx, t.Path)
	clean := err == nil && commit == s.Base && branch == ""
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
		if err := g.ResetClean(ctx, t.Path, s.Base, false); err != nil {
			return giveBack(err)
		}
	}
	if err := repo.CreateBranch(ctx, s.Branch, s.Base, s.Target); err != nil {
		return giveBack(err)
	}
	crashPoint("pool-branch")
	if err := g.AttachHead(ctx, t.Path, s.Branch); err != nil {
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
func (p *pool) release(ctx context.Context, repo *workspace.Repo, s *Session, force bool) (bool, error) {
	set := p.settings(ctx, repo.Root)
	if set.want == 0 || filepath.Dir(s.Worktree) != set.dir {
		return false, nil
	}
	if _, err := os.Stat(s.Worktree); err != nil {
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
		st, err := p.m.opts.Git.WorktreeStatus(ctx, s.Worktree)
		if err != nil {
			return true, err
		}
		if st.Dirty() {
			return true, fmt.Errorf("%w: %s has uncommitted changes: commit them, or pass --force to discard them", ErrUncommitted, s.Worktree)
		}
	}
	if _, err := p.m.opts.Git.DetachHead(ctx, s.Worktree); err != nil {
		p.log.Warn("recycle: detach", "worktree", s.Worktree, "err", err)
		return false, nil
	}
	// The record comes first and the lock second, so that a crash at any
	// point leaves a tree recovery knows to remove; then the rename.
	id := "pool." + newID()[:8]
	t := &poolTree{poolRecord: poolRecord{ID: id, Repo: repo.Root, Path: filepath.Join(set.dir, id), From: s.Worktree,
		State: poolRecycling, Created: time.Now().UTC()}, recycle: true}
	if err := p.save(t.poolRecord); err != nil {
		return false, nil
	}
	repo.UnlockWorktree(ctx, s.Worktree)
	if err := repo.LockWorktree(ctx, s.Worktree, poolReason); err != nil {
		p.forget(id)
		return false, nil
	}
	// The conflict tracker lets go of the directory before it moves (it
	// would do so a moment later, when the session is marked removed).
	p.m.conf.untrack(s.ID)
	if err := repo.MoveWorktree(ctx, s.Worktree, t.Path); err != nil {
		// Submodules, say: delete it instead.
		p.log.Info("recycle: move", "worktree", s.Worktree, "err", err)
		repo.UnlockWorktree(ctx, s.Worktree)
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
		tip, err := p.m.opts.Git.Run(ctx, root, "rev-parse", "--verify", "-q", "refs/heads/"+set.target+"^{commit}")
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
		if repo, err := workspace.Open(ctx, p.m.opts.Git, root); err == nil {
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
	repo, err := workspace.Open(ctx, p.m.opts.Git, t.Repo)
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

// endGroup kills what remains of a prepare command's process group, if its
// processes still work in dir.
func endGroup(pgid int, dir string) {
	if pgid <= 0 {
		return
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndex(s, ")")+1:])
		if len(f) < 3 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		cwd, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
		if cwd == dir || strings.HasPrefix(cwd, dir+"/") {
			syscall.Kill(-pgid, syscall.SIGKILL)
			return
		}
	}
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
	repo, err := workspace.Open(ctx, p.m.opts.Git, t.Repo)
	if err != nil {
		p.failed(ctx, t, "open repository", err)
		return
	}
	g := p.m.opts.Git
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
	g := p.m.opts.Git
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
	repo, err := workspace.Open(ctx, p.m.opts.Git, t.Repo)
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
	if err := p.m.opts.Git.ResetClean(ctx, t.Path, tip, true); err != nil {
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
	endGroup(t.Pgid, t.Path)
	repo, err := workspace.Open(ctx, p.m.opts.Git, t.Repo)
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
		wtRoot = p.m.opts.WorktreeDir
	}
	return filepath.Join(wtRoot, repoKey(root))
}
