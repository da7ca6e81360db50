package agents

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/studiod/studiod/workspace"
)

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

// MaxComment caps a review comment's body, in bytes: comments are stored,
// and typed into the agent's terminal as one line.
const MaxComment = 64 << 10

// AddComment stores a review comment on lines of a session's file.
func (m *Manager) AddComment(ctx context.Context, ref Ref, path string, start, end int, body string) (Comment, error) {
	return m.AddCommentBy(ctx, ref, "", path, start, end, body)
}

// AddCommentBy is AddComment made from inside a session, by (its ID or
// name): the comment records it as its author, and a session cannot
// comment on its own work.
func (m *Manager) AddCommentBy(ctx context.Context, ref Ref, by, path string, start, end int, body string) (Comment, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return Comment{}, err
	}
	author, err := m.author(s, by)
	if err != nil {
		return Comment{}, err
	}
	if err := workspace.ValidatePath(path); err != nil {
		return Comment{}, invalidf("path %q: %v", path, err)
	}
	if end == 0 {
		end = start
	}
	if start < 1 || end < start {
		return Comment{}, invalidf("lines %d-%d: give 1-based lines, start ≤ end", start, end)
	}
	if strings.TrimSpace(body) == "" {
		return Comment{}, invalidf("empty comment")
	}
	if len(body) > MaxComment {
		return Comment{}, invalidf("comment of %d bytes: the limit is %d KiB; shorten it, or split it over several lines' comments", len(body), MaxComment>>10)
	}
	if err := m.checkCommentLines(ctx, s, path, start, end); err != nil {
		return Comment{}, err
	}
	c := Comment{Session: s.ID, Path: path, StartLine: start, EndLine: end, Body: body, Created: time.Now().UTC(), By: author}
	return c, m.store.addComment(ctx, &c)
}

// Comments lists a session's review comments.
func (m *Manager) Comments(ctx context.Context, ref Ref) ([]Comment, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return nil, err
	}
	return m.store.comments(ctx, s.ID)
}

// Feedback delivers every unsent comment to the agent as one message, typed
// into its terminal, or through its profile's resume command when it has
// exited, and marks them sent.
func (m *Manager) Feedback(ctx context.Context, ref Ref) (sent int, message string, d Delivery, err error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return 0, "", d, err
	}
	all, err := m.store.comments(ctx, s.ID)
	if err != nil {
		return 0, "", d, err
	}
	var parts []string
	var ids []int64
	for _, c := range all {
		if c.Sent != nil {
			continue
		}
		lines := fmt.Sprintf("%d", c.StartLine)
		if c.EndLine > c.StartLine {
			lines = fmt.Sprintf("%d-%d", c.StartLine, c.EndLine)
		}
		parts = append(parts, fmt.Sprintf("(%d) %s:%s: %s", len(parts)+1, c.Path, lines, strings.Join(strings.Fields(c.Body), " ")))
		ids = append(ids, c.ID)
	}
	if len(ids) == 0 {
		return 0, "", d, &Problem{Kind: ErrInvalid, What: "session " + s.Name + " has no unsent review comments", Session: s.Name, Repo: s.Repo, Fix: FixAddComments}
	}
	// One line: a newline would submit a half-typed message to most agents.
	message = "Review feedback on your changes: " + strings.Join(parts, " ")
	if d, err = m.tell(ctx, s, message); err != nil {
		return 0, "", d, fmt.Errorf("send feedback to %s: %w", s.Name, err)
	}
	if err := m.store.markSent(ctx, ids, time.Now().UTC()); err != nil {
		return 0, "", d, err
	}
	return len(ids), message, d, nil
}

// relaunch restarts an exited agent with its profile's resume command.
func (drv terminalDriver) relaunch(ctx context.Context, s Session, message string) error {
	m := drv.m
	if !active(s.State) {
		return invalidf("session %s is %s: there is no agent to send feedback to", s.Name, s.State)
	}
	if !m.hasWorktree(ctx, s) {
		return invalidf("session %s has no worktree any more", s.Name)
	}
	cfg, rc, err := m.effectiveConfig(ctx, s.Repo)
	if err != nil {
		return err
	}
	if !rc.Trusted {
		return &Problem{Kind: ErrUntrusted, What: rc.Path + " changed since it was trusted", Repo: s.Repo, Path: rc.Path, Fix: FixTrust}
	}
	p := cfg.Agents[s.Agent]
	if len(p.Resume) == 0 {
		return invalidf("session %s has exited and agent %q has no resume command: configure [agents.%s] resume, or spawn a new session", s.Name, s.Agent, s.Agent)
	}
	argv, _ := expand(p.Resume, "{message}", message)
	if slices.ContainsFunc(argv, func(a string) bool { return strings.Contains(a, "{conversation}") }) {
		if s.Conversation == "" {
			return fmt.Errorf("%w: session %s has no conversation id recorded, so its agent cannot resume exactly this session: attach and tell it, or spawn a new session", ErrInvalid, s.Name)
		}
		argv, _ = expand(argv, "{conversation}", s.Conversation)
	}
	l, err := m.prepareLaunch(&s, p, true)
	if err != nil {
		return err
	}
	s.Command = withLaunch(argv, l)
	if s.LogLimit, err = ParseSize(cfg.Defaults.LogLimit); err != nil {
		return invalidf("log_limit: %v", err)
	}
	m.proc(s.ID).ClearExit()
	pid, err := m.start(ctx, &s, append(m.agentEnv(&s, p), l.env...), 0, 0)
	if err != nil {
		return fmt.Errorf("resume %s: %w", s.Name, err)
	}
	started, err := m.update(s.ID, func(r *Session) bool {
		r.PID, r.State, r.Detail, r.ExitCode = pid, Working, "", nil
		r.Command = s.Command
		return true
	})
	if err != nil {
		return err
	}
	m.supervise(started, p, false)
	return nil
}

// MergeRequest asks to merge a session into its target.
type MergeRequest struct {
	Strategy string
	Message  string
	Cleanup  bool
	DryRun   bool
	Force    bool
	// Progress, if set, hears about each step.
	Progress Progress
	// Verify, if set, checks the built result before the target moves
	// (see workspace.MergeOptions).
	Verify func(ctx context.Context, commit, tree string) error
}

// MergeConflictError refuses a merge that would conflict, with the
// predicted conflicts. Nothing was changed.
type MergeConflictError struct {
	Paths     []string
	Conflicts []workspace.Conflict
	Err       error
	// Sent reports that the conflicts went to the agent, and Via how.
	Sent bool
	Via  string
	// Again is the verb to run once they are resolved: "sync" for a
	// sync, else merge.
	Again string
}

func (e *MergeConflictError) Error() string { return e.Err.Error() }
func (e *MergeConflictError) Unwrap() error { return e.Err }

// notDone refuses, unless forced, to take the work of an agent that has
// not finished its turn: one working, or one waiting for an answer, whose
// work is as half-done as a working one's.
func notDone(s Session, force bool) error {
	if force {
		return nil
	}
	switch s.State {
	case Working:
		return &Problem{Kind: ErrBusy, What: "the agent of " + s.Name + " is working", Session: s.Name, Repo: s.Repo, Fix: FixStopFirst}
	case Waiting:
		return &Problem{Kind: ErrBusy, What: "the agent of " + s.Name + " is waiting for an answer (" + s.Detail + ")", Session: s.Name, Repo: s.Repo, Fix: FixAnswerFirst}
	}
	return nil
}

// validStrategy reports whether a merge strategy is one studiod knows ("" is
// the configured default).
func validStrategy(s string) bool {
	switch s {
	case "", "merge", "squash", "rebase":
		return true
	}
	return false
}

// Merge merges a session into its target as a transaction (see
// docs/architecture.md):
// refused while the agent works or waits for an answer (unless forced) or
// when it would conflict;
// uncommitted work is checkpointed; the target's old tip is kept in a
// backup ref; a checked-out target is moved with git's own safety.
func (m *Manager) Merge(ctx context.Context, ref Ref, req MergeRequest) (Session, workspace.MergeResult, error) {
	// Bad input is refused before the session's state is looked at.
	if !validStrategy(req.Strategy) {
		return Session{}, workspace.MergeResult{}, invalidf("strategy %q: use merge, squash or rebase", req.Strategy)
	}
	s, err := m.Lookup(ref)
	if err != nil {
		return Session{}, workspace.MergeResult{}, err
	}
	if !active(s.State) {
		return s, workspace.MergeResult{}, invalidf("session %s is %s: nothing to merge", s.Name, s.State)
	}
	if err := m.store.usable(); err != nil {
		return s, workspace.MergeResult{}, err
	}
	if err := notDone(s, req.Force); err != nil {
		return s, workspace.MergeResult{}, err
	}
	if err := m.reviewGate(s, req.Force); err != nil {
		return s, workspace.MergeResult{}, err
	}
	strategy := req.Strategy
	if strategy == "" {
		cfg, _, err := m.effectiveConfig(ctx, s.Repo)
		if err == nil {
			strategy = cfg.Defaults.MergeStrategy
		}
	}
	if !validStrategy(strategy) {
		return s, workspace.MergeResult{}, invalidf("strategy %q: use merge, squash or rebase", strategy)
	}
	progress := req.Progress
	if progress == nil {
		progress = func(string) {}
	}
	repo, err := workspace.Open(ctx, m.opts.Git, s.Repo)
	if err != nil {
		return s, workspace.MergeResult{}, err
	}
	lock := m.repoLock(repo.Root)
	lock.Lock()
	defer lock.Unlock()
	progress(fmt.Sprintf("merging %s into %s (%s)", s.Branch, s.Target, cmp.Or(strategy, "merge")))
	msg := req.Message
	if msg == "" {
		subject, rest, _ := strings.Cut(strings.TrimSpace(s.Prompt), "\n")
		if subject == "" {
			subject = "Merge session " + s.Name
		}
		msg = subject + "\n\n" + strings.TrimSpace(rest+"\n\nstudiod session "+s.Name+" ("+s.Branch+")")
	}
	wt := s.Worktree
	if _, err := os.Stat(wt); err != nil {
		wt = ""
	}
	res, err := workspace.Merge(ctx, workspace.MergeOptions{
		Repo: repo, Branch: s.Branch, Target: s.Target, Worktree: wt, Strategy: strategy,
		Message: msg, Journal: s.mergeJournal(), KeepJournal: true, DryRun: req.DryRun, Verify: req.Verify,
	})
	var ce *workspace.ConflictError
	if errors.As(err, &ce) {
		var cs []workspace.Conflict
		for _, c := range m.Conflicts(s.Repo, s.Name, "") {
			if c.Severity == workspace.SeverityConflict && (c.A.Name == workspace.TargetSide || c.B.Name == workspace.TargetSide) {
				cs = append(cs, c)
			}
		}
		return s, res, &MergeConflictError{Paths: ce.Paths, Conflicts: cs, Err: err}
	}
	if err != nil || req.DryRun {
		return s, res, err
	}
	progress(fmt.Sprintf("%s is at %.10s; backup of the old tip in %s", res.Target, res.New, res.Backup))
	// The target has moved: record the merge, stop the agent, mark the
	// session merged, each step journaled (see mergefinish.go).
	if s, err = m.finishMerge(ctx, s.ID, workspace.RecoverResult{Op: "merge", Target: res.Target, Old: res.Old,
		New: res.New, Backup: res.Backup, Strategy: res.Strategy, Branch: s.Branch}); err != nil {
		return s, res, err
	}
	if req.Cleanup {
		progress("removing the worktree and branch")
		lock.Unlock()
		_, err := m.Remove(ctx, Ref{Session: s.ID}, false, false)
		lock.Lock()
		if err != nil {
			return s, res, fmt.Errorf("merged, but cleanup failed: %w", err)
		}
		m.setState(s.ID, Merged, "into "+s.Target+"; worktree removed")
	}
	s, _ = m.Lookup(Ref{Session: s.ID})
	return s, res, nil
}

// Undo reverts a session's last merge while the target is still at the
// merge result.
func (m *Manager) Undo(ctx context.Context, ref Ref) (Session, workspace.UndoResult, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return Session{}, workspace.UndoResult{}, err
	}
	if err := m.store.usable(); err != nil {
		return s, workspace.UndoResult{}, err
	}
	rec, err := m.store.lastMerge(ctx, s.ID)
	if err != nil {
		return s, workspace.UndoResult{}, err
	}
	if rec == nil || rec.Undone {
		return s, workspace.UndoResult{}, invalidf("session %s has no merge to undo", s.Name)
	}
	repo, err := workspace.Open(ctx, m.opts.Git, s.Repo)
	if err != nil {
		return s, workspace.UndoResult{}, err
	}
	lock := m.repoLock(repo.Root)
	lock.Lock()
	defer lock.Unlock()
	res, err := workspace.Undo(ctx, workspace.UndoOptions{Repo: repo, Target: rec.Target, Merged: rec.New, Backup: rec.Backup,
		Journal: s.mergeJournal(), KeepJournal: true})
	if err != nil {
		return s, res, err
	}
	s, err = m.finishUndo(ctx, s.ID, workspace.RecoverResult{Op: "undo", Target: rec.Target, Old: rec.New, New: res.Restored, Backup: res.Backup})
	return s, res, err
}
