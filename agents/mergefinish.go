package agents

import (
	"context"
	"fmt"
	"time"

	"github.com/studiod/studiod/workspace"
)

// A merge (or undo) is one transaction from its first step to the session's
// new state. workspace.Merge journals the steps up to moving the target and,
// with KeepJournal, leaves the journal there; these are the steps after it,
// journaled in the same file, so that a daemon killed anywhere between
// "target moved" and "session marked merged" finishes them at restart. Each
// is idempotent: recovery redoes whatever the journal does not say is done.
const (
	stepRecorded = "recorded" // the merge record is stored (undo: marked undone)
	stepStopped  = "stopped"  // the agent is stopped
	stepMarked   = "marked"   // the session's state is set
)

func (s *Session) mergeJournal() string { return s.Dir + "/merge.journal" }

// finishMerge completes a merge whose target has moved: it records the
// merge, stops the agent and marks the session merged, journaling each step,
// then removes the journal. r says what the merge did (from
// workspace.Merge's result, or from recovery).
func (mg *merges) finishMerge(ctx context.Context, id string, r workspace.RecoverResult) (Session, error) {
	s, err := mg.env.Lookup(Ref{Session: id})
	if err != nil {
		return s, err
	}
	journal := s.mergeJournal()
	last, err := mg.store.lastMerge(ctx, s.ID)
	if err != nil {
		return s, fmt.Errorf("merged, but reading the merge records failed: %w", err)
	}
	if last == nil || last.New != r.New {
		rec := &mergeRecord{Session: s.ID, Strategy: r.Strategy, Target: r.Target, Old: r.Old, New: r.New,
			Backup: r.Backup, PrevState: s.State, At: time.Now().UTC()}
		if rec.Strategy == "" {
			rec.Strategy = workspace.StrategyMerge
		}
		if err := mg.store.addMerge(ctx, rec); err != nil {
			return s, fmt.Errorf("merged, but recording the merge failed (the next daemon start records it): %w", err)
		}
	}
	if err := workspace.JournalStep(journal, stepRecorded); err != nil {
		return s, err
	}
	// A merged session is done: its agent, idle or (with --force) still
	// working, is stopped; the worktree stays until removed.
	if live(s.State) {
		if _, err := mg.env.Stop(ctx, Ref{Session: s.ID}, false); err != nil {
			return s, fmt.Errorf("merged, but stopping the agent failed (the next daemon start tries again): %w", err)
		}
	}
	if err := workspace.JournalStep(journal, stepStopped); err != nil {
		return s, err
	}
	if s, err = mg.env.Lookup(Ref{Session: s.ID}); err != nil {
		return s, err
	}
	if s.State != Merged {
		if s, err = mg.env.setState(s.ID, Merged, "into "+r.Target); err != nil {
			return s, fmt.Errorf("merged, but recording the session as merged failed (the next daemon start records it): %w", err)
		}
	}
	if err := workspace.JournalStep(journal, stepMarked); err != nil {
		return s, err
	}
	return s, workspace.RemoveJournal(journal)
}

// finishUndo completes an undo whose target has moved back: the merge record
// is marked undone and the session gets back the state it had before the
// merge (stopped if its agent was running then: the merge stopped it).
// r.Old is the merge result that was undone.
func (mg *merges) finishUndo(ctx context.Context, id string, r workspace.RecoverResult) (Session, error) {
	s, err := mg.env.Lookup(Ref{Session: id})
	if err != nil {
		return s, err
	}
	journal := s.mergeJournal()
	rec, err := mg.store.lastMerge(ctx, s.ID)
	if err != nil {
		return s, fmt.Errorf("undone, but reading the merge records failed: %w", err)
	}
	if rec != nil && rec.New == r.Old && !rec.Undone {
		if err := mg.store.markUndone(ctx, rec.ID); err != nil {
			return s, fmt.Errorf("undone, but recording it failed (the next daemon start records it): %w", err)
		}
	}
	if err := workspace.JournalStep(journal, stepRecorded); err != nil {
		return s, err
	}
	if s.State == Merged && rec != nil && rec.New == r.Old {
		prev := rec.PrevState
		if live(prev) {
			prev = Stopped
		}
		if s, err = mg.env.setState(s.ID, prev, ""); err != nil {
			return s, fmt.Errorf("undone, but recording the session's state failed (the next daemon start records it): %w", err)
		}
		mg.track(ctx, s)
	}
	if err := workspace.JournalStep(journal, stepMarked); err != nil {
		return s, err
	}
	return s, workspace.RemoveJournal(journal)
}

// recover finishes or rolls back a merge or undo a crash cut short,
// including the steps after the target moved.
func (mg *merges) recover(ctx context.Context, s Session) {
	r, err := workspace.RecoverJournal(ctx, mg.git, s.mergeJournal())
	if err != nil {
		mg.log.Error("recover merge", "session", s.Name, "err", err)
		return
	}
	if r.Outcome == workspace.RecoverNone {
		return
	}
	mg.log.Info("recovered merge", "session", s.Name, "outcome", r.Outcome, "op", r.Op, "step", r.Step)
	if r.Outcome != workspace.RecoverFinished {
		return
	}
	switch r.Op {
	case "merge":
		_, err = mg.finishMerge(ctx, s.ID, r)
	case "undo":
		_, err = mg.finishUndo(ctx, s.ID, r)
	}
	if err != nil {
		mg.log.Error("recover merge: finish", "session", s.Name, "op", r.Op, "err", err)
	}
}
