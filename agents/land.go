package agents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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

// landQueue runs land queues and keeps their journals, one file per queue
// in dir (<state>/lands).
type landQueue struct {
	dir   string
	env   landEnv
	git   *workspace.Git
	log   *slog.Logger
	store *store
	integ landWaker
	// track follows a session's conflicts again (an undone land's).
	track func(ctx context.Context, s Session)
}

// landEnv is what a land queue needs of the rest of the Manager: the
// sessions, the merge transaction, the fold and its checks, the review
// gate, and the agent to tell of a failure.
type landEnv interface {
	Lookup(ref Ref) (Session, error)
	Merge(ctx context.Context, ref Ref, req MergeRequest) (Session, workspace.MergeResult, error)
	openRepo(ctx context.Context, dir string) (*workspace.Repo, error)
	repoLock(root string) *sync.Mutex
	candidates(ctx context.Context, repo *workspace.Repo, names []string, target string, strict bool) ([]Session, string, error)
	fold(ctx context.Context, req PreviewRequest, strict bool) (*foldPlan, error)
	checkedPreview(ctx context.Context, plan *foldPlan, command string) (Preview, error)
	checkConfig(ctx context.Context, root, override string) (checkConfig, error)
	checkCommit(ctx context.Context, repo *workspace.Repo, cc checkConfig, names []string, commit string) CheckTry
	reviewGateAll(ids []string, force bool) error
	tell(ctx context.Context, s Session, message string) (Delivery, error)
	setState(id string, state vocab.State, detail string) (Session, error)
}

// landWaker is told that a land moved a repository's target.
type landWaker interface {
	derivedSoon(root string)
	previewSoon(root string)
}

func newLandQueue(m *Manager) *landQueue {
	return &landQueue{dir: filepath.Join(m.opts.StateDir, "lands"), env: m, git: m.opts.Git, log: m.log,
		store: m.store, integ: m.integ, track: m.conf.track}
}

// Land runs a merge queue: in order, each session is merged by the merge
// transaction, after its result has passed the check when asked; it stops
// at the first conflict or failed check. The queue is journaled and
// resumable (landQueue.run).
func (m *Manager) Land(ctx context.Context, req LandRequest) (*Land, error) {
	return m.lands.run(ctx, req)
}

// UndoLand puts the target back to its tip before a land queue and undoes
// each session's merge record (landQueue.undo).
func (m *Manager) UndoLand(ctx context.Context, dir, id string) (UndoLandResult, error) {
	return m.lands.undo(ctx, dir, id)
}

// run runs a merge queue: in order, each session is merged by the merge
// transaction (checkpoint, backup ref, compare-and-swap, journal), after
// its result has passed the check when asked; it stops at the first
// conflict or failed check, and with SendFailures gives that session's
// agent the conflict list or the check's output. The queue itself is
// journaled, so a crash leaves the target at whole merges only and the
// queue resumable (Resume).
func (q *landQueue) run(ctx context.Context, req LandRequest) (*Land, error) {
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
		if l, err = q.find(ctx, req.Repo, req.Resume); err != nil {
			return nil, err
		}
		switch l.Status {
		case LandInterrupted, LandStopped:
		default:
			return nil, invalidf("land %s is %s: only an interrupted or stopped land can be resumed", l.ID, l.Status)
		}
		if repo, err = q.env.openRepo(ctx, l.Repo); err != nil {
			return nil, err
		}
		l.Stopped, l.Status = nil, LandRunning
		l.SendFailures = l.SendFailures || req.SendFailures
		if req.Check && !l.Check {
			l.Check, l.CheckCommand = true, req.CheckCommand
		}
	} else {
		repo, err = q.env.openRepo(ctx, req.Repo)
		if err != nil {
			return nil, err
		}
		l = &Land{Version: 1, ID: newID(), Repo: repo.Root, Strategy: req.Strategy, Check: req.Check,
			CheckCommand: req.CheckCommand, SendFailures: req.SendFailures, Force: req.Force,
			Status: LandRunning, Started: time.Now().UTC()}
		if len(req.Sessions) > 0 {
			sessions, target, err := q.env.candidates(ctx, repo, req.Sessions, "", true)
			if err != nil {
				return nil, err
			}
			l.Target = target
			for _, s := range sessions {
				l.Queue = append(l.Queue, s.ID)
			}
		} else {
			plan, err := q.env.fold(ctx, PreviewRequest{Repo: repo.Root}, true)
			if err != nil {
				return nil, err
			}
			l.Target = plan.target
			pv := plan.preview
			if req.Check && len(plan.order) > 0 {
				// The checked order: sessions that break the check go
				// after those that pass it.
				progress("checking the landing order")
				if pv, err = q.env.checkedPreview(ctx, plan, req.CheckCommand); err != nil {
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
		if err := q.env.reviewGateAll(l.Queue, req.Force); err != nil {
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
		if cc, err = q.env.checkConfig(ctx, repo.Root, l.CheckCommand); err != nil {
			return nil, err
		}
	}
	if err := q.save(l); err != nil {
		return nil, err
	}
	workspace.CrashPoint(landStepBegin)
	defer func() {
		q.integ.derivedSoon(repo.Root)
		q.integ.previewSoon(repo.Root)
	}()

	queue := l.Remaining()
	for k, id := range queue {
		s, err := q.env.Lookup(Ref{Session: id})
		if err != nil || !active(s.State) {
			continue // removed or merged since the queue was made
		}
		progress(fmt.Sprintf("landing %s (%d of %d)", s.Name, k+1, len(queue)))
		stop, err := q.landOne(ctx, repo, l, s, cc, progress)
		if err != nil {
			return l, err
		}
		if stop != nil {
			l.Stopped, l.Current, l.Status = stop, nil, LandStopped
			// Only what the agent can act on goes to it: its conflicts,
			// its check failure.
			if l.SendFailures && (stop.Reason == StopConflict || stop.Reason == StopCheck) {
				if d, err := q.env.tell(ctx, s, stopMessage(l, s, stop)); err != nil {
					q.log.Warn("land: send the failure to the agent", "session", s.Name, "err", err)
					stop.Message += " (sending it to the agent failed: " + err.Error() + ")"
				} else {
					stop.Sent, stop.Via = true, d.Via
				}
			}
			return l, q.save(l)
		}
	}
	l.Status, l.Current = LandDone, nil
	return l, q.save(l)
}

// landOne lands one session of l, or says why the queue stops there. An
// error means the queue cannot go on at all (its journal cannot be written).
func (q *landQueue) landOne(ctx context.Context, repo *workspace.Repo, l *Land, s Session, cc checkConfig, progress Progress) (*LandStop, error) {
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
		if err := q.save(l); err != nil {
			return nil, err
		}
		req := MergeRequest{Strategy: l.Strategy, Force: l.Force, Progress: progress}
		var try *CheckTry
		if l.Check {
			dry := req
			dry.DryRun = true
			_, res, err := q.env.Merge(ctx, Ref{Session: s.ID}, dry)
			if err != nil {
				if errors.Is(err, workspace.ErrNothingToMerge) {
					l.Current = nil
					return nil, q.save(l)
				}
				return landStop(s, err), nil
			}
			commit, err := q.treeCommit(ctx, repo, res.Tree, old)
			if err != nil {
				return nil, err
			}
			progress(fmt.Sprintf("checking %s on %s: %s", s.Name, l.Target, cc.command))
			t := q.env.checkCommit(ctx, repo, cc, append(slices.Clone(landedNames), s.Name), commit)
			try = &t
			if t.Status != CheckPassed {
				stop := stopAt(StopCheck, checkStopText(l, s, t, cc))
				stop.Check = try
				if t.Status == CheckFailed && len(l.Landed) == 0 {
					// Blame the session only if the target passes alone.
					base := q.env.checkCommit(ctx, repo, cc, nil, old)
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
		_, res, err := q.env.Merge(ctx, Ref{Session: s.ID}, req)
		if errors.Is(err, errChangedWhileChecking) && attempt < 2 {
			continue // check the new combination
		}
		if errors.Is(err, workspace.ErrNothingToMerge) {
			l.Current = nil
			return nil, q.save(l)
		}
		if err != nil {
			return landStop(s, err), nil
		}
		l.Landed = append(l.Landed, Landed{Session: s.ID, Name: s.Name, Strategy: res.Strategy, Old: res.Old, New: res.New, Backup: res.Backup, Check: try})
		l.Current = nil
		if err := q.save(l); err != nil {
			return nil, err
		}
		workspace.CrashPoint(landStepMerged)
		return nil, nil
	}
}

// treeCommit makes a commit of tree on parent, for a check to check out.
func (q *landQueue) treeCommit(ctx context.Context, repo *workspace.Repo, tree, parent string) (string, error) {
	out, err := q.git.RunCmd(ctx, workspace.Cmd{Dir: repo.Root, Env: []string{
		"GIT_AUTHOR_NAME=studiod", "GIT_AUTHOR_EMAIL=studiod@localhost", "GIT_AUTHOR_DATE=1700000000 +0000",
		"GIT_COMMITTER_NAME=studiod", "GIT_COMMITTER_EMAIL=studiod@localhost", "GIT_COMMITTER_DATE=1700000000 +0000",
	}, Stdin: strings.NewReader("studiod check\n")}, "commit-tree", "--no-gpg-sign", tree, "-p", parent, "-F", "-")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}
