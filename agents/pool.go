package agents

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
	env         poolEnv
	git         *workspace.Git
	settle      time.Duration // after a spawn, before refilling
	worktreeDir string        // the default root of worktrees
	untrack     func(session string)
	dir         string // <state>/pool: tree records and prepare logs
	w           *workspace.Watcher
	log         *slog.Logger
	wake        chan struct{}
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

// poolEnv is what the pool needs of the rest of the Manager.
type poolEnv interface {
	// effectiveConfig is a repository's config, the user's under it.
	effectiveConfig(ctx context.Context, root string) (Config, *repoConfig, error)
	// fsmonitorHookFor is the fsmonitor hook cfg gives worktrees ("":
	// none).
	fsmonitorHookFor(cfg Config) string
	// recentRepos are the repositories sessions were spawned from lately;
	// spawnedRecently says whether root is one.
	recentRepos() []string
	spawnedRecently(root string) bool
}

func newPool(m *Manager) (*pool, error) {
	p := &pool{
		env: m, git: m.opts.Git, settle: m.opts.PoolSettle, worktreeDir: m.opts.WorktreeDir, untrack: m.conf.untrack,
		dir: filepath.Join(m.opts.StateDir, "pool"), w: m.conf.watcher, log: m.log.With("component", "pool"),
		wake: make(chan struct{}, 1), repos: map[string]*poolRepo{}, trees: map[string]*poolTree{},
		handoff: map[string]func(){}, changed: make(chan struct{}),
	}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return nil, err
	}
	return p, nil
}

// start runs the worker in wg until ctx ends.
func (p *pool) start(ctx context.Context, wg *sync.WaitGroup) {
	wg.Go(func() { p.run(ctx) })
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
	p.register(ctx, repo, time.Now().Add(p.settle))
}

// settings reads a repository's pool settings from its config.
func (p *pool) settings(ctx context.Context, root string) poolSettings {
	cfg, rc, err := p.env.effectiveConfig(ctx, root)
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
	case p.env.spawnedRecently(root):
		s.want = 1
	}
	if s.target == "" {
		b, err := p.git.Run(ctx, root, "symbolic-ref", "-q", "--short", "HEAD")
		if err != nil {
			s.want, s.note = 0, "the main worktree has a detached HEAD: set [defaults] target for the pool to follow a branch"
		}
		s.target = strings.TrimSpace(string(b))
	}
	s.hook = p.env.fsmonitorHookFor(cfg)
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
