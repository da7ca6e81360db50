package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// journal is the record of one Merge or Undo in progress. It is rewritten
// atomically after each step; Recover reads it after a crash.
//
// Every change to the target is a single atomic git operation (update-ref
// with compare-and-swap, or one merge/reset in the target's worktree), done
// after the backup ref is written and after New is recorded here. So the
// target is always at Old or New (or moved on by someone else), and
// recovery needs only to look at where it is.
type journal struct {
	Version    int       `json:"version"`
	Op         string    `json:"op"` // "merge" or "undo"
	Repo       string    `json:"repo"`
	Target     string    `json:"target"`
	Branch     string    `json:"branch,omitempty"`
	Strategy   string    `json:"strategy,omitempty"`
	Old        string    `json:"old"`           // target tip before
	New        string    `json:"new,omitempty"` // target tip after, once built
	Backup     string    `json:"backup"`        // ref that holds Old, named before it is written
	Checkpoint string    `json:"checkpoint,omitempty"`
	Step       string    `json:"step"` // the last step completed
	Updated    time.Time `json:"updated"`
}

// step records that step is done and runs the test hook. Without a path the
// journal is not written.
func (j *journal) step(path, step string) error {
	j.Step = step
	j.Updated = time.Now().UTC()
	if path != "" {
		if err := writeFileAtomic(path, j); err != nil {
			return fmt.Errorf("write journal %s: %w", path, err)
		}
	}
	if testHookAfterStep != nil {
		return testHookAfterStep(step)
	}
	CrashPoint(step)
	return nil
}

// CrashAfterStep, when set to a merge or undo step name (begin, checkpoint,
// build, backup, move, or a caller's own step written with JournalStep)
// or a land step (land-begin, land-merged) or a removal's (rm-stopped,
// rm-salvaged, rm-released, rm-branch), makes the process SIGKILL
// itself right after that step is journaled; "move#2" waits for the step's
// second time. The daemon sets it from STUDIOD_DEBUG_CRASH_AFTER so that
// tests can crash a real daemon mid-merge or mid-land.
var CrashAfterStep string

// crashSeen counts the steps CrashPoint has seen, by name.
var crashSeen = map[string]int{}
var crashMu sync.Mutex

// CrashPoint is where a journaled operation has just recorded step: with
// CrashAfterStep naming it, the process dies there as kill -9 would. The
// land queue (package agents) calls it for its own steps.
func CrashPoint(step string) {
	if CrashAfterStep == "" {
		return
	}
	name, nth := CrashAfterStep, 1
	if n, k, ok := strings.Cut(CrashAfterStep, "#"); ok {
		name = n
		if v, err := strconv.Atoi(k); err == nil && v > 0 {
			nth = v
		}
	}
	if name != step {
		return
	}
	crashMu.Lock()
	crashSeen[step]++
	hit := crashSeen[step] == nth
	crashMu.Unlock()
	if hit {
		// Fault injection for crash tests of whole processes: die right
		// after the step is on disk.
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
}

// WriteJSONAtomic writes v as JSON to path so that path holds the old
// content or the new, even across a crash. Journals outside this package
// (the land queue's) use it.
func WriteJSONAtomic(path string, v any) error { return writeFileAtomic(path, v) }

// writeFileAtomic writes v as JSON to path so that path holds either the
// old content or the new, even across a crash: temp file, fsync, rename,
// fsync of the directory.
func writeFileAtomic(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// JournalStep records a step of the caller's own in the journal at path,
// which a Merge or Undo with KeepJournal left behind once the target moved:
// the steps that finish the transaction outside the repository (record it,
// stop the agent, mark the session). Recover reports the last one as Step.
func JournalStep(path, step string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("journal step %s: %w", step, err)
	}
	var j journal
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("journal step %s: %s: %w", step, path, err)
	}
	return j.step(path, step)
}

// RemoveJournal removes the journal at path once the transaction it records
// is complete; no journal is not an error.
func RemoveJournal(path string) error { return removeJournal(path) }

func removeJournal(path string) error {
	if path == "" {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove journal: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// Recovery outcomes.
const (
	// RecoverNone: there was no journal.
	RecoverNone = "none"
	// RecoverFinished: the target had moved to the result; the operation
	// is complete.
	RecoverFinished = "finished"
	// RecoverRolledBack: the target never moved (or someone else has moved
	// it since); the operation did not happen.
	RecoverRolledBack = "rolled-back"
)

// RecoverResult says what Recover found.
type RecoverResult struct {
	Outcome string
	Op      string // "merge" or "undo"
	Target  string
	// Old and New are the target tips before and after the operation;
	// Backup the ref that holds Old.
	Old    string
	New    string
	Backup string
	// Checkpoint is a commit the merge made of uncommitted session work; it
	// stays on the session branch either way.
	Checkpoint string
	// Strategy and Branch are the merge's (empty for an undo).
	Strategy string
	Branch   string
	// Step is the last step journaled: one of Merge's, or the caller's own
	// (JournalStep).
	Step string
}

// Recover finishes or rolls back the Merge or Undo recorded in the journal
// at path, then removes the journal. It never moves the target: if the
// target is at (or has moved on from) the result, the operation is
// finished and its backup ref is made sure of; otherwise it is rolled back,
// which needs nothing done, since the target is only ever moved last, in
// one step. A backup ref already written is kept in both cases. No journal
// is RecoverNone.
func Recover(ctx context.Context, g *Git, path string) (RecoverResult, error) {
	return recoverJournal(ctx, g, path, false)
}

// RecoverJournal is Recover for callers that finish transactions with steps
// of their own (KeepJournal): a finished operation's journal stays, with
// its Step, until the caller has redone what it lacks and calls
// RemoveJournal. A rolled-back one is removed, since nothing happened.
func RecoverJournal(ctx context.Context, g *Git, path string) (RecoverResult, error) {
	return recoverJournal(ctx, g, path, true)
}

func recoverJournal(ctx context.Context, g *Git, path string, keep bool) (RecoverResult, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return RecoverResult{Outcome: RecoverNone}, nil
	}
	if err != nil {
		return RecoverResult{}, fmt.Errorf("recover: %w", err)
	}
	var j journal
	if err := json.Unmarshal(data, &j); err != nil {
		return RecoverResult{}, fmt.Errorf("recover: journal %s: %w", path, err)
	}
	res := RecoverResult{Op: j.Op, Target: j.Target, Old: j.Old, New: j.New, Backup: j.Backup, Checkpoint: j.Checkpoint,
		Strategy: j.Strategy, Branch: j.Branch, Step: j.Step}
	if j.Version != 1 || (j.Op != "merge" && j.Op != "undo") || !isObjectID(j.Old) || (j.New != "" && !isObjectID(j.New)) {
		return res, fmt.Errorf("recover: journal %s: unknown version or operation", path)
	}
	r, err := Open(ctx, g, j.Repo)
	if err != nil {
		return res, fmt.Errorf("recover: %w", err)
	}
	if err := r.CheckBranchName(ctx, j.Target); err != nil {
		return res, fmt.Errorf("recover: %w", err)
	}
	cur, err := r.ResolveCommit(ctx, "refs/heads/"+j.Target)
	if err != nil {
		return res, fmt.Errorf("recover: %w", err)
	}
	finished, err := recoveredForward(ctx, r, &j, cur)
	if err != nil {
		return res, fmt.Errorf("recover: %w", err)
	}
	if finished {
		res.Outcome = RecoverFinished
		// The backup is written before the target moves; make sure of it
		// all the same, since it is what makes the move undoable.
		if _, err := r.ResolveCommit(ctx, j.Backup); errors.Is(err, ErrBadRef) {
			if err := writeBackup(ctx, r, j.Backup, j.Old); err != nil {
				return res, fmt.Errorf("recover: %w", err)
			}
		}
	} else {
		res.Outcome = RecoverRolledBack
		res.New = ""
	}
	if _, err := r.ResolveCommit(ctx, j.Backup); err != nil {
		res.Backup = ""
	}
	if keep && res.Outcome == RecoverFinished {
		return res, nil
	}
	if err := removeJournal(path); err != nil {
		return res, fmt.Errorf("recover: %w", err)
	}
	return res, nil
}

// recoveredForward reports whether the target, now at cur, got the
// operation's result: it is at New, or someone has built on New since. For
// an undo New is an ancestor of Old, so a target that still contains Old
// did not get it.
func recoveredForward(ctx context.Context, r *Repo, j *journal, cur string) (bool, error) {
	switch {
	case j.New == "" || cur == j.Old:
		return false, nil
	case cur == j.New:
		return true, nil
	}
	onNew, err := r.IsAncestor(ctx, j.New, cur)
	if err != nil || !onNew || j.Op == "merge" {
		return onNew, err
	}
	onOld, err := r.IsAncestor(ctx, j.Old, cur)
	return !onOld, err
}
