package agents

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/studiod/studiod/vocab"
	"github.com/studiod/studiod/workspace"
)

// Where a session stands in a preview (the wire's PreviewStatus).
const (
	PreviewClean    = vocab.PreviewClean
	PreviewConflict = vocab.PreviewConflict
	PreviewBreaks   = vocab.PreviewBreaks
	PreviewEmpty    = vocab.PreviewEmpty
	PreviewError    = vocab.PreviewError
)

// LeftCheck is the reason (next to workspace's Left* reasons) of a session
// left out of the order because the check fails with it.
const LeftCheck = "check"

// PreviewRequest asks for the fold of sessions onto their target.
type PreviewRequest struct {
	Repo string
	// Sessions are names or IDs, in order of preference; empty means every
	// session of the repository with work to merge, oldest first.
	Sessions     []string
	Target       string
	Check        bool
	CheckCommand string
}

// Preview is the fold of a repository's sessions onto their target (see
// workspace.Folder), and the check of the combination when asked.
type Preview struct {
	Repo, Target, Tip string
	Generation        int64
	Computed          time.Time
	Duration          time.Duration
	// Sessions: the landing order, then the sessions left out.
	Sessions []PreviewSession
	// Commit and Tree are the combination of the landing order.
	Commit, Tree string
	// Conflicts are predicted pair by pair, severity conflict only.
	Conflicts []workspace.Conflict
	Check     *CheckRun
}

// Order names the sessions of the landing order.
func (p Preview) Order() []string {
	var out []string
	for _, ps := range p.Sessions {
		if ps.Position > 0 {
			out = append(out, ps.Session.Name)
		}
	}
	return out
}

// PreviewSession is one session's place in a preview.
type PreviewSession struct {
	Session Session
	Commit  string // the snapshot folded
	Status  vocab.PreviewStatus
	// Position is the 1-based place in the landing order, 0 when left out.
	Position int
	// Left is why it is left out: a workspace.Left* reason or LeftCheck.
	Left string
	// With names the sessions (or workspace.TargetSide) it conflicts or
	// breaks with; Files are the conflicting paths with their lines.
	With  []string
	Files []workspace.FileConflict
	Err   string
	Check vocab.CheckStatus // the check's verdict on the order up to it
}

// PreviewEvent is a repository's preview, recomputed.
type PreviewEvent struct {
	Preview Preview
}

// integrator owns integration: each repository's live preview (recomputed,
// debounced, when a session or the target changes), check runs, land
// queues, and the sessions' Behind and WouldConflict fields.
type integrator struct {
	env integEnv
	// predictor is the conflict tracker's predictor of a repository, nil
	// when it tracks none.
	predictor func(root string) *workspace.Predictor
	git       *workspace.Git
	log       *slog.Logger
	ctx       context.Context
	wg        sync.WaitGroup
	// listeners have every recomputed preview.
	listeners fanout[PreviewEvent]

	// mu guards the fields below and every repoInteg's fields. Never held
	// while git or a check runs, nor while listeners are called.
	mu     sync.Mutex
	closed bool
	repos  map[string]*repoInteg  // by repository root
	states map[string]vocab.State // session ID → last state seen
	ports  map[int]bool           // port blocks held by running checks
	preds  map[string]*workspace.Predictor
	behind map[string]behindCount // session ID → Behind, by the tips it was counted at
}

// repoInteg is one repository's integration state.
type repoInteg struct {
	root string
	// live: someone asked for a preview; it is kept up to date since.
	live    bool
	params  PreviewRequest
	gen     int64 // generations computed
	last    *Preview
	errGen  int64
	err     error
	changed chan struct{} // closed when last or err changes
	// working: a goroutine computes; again: compute once more after it.
	working, again bool
	timer          *time.Timer
	first          time.Time // first change the pending timer covers
	checkCancel    context.CancelFunc
	folder         *workspace.Folder
	folderPred     *workspace.Predictor
	slots          chan int // check slots
	derived        *time.Timer
}

// Debounce of live previews: recompute this long after the last change,
// but no later than previewMaxDelay after the first.
const (
	previewDebounce = 250 * time.Millisecond
	previewMaxDelay = 2 * time.Second
)

// integEnv is what the integrator needs of the rest of the Manager: the
// sessions and their changes, the fold of a repository's sessions, checks,
// and the derived fields it keeps up to date.
type integEnv interface {
	List(repo string, all bool) []Session
	Subscribe(fn func(Event)) (cancel func())
	fold(ctx context.Context, req PreviewRequest, strict bool) (*foldPlan, error)
	checkConfig(ctx context.Context, root, override string) (checkConfig, error)
	checkPreview(ctx context.Context, rs *repoInteg, cc checkConfig, plan *foldPlan, p Preview) Preview
	refreshDerived(ctx context.Context, root string)
}

func newIntegrator(m *Manager) *integrator {
	ig := &integrator{env: m, predictor: m.conf.predictor, git: m.opts.Git, log: m.log, ctx: m.ctx, repos: map[string]*repoInteg{},
		states: map[string]vocab.State{}, ports: map[int]bool{}, preds: map[string]*workspace.Predictor{},
		behind: map[string]behindCount{}}
	return ig
}

// start follows session events (they change which sessions a preview
// holds) and brings the derived fields up to date.
func (ig *integrator) start(ctx context.Context) {
	ig.env.Subscribe(ig.sessionEvent)
	roots := map[string]bool{}
	for _, s := range ig.env.List("", false) {
		roots[s.Repo] = true
	}
	for root := range roots {
		ig.derivedSoon(root)
	}
}

func (ig *integrator) close() {
	ig.mu.Lock()
	ig.closed = true
	for _, rs := range ig.repos {
		if rs.timer != nil {
			rs.timer.Stop()
		}
		if rs.derived != nil {
			rs.derived.Stop()
		}
		if rs.checkCancel != nil {
			rs.checkCancel()
		}
	}
	ig.mu.Unlock()
	ig.wg.Wait()
	ig.mu.Lock()
	preds := ig.preds
	ig.preds = map[string]*workspace.Predictor{}
	ig.mu.Unlock()
	for _, p := range preds {
		p.Close()
	}
}

// goLocked runs f in a goroutine the integrator waits for on close. Caller
// holds mu; it reports false once closed.
func (ig *integrator) goLocked(f func()) bool {
	if ig.closed {
		return false
	}
	ig.wg.Go(f)
	return true
}

// repo returns root's state, made on first use. Caller holds mu.
func (ig *integrator) repoLocked(root string) *repoInteg {
	rs := ig.repos[root]
	if rs == nil {
		rs = &repoInteg{root: root, changed: make(chan struct{})}
		ig.repos[root] = rs
	}
	return rs
}

// SubscribePreviews calls fn for every recomputed preview until cancel is
// called. fn must not block.
func (m *Manager) SubscribePreviews(fn func(PreviewEvent)) (cancel func()) {
	return m.integ.listeners.add(fn)
}

// sessionEvent reschedules the preview of a session's repository when the
// session comes, goes, or changes state. It runs under the manager's
// writer: it only sets timers.
func (ig *integrator) sessionEvent(ev Event) {
	s := ev.Session
	ig.mu.Lock()
	prev, seen := ig.states[s.ID]
	ig.states[s.ID] = s.State
	if s.State == Removed {
		delete(ig.states, s.ID)
		delete(ig.behind, s.ID)
	}
	ig.mu.Unlock()
	if !seen || prev != s.State {
		ig.previewSoon(s.Repo)
	}
}

// snapshotted hears of a new snapshot of a session in root.
func (ig *integrator) snapshotted(root string) { ig.previewSoon(root) }

// targetsMoved hears that target branches of root moved.
func (ig *integrator) targetsMoved(root string) {
	ig.previewSoon(root)
	ig.derivedSoon(root)
}

// conflictsChanged hears of a change in root's conflict set.
func (ig *integrator) conflictsChanged(root string) { ig.derivedSoon(root) }

// previewSoon recomputes root's live preview after the debounce.
func (ig *integrator) previewSoon(root string) {
	ig.mu.Lock()
	defer ig.mu.Unlock()
	rs := ig.repos[root]
	if rs == nil || !rs.live || ig.closed {
		return
	}
	now := time.Now()
	if rs.timer != nil {
		if now.Sub(rs.first) < previewMaxDelay {
			rs.timer.Reset(previewDebounce)
		}
		return
	}
	rs.first = now
	rs.timer = time.AfterFunc(previewDebounce, func() {
		ig.mu.Lock()
		rs.timer = nil
		ig.mu.Unlock()
		ig.compute(rs)
	})
}

// compute recomputes rs's preview now, in one goroutine per repository;
// a request during a computation makes it run once more afterwards.
func (ig *integrator) compute(rs *repoInteg) {
	ig.mu.Lock()
	defer ig.mu.Unlock()
	if rs.working {
		rs.again = true
		return
	}
	rs.working = ig.goLocked(func() {
		for {
			ig.computeOnce(rs)
			ig.mu.Lock()
			if !rs.again || ig.closed {
				rs.working = false
				ig.mu.Unlock()
				return
			}
			rs.again = false
			ig.mu.Unlock()
		}
	})
}

// publishLocked records a preview (or an error) and wakes waiters. Caller
// holds mu.
func (rs *repoInteg) publishLocked(p *Preview, err error, gen int64) {
	if err != nil {
		rs.err, rs.errGen = err, gen
	} else {
		rs.last = p
	}
	close(rs.changed)
	rs.changed = make(chan struct{})
}

func (ig *integrator) notify(p Preview) {
	ig.listeners.send(PreviewEvent{Preview: p})
}

func (ig *integrator) computeOnce(rs *repoInteg) {
	ig.mu.Lock()
	params := rs.params
	rs.gen++
	gen := rs.gen
	if rs.checkCancel != nil {
		// A newer preview replaces the check of the older one.
		rs.checkCancel()
		rs.checkCancel = nil
	}
	ig.mu.Unlock()
	ctx := ig.ctx
	start := time.Now()
	plan, err := ig.env.fold(ctx, params, false)
	if err != nil {
		if ctx.Err() == nil {
			ig.log.Warn("preview", "repo", rs.root, "err", err)
		}
		ig.mu.Lock()
		rs.publishLocked(nil, err, gen)
		ig.mu.Unlock()
		return
	}
	p := plan.preview
	p.Generation = gen
	p.Computed = time.Now().UTC()
	p.Duration = time.Since(start)
	var cc checkConfig
	if params.Check && len(plan.order) > 0 {
		cc, err = ig.env.checkConfig(ctx, rs.root, params.CheckCommand)
		if err != nil {
			p.Check = &CheckRun{Command: params.CheckCommand, Status: CheckError, Reason: err.Error(), Started: p.Computed, Finished: p.Computed}
		} else {
			p.Check = &CheckRun{Command: cc.command, Status: CheckRunning, Started: p.Computed}
		}
	}
	ig.mu.Lock()
	rs.publishLocked(&p, nil, gen)
	var cctx context.Context
	if p.Check != nil && p.Check.Status == CheckRunning {
		var cancel context.CancelFunc
		cctx, cancel = context.WithCancel(ctx)
		rs.checkCancel = cancel
		if !ig.goLocked(func() {
			defer cancel()
			done := ig.env.checkPreview(cctx, rs, cc, plan, p)
			ig.mu.Lock()
			current := rs.gen == gen
			if current {
				rs.publishLocked(&done, nil, gen)
			}
			ig.mu.Unlock()
			if current {
				ig.notify(done)
			}
		}) {
			cancel()
		}
	}
	ig.mu.Unlock()
	ig.notify(p)
}

// Preview folds sessions onto their target (see workspace.Folder) and, when
// asked, runs the check on the combination; the reply waits for it. It
// makes the repository's preview live: recomputed after each change of a
// session or the target, with the parameters of the latest request.
func (m *Manager) Preview(ctx context.Context, req PreviewRequest) (Preview, error) {
	// Resolve now, so that a bad request fails here rather than live.
	plan, err := m.fold(ctx, req, true)
	if err != nil {
		return Preview{}, err
	}
	root := plan.repo.Root
	if req.Check {
		if _, err := m.checkConfig(ctx, root, req.CheckCommand); err != nil {
			return Preview{}, err
		}
	}
	req.Repo = root
	ig := m.integ
	ig.mu.Lock()
	rs := ig.repoLocked(root)
	rs.live = true
	rs.params = req
	want := rs.gen + 1
	if rs.timer != nil {
		rs.timer.Stop()
		rs.timer = nil
	}
	ig.mu.Unlock()
	ig.compute(rs)
	for {
		ig.mu.Lock()
		ch := rs.changed
		switch {
		case rs.errGen >= want && (rs.last == nil || rs.last.Generation < rs.errGen):
			err := rs.err
			ig.mu.Unlock()
			return Preview{}, err
		case rs.last != nil && rs.last.Generation >= want && (rs.last.Check == nil || rs.last.Check.Status != CheckRunning):
			p := *rs.last
			ig.mu.Unlock()
			return p, nil
		}
		ig.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Preview{}, ctx.Err()
		case <-m.ctx.Done():
			return Preview{}, errStopped
		}
	}
}

// checkedPreview is plan's preview with the check run on it: the live
// preview's, when it checked the very same combination, else a new run.
func (m *Manager) checkedPreview(ctx context.Context, plan *foldPlan, command string) (Preview, error) {
	cc, err := m.checkConfig(ctx, plan.repo.Root, command)
	if err != nil {
		return Preview{}, err
	}
	ig := m.integ
	ig.mu.Lock()
	var last *Preview
	if rs := ig.repos[plan.repo.Root]; rs != nil {
		last = rs.last
	}
	ig.mu.Unlock()
	if last != nil && last.Check != nil && last.Check.Command == cc.command && sameFold(*last, plan.preview) &&
		(last.Check.Status == CheckPassed || last.Check.Status == CheckFailed) {
		return *last, nil
	}
	p := plan.preview
	p.Check = &CheckRun{Command: cc.command, Status: CheckRunning, Started: time.Now().UTC()}
	p = m.checkPreview(ctx, nil, cc, plan, p)
	if p.Check.Status != CheckPassed && p.Check.Status != CheckFailed {
		return p, fmt.Errorf("check the landing order: %s: %s", p.Check.Status, p.Check.Reason)
	}
	return p, nil
}

// sameFold reports whether two previews fold the same commits onto the
// same tip.
func sameFold(a, b Preview) bool {
	if a.Tip != b.Tip || len(a.Sessions) != len(b.Sessions) {
		return false
	}
	commits := map[string]string{}
	for _, ps := range a.Sessions {
		commits[ps.Session.ID] = ps.Commit
	}
	for _, ps := range b.Sessions {
		if commits[ps.Session.ID] != ps.Commit {
			return false
		}
	}
	return true
}
