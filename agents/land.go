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

	"github.com/studiod/studiod/vocab"
	"github.com/studiod/studiod/workspace"
)

// Land statuses.
const (
	LandRunning     = vocab.LandRunning
	LandDone        = vocab.LandDone
	LandStopped     = vocab.LandStopped
	LandInterrupted = vocab.LandInterrupted
	LandUndone      = vocab.LandUndone
)

// Why a land queue stopped.
const (
	StopConflict = vocab.StopConflict
	StopCheck    = vocab.StopCheck
	StopBusy     = vocab.StopBusy
	StopDirty    = vocab.StopDirty
	StopMoved    = vocab.StopMoved
	StopError    = vocab.StopError
)

// Land steps journaled for crash tests (STUDIOD_DEBUG_CRASH_AFTER): the
// queue is recorded, and one session's merge is recorded as landed.
const (
	landStepBegin  = "land-begin"
	landStepMerged = "land-merged"
)

// LandRequest asks for a merge queue.
type LandRequest struct {
	Repo string
	// Sessions is the queue in order; empty means the preview's landing
	// order, then the sessions it leaves out.
	Sessions     []string
	Strategy     string
	Check        bool
	CheckCommand string
	SendFailures bool
	Force        bool
	// Resume continues the queue of this land ID ("last": the repository's
	// newest).
	Resume   string
	Progress Progress
}

// Land is the record of a land queue, kept as a journal in the state
// directory: rewritten atomically before and after each merge, so that a
// crash leaves it saying which merges happened.
type Land struct {
	Version      int              `json:"version"`
	ID           string           `json:"id"`
	Repo         string           `json:"repo"`
	Target       string           `json:"target"`
	Strategy     string           `json:"strategy,omitempty"`
	Check        bool             `json:"check,omitempty"`
	CheckCommand string           `json:"checkCommand,omitempty"`
	SendFailures bool             `json:"sendFailures,omitempty"`
	Force        bool             `json:"force,omitempty"`
	Status       vocab.LandStatus `json:"status"`
	Old          string           `json:"old"`   // the target's tip before the queue
	Queue        []string         `json:"queue"` // session IDs, in order
	Landed       []Landed         `json:"landed"`
	Current      *landing         `json:"current,omitempty"` // the merge in flight
	Stopped      *LandStop        `json:"stopped,omitempty"`
	Started      time.Time        `json:"started"`
	Updated      time.Time        `json:"updated"`
}

// Landed is one merge of a queue.
type Landed struct {
	Session  string    `json:"session"` // ID
	Name     string    `json:"name"`
	Strategy string    `json:"strategy"`
	Old      string    `json:"old"`
	New      string    `json:"new"`
	Backup   string    `json:"backup"`
	Check    *CheckTry `json:"check,omitempty"`
}

type landing struct {
	Session string `json:"session"`
	Old     string `json:"old"`
}

// LandStop says where and why a queue stopped.
type LandStop struct {
	Session   string               `json:"session"` // ID
	Name      string               `json:"name"`
	Reason    vocab.StopReason     `json:"reason"`
	Message   string               `json:"message"`
	Conflicts []workspace.Conflict `json:"conflicts,omitempty"`
	Paths     []string             `json:"paths,omitempty"`
	Check     *CheckTry            `json:"check,omitempty"`
	Sent      bool                 `json:"sent,omitempty"`
	Via       string               `json:"via,omitempty"`
}

// Remaining lists the sessions (IDs) of the queue not landed and not the
// one it stopped at.
func (l *Land) Remaining() []string {
	var out []string
	for _, id := range l.Queue {
		if slices.ContainsFunc(l.Landed, func(d Landed) bool { return d.Session == id }) {
			continue
		}
		if l.Stopped != nil && l.Stopped.Session == id {
			continue
		}
		out = append(out, id)
	}
	return out
}

// New is the target's tip after the queue's merges.
func (l *Land) New() string {
	if len(l.Landed) == 0 {
		return l.Old
	}
	return l.Landed[len(l.Landed)-1].New
}

func (m *Manager) landDir() string { return filepath.Join(m.opts.StateDir, "lands") }

func (m *Manager) landPath(id string) string { return filepath.Join(m.landDir(), id+".json") }

func (m *Manager) saveLand(l *Land) error {
	l.Updated = time.Now().UTC()
	if err := os.MkdirAll(m.landDir(), 0o700); err != nil {
		return err
	}
	if err := workspace.WriteJSONAtomic(m.landPath(l.ID), l); err != nil {
		return fmt.Errorf("record land %s: %w", l.ID, err)
	}
	return nil
}

func (m *Manager) loadLand(id string) (*Land, error) {
	if !landIDOK(id) {
		return nil, &Problem{Kind: ErrInvalid, What: fmt.Sprintf("no land %q", id), Fix: FixLandID}
	}
	b, err := os.ReadFile(m.landPath(id))
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

// lands returns the land records of root (all when empty), newest first.
func (m *Manager) lands(root string) []*Land {
	entries, _ := os.ReadDir(m.landDir())
	var out []*Land
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		l, err := m.loadLand(id)
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

// findLand resolves a land ID, or "last": the newest land of the repository
// containing dir.
func (m *Manager) findLand(ctx context.Context, dir, id string) (*Land, error) {
	if id != "last" {
		return m.loadLand(id)
	}
	repo, err := m.openRepo(ctx, dir)
	if err != nil {
		return nil, err
	}
	for _, l := range m.lands(repo.Root) {
		return l, nil
	}
	return nil, fmt.Errorf("%w: no land in %s yet", ErrNotFound, repo.Root)
}

// Land runs a merge queue: in order, each session is merged by the merge
// transaction (checkpoint, backup ref, compare-and-swap, journal), after
// its result has passed the check when asked; it stops at the first
// conflict or failed check, and with SendFailures gives that session's
// agent the conflict list or the check's output. The queue itself is
// journaled, so a crash leaves the target at whole merges only and the
// queue resumable (Resume).
func (m *Manager) Land(ctx context.Context, req LandRequest) (*Land, error) {
	progress := req.Progress
	if progress == nil {
		progress = func(string) {}
	}
	switch req.Strategy {
	case "", workspace.StrategyMerge, workspace.StrategySquash, workspace.StrategyRebase:
	default:
		return nil, invalidf("strategy %q: use merge, squash or rebase", req.Strategy)
	}
	var l *Land
	var repo *workspace.Repo
	var err error
	if req.Resume != "" {
		if l, err = m.findLand(ctx, req.Repo, req.Resume); err != nil {
			return nil, err
		}
		switch l.Status {
		case LandInterrupted, LandStopped:
		default:
			return nil, invalidf("land %s is %s: only an interrupted or stopped land can be resumed", l.ID, l.Status)
		}
		if repo, err = m.openRepo(ctx, l.Repo); err != nil {
			return nil, err
		}
		l.Stopped, l.Status = nil, LandRunning
		l.SendFailures = l.SendFailures || req.SendFailures
		if req.Check && !l.Check {
			l.Check, l.CheckCommand = true, req.CheckCommand
		}
	} else {
		repo, err = m.openRepo(ctx, req.Repo)
		if err != nil {
			return nil, err
		}
		l = &Land{Version: 1, ID: newID(), Repo: repo.Root, Strategy: req.Strategy, Check: req.Check,
			CheckCommand: req.CheckCommand, SendFailures: req.SendFailures, Force: req.Force,
			Status: LandRunning, Started: time.Now().UTC()}
		if len(req.Sessions) > 0 {
			sessions, target, err := m.candidates(ctx, repo, req.Sessions, "", true)
			if err != nil {
				return nil, err
			}
			l.Target = target
			for _, s := range sessions {
				l.Queue = append(l.Queue, s.ID)
			}
		} else {
			plan, err := m.fold(ctx, PreviewRequest{Repo: repo.Root}, true)
			if err != nil {
				return nil, err
			}
			l.Target = plan.target
			pv := plan.preview
			if req.Check && len(plan.order) > 0 {
				// The checked order: sessions that break the check go
				// after those that pass it.
				progress("checking the landing order")
				if pv, err = m.checkedPreview(ctx, plan, req.CheckCommand); err != nil {
					return nil, err
				}
			}
			// Sessions with nothing to merge stay in the queue: the
			// snapshot that says so may be a moment old, and the merge
			// itself skips them.
			for _, ps := range pv.Sessions {
				l.Queue = append(l.Queue, ps.Session.ID)
			}
		}
		if len(l.Queue) == 0 {
			return nil, invalidf("nothing to land: no session of %s has work its target does not have", repo.Root)
		}
		if err := m.reviewGateAll(l.Queue, req.Force); err != nil {
			return nil, err
		}
		old, err := repo.ResolveCommit(ctx, "refs/heads/"+l.Target)
		if err != nil {
			return nil, err
		}
		l.Old = old
	}
	var cc checkConfig
	if l.Check {
		if cc, err = m.checkConfig(ctx, repo.Root, l.CheckCommand); err != nil {
			return nil, err
		}
	}
	if err := m.saveLand(l); err != nil {
		return nil, err
	}
	workspace.CrashPoint(landStepBegin)
	defer func() {
		m.integ.derivedSoon(repo.Root)
		m.integ.previewSoon(repo.Root)
	}()

	queue := l.Remaining()
	for k, id := range queue {
		s, err := m.Lookup(Ref{Session: id})
		if err != nil || !active(s.State) {
			continue // removed or merged since the queue was made
		}
		progress(fmt.Sprintf("landing %s (%d of %d)", s.Name, k+1, len(queue)))
		stop, err := m.landOne(ctx, repo, l, s, cc, progress)
		if err != nil {
			return l, err
		}
		if stop != nil {
			l.Stopped, l.Current, l.Status = stop, nil, LandStopped
			// Only what the agent can act on goes to it: its conflicts,
			// its check failure.
			if l.SendFailures && (stop.Reason == StopConflict || stop.Reason == StopCheck) {
				if d, err := m.tell(ctx, s, stopMessage(l, s, stop)); err != nil {
					m.log.Warn("land: send the failure to the agent", "session", s.Name, "err", err)
					stop.Message += " (sending it to the agent failed: " + err.Error() + ")"
				} else {
					stop.Sent, stop.Via = true, d.Via
				}
			}
			return l, m.saveLand(l)
		}
	}
	l.Status, l.Current = LandDone, nil
	return l, m.saveLand(l)
}

// landOne lands one session of l, or says why the queue stops there. An
// error means the queue cannot go on at all (its journal cannot be written).
func (m *Manager) landOne(ctx context.Context, repo *workspace.Repo, l *Land, s Session, cc checkConfig, progress Progress) (*LandStop, error) {
	stopAt := func(reason vocab.StopReason, msg string) *LandStop {
		return &LandStop{Session: s.ID, Name: s.Name, Reason: reason, Message: msg}
	}
	var landedNames []string
	for _, d := range l.Landed {
		landedNames = append(landedNames, d.Name)
	}
	for attempt := 0; ; attempt++ {
		old, err := repo.ResolveCommit(ctx, "refs/heads/"+l.Target)
		if err != nil {
			return nil, err
		}
		l.Current = &landing{Session: s.ID, Old: old}
		if err := m.saveLand(l); err != nil {
			return nil, err
		}
		req := MergeRequest{Strategy: l.Strategy, Force: l.Force, Progress: progress}
		var try *CheckTry
		if l.Check {
			dry := req
			dry.DryRun = true
			_, res, err := m.Merge(ctx, Ref{Session: s.ID}, dry)
			if err != nil {
				if errors.Is(err, workspace.ErrNothingToMerge) {
					l.Current = nil
					return nil, m.saveLand(l)
				}
				return m.landStop(s, err), nil
			}
			commit, err := m.treeCommit(ctx, repo, res.Tree, old)
			if err != nil {
				return nil, err
			}
			progress(fmt.Sprintf("checking %s on %s: %s", s.Name, l.Target, cc.command))
			t := m.checkCommit(ctx, repo, cc, append(slices.Clone(landedNames), s.Name), commit)
			try = &t
			if t.Status != CheckPassed {
				stop := stopAt(StopCheck, checkStopText(l, s, t, cc))
				stop.Check = try
				if t.Status == CheckFailed && len(l.Landed) == 0 {
					// Blame the session only if the target passes alone.
					base := m.checkCommit(ctx, repo, cc, nil, old)
					if base.Status == CheckFailed {
						stop.Message = fmt.Sprintf("the check fails on %s by itself, without %s: fix the target first (log %s)", l.Target, s.Name, base.Log)
						stop.Reason = StopError
					}
				}
				return stop, nil
			}
			checked := res.Tree
			req.Verify = func(_ context.Context, _, tree string) error {
				if tree != checked {
					return errChangedWhileChecking
				}
				return nil
			}
		}
		_, res, err := m.Merge(ctx, Ref{Session: s.ID}, req)
		if errors.Is(err, errChangedWhileChecking) && attempt < 2 {
			continue // check the new combination
		}
		if errors.Is(err, workspace.ErrNothingToMerge) {
			l.Current = nil
			return nil, m.saveLand(l)
		}
		if err != nil {
			return m.landStop(s, err), nil
		}
		l.Landed = append(l.Landed, Landed{Session: s.ID, Name: s.Name, Strategy: res.Strategy, Old: res.Old, New: res.New, Backup: res.Backup, Check: try})
		l.Current = nil
		if err := m.saveLand(l); err != nil {
			return nil, err
		}
		workspace.CrashPoint(landStepMerged)
		return nil, nil
	}
}

// treeCommit makes a commit of tree on parent, for a check to check out.
func (m *Manager) treeCommit(ctx context.Context, repo *workspace.Repo, tree, parent string) (string, error) {
	out, err := m.opts.Git.RunCmd(ctx, workspace.Cmd{Dir: repo.Root, Env: []string{
		"GIT_AUTHOR_NAME=studiod", "GIT_AUTHOR_EMAIL=studiod@localhost", "GIT_AUTHOR_DATE=1700000000 +0000",
		"GIT_COMMITTER_NAME=studiod", "GIT_COMMITTER_EMAIL=studiod@localhost", "GIT_COMMITTER_DATE=1700000000 +0000",
	}, Stdin: strings.NewReader("studiod check\n")}, "commit-tree", "--no-gpg-sign", tree, "-p", parent, "-F", "-")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// landStop says why a merge of the queue failed.
func (m *Manager) landStop(s Session, err error) *LandStop {
	stop := &LandStop{Session: s.ID, Name: s.Name, Reason: StopError, Message: err.Error()}
	var mc *MergeConflictError
	var td *workspace.TargetDirtyError
	switch {
	case errors.As(err, &mc):
		stop.Reason, stop.Conflicts, stop.Paths = StopConflict, mc.Conflicts, mc.Paths
		stop.Message = fmt.Sprintf("%s conflicts with %s in %s", s.Name, s.Target, strings.Join(mc.Paths, ", "))
	case errors.As(err, &td):
		stop.Reason = StopDirty
		stop.Message = err.Error() + ": commit or stash those changes in " + td.Worktree + ", then resume"
	case errors.Is(err, ErrBusy), errors.Is(err, workspace.ErrLocked):
		stop.Reason = StopBusy
	case errors.Is(err, workspace.ErrTargetMoved), errors.Is(err, errChangedWhileChecking):
		stop.Reason = StopMoved
		stop.Message = err.Error() + ": resume the land to try again"
	}
	return stop
}

func checkStopText(l *Land, s Session, t CheckTry, cc checkConfig) string {
	switch t.Status {
	case CheckFailed:
		with := ""
		if len(l.Landed) > 0 {
			var names []string
			for _, d := range l.Landed {
				names = append(names, d.Name)
			}
			with = " after " + strings.Join(names, ", ")
		}
		return fmt.Sprintf("the check fails with %s merged into %s%s (exit %d; log %s)", s.Name, l.Target, with, t.ExitCode, t.Log)
	case CheckTimeout:
		return fmt.Sprintf("the check of %s ran longer than %s and was killed (log %s)", s.Name, cc.timeout, t.Log)
	case CheckCancelled:
		return "the check was cancelled"
	}
	return "the check could not run: " + t.Err
}

// stopMessage is what the agent of the session a queue stopped at is told.
func stopMessage(l *Land, s Session, stop *LandStop) string {
	switch stop.Reason {
	case StopConflict:
		where := conflictLines(stop.Conflicts, s.Name)
		if where == "" {
			where = strings.Join(stop.Paths, ", ")
		}
		return fmt.Sprintf("studiod could not land your work on %s: it conflicts with %s in %s. Bring %s into your branch (git merge %s) and resolve the conflicts, keeping both sides' intent, then commit.",
			l.Target, l.Target, where, l.Target, l.Target)
	case StopCheck:
		out := ""
		if stop.Check != nil {
			out = strings.Join(strings.Fields(stop.Check.Tail), " ")
			if len(out) > 1500 {
				out = "…" + out[len(out)-1500:]
			}
		}
		return fmt.Sprintf("studiod could not land your work on %s: %s. Output: %s Please make your change work with the current %s and commit the fix.",
			l.Target, stop.Message, out, l.Target)
	}
	return fmt.Sprintf("studiod could not land your work on %s: %s", l.Target, stop.Message)
}

// UndoLandResult says what UndoLand restored.
type UndoLandResult struct {
	Land     *Land
	Restored string
	Undone   string
}

// UndoLand puts the target back to its tip before the queue (its first
// merge's backup), while the target is still at the queue's last merge,
// and undoes each session's merge record.
func (m *Manager) UndoLand(ctx context.Context, dir, id string) (UndoLandResult, error) {
	l, err := m.findLand(ctx, dir, id)
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
	repo, err := workspace.Open(ctx, m.opts.Git, l.Repo)
	if err != nil {
		return UndoLandResult{}, err
	}
	lock := m.repoLock(repo.Root)
	lock.Lock()
	defer lock.Unlock()
	res, err := workspace.Undo(ctx, workspace.UndoOptions{Repo: repo, Target: l.Target, Merged: l.New(),
		Backup: l.Landed[0].Backup, Journal: m.landUndoJournal(l.ID)})
	if err != nil {
		if errors.Is(err, workspace.ErrTargetMoved) {
			return UndoLandResult{}, fmt.Errorf("%w; the land's merges are no longer on top of %s: its old tip is kept in %s", err, l.Target, l.Landed[0].Backup)
		}
		return UndoLandResult{}, err
	}
	m.landUndone(ctx, l)
	m.integ.derivedSoon(repo.Root)
	return UndoLandResult{Land: l, Restored: res.Restored, Undone: res.Undone}, m.saveLand(l)
}

func (m *Manager) landUndoJournal(id string) string {
	return filepath.Join(m.landDir(), id+".undo.journal")
}

// landUndone records that a land's merges were undone: each session's
// merge record, and the session back in its state before the merge (an
// agent the merge stopped stays stopped).
func (m *Manager) landUndone(ctx context.Context, l *Land) {
	for _, d := range l.Landed {
		rec, err := m.store.lastMerge(ctx, d.Session)
		if err != nil || rec == nil || rec.Undone || rec.New != d.New {
			continue
		}
		if err := m.store.markUndone(ctx, rec.ID); err != nil {
			m.log.Warn("undo land: record", "session", d.Name, "err", err)
			continue
		}
		s, err := m.Lookup(Ref{Session: d.Session})
		if err != nil || s.State != Merged {
			continue
		}
		prev := rec.PrevState
		if live(prev) {
			prev = Stopped
		}
		if s, err = m.setState(s.ID, prev, ""); err == nil {
			m.conf.track(ctx, s)
		}
	}
	l.Status, l.Current = LandUndone, nil
}

// recoverLands settles land queues a crash cut short: an undo of a land is
// finished or rolled back; a queue that was running records the merge in
// flight as landed if it happened (its own journal was recovered first),
// and becomes interrupted, to be resumed or left as it is.
func (m *Manager) recoverLands(ctx context.Context) {
	for _, l := range m.lands("") {
		undoJournal := m.landUndoJournal(l.ID)
		if _, err := os.Stat(undoJournal); err == nil {
			r, err := workspace.Recover(ctx, m.opts.Git, undoJournal)
			if err != nil {
				m.log.Error("recover undo of land", "land", l.ID, "err", err)
			} else {
				m.log.Info("recovered undo of land", "land", l.ID, "outcome", r.Outcome)
				if r.Outcome == workspace.RecoverFinished {
					m.landUndone(ctx, l)
					m.saveLand(l)
				}
			}
		}
		if l.Status != LandRunning {
			continue
		}
		if c := l.Current; c != nil {
			rec, err := m.store.lastMerge(ctx, c.Session)
			if err == nil && rec != nil && !rec.Undone && rec.Old == c.Old && !slices.ContainsFunc(l.Landed, func(d Landed) bool { return d.New == rec.New }) {
				name := c.Session
				if s, err := m.Lookup(Ref{Session: c.Session}); err == nil {
					name = s.Name
				}
				l.Landed = append(l.Landed, Landed{Session: c.Session, Name: name, Strategy: rec.Strategy, Old: rec.Old, New: rec.New, Backup: rec.Backup})
			}
		}
		l.Current, l.Status = nil, LandInterrupted
		if err := m.saveLand(l); err != nil {
			m.log.Error("recover land", "land", l.ID, "err", err)
			continue
		}
		m.log.Info("land interrupted by a crash: resume it with `studiod land --resume "+l.ID+"`", "land", l.ID, "landed", len(l.Landed), "remaining", len(l.Remaining()))
	}
}
