package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/workspace"
)

// A removal is journaled from the moment the session's work is kept (its
// salvage ref written) to the session marked removed, so that a daemon
// killed while the worktree or the branch goes finishes the removal at
// its next start: nothing is deleted before the work is kept, and a
// session is never left half removed, its worktree gone but shown as
// stopped. A daemon killed before the journal leaves the session as it
// was (its agent perhaps stopped), and `rm` can run again: it reuses the
// salvage it made.
//
// Removal steps, for the crash tests (STUDIOD_DEBUG_CRASH_AFTER).
const (
	rmStepStopped  = "rm-stopped"  // the agent is stopped (rm --force of a live session)
	rmStepSalvaged = "rm-salvaged" // the work is kept and the removal journaled
	rmStepReleased = "rm-released" // the worktree is gone (or recycled)
	rmStepBranch   = "rm-branch"   // the branch is deleted or kept as decided
)

// removal is the journal of one removal in progress.
type removal struct {
	Step       string    `json:"step"`
	Force      bool      `json:"force"`
	KeepBranch bool      `json:"keep_branch"`
	Detail     string    `json:"detail,omitempty"` // the removed session's detail
	Salvage    Salvage   `json:"salvage"`
	Updated    time.Time `json:"updated"`
}

// removalJournal is where s's removal is journaled; "" (no journal) for a
// session without a directory of its own.
func (s *Session) removalJournal() string {
	if s.Dir == "" {
		return ""
	}
	return filepath.Join(s.Dir, "rm.journal")
}

// step records that step is done and runs the crash tests' hook.
func (r *removal) step(path, step string) error {
	r.Step = step
	r.Updated = time.Now().UTC()
	if path != "" {
		if err := workspace.WriteJSONAtomic(path, r); err != nil {
			return fmt.Errorf("journal the removal: %w", err)
		}
	}
	workspace.CrashPoint(step)
	return nil
}

// release removes s's worktree (recycles it when the pool wants it), then
// deletes its branch as the removal decided, and marks the session
// removed. It runs under the repository's lock, after keepWork, with the
// removal journaled; recovery calls it again for a removal cut short.
func (m *Manager) release(ctx context.Context, repo *workspace.Repo, s Session, rec *removal, how host.Release) (RemoveResult, error) {
	journal := s.removalJournal()
	if err := m.workspace(repo, &s).Release(ctx, how); err != nil {
		return RemoveResult{}, err
	}
	if err := rec.step(journal, rmStepReleased); err != nil {
		return RemoveResult{}, err
	}
	// What a write cut short (a full disk) left in the repository goes too.
	if n := repo.CleanTempObjects(time.Second); n > 0 {
		m.log.Info("removed temporary object files left by cut-short writes", "repo", repo.Root, "files", n)
	}
	res := RemoveResult{Salvage: rec.Salvage}
	if ok, _ := repo.BranchExists(ctx, s.Branch); ok {
		merged, err := repo.IsAncestor(ctx, "refs/heads/"+s.Branch, "refs/heads/"+s.Target)
		if err != nil {
			merged = false
		}
		switch {
		case rec.KeepBranch:
			res.BranchKept = "kept as asked (--keep-branch)"
		case merged || rec.Force:
			if err := repo.DeleteBranch(ctx, s.Branch); err != nil {
				return RemoveResult{}, err
			}
			res.BranchDeleted = true
		default:
			res.BranchKept = fmt.Sprintf("branch %s has commits not merged into %s: kept (merge it, or remove with --force to delete it)", s.Branch, s.Target)
		}
	}
	if err := rec.step(journal, rmStepBranch); err != nil {
		return RemoveResult{}, err
	}
	m.unpinSnapshot(ctx, repo.Root, s)
	os.Remove(s.indexFile())
	m.transcripts.forget(s.ID)
	s, err := m.setState(s.ID, Removed, rec.Detail)
	res.Session = s
	if err != nil {
		return res, err
	}
	return res, workspace.RemoveJournal(journal)
}

// recoverRemoval finishes a removal a crash cut short: its work was kept
// before the journal was written, so what is left of the worktree goes
// (never recycled: a tree left half deleted is no pool tree), and the
// branch and the session's state follow as the removal decided.
func (m *Manager) recoverRemoval(ctx context.Context, id string) {
	s, err := m.Lookup(Ref{Session: id})
	if err != nil {
		return
	}
	journal := s.removalJournal()
	if s.State == Removed {
		workspace.RemoveJournal(journal)
		return
	}
	rec, err := readRemoval(journal)
	if rec == nil {
		if err != nil {
			m.log.Error("recover removal: unreadable journal: the session is left as it is", "session", s.Name, "journal", journal, "err", err)
		}
		return
	}
	repo, err := workspace.Open(ctx, m.opts.Git, s.Repo)
	if err != nil {
		m.log.Error("recover removal", "session", s.Name, "err", err)
		return
	}
	lock := m.repoLock(repo.Root)
	lock.Lock()
	defer lock.Unlock()
	m.conf.untrack(s.ID)
	if _, err := m.release(ctx, repo, s, rec, host.Discard); err != nil {
		m.log.Error("recover removal: the next start tries again", "session", s.Name, "step", rec.Step, "err", err)
		return
	}
	m.log.Info("finished a removal cut short", "session", s.Name, "step", rec.Step, "salvage", rec.Salvage.Ref)
}

// readRemoval reads the journal of a removal in progress; nil when there
// is none.
func readRemoval(path string) (*removal, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec removal
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &rec, nil
}
