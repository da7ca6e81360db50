package agents

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/workspace"
)

// A session's files and process, reached through the runtime (agents/host)
// and nothing else: handles, snapshots, diffs and file versions.

// proc is a handle on session id's agent process.
func (m *Manager) proc(id string) host.Proc {
	p, err := m.rt.Reattach(m.ctx, id)
	if err != nil {
		return lostProc{id, err}
	}
	return p
}

// workspace is a handle on s's worktree.
func (m *Manager) workspace(repo *workspace.Repo, s *Session) host.Workspace {
	return m.rt.Workspace(wsSpec(repo, s))
}

// Git is the git runner the manager uses, for analyses the daemon serves
// beside sessions (plan checks).
func (m *Manager) Git() *workspace.Git { return m.opts.Git }

// files is s's workspace as the core reads it: its files, snapshots and
// diffs, on whichever runtime holds it. Its repository is named, not
// opened: reading needs no more.
func (m *Manager) files(s Session) host.Workspace {
	return m.rt.Workspace(wsSpec(&workspace.Repo{Git: m.opts.Git, Root: s.Repo}, &s))
}

// hasWorktree reports whether s's worktree is there.
func (m *Manager) hasWorktree(ctx context.Context, s Session) bool {
	ok, _ := m.files(s).Exists(ctx)
	return ok
}

// worktreeMissing reports whether s's worktree is known to be gone (not
// merely out of reach).
func (m *Manager) worktreeMissing(ctx context.Context, s Session) bool {
	ok, err := m.files(s).Exists(ctx)
	return !ok && err == nil
}

func wsSpec(repo *workspace.Repo, s *Session) host.WorkspaceSpec {
	return host.WorkspaceSpec{Repo: repo, Session: s.ID, Path: s.Worktree, Branch: s.Branch, Base: s.Base, Target: s.Target}
}

// snapshot records a session's worktree through its private index; one at a
// time per session, since they share the index.
func (m *Manager) snapshot(ctx context.Context, s Session) (workspace.Snapshot, error) {
	l, _ := m.snapLocks.LoadOrStore(s.ID, new(sync.Mutex))
	l.(*sync.Mutex).Lock()
	defer l.(*sync.Mutex).Unlock()
	snap, err := m.files(s).Snapshot(ctx)
	if err == nil {
		m.maybeGC(s.Repo)
	}
	return snap, err
}

// SnapPrefix names, per session, a ref to its newest snapshot. The objects
// of work an agent never committed are referenced by nothing else, and a
// gc (studiod's own or the person's) prunes unreachable objects two weeks
// old, while the session's next snapshots still build on them.
const SnapPrefix = "refs/studio/snap/"

// pinSnapshot points SnapPrefix+s.ID at commit, s's newest snapshot; it
// runs once a session's files have been quiet (setChanges), not on every
// change.
func (m *Manager) pinSnapshot(ctx context.Context, s Session, commit string) {
	if v, ok := m.pinned.Load(s.ID); ok && v.(string) == commit {
		return
	}
	if _, err := m.opts.Git.Run(ctx, s.Repo, "update-ref", SnapPrefix+s.ID, commit); err != nil {
		m.log.Warn("keep the newest snapshot", "session", s.Name, "err", err)
		return
	}
	m.pinned.Store(s.ID, commit)
}

// unpinSnapshot deletes s's snapshot ref: its work is kept elsewhere
// (its branch, a salvage ref) once it is removed.
func (m *Manager) unpinSnapshot(ctx context.Context, repo string, s Session) {
	m.pinned.Delete(s.ID)
	if _, err := m.opts.Git.Run(ctx, repo, "update-ref", "-d", SnapPrefix+s.ID); err != nil {
		m.log.Warn("delete the snapshot ref", "session", s.Name, "err", err)
	}
}

// gcEvery is how many snapshots of a repository go by between two
// `git gc --auto` runs: snapshots leave loose objects behind.
const gcEvery = 500

// maybeGC runs `git gc --auto` in the background every gcEvery snapshots
// of a repository; git itself decides whether there is anything to do.
func (m *Manager) maybeGC(repo string) {
	if repo == "" {
		return
	}
	v, _ := m.snapCounts.LoadOrStore(repo, new(atomic.Int64))
	if v.(*atomic.Int64).Add(1)%gcEvery != 0 || m.ctx.Err() != nil {
		return
	}
	m.wg.Go(func() {
		if _, err := m.opts.Git.Run(m.ctx, repo, "gc", "--auto", "--quiet"); err != nil {
			m.log.Warn("git gc --auto", "repo", repo, "err", err)
		}
	})
}

// tip is the commit that holds a session's work: a snapshot of its worktree
// while it has one, else its branch.
func (m *Manager) tip(ctx context.Context, s Session) (string, error) {
	if s.State == Starting {
		return "", fmt.Errorf("%w: session %s is starting: its worktree is not ready yet; try again in a moment", ErrBusy, s.Name)
	}
	if m.hasWorktree(ctx, s) {
		snap, err := m.snapshot(ctx, s)
		if err != nil {
			return "", err
		}
		return snap.Commit, nil
	}
	out, err := m.opts.Git.Run(ctx, s.Repo, "rev-parse", "--verify", "-q", "refs/heads/"+s.Branch+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("%w: session %s has neither a worktree nor a branch any more", ErrNotFound, s.Name)
	}
	return strings.TrimSpace(string(out)), nil
}

// Diff returns a session's changes, uncommitted work included, against its
// base or against the target (from their merge base).
func (m *Manager) Diff(ctx context.Context, ref Ref, against string, paths []string, stat bool) (from, to string, files []workspace.FileDiff, err error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return "", "", nil, err
	}
	for _, p := range paths {
		if err := workspace.ValidatePath(p); err != nil {
			return "", "", nil, invalidf("path %q: %v", p, err)
		}
	}
	to, err = m.tip(ctx, s)
	if err != nil {
		return "", "", nil, err
	}
	switch against {
	case "", "base":
		from = s.Base
	case "target":
		out, err := m.opts.Git.Run(ctx, s.Repo, "merge-base", "refs/heads/"+s.Target, to)
		if err != nil {
			return "", "", nil, fmt.Errorf("diff against %s: %w", s.Target, err)
		}
		from = strings.TrimSpace(string(out))
	default:
		return "", "", nil, invalidf("against %q: use base or target", against)
	}
	files, err = m.files(s).Diff(ctx, from, to, paths, stat)
	return from, to, files, err
}

// File returns one version of a session's file: base, target, worktree or
// snapshot.
func (m *Manager) File(ctx context.Context, ref Ref, path, version string) (workspace.FileVersion, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return workspace.FileVersion{}, err
	}
	if err := workspace.ValidatePath(path); err != nil {
		return workspace.FileVersion{}, invalidf("path %q: %v", path, err)
	}
	ws := m.files(s)
	switch version {
	case "base":
		return ws.FileAt(ctx, s.Base, path)
	case "target":
		return ws.FileAt(ctx, "refs/heads/"+s.Target, path)
	case "worktree", "":
		if !m.hasWorktree(ctx, s) {
			return workspace.FileVersion{}, fmt.Errorf("%w: session %s has no worktree any more", ErrNotFound, s.Name)
		}
		return ws.ReadFile(ctx, path)
	case "snapshot":
		tip, err := m.tip(ctx, s)
		if err != nil {
			return workspace.FileVersion{}, err
		}
		return ws.FileAt(ctx, tip, path)
	}
	return workspace.FileVersion{}, invalidf("version %q: use base, target, worktree or snapshot", version)
}
