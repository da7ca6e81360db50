package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/studiod/studiod/workspace"
)

// A land queue's journal: <state>/lands/<id>.json, rewritten atomically
// before and after each merge, and the journal of its undo; recovery after
// a crash.

func (q *landQueue) path(id string) string { return filepath.Join(q.dir, id+".json") }

func (q *landQueue) save(l *Land) error {
	l.Updated = time.Now().UTC()
	if err := os.MkdirAll(q.dir, 0o700); err != nil {
		return err
	}
	if err := workspace.WriteJSONAtomic(q.path(l.ID), l); err != nil {
		return fmt.Errorf("record land %s: %w", l.ID, err)
	}
	return nil
}

func (q *landQueue) load(id string) (*Land, error) {
	if !landIDOK(id) {
		return nil, &Problem{Kind: ErrInvalid, What: fmt.Sprintf("no land %q", id), Fix: FixLandID}
	}
	b, err := os.ReadFile(q.path(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: no land %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	var l Land
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("land %s: %w", id, err)
	}
	return &l, nil
}

func landIDOK(id string) bool {
	if id == "" || len(id) > 40 {
		return false
	}
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// list returns the land records of root (all when empty), newest first.
func (q *landQueue) list(root string) []*Land {
	entries, _ := os.ReadDir(q.dir)
	var out []*Land
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		l, err := q.load(id)
		if err != nil {
			continue
		}
		if root == "" || l.Repo == root {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b *Land) int { return b.Started.Compare(a.Started) })
	return out
}

// find resolves a land ID, or "last": the newest land of the repository
// containing dir.
func (q *landQueue) find(ctx context.Context, dir, id string) (*Land, error) {
	if id != "last" {
		return q.load(id)
	}
	repo, err := q.env.openRepo(ctx, dir)
	if err != nil {
		return nil, err
	}
	for _, l := range q.list(repo.Root) {
		return l, nil
	}
	return nil, fmt.Errorf("%w: no land in %s yet", ErrNotFound, repo.Root)
}

// UndoLandResult says what UndoLand restored.
type UndoLandResult struct {
	Land     *Land
	Restored string
	Undone   string
}

// undo puts the target back to its tip before the queue (its first
// merge's backup), while the target is still at the queue's last merge,
// and undoes each session's merge record.
func (q *landQueue) undo(ctx context.Context, dir, id string) (UndoLandResult, error) {
	l, err := q.find(ctx, dir, id)
	if err != nil {
		return UndoLandResult{}, err
	}
	switch {
	case l.Status == LandUndone:
		return UndoLandResult{}, invalidf("land %s is already undone", l.ID)
	case l.Status == LandRunning:
		return UndoLandResult{}, fmt.Errorf("%w: land %s is still running", ErrBusy, l.ID)
	case len(l.Landed) == 0:
		return UndoLandResult{}, invalidf("land %s landed nothing: there is nothing to undo", l.ID)
	}
	repo, err := workspace.Open(ctx, q.git, l.Repo)
	if err != nil {
		return UndoLandResult{}, err
	}
	lock := q.env.repoLock(repo.Root)
	lock.Lock()
	defer lock.Unlock()
	res, err := workspace.Undo(ctx, workspace.UndoOptions{Repo: repo, Target: l.Target, Merged: l.New(),
		Backup: l.Landed[0].Backup, Journal: q.undoJournal(l.ID)})
	if err != nil {
		if errors.Is(err, workspace.ErrTargetMoved) {
			return UndoLandResult{}, fmt.Errorf("%w; the land's merges are no longer on top of %s: its old tip is kept in %s", err, l.Target, l.Landed[0].Backup)
		}
		return UndoLandResult{}, err
	}
	q.undone(ctx, l)
	q.integ.derivedSoon(repo.Root)
	return UndoLandResult{Land: l, Restored: res.Restored, Undone: res.Undone}, q.save(l)
}

func (q *landQueue) undoJournal(id string) string {
	return filepath.Join(q.dir, id+".undo.journal")
}

// undone records that a land's merges were undone: each session's
// merge record, and the session back in its state before the merge (an
// agent the merge stopped stays stopped).
func (q *landQueue) undone(ctx context.Context, l *Land) {
	for _, d := range l.Landed {
		rec, err := q.store.lastMerge(ctx, d.Session)
		if err != nil || rec == nil || rec.Undone || rec.New != d.New {
			continue
		}
		if err := q.store.markUndone(ctx, rec.ID); err != nil {
			q.log.Warn("undo land: record", "session", d.Name, "err", err)
			continue
		}
		s, err := q.env.Lookup(Ref{Session: d.Session})
		if err != nil || s.State != Merged {
			continue
		}
		prev := rec.PrevState
		if live(prev) {
			prev = Stopped
		}
		if s, err = q.env.setState(s.ID, prev, ""); err == nil {
			q.track(ctx, s)
		}
	}
	l.Status, l.Current = LandUndone, nil
}

// recover settles land queues a crash cut short: an undo of a land is
// finished or rolled back; a queue that was running records the merge in
// flight as landed if it happened (its own journal was recovered first),
// and becomes interrupted, to be resumed or left as it is.
func (q *landQueue) recover(ctx context.Context) {
	for _, l := range q.list("") {
		undoJournal := q.undoJournal(l.ID)
		if _, err := os.Stat(undoJournal); err == nil {
			r, err := workspace.Recover(ctx, q.git, undoJournal)
			if err != nil {
				q.log.Error("recover undo of land", "land", l.ID, "err", err)
			} else {
				q.log.Info("recovered undo of land", "land", l.ID, "outcome", r.Outcome)
				if r.Outcome == workspace.RecoverFinished {
					q.undone(ctx, l)
					q.save(l)
				}
			}
		}
		if l.Status != LandRunning {
			continue
		}
		if c := l.Current; c != nil {
			rec, err := q.store.lastMerge(ctx, c.Session)
			if err == nil && rec != nil && !rec.Undone && rec.Old == c.Old && !slices.ContainsFunc(l.Landed, func(d Landed) bool { return d.New == rec.New }) {
				name := c.Session
				if s, err := q.env.Lookup(Ref{Session: c.Session}); err == nil {
					name = s.Name
				}
				l.Landed = append(l.Landed, Landed{Session: c.Session, Name: name, Strategy: rec.Strategy, Old: rec.Old, New: rec.New, Backup: rec.Backup})
			}
		}
		l.Current, l.Status = nil, LandInterrupted
		if err := q.save(l); err != nil {
			q.log.Error("recover land", "land", l.ID, "err", err)
			continue
		}
		q.log.Info("land interrupted by a crash: resume it with `studiod land --resume "+l.ID+"`", "land", l.ID, "landed", len(l.Landed), "remaining", len(l.Remaining()))
	}
}
