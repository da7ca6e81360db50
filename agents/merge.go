package agents

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/studiod/studiod/vocab"
	"github.com/studiod/studiod/workspace"
)

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

// merges carries out the merge (and undo) of one session as a transaction
// journaled from its first step to the session's new state, and finishes
// at start what a crash cut short (mergefinish.go).
type merges struct {
	env   mergeEnv
	git   *workspace.Git
	store *store
	log   *slog.Logger
	// track follows a session's conflicts again (an undone merge's).
	track func(ctx context.Context, s Session)
}

// mergeEnv is what merges need of the rest of the Manager: the sessions and
// their states, the repository's lock and config, the review gate, the
// predicted conflicts, stopping an agent and removing a session.
type mergeEnv interface {
	Lookup(ref Ref) (Session, error)
	setState(id string, state vocab.State, detail string) (Session, error)
	effectiveConfig(ctx context.Context, root string) (Config, *repoConfig, error)
	repoLock(root string) *sync.Mutex
	hasWorktree(ctx context.Context, s Session) bool
	reviewGate(s Session, force bool) error
	Conflicts(repo, session, path string) []workspace.Conflict
	Stop(ctx context.Context, ref Ref, force bool) (Session, error)
	Remove(ctx context.Context, ref Ref, keepBranch, force bool) (RemoveResult, error)
}

func newMerges(m *Manager) *merges {
	return &merges{env: m, git: m.opts.Git, store: m.store, log: m.log, track: m.conf.track}
}

// Merge merges a session into its target as a transaction, refused while
// its agent works or when it would conflict (merges.merge).
func (m *Manager) Merge(ctx context.Context, ref Ref, req MergeRequest) (Session, workspace.MergeResult, error) {
	return m.merges.merge(ctx, ref, req)
}

// Undo reverts a session's last merge while the target is still at the
// merge result (merges.undo).
func (m *Manager) Undo(ctx context.Context, ref Ref) (Session, workspace.UndoResult, error) {
	return m.merges.undo(ctx, ref)
}

// merge merges a session into its target as a transaction (see
// docs/architecture.md):
// refused while the agent works or waits for an answer (unless forced) or
// when it would conflict;
// uncommitted work is checkpointed; the target's old tip is kept in a
// backup ref; a checked-out target is moved with git's own safety.
func (mg *merges) merge(ctx context.Context, ref Ref, req MergeRequest) (Session, workspace.MergeResult, error) {
	// Bad input is refused before the session's state is looked at.
	if !validStrategy(req.Strategy) {
		return Session{}, workspace.MergeResult{}, invalidf("strategy %q: use merge, squash or rebase", req.Strategy)
	}
	s, err := mg.env.Lookup(ref)
	if err != nil {
		return Session{}, workspace.MergeResult{}, err
	}
	if !active(s.State) {
		return s, workspace.MergeResult{}, invalidf("session %s is %s: nothing to merge", s.Name, s.State)
	}
	if err := mg.store.usable(); err != nil {
		return s, workspace.MergeResult{}, err
	}
	if err := notDone(s, req.Force); err != nil {
		return s, workspace.MergeResult{}, err
	}
	if err := mg.env.reviewGate(s, req.Force); err != nil {
		return s, workspace.MergeResult{}, err
	}
	strategy := req.Strategy
	if strategy == "" {
		cfg, _, err := mg.env.effectiveConfig(ctx, s.Repo)
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
	repo, err := workspace.Open(ctx, mg.git, s.Repo)
	if err != nil {
		return s, workspace.MergeResult{}, err
	}
	lock := mg.env.repoLock(repo.Root)
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
	if !mg.env.hasWorktree(ctx, s) {
		wt = ""
	}
	res, err := workspace.Merge(ctx, workspace.MergeOptions{
		Repo: repo, Branch: s.Branch, Target: s.Target, Worktree: wt, Strategy: strategy,
		Message: msg, Journal: s.mergeJournal(), KeepJournal: true, DryRun: req.DryRun, Verify: req.Verify,
	})
	var ce *workspace.ConflictError
	if errors.As(err, &ce) {
		var cs []workspace.Conflict
		for _, c := range mg.env.Conflicts(s.Repo, s.Name, "") {
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
	if s, err = mg.finishMerge(ctx, s.ID, workspace.RecoverResult{Op: "merge", Target: res.Target, Old: res.Old,
		New: res.New, Backup: res.Backup, Strategy: res.Strategy, Branch: s.Branch}); err != nil {
		return s, res, err
	}
	if req.Cleanup {
		progress("removing the worktree and branch")
		lock.Unlock()
		_, err := mg.env.Remove(ctx, Ref{Session: s.ID}, false, false)
		lock.Lock()
		if err != nil {
			return s, res, fmt.Errorf("merged, but cleanup failed: %w", err)
		}
		mg.env.setState(s.ID, Merged, "into "+s.Target+"; worktree removed")
	}
	s, _ = mg.env.Lookup(Ref{Session: s.ID})
	return s, res, nil
}

// undo reverts a session's last merge while the target is still at the
// merge result.
func (mg *merges) undo(ctx context.Context, ref Ref) (Session, workspace.UndoResult, error) {
	s, err := mg.env.Lookup(ref)
	if err != nil {
		return Session{}, workspace.UndoResult{}, err
	}
	if err := mg.store.usable(); err != nil {
		return s, workspace.UndoResult{}, err
	}
	rec, err := mg.store.lastMerge(ctx, s.ID)
	if err != nil {
		return s, workspace.UndoResult{}, err
	}
	if rec == nil || rec.Undone {
		return s, workspace.UndoResult{}, invalidf("session %s has no merge to undo", s.Name)
	}
	repo, err := workspace.Open(ctx, mg.git, s.Repo)
	if err != nil {
		return s, workspace.UndoResult{}, err
	}
	lock := mg.env.repoLock(repo.Root)
	lock.Lock()
	defer lock.Unlock()
	res, err := workspace.Undo(ctx, workspace.UndoOptions{Repo: repo, Target: rec.Target, Merged: rec.New, Backup: rec.Backup,
		Journal: s.mergeJournal(), KeepJournal: true})
	if err != nil {
		return s, res, err
	}
	s, err = mg.finishUndo(ctx, s.ID, workspace.RecoverResult{Op: "undo", Target: rec.Target, Old: rec.New, New: res.Restored, Backup: res.Backup})
	return s, res, err
}
