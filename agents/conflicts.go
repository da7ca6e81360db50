package agents

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/workspace"
)

// conflicts owns live conflict prediction: the daemon's one file watcher and
// a tracker per repository with sessions. A session is tracked from a
// successful spawn until it is removed, merged or fails; stopped and exited
// sessions stay in, since their work is still to be merged.
type conflicts struct {
	env     conflictsEnv
	integ   integWaker // set once the integrator is made
	ctx     context.Context
	git     *workspace.Git
	log     *slog.Logger
	watcher *workspace.Watcher // nil when no inotify instance could be had
	// ownWatcher: the watcher is closed with the tracker.
	ownWatcher bool

	// mu guards the fields below.
	mu       sync.Mutex
	trackers map[string]*workspace.Tracker // by repo root
	tracked  map[string]string             // session ID → repo root
	timers   map[string]*time.Timer        // session ID → pending change-stats update
	latest   map[string]string             // session ID → newest snapshot commit
}

// ConflictEvent reports a change of a repository's conflict set.
type ConflictEvent struct {
	Repo  string
	Delta workspace.Delta
}

// conflictsEnv is what the conflict tracker needs of the rest of the
// Manager: the sessions, and where what it finds goes.
type conflictsEnv interface {
	List(repo string, all bool) []Session
	updateDerived(id string, fn func(s *Session) bool) (Session, error)
	setChanges(ctx context.Context, id, commit string)
	worktreeGone(id string)
	emitConflicts(repo string, d workspace.Delta)
	maybeGC(repo string)
	files(s Session) host.Workspace
	hasWorktree(ctx context.Context, s Session) bool
}

// integWaker is what the conflict tracker tells the integrator: a
// repository's snapshots, conflicts or targets changed.
type integWaker interface {
	snapshotted(root string)
	conflictsChanged(root string)
	targetsMoved(root string)
}

func newConflicts(m *Manager, w *workspace.Watcher, own bool) *conflicts {
	return &conflicts{env: m, ctx: m.ctx, git: m.opts.Git, log: m.log, watcher: w, ownWatcher: own,
		trackers: map[string]*workspace.Tracker{}, tracked: map[string]string{},
		timers: map[string]*time.Timer{}, latest: map[string]string{}}
}

func (c *conflicts) close() {
	c.mu.Lock()
	trackers := c.trackers
	c.trackers = map[string]*workspace.Tracker{}
	for _, t := range c.timers {
		t.Stop()
	}
	c.mu.Unlock()
	for _, t := range trackers {
		t.Close()
	}
	if c.watcher != nil && c.ownWatcher {
		c.watcher.Close()
	}
}

// touched tells the watcher that session s's agent wrote file (relative
// to cwd, or absolute): where its worktree's watching is degraded to
// rescans, the write is seen at once instead of at the next one.
func (c *conflicts) touched(s Session, cwd, file string) {
	if c.watcher == nil || s.Worktree == "" {
		return
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(cwd, file)
	}
	c.watcher.Touch(s.Worktree, []string{file})
}

// track starts predicting for session s.
func (c *conflicts) track(ctx context.Context, s Session) {
	if c.watcher == nil || !c.env.hasWorktree(ctx, s) {
		return
	}
	c.mu.Lock()
	if _, ok := c.tracked[s.ID]; ok {
		c.mu.Unlock()
		return
	}
	t, ok := c.trackers[s.Repo]
	c.mu.Unlock()
	if !ok {
		repo, err := workspace.Open(ctx, c.git, s.Repo)
		if err != nil {
			c.log.Warn("track conflicts: open repo", "repo", s.Repo, "err", err)
			return
		}
		root := repo.Root
		t, err = workspace.NewTracker(c.ctx, repo, workspace.TrackerOptions{
			Watcher: c.watcher, Logger: c.log,
			// The tracker's snapshots also give the sessions' change stats.
			OnSnapshot: func(id string, snap workspace.Snapshot) {
				c.snapshotted(id, snap.Commit)
				c.integ.snapshotted(root)
			},
			OnDelta: func(d workspace.Delta) {
				for _, id := range d.Gone {
					c.env.worktreeGone(id)
				}
				c.env.emitConflicts(root, d)
				c.recount(root)
				c.integ.conflictsChanged(root)
			},
			OnTargets: func([]string) { c.integ.targetsMoved(root) },
		})
		if err != nil {
			c.log.Warn("track conflicts", "repo", s.Repo, "err", err)
			return
		}
		c.mu.Lock()
		if existing, ok := c.trackers[s.Repo]; ok {
			c.mu.Unlock()
			t.Close()
			t = existing
		} else {
			c.trackers[s.Repo] = t
			c.mu.Unlock()
		}
	}
	// The worktree's changes come through its runtime; its snapshots are
	// the tracker's own, through a second private index.
	if err := t.AddWatched(ctx, s.ID, s.Name, s.Worktree, s.Dir+"/conflict-index", s.Target, c.env.files(s).Watch); err != nil {
		c.log.Warn("track conflicts", "session", s.Name, "err", err)
		return
	}
	c.mu.Lock()
	c.tracked[s.ID] = s.Repo
	c.mu.Unlock()
}

// recount brings the conflict counts of root's sessions in line with the
// prediction. The counts change through the manager's one writer, so a
// session's events stay in order.
func (c *conflicts) recount(root string) {
	counts := map[string]int{}
	for _, cf := range c.list(root, "", "") {
		counts[cf.A.Name]++
		counts[cf.B.Name]++
	}
	for _, s := range c.env.List(root, false) {
		n := counts[s.Name]
		if s.Conflicts == n {
			continue
		}
		c.env.updateDerived(s.ID, func(r *Session) bool {
			if r.Conflicts == n || !active(r.State) {
				return false
			}
			r.Conflicts = n
			return true
		})
	}
}

// snapshotOf returns the tracker's newest snapshot of a session's worktree.
func (c *conflicts) snapshotOf(id string) (workspace.Snapshot, bool) {
	c.mu.Lock()
	root, ok := c.tracked[id]
	t := c.trackers[root]
	c.mu.Unlock()
	if !ok || t == nil {
		return workspace.Snapshot{}, false
	}
	return t.Snapshot(id)
}

// isTracked reports whether the tracker keeps a session's snapshots (and so
// its change stats) current.
func (c *conflicts) isTracked(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.tracked[id]
	return ok
}

// snapshotted updates a session's change stats from the tracker's newest
// snapshot, shortly after its files stop changing.
func (c *conflicts) snapshotted(id, commit string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Snapshots leave loose objects behind, whoever takes them.
	c.env.maybeGC(c.tracked[id])
	c.latest[id] = commit
	if t, ok := c.timers[id]; ok {
		t.Reset(100 * time.Millisecond)
		return
	}
	c.timers[id] = time.AfterFunc(100*time.Millisecond, func() {
		c.mu.Lock()
		commit := c.latest[id]
		c.mu.Unlock()
		c.env.setChanges(c.ctx, id, commit)
	})
}

// worktreeGone records that a session's worktree was deleted behind
// studiod's back: its detail says so, and its changes are what its branch
// holds (the uncommitted work went with the worktree). The session stays
// (its branch may hold work) until removed.
func (m *Manager) worktreeGone(id string) {
	go m.markWorktreeGone(m.ctx, id)
}

func (m *Manager) markWorktreeGone(ctx context.Context, id string) {
	s, err := m.Lookup(Ref{Session: id})
	if err != nil || !active(s.State) || s.Worktree == "" {
		return
	}
	if !m.worktreeMissing(ctx, s) {
		return
	}
	var c Changes
	if files, err := m.files(s).Diff(ctx, s.Base, "refs/heads/"+s.Branch, nil, false); err == nil {
		t := workspace.Total(files)
		c = Changes{Files: t.Files, Additions: t.Additions, Deletions: t.Deletions}
	}
	detail := "worktree " + s.Worktree + " was deleted outside studiod: `studiod rm " + s.Name + "` cleans up (the branch keeps committed work)"
	m.update(id, func(s *Session) bool {
		if !active(s.State) || s.Detail == detail && s.Changes == c {
			return false
		}
		s.Detail, s.Changes = detail, c
		return true
	})
}

// checkWorktrees marks the active sessions whose worktree is gone, which
// no file event may have told (deleted while the daemon was down, or
// with its watch).
func (m *Manager) checkWorktrees() {
	for _, s := range m.List("", false) {
		if active(s.State) && s.Worktree != "" {
			if m.worktreeMissing(m.ctx, s) {
				m.markWorktreeGone(m.ctx, s.ID)
			}
		}
	}
}

// untrack stops predicting for a session; its conflicts resolve.
func (c *conflicts) untrack(id string) {
	c.mu.Lock()
	root, ok := c.tracked[id]
	delete(c.tracked, id)
	t := c.trackers[root]
	delete(c.latest, id)
	if tm, ok := c.timers[id]; ok {
		tm.Stop()
		delete(c.timers, id)
	}
	c.mu.Unlock()
	if ok && t != nil {
		t.Remove(id)
	}
}

// list returns the current conflicts, filtered.
func (c *conflicts) list(repo, session, path string) []workspace.Conflict {
	c.mu.Lock()
	trackers := make(map[string]*workspace.Tracker, len(c.trackers))
	for k, v := range c.trackers {
		trackers[k] = v
	}
	c.mu.Unlock()
	var out []workspace.Conflict
	for root, t := range trackers {
		if repo != "" && !within(repo, root) && root != repo {
			continue
		}
		for _, cf := range t.Conflicts() {
			if session != "" && cf.A.Name != session && cf.B.Name != session {
				continue
			}
			if path != "" && cf.Path != path && cf.A.Path != path && cf.B.Path != path && cf.A.File != path && cf.B.File != path {
				continue
			}
			out = append(out, cf)
		}
	}
	slices.SortFunc(out, func(a, b workspace.Conflict) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// idle reports whether every tracker has processed every change seen.
func (c *conflicts) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.trackers {
		if !t.Idle() {
			return false
		}
	}
	return true
}

// Conflicts returns the predicted conflicts and overlaps: of the repository
// containing repo (all when empty), involving session (a name), touching
// path (repo-relative or absolute).
func (m *Manager) Conflicts(repo, session, path string) []workspace.Conflict {
	m.mu.Lock()
	repo = m.repoForLocked(repo)
	m.mu.Unlock()
	return m.conf.list(repo, session, path)
}

// ConflictsIdle reports whether predictions are up to date with every file
// change seen so far.
func (m *Manager) ConflictsIdle() bool { return m.conf.idle() }

// WatchStatus reports the file watcher's health.
func (m *Manager) WatchStatus() (workspace.WatchStatus, bool) {
	if m.conf.watcher == nil {
		return workspace.WatchStatus{}, false
	}
	return m.conf.watcher.Status(), true
}

// SubscribeConflicts calls fn for every change of a conflict set until
// cancel is called. fn must not block.
func (m *Manager) SubscribeConflicts(fn func(ConflictEvent)) (cancel func()) {
	m.mu.Lock()
	id := m.nextL
	m.nextL++
	m.conflictListeners[id] = fn
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.conflictListeners, id)
		m.mu.Unlock()
	}
}

func (m *Manager) emitConflicts(repo string, d workspace.Delta) {
	m.mu.Lock()
	fns := make([]func(ConflictEvent), 0, len(m.conflictListeners))
	for _, f := range m.conflictListeners {
		fns = append(fns, f)
	}
	m.mu.Unlock()
	for _, f := range fns {
		f(ConflictEvent{Repo: repo, Delta: d})
	}
}
