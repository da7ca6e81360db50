package agents

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/studiod/studiod/workspace"
)

// Where a session stands in a preview (the wire's PreviewStatus).
const (
	PreviewClean    = "clean"
	PreviewConflict = "conflict"
	PreviewBreaks   = "breaks"
	PreviewEmpty    = "empty"
	PreviewError    = "error"
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
	Status  string // Preview*
	// Position is the 1-based place in the landing order, 0 when left out.
	Position int
	// Left is why it is left out: a workspace.Left* reason or LeftCheck.
	Left string
	// With names the sessions (or workspace.TargetSide) it conflicts or
	// breaks with; Files are the conflicting paths with their lines.
	With  []string
	Files []workspace.FileConflict
	Err   string
	Check string // the check's verdict on the order up to it
}

// PreviewEvent is a repository's preview, recomputed.
type PreviewEvent struct {
	Preview Preview
}

// integrator owns integration: each repository's live preview (recomputed,
// debounced, when a session or the target changes), check runs, land
// queues, and the sessions' Behind and WouldConflict fields.
type integrator struct {
	m   *Manager
	ctx context.Context
	wg  sync.WaitGroup

	// mu guards the fields below and every repoInteg's fields. Never held
	// while git or a check runs, nor while listeners are called.
	mu        sync.Mutex
	closed    bool
	repos     map[string]*repoInteg // by repository root
	listeners map[int]func(PreviewEvent)
	nextL     int
	states    map[string]string // session ID → last state seen
	ports     map[int]bool      // port blocks held by running checks
	preds     map[string]*workspace.Predictor
	behind    map[string]behindCount // session ID → Behind, by the tips it was counted at
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

func newIntegrator(m *Manager) *integrator {
	ig := &integrator{m: m, ctx: m.ctx, repos: map[string]*repoInteg{}, listeners: map[int]func(PreviewEvent){},
		states: map[string]string{}, ports: map[int]bool{}, preds: map[string]*workspace.Predictor{},
		behind: map[string]behindCount{}}
	return ig
}

// start follows session events (they change which sessions a preview
// holds) and brings the derived fields up to date.
func (ig *integrator) start(ctx context.Context) {
	ig.m.Subscribe(ig.sessionEvent)
	roots := map[string]bool{}
	for _, s := range ig.m.List("", false) {
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
	ig := m.integ
	ig.mu.Lock()
	id := ig.nextL
	ig.nextL++
	ig.listeners[id] = fn
	ig.mu.Unlock()
	return func() {
		ig.mu.Lock()
		delete(ig.listeners, id)
		ig.mu.Unlock()
	}
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
	ig.mu.Lock()
	fns := make([]func(PreviewEvent), 0, len(ig.listeners))
	for _, f := range ig.listeners {
		fns = append(fns, f)
	}
	ig.mu.Unlock()
	for _, f := range fns {
		f(PreviewEvent{Preview: p})
	}
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
	plan, err := ig.m.fold(ctx, params, false)
	if err != nil {
		if ctx.Err() == nil {
			ig.m.log.Warn("preview", "repo", rs.root, "err", err)
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
		cc, err = ig.m.checkConfig(ctx, rs.root, params.CheckCommand)
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
			done := ig.m.checkPreview(cctx, rs, cc, plan, p)
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

// foldPlan is a fold of sessions with what a check or a land needs.
type foldPlan struct {
	repo     *workspace.Repo
	target   string
	sessions []Session // by side index
	sides    []workspace.FoldSide
	res      workspace.FoldResult
	order    []int // side indices of the landing order
	folder   *workspace.Folder
	preview  Preview
}

// candidates returns the sessions a preview or land considers, in order of
// preference, and their target. strict makes a named session that cannot
// be folded an error; otherwise it is skipped (a live preview whose
// session was merged meanwhile).
func (m *Manager) candidates(ctx context.Context, repo *workspace.Repo, names []string, target string, strict bool) ([]Session, string, error) {
	var list []Session
	if len(names) > 0 {
		seen := map[string]bool{}
		for _, n := range names {
			s, err := m.Lookup(Ref{Session: n, Repo: repo.Root})
			if err == nil && (!active(s.State) || s.State == Starting || s.Repo != repo.Root) {
				err = invalidf("session %s is %s: only live or finished sessions not yet merged can be integrated", s.Name, s.State)
			}
			if err != nil {
				if strict {
					return nil, "", err
				}
				continue
			}
			if !seen[s.ID] {
				seen[s.ID] = true
				list = append(list, s)
			}
		}
	} else {
		for _, s := range m.List(repo.Root, false) {
			if s.State != Starting && s.Repo == repo.Root {
				list = append(list, s)
			}
		}
	}
	if target == "" && len(list) > 0 {
		target = list[0].Target
	}
	if target == "" {
		cfg, _, err := m.effectiveConfig(ctx, repo.Root)
		if err != nil {
			return nil, "", err
		}
		if target = cfg.Defaults.Target; target == "" {
			if target, err = repo.CurrentBranch(ctx); err != nil {
				return nil, "", err
			}
		}
		if target == "" {
			return nil, "", invalidf("no target: the main worktree has a detached HEAD and no session names one; pass --target")
		}
	}
	var out []Session
	for _, s := range list {
		if s.Target != target {
			if strict && len(names) > 0 {
				return nil, "", invalidf("session %s targets %s, not %s: preview or land sessions of one target at a time", s.Name, s.Target, target)
			}
			continue
		}
		out = append(out, s)
	}
	return m.planOrder(out), target, nil
}

// sideOf is the commit that holds a session's work: the tracker's newest
// snapshot, else a snapshot taken now, else (no worktree) its branch.
func (m *Manager) sideOf(ctx context.Context, s Session) (workspace.FoldSide, error) {
	side := workspace.FoldSide{Name: s.Name}
	if _, err := os.Stat(s.Worktree); err == nil {
		if snap, ok := m.conf.snapshotOf(s.ID); ok {
			side.Commit, side.Head = snap.Commit, snap.Head
			return side, nil
		}
		snap, err := m.snapshot(ctx, s)
		if err != nil {
			return side, err
		}
		side.Commit, side.Head = snap.Commit, snap.Head
		return side, nil
	}
	out, err := m.opts.Git.Run(ctx, s.Repo, "rev-parse", "--verify", "-q", "refs/heads/"+s.Branch+"^{commit}")
	if err != nil {
		return side, fmt.Errorf("%w: session %s has neither a worktree nor a branch any more", ErrNotFound, s.Name)
	}
	side.Commit = strings.TrimSpace(string(out))
	side.Head = side.Commit
	return side, nil
}

// folderFor returns the Folder of root, over the conflict tracker's
// predictor when there is one (so predictions are shared), else over one
// of the integrator's own.
func (ig *integrator) folderFor(ctx context.Context, repo *workspace.Repo) (*workspace.Folder, error) {
	pred := ig.m.conf.predictor(repo.Root)
	ig.mu.Lock()
	defer ig.mu.Unlock()
	if ig.closed {
		return nil, errStopped
	}
	if pred == nil {
		pred = ig.preds[repo.Root]
		if pred == nil {
			p, err := workspace.NewPredictor(ig.ctx, ig.m.opts.Git, repo.Root)
			if err != nil {
				return nil, err
			}
			ig.preds[repo.Root], pred = p, p
		}
	}
	rs := ig.repoLocked(repo.Root)
	if rs.folder == nil || rs.folderPred != pred {
		rs.folder, rs.folderPred = workspace.NewFolder(repo, pred), pred
	}
	return rs.folder, nil
}

// fold computes the preview of req, without its check.
func (m *Manager) fold(ctx context.Context, req PreviewRequest, strict bool) (*foldPlan, error) {
	repo, err := m.openRepo(ctx, req.Repo)
	if err != nil {
		return nil, err
	}
	sessions, target, err := m.candidates(ctx, repo, req.Sessions, req.Target, strict)
	if err != nil {
		return nil, err
	}
	if err := repo.CheckBranchName(ctx, target); err != nil {
		return nil, invalidf("target: %v", err)
	}
	tip, err := repo.ResolveCommit(ctx, "refs/heads/"+target)
	if err != nil {
		return nil, invalidf("target branch %s: %v", target, err)
	}
	folder, err := m.integ.folderFor(ctx, repo)
	if err != nil {
		return nil, err
	}
	plan := &foldPlan{repo: repo, target: target, sessions: sessions, folder: folder}
	for _, s := range sessions {
		side, err := m.sideOf(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("preview %s: %w", s.Name, err)
		}
		plan.sides = append(plan.sides, side)
	}
	res, err := folder.Fold(ctx, tip, plan.sides)
	if err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	plan.res = res
	for _, st := range res.Steps {
		plan.order = append(plan.order, st.Side)
	}
	p := Preview{Repo: repo.Root, Target: target, Tip: tip, Commit: res.Commit()}
	if len(res.Steps) > 0 {
		p.Tree = res.Steps[len(res.Steps)-1].Tree
	} else if p.Tree, err = folder.Predictor().Tree(ctx, tip); err != nil {
		return nil, err
	}
	for k, st := range res.Steps {
		p.Sessions = append(p.Sessions, PreviewSession{Session: sessions[st.Side], Commit: plan.sides[st.Side].Commit, Status: PreviewClean, Position: k + 1})
	}
	for _, l := range res.Left {
		ps := PreviewSession{Session: sessions[l.Side], Commit: plan.sides[l.Side].Commit, Left: l.Reason, Files: l.Files}
		switch l.Reason {
		case workspace.LeftEmpty:
			ps.Status = PreviewEmpty
		case workspace.LeftError:
			ps.Status = PreviewError
			if l.Err != nil {
				ps.Err = l.Err.Error()
			}
		case workspace.LeftTarget:
			ps.Status = PreviewConflict
			ps.With = []string{workspace.TargetSide}
		default:
			ps.Status = PreviewConflict
			for _, j := range l.With {
				ps.With = append(ps.With, sessions[j].Name)
			}
		}
		p.Sessions = append(p.Sessions, ps)
	}
	for _, pr := range res.Pairs {
		a := sessions[pr.A]
		for _, f := range pr.Files {
			c := workspace.Conflict{Repo: repo.Root, Path: f.Path, Kind: f.Kind, Severity: f.Severity,
				A: workspace.Side{Name: a.Name, Path: f.A.Path, File: filepath.Join(a.Worktree, filepath.FromSlash(f.A.Path)), Ranges: f.A.Ranges}}
			bKey := workspace.TargetSide
			if pr.B < 0 {
				c.B = workspace.Side{Name: workspace.TargetSide, Path: f.B.Path, File: filepath.Join(repo.Root, filepath.FromSlash(f.B.Path)), Ranges: f.B.Ranges}
			} else {
				b := sessions[pr.B]
				bKey = b.ID
				c.B = workspace.Side{Name: b.Name, Path: f.B.Path, File: filepath.Join(b.Worktree, filepath.FromSlash(f.B.Path)), Ranges: f.B.Ranges}
			}
			c.ID = "preview-" + hashBytes([]byte(repo.Root + "\x00" + a.ID + "\x00" + bKey + "\x00" + f.Path + "\x00" + f.Kind))[:20]
			p.Conflicts = append(p.Conflicts, c)
		}
	}
	plan.preview = p
	return plan, nil
}

// derivedSoon recomputes root's sessions' Behind and WouldConflict shortly
// (debounced).
func (ig *integrator) derivedSoon(root string) {
	ig.mu.Lock()
	defer ig.mu.Unlock()
	if ig.closed || root == "" {
		return
	}
	rs := ig.repoLocked(root)
	if rs.derived != nil {
		rs.derived.Reset(100 * time.Millisecond)
		return
	}
	rs.derived = time.AfterFunc(100*time.Millisecond, func() {
		ig.mu.Lock()
		defer ig.mu.Unlock()
		rs.derived = nil
		ig.goLocked(func() { ig.m.refreshDerived(ig.ctx, root) })
	})
}

// behindCount is a session's Behind as counted with its branch and target
// at these tips.
type behindCount struct {
	branch, target string
	n              int
}

// refreshDerived brings root's sessions' Behind (the target's commits their
// branch lacks) and WouldConflict (a predicted conflict with the target)
// up to date, through the manager's one writer so that session events stay
// in order. The tips come from one for-each-ref; a count is made again only
// when a tip moved.
func (m *Manager) refreshDerived(ctx context.Context, root string) {
	out, err := m.opts.Git.Run(ctx, root, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads")
	if err != nil {
		return
	}
	tips := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if oid, ref, ok := strings.Cut(line, " "); ok {
			tips[ref] = oid
		}
	}
	ig := m.integ
	for _, s := range m.List(root, false) {
		if s.State == Starting || s.Repo != root {
			continue
		}
		bt, tt := tips["refs/heads/"+s.Branch], tips["refs/heads/"+s.Target]
		ig.mu.Lock()
		bc, ok := ig.behind[s.ID]
		ig.mu.Unlock()
		if !ok || bc.branch != bt || bc.target != tt {
			bc = behindCount{branch: bt, target: tt}
			if bt != "" && tt != "" {
				out, err := m.opts.Git.Run(ctx, root, "rev-list", "--count", bt+".."+tt, "--")
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					m.log.Debug("count commits behind", "session", s.Name, "err", err)
				}
				bc.n, _ = strconv.Atoi(strings.TrimSpace(string(out)))
			}
			ig.mu.Lock()
			ig.behind[s.ID] = bc
			ig.mu.Unlock()
		}
		behind := bc.n
		would := false
		for _, c := range m.Conflicts(root, s.Name, "") {
			if c.Severity == workspace.SeverityConflict && (c.A.Name == workspace.TargetSide || c.B.Name == workspace.TargetSide) {
				would = true
			}
		}
		if s.Behind == behind && s.WouldConflict == would {
			continue
		}
		m.updateDerived(s.ID, func(r *Session) bool {
			if !active(r.State) || r.Behind == behind && r.WouldConflict == would {
				return false
			}
			r.Behind, r.WouldConflict = behind, would
			return true
		})
	}
}

// tell gives a message to a session's agent: typed into its terminal
// while it runs, else through its profile's resume command. It says how.
func (m *Manager) tell(ctx context.Context, s Session, message string) (Delivery, error) {
	// One line: a newline would submit a half-typed message to most agents.
	message = strings.Join(strings.Fields(message), " ")
	if live(s.State) {
		_, d, err := m.Send(ctx, Ref{Session: s.ID}, message, true)
		return d, err
	}
	if s.Protocol == ProtocolACP {
		return m.resumeACP(ctx, s, message)
	}
	if err := m.resume(ctx, s, message); err != nil {
		return Delivery{}, err
	}
	return Delivery{Via: "resume", Note: "the agent was started again on its conversation with the message as its prompt"}, nil
}

// conflictLines describes conflicts for the agent of session me:
// "path:12-14" with me's lines (the other side's when me has none).
func conflictLines(cs []workspace.Conflict, me string) string {
	var parts []string
	for _, c := range cs {
		side := c.A
		if c.B.Name == me {
			side = c.B
		}
		p := side.Path
		if p == "" {
			p = c.Path
		}
		var rs []string
		for _, r := range side.Ranges {
			switch {
			case r.End < r.Start:
				rs = append(rs, fmt.Sprintf("before %d", r.Start))
			case r.End == r.Start:
				rs = append(rs, strconv.Itoa(r.Start))
			default:
				rs = append(rs, fmt.Sprintf("%d-%d", r.Start, r.End))
			}
		}
		if len(rs) > 0 {
			p += ":" + strings.Join(rs, ",")
		}
		parts = append(parts, p)
	}
	slices.Sort(parts)
	return strings.Join(slices.Compact(parts), ", ")
}

// predictor returns the conflict tracker's predictor for root, nil when
// root has no tracker.
func (c *conflicts) predictor(root string) *workspace.Predictor {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.trackers[root]; t != nil {
		return t.Predictor()
	}
	return nil
}

// errChangedWhileChecking: the merge built after a check is not the
// combination that was checked.
var errChangedWhileChecking = errors.New("the session or the target changed while the check ran")
