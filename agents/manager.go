package agents

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/vocab"
	"github.com/studiod/studiod/workspace"
)

// Options configure a Manager.
type Options struct {
	// StateDir holds the database and a directory per session.
	StateDir string
	// RuntimeDir holds the shims' sockets.
	RuntimeDir string
	// WorktreeDir is the default root for worktrees.
	WorktreeDir string
	// UserConfig is the user's config.toml.
	UserConfig string
	// Self is studiod's executable: it runs shims and the demo agent.
	Self string
	// Socket is the daemon's socket, passed to agents for hooks.
	Socket string
	// ReportSocket is where the agents on hosts report: ssh forwards it
	// there ("": they cannot).
	ReportSocket string
	Git          *workspace.Git
	Log          *slog.Logger
	// IdleAfter is the default quiet time before an agent counts as idle.
	IdleAfter time.Duration
	// SpawnGrace is how soon after starting an agent that exits with an
	// error counts as a failed spawn, rolled back.
	SpawnGrace time.Duration
	// Watch tunes the file watcher behind conflict prediction.
	Watch workspace.WatcherOptions
	// Watcher is the daemon's file watcher when the caller made it (and
	// gave it to its Runtime too); it stays the caller's to close. Nil:
	// the Manager makes one from Watch, and closes it.
	Watcher *workspace.Watcher
	// PoolSettle is how long the worktree pool waits after a spawn before
	// refilling (default 2s).
	PoolSettle time.Duration
	// Runtime provides sessions' workspaces and runs their agents; nil
	// means this machine (worktrees from the warm pool, and shims).
	Runtime host.Runtime
}

// Event reports a changed session.
type Event struct {
	Session Session
}

// Activity reports what an ACP session's agent is doing: a tool call that
// started or changed, or its plan, which it sends whole each time.
type Activity struct {
	Session string // ID
	Tool    *ToolCall
	Plan    []PlanStep
}

// Manager owns all sessions.
type Manager struct {
	opts  Options
	store *store
	log   *slog.Logger
	// rt is where sessions run: the Runtime of the options, behind the
	// warm pool for the local one.
	rt host.Runtime

	// writeMu serializes state changes: database write, then fan-out.
	writeMu sync.Mutex

	// mu guards sessions, sups and repoLocks.
	mu        sync.Mutex
	sessions  map[string]*Session // by ID
	sups      map[string]*supervisor
	repoLocks map[string]*sync.Mutex

	// events has every session change; activity every ACP session's
	// activity (fanout.go).
	events   fanout[Event]
	activity fanout[Activity]

	conf  *conflicts
	integ *integrator
	plans *plans
	lands *landQueue
	// merges carries out single merges and undos (merge.go).
	merges *merges
	// pool keeps ready worktrees (pool.go); nil with a Host of the caller's.
	pool *pool
	// hosts are the other machines sessions run on (hosts.go).
	hosts      *hosts
	who        whoCache
	deliveries deliveries
	// transcripts are the agents' transcripts read for their usage;
	// rereads holds the sessions whose transcript is to be read again
	// (hookapply.go).
	transcripts transcripts
	rereads     sync.Map
	gates       gateNotes
	// answerLocks holds a *sync.Mutex per session ID: one answer at a time.
	answerLocks sync.Map
	// snapLocks holds a *sync.Mutex per session ID, serializing snapshots
	// through the session's private index.
	snapLocks sync.Map
	// pinned holds, per session ID, the snapshot commit SnapPrefix+ID
	// points at (pinSnapshot).
	pinned sync.Map
	// snapCounts holds an *atomic.Int64 per repo root: snapshots taken,
	// for git gc --auto.
	snapCounts sync.Map
	// secrets makes and checks sessions' secrets (secret.go).
	secrets *secrets
	// comments keeps review comments and sends them as feedback
	// (review.go).
	comments *comments
	// reviews follows reviewers and gates merges on them (reviews.go).
	reviews *reviews
	// salvager keeps removed sessions' work (salvage.go).
	salvager *salvager

	ctx    context.Context // ends when the manager closes
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New opens the state database and reattaches to the sessions it records:
// live shims are supervised again, finished ones have their exit status
// read, and spawns a crash cut short are rolled back.
func New(ctx context.Context, opts Options) (*Manager, error) {
	if opts.Git == nil {
		opts.Git = workspace.DefaultGit
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.IdleAfter <= 0 {
		opts.IdleAfter = 5 * time.Second
	}
	if opts.SpawnGrace <= 0 {
		opts.SpawnGrace = 700 * time.Millisecond
	}
	if opts.PoolSettle <= 0 {
		opts.PoolSettle = poolSettle
	}
	if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
		return nil, err
	}
	// The daemon's one file watcher: the runtime's workspaces are watched
	// through it, and the pool's trees and the repositories' refs.
	watcher, ownWatcher := opts.Watcher, false
	if watcher == nil {
		if opts.Watch.CookieDir == "" {
			// Where the watcher's fsmonitor answers sync with inotify.
			opts.Watch.CookieDir = filepath.Join(opts.RuntimeDir, "fsmonitor")
		}
		opts.Watch.Logger = opts.Log
		w, err := workspace.NewWatcher(opts.Git, opts.Watch)
		if err != nil {
			opts.Log.Error("file watcher unavailable: conflicts are predicted only on request", "err", err)
		} else {
			watcher, ownWatcher = w, true
		}
	}
	fail := func(err error) (*Manager, error) {
		if ownWatcher {
			watcher.Close()
		}
		return nil, err
	}
	var local *host.Local
	if opts.Runtime == nil {
		l, err := host.NewLocal(opts.Self, opts.StateDir, opts.RuntimeDir)
		if err != nil {
			return fail(err)
		}
		l.Watcher = watcher
		opts.Runtime, local = l, l
	}
	st, err := openStore(ctx, filepath.Join(opts.StateDir, "studiod.db"))
	if err != nil {
		return fail(err)
	}
	mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m := &Manager{
		opts: opts, store: st, log: opts.Log, rt: opts.Runtime,
		sessions: map[string]*Session{}, sups: map[string]*supervisor{},
		repoLocks: map[string]*sync.Mutex{},
		ctx:       mctx, cancel: cancel,
	}
	m.conf = newConflicts(m, watcher, ownWatcher)
	m.integ = newIntegrator(m)
	m.conf.integ = m.integ
	m.secrets = &secrets{env: m}
	m.comments = &comments{env: m, store: st}
	m.reviews = &reviews{env: m, store: st, log: m.log, ctx: mctx}
	m.salvager = &salvager{env: m, git: opts.Git, log: m.log}
	m.lands = newLandQueue(m)
	m.merges = newMerges(m)
	list, err := st.all(ctx)
	if err != nil {
		st.close()
		cancel()
		return fail(err)
	}
	m.hosts = newHosts(m)
	for _, s := range list {
		if s.Host = m.hosts.hostOf(s.ID); s.Host == "" {
			s.Endpoints = m.proc(s.ID).Endpoints()
		}
		m.sessions[s.ID] = s
	}
	if local != nil {
		// Local worktrees come from the warm pool when it has one ready.
		// Its recovery runs first: a spawn cut short finds its tree in a
		// known state.
		p, err := newPool(m)
		if err != nil {
			st.close()
			cancel()
			return fail(err)
		}
		m.pool = p
		m.rt = &poolRuntime{Runtime: local, p: p}
		p.recover(ctx)
	}
	m.hosts.mirror = m.rt
	m.rt = &routeRuntime{Runtime: m.rt, hs: m.hosts}
	for _, s := range list {
		if s.Host != "" && live(s.State) {
			s.Endpoints = m.proc(s.ID).Endpoints()
		}
	}
	for _, s := range list {
		if s.Worktree != "" {
			// Earlier daemons split session worktrees' indexes.
			if r, err := m.files(*s).RepairIndex(ctx); err != nil {
				m.log.Warn("index not repaired", "session", s.Name, "worktree", s.Worktree, "err", err)
			} else if r != (workspace.IndexRepair{}) {
				m.log.Warn("index repaired", "session", s.Name, "worktree", s.Worktree, "repair", r.String())
			}
		}
		m.recover(ctx, s.clone())
		m.merges.recover(ctx, s.clone())
		m.recoverRemoval(ctx, s.ID)
	}
	m.lands.recover(ctx)
	if m.plans, err = newPlans(ctx, m); err != nil {
		st.close()
		cancel()
		return fail(err)
	}
	m.reviews.plans = m.plans
	if m.pool != nil {
		m.pool.start(m.ctx, &m.wg)
	}
	for _, s := range m.List("", false) {
		m.conf.track(ctx, s)
	}
	m.integ.start(ctx)
	m.plans.start()
	m.wg.Go(m.watchStore)
	return m, nil
}

// Close stops supervising (agents keep running) and closes the database.
func (m *Manager) Close() error {
	m.cancel()
	if m.pool != nil {
		m.pool.close()
	}
	m.integ.close()
	m.conf.close()
	m.wg.Wait()
	m.hosts.close()
	return m.store.close()
}

// Subscribe calls fn for every session change until cancel is called. fn
// must not block.
func (m *Manager) Subscribe(fn func(Event)) (cancel func()) {
	return m.events.add(fn)
}

// SubscribeActivity calls fn for every ACP session's activity until
// cancel is called. fn must not block. A session's activities come in
// order.
func (m *Manager) SubscribeActivity(fn func(Activity)) (cancel func()) {
	return m.activity.add(fn)
}

// update applies fn to the session's record, stores it, then announces it.
// It returns the updated copy. fn returning false leaves everything as is.
func (m *Manager) update(id string, fn func(s *Session) bool) (Session, error) {
	return m.change(id, true, fn)
}

// updateDerived is update for fields derived from other state (conflict
// counts): announced in order with every other change, not stored.
func (m *Manager) updateDerived(id string, fn func(s *Session) bool) (Session, error) {
	return m.change(id, false, fn)
}

func (m *Manager) change(id string, store bool, fn func(s *Session) bool) (Session, error) {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	m.mu.Lock()
	cur, ok := m.sessions[id]
	if !ok {
		m.mu.Unlock()
		return Session{}, fmt.Errorf("%w: session %s", ErrNotFound, id)
	}
	next := cur.clone()
	m.mu.Unlock()
	if !fn(&next) {
		return next, nil
	}
	if holdOnBudget(&next) {
		defer m.interruptForBudget(next.clone())
	}
	if next.State != Waiting {
		next.Ask = nil // only a waiting session asks anything
	}
	if store {
		next.Updated = time.Now().UTC()
		if err := m.store.put(m.ctx, &next); err != nil {
			return Session{}, err
		}
	}
	if !active(next.State) {
		next.Conflicts, next.Behind, next.WouldConflict = 0, 0, false
		m.conf.untrack(id)
	}
	m.mu.Lock()
	*cur = next.clone()
	m.mu.Unlock()
	m.events.send(Event{Session: next.clone()})
	return next, nil
}

// insert stores a new session and announces it.
func (m *Manager) insert(s *Session) error {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	if err := m.store.put(m.ctx, s); err != nil {
		return err
	}
	m.mu.Lock()
	c := s.clone()
	m.sessions[s.ID] = &c
	m.mu.Unlock()
	m.events.send(Event{Session: s.clone()})
	return nil
}

// setState moves a session to state with detail.
func (m *Manager) setState(id string, state vocab.State, detail string) (Session, error) {
	return m.update(id, func(s *Session) bool {
		if s.State == state && s.Detail == detail {
			return false
		}
		s.State, s.Detail = state, detail
		return true
	})
}

// Ref names a session: by ID, or by name, optionally within the repository
// containing Repo.
type Ref struct {
	Session string
	Repo    string
}

// Lookup finds a session.
func (m *Manager) Lookup(ref Ref) (Session, error) {
	if ref.Session == "" {
		return Session{}, invalidf("no session named: give a session name or id")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sessions[ref.Session]; ok {
		return s.clone(), nil
	}
	dir := m.repoForLocked(ref.Repo)
	var best *Session
	ambiguous := false
	for _, s := range m.sessions {
		if s.Name != ref.Session {
			continue
		}
		if dir != "" && !within(dir, s.Repo) {
			continue
		}
		switch {
		case best == nil:
			best = s
		case active(s.State) && active(best.State) && s.Repo != best.Repo:
			ambiguous = true
		case active(s.State) && !active(best.State), active(s.State) == active(best.State) && s.Created.After(best.Created):
			best = s
		}
	}
	if best == nil {
		where := ""
		if dir != "" {
			where = " in " + dir
		}
		return Session{}, &Problem{Kind: ErrNotFound, What: fmt.Sprintf("no session %q%s", ref.Session, where), Session: ref.Session, Repo: dir, Fix: FixListSessions}
	}
	if ambiguous {
		return Session{}, invalidf("session name %q is used in several repos: pass --repo", ref.Session)
	}
	return best.clone(), nil
}

// repoForLocked maps a directory to the repository it belongs to for
// studiod: a session worktree (or a directory in one) belongs to its
// session's repository, anything else to itself. m.mu must be held.
func (m *Manager) repoForLocked(dir string) string {
	if dir == "" {
		return ""
	}
	dir = cleanAbs(dir)
	for _, s := range m.sessions {
		if within(dir, s.Worktree) {
			return s.Repo
		}
	}
	return dir
}

func cleanAbs(dir string) string {
	dir, _ = filepath.Abs(dir)
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		dir = r
	}
	return dir
}

func within(dir, root string) bool {
	if root == "" {
		return false
	}
	rel, err := filepath.Rel(root, dir)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// List returns sessions, oldest first: those of the repository containing
// repo (all when empty); removed, merged and failed ones only with all.
func (m *Manager) List(repo string, all bool) []Session {
	m.mu.Lock()
	repo = m.repoForLocked(repo)
	list := make([]Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		if !all && !active(s.State) {
			continue
		}
		if repo != "" && !within(repo, s.Repo) {
			continue
		}
		list = append(list, s.clone())
	}
	m.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].Created.Before(list[j].Created) })
	return list
}

func (m *Manager) openRepo(ctx context.Context, dir string) (*workspace.Repo, error) {
	if dir == "" {
		return nil, invalidf("no repository given: pass --repo or run inside a git repository")
	}
	return workspace.Open(ctx, m.opts.Git, dir)
}

// repoLock serializes operations that change one repository's branches.
func (m *Manager) repoLock(root string) *sync.Mutex {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.repoLocks[root]
	if !ok {
		l = new(sync.Mutex)
		m.repoLocks[root] = l
	}
	return l
}

func newID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// repoKey names a repository's worktree directory: its base name and a hash
// of its path, so two checkouts called "app" do not collide.
func repoKey(root string) string {
	return filepath.Base(root) + "-" + hashBytes([]byte(root))[:8]
}

// refreshChanges recomputes a session's change stats from a snapshot of its
// worktree. Sessions the conflict tracker follows get theirs from its
// snapshots (setChanges); this is for the others (no file watcher).
func (m *Manager) refreshChanges(ctx context.Context, id string) {
	if m.conf.isTracked(id) {
		return
	}
	s, err := m.Lookup(Ref{Session: id})
	if err != nil || !active(s.State) {
		return
	}
	if !m.hasWorktree(ctx, s) {
		return
	}
	snap, err := m.snapshot(ctx, s)
	if err != nil {
		m.log.Debug("snapshot", "session", s.Name, "err", err)
		return
	}
	m.setChanges(ctx, id, snap.Commit)
}

// setChanges stores a session's change stats against its base as of the
// snapshot commit, and the paths it changed outside its scope, if they
// moved. The diff it reads also fills the cache `who` and the gate read,
// so that they answer without running git.
func (m *Manager) setChanges(ctx context.Context, id, commit string) {
	s, err := m.Lookup(Ref{Session: id})
	if err != nil || !active(s.State) || commit == "" {
		return
	}
	files, err := m.files(s).Diff(ctx, s.Base, commit, nil, false)
	if err != nil {
		return
	}
	m.who.putTip(s.Base, commit, files)
	t := workspace.Total(files)
	c := Changes{Files: t.Files, Additions: t.Additions, Deletions: t.Deletions}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	oos := outOfScope(s.Scope, paths)
	m.pinSnapshot(ctx, s, commit)
	m.update(id, func(s *Session) bool {
		if s.Changes == c && slices.Equal(s.OutOfScope, oos) {
			return false
		}
		s.Changes, s.OutOfScope = c, oos
		return true
	})
}

var errStopped = errors.New("stopped")
