package agents

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/studiod/studiod/plan"
	"github.com/studiod/studiod/workspace"
)

// Plan states.
const (
	PlanRunning   = "running"
	PlanDone      = "done"      // every task landed, failed or was cancelled
	PlanCancelled = "cancelled" // no new task starts; running sessions go on
)

// Plan task states.
const (
	TaskWaiting   = "waiting"   // for what it is after, stacked on or reviews
	TaskStarted   = "started"   // its session runs (or ran, not yet landed)
	TaskLanded    = "landed"    // its session merged into the target
	TaskFailed    = "failed"    // its spawn failed, or its session was removed unmerged
	TaskCancelled = "cancelled" // the plan was cancelled before it started
)

// PlanRun is a plan the daemon runs: the plan file's text and, per task,
// its session and state. It is stored whole in the plans table.
type PlanRun struct {
	ID     string
	Repo   string
	File   string
	Text   string
	Target string
	State  string
	Tasks  []PlanTask
	// Created orders plans; sessions a plan adopts were created after it.
	Created time.Time
	Updated time.Time

	plan *plan.Plan // parsed Text
}

// PlanTask is one task's progress.
type PlanTask struct {
	Name    string
	State   string
	Session string // ID, once started
	Detail  string
	// Synced is the stack parent's branch tip the task's branch last had
	// (or was refused with a conflict, sent to its agent).
	Synced string
}

func (p *PlanRun) clone() PlanRun {
	c := *p
	c.Tasks = slices.Clone(p.Tasks)
	return c
}

func (p *PlanRun) task(name string) *PlanTask {
	for i := range p.Tasks {
		if p.Tasks[i].Name == name {
			return &p.Tasks[i]
		}
	}
	return nil
}

// PlanRequest asks the daemon to run a plan.
type PlanRequest struct {
	Repo   string
	File   string
	Text   string
	Target string
	// Trusted callers (the CLI) may run tasks with a command.
	AllowCommands bool
}

// plans runs the daemon's plans: one goroutine reconciles every running
// plan with its sessions when a session changes, and every tick for the
// branches stacked tasks follow.
type plans struct {
	env   plansEnv
	ctx   context.Context // ends when the manager closes
	wg    *sync.WaitGroup // the manager's
	store *store
	git   *workspace.Git
	log   *slog.Logger
	// reconcileReviews marks reviews done and forwards their comments.
	reconcileReviews func(ctx context.Context)
	tick             time.Duration
	kick             chan struct{}
	// reconcileMu serializes reconcile: the loop and RunPlan both call
	// it. changeMu serializes changes to stored plans (a cancel and a
	// reconcile), from reading one to storing it. Lock order:
	// reconcileMu, changeMu, mu.
	reconcileMu sync.Mutex
	changeMu    sync.Mutex

	// mu guards runs. It is never held while calling the manager.
	mu   sync.Mutex
	runs map[string]*PlanRun // by ID
}

// plansEnv is what the plans runner needs of the rest of the Manager: the
// sessions and their events, spawning and reviewing, roles, and what a
// stacked task's sync touches.
type plansEnv interface {
	Subscribe(fn func(Event)) (cancel func())
	Lookup(ref Ref) (Session, error)
	Spawn(ctx context.Context, req SpawnRequest, progress Progress) (Session, error)
	ReviewBy(ctx context.Context, req ReviewRequest) (Session, error)
	role(ctx context.Context, root, name string) (Role, error)
	repoLock(root string) *sync.Mutex
	hasWorktree(ctx context.Context, s Session) bool
	tell(ctx context.Context, s Session, message string) (Delivery, error)
	refreshDerived(ctx context.Context, root string)
	refreshChanges(ctx context.Context, id string)
}

func newPlans(ctx context.Context, m *Manager) (*plans, error) {
	ps := &plans{env: m, ctx: m.ctx, wg: &m.wg, store: m.store, git: m.opts.Git, log: m.log, reconcileReviews: m.reviews.reconcile,
		tick: time.Second, kick: make(chan struct{}, 1), runs: map[string]*PlanRun{}}
	list, err := m.store.allPlans(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range list {
		p, err := plan.Parse([]byte(r.Text))
		if err != nil {
			m.log.Warn("plan: stored plan no longer parses", "plan", r.ID, "err", err)
			continue
		}
		r.plan = p
		ps.runs[r.ID] = r
	}
	return ps, nil
}

// start runs the reconcile loop until the manager closes.
func (ps *plans) start() {
	unsub := ps.env.Subscribe(func(Event) { ps.poke() })
	ps.wg.Go(func() {
		defer unsub()
		t := time.NewTicker(ps.tick)
		defer t.Stop()
		for {
			ps.reconcile(ps.ctx)
			ps.reconcileReviews(ps.ctx)
			select {
			case <-ps.ctx.Done():
				return
			case <-ps.kick:
			case <-t.C:
			}
		}
	})
	ps.poke()
}

func (ps *plans) poke() {
	select {
	case ps.kick <- struct{}{}:
	default:
	}
}

// RunPlan validates a plan and hands it to the daemon, which starts its
// ready tasks at once. A plan with any problem is refused and nothing
// starts: structural errors, a task named like a session of the
// repository, an agent no profile names, a command from an untrusted
// caller, a role (roles are configured in [roles]).
func (m *Manager) RunPlan(ctx context.Context, req PlanRequest) (PlanRun, error) {
	p, err := plan.Parse([]byte(req.Text))
	if err != nil {
		return PlanRun{}, err
	}
	repo, err := m.openRepo(ctx, req.Repo)
	if err != nil {
		return PlanRun{}, err
	}
	cfg, _, err := m.effectiveConfig(ctx, repo.Root)
	if err != nil {
		return PlanRun{}, err
	}
	target := cmp.Or(req.Target, cfg.Defaults.Target)
	if target == "" {
		if target, err = repo.CurrentBranch(ctx); err != nil {
			return PlanRun{}, err
		}
		if target == "" {
			return PlanRun{}, invalidf("the main worktree has a detached HEAD: pass --target BRANCH")
		}
	}
	if ok, err := repo.BranchExists(ctx, target); err != nil {
		return PlanRun{}, err
	} else if !ok {
		return PlanRun{}, invalidf("target branch %q does not exist in %s", target, repo.Root)
	}
	var problems []string
	for i := range p.Tasks {
		t := &p.Tasks[i]
		if b := p.BudgetOf(t); b != "" {
			if _, err := ParseBudget(b); err != nil {
				problems = append(problems, fmt.Sprintf("task %q: %v", t.Name, strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")))
			}
		}
		switch {
		case m.nameTaken(repo.Root, t.Name):
			problems = append(problems, fmt.Sprintf("task %q: a session of that name exists in %s (remove it, or rename the task)", t.Name, repo.Root))
		case t.Role != "" && !hasRole(cfg, t.Role):
			problems = append(problems, fmt.Sprintf("task %q: no role %q: define [roles.%s] in config.toml or .studio.toml", t.Name, t.Role, t.Role))
		case len(t.Command) > 0 && !req.AllowCommands:
			problems = append(problems, fmt.Sprintf("task %q: command tasks run only from the CLI; use agent", t.Name))
		case t.Agent != "":
			if _, ok := cfg.Agents[t.Agent]; !ok {
				problems = append(problems, fmt.Sprintf("task %q: no agent profile %q (see `studiod doctor`)", t.Name, t.Agent))
			}
		}
	}
	if len(problems) > 0 {
		return PlanRun{}, &plan.Error{Problems: problems}
	}
	now := time.Now().UTC()
	r := &PlanRun{ID: newID(), Repo: repo.Root, File: req.File, Text: req.Text, Target: target, State: PlanRunning,
		Created: now, Updated: now, plan: p}
	for _, t := range p.Tasks {
		r.Tasks = append(r.Tasks, PlanTask{Name: t.Name, State: TaskWaiting})
	}
	if err := m.store.putPlan(ctx, r); err != nil {
		return PlanRun{}, err
	}
	m.plans.mu.Lock()
	m.plans.runs[r.ID] = r
	m.plans.mu.Unlock()
	// The first tasks start now, detached from the caller: a spawn
	// completes or rolls back.
	m.plans.reconcile(m.ctx)
	return m.Plan(r.ID)
}

// Plan returns one plan by ID.
func (m *Manager) Plan(id string) (PlanRun, error) {
	m.plans.mu.Lock()
	defer m.plans.mu.Unlock()
	r, ok := m.plans.runs[id]
	if !ok {
		return PlanRun{}, fmt.Errorf("%w: no plan %q (see `studiod plan`)", ErrNotFound, id)
	}
	return r.clone(), nil
}

// Plans lists the plans of the repository containing dir (all with ""),
// oldest first.
func (m *Manager) Plans(dir string) []PlanRun {
	m.mu.Lock()
	root := m.repoForLocked(dir)
	m.mu.Unlock()
	m.plans.mu.Lock()
	defer m.plans.mu.Unlock()
	var out []PlanRun
	for _, r := range m.plans.runs {
		if root == "" || within(root, r.Repo) || within(r.Repo, root) {
			out = append(out, r.clone())
		}
	}
	slices.SortFunc(out, func(a, b PlanRun) int { return a.Created.Compare(b.Created) })
	return out
}

// CancelPlan stops a plan from starting tasks; its running sessions are
// left alone. id "" is the repository's one running plan.
func (m *Manager) CancelPlan(ctx context.Context, dir, id string) (PlanRun, error) {
	if id == "" {
		var running []string
		for _, r := range m.Plans(dir) {
			if r.State == PlanRunning {
				running = append(running, r.ID)
			}
		}
		switch len(running) {
		case 0:
			return PlanRun{}, fmt.Errorf("%w: no running plan in %s", ErrNotFound, dir)
		case 1:
			id = running[0]
		default:
			return PlanRun{}, invalidf("%d plans run in %s: name one (%s)", len(running), dir, strings.Join(running, ", "))
		}
	}
	r, err := m.plans.change(ctx, id, func(r *PlanRun) bool {
		if r.State != PlanRunning {
			return false
		}
		r.State = PlanCancelled
		for i := range r.Tasks {
			if r.Tasks[i].State == TaskWaiting {
				r.Tasks[i].State, r.Tasks[i].Detail = TaskCancelled, "the plan was cancelled"
			}
		}
		return true
	})
	return r, err
}

// change applies fn to a plan, stores it and returns a copy.
func (ps *plans) change(ctx context.Context, id string, fn func(r *PlanRun) bool) (PlanRun, error) {
	ps.changeMu.Lock()
	defer ps.changeMu.Unlock()
	ps.mu.Lock()
	cur, ok := ps.runs[id]
	if !ok {
		ps.mu.Unlock()
		return PlanRun{}, fmt.Errorf("%w: no plan %q (see `studiod plan`)", ErrNotFound, id)
	}
	next := cur.clone()
	ps.mu.Unlock()
	if !fn(&next) {
		return next, nil
	}
	next.Updated = time.Now().UTC()
	if err := ps.store.putPlan(ctx, &next); err != nil {
		return PlanRun{}, err
	}
	ps.mu.Lock()
	*cur = next.clone()
	ps.mu.Unlock()
	return next, nil
}

// reconcile moves every running plan along: tasks whose sessions merged
// are landed, tasks ready start, stacked tasks follow their parents.
func (ps *plans) reconcile(ctx context.Context) {
	ps.reconcileMu.Lock()
	defer ps.reconcileMu.Unlock()
	ps.mu.Lock()
	var ids []string
	for id, r := range ps.runs {
		if r.State == PlanRunning {
			ids = append(ids, id)
		}
	}
	ps.mu.Unlock()
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		ps.reconcileOne(ctx, id)
	}
}

func (ps *plans) reconcileOne(ctx context.Context, id string) {
	ps.mu.Lock()
	r := ps.runs[id].clone()
	p := ps.runs[id].plan
	ps.mu.Unlock()
	changed := false
	set := func(t *PlanTask, state, detail string) {
		if t.State != state || t.Detail != detail {
			t.State, t.Detail, changed = state, detail, true
		}
	}
	// What became of started tasks' sessions.
	for i := range r.Tasks {
		t := &r.Tasks[i]
		if t.State != TaskStarted {
			continue
		}
		s, err := ps.env.Lookup(Ref{Session: t.Session})
		switch {
		case err != nil:
			set(t, TaskFailed, "its session is gone")
		case s.State == Merged:
			set(t, TaskLanded, "into "+s.Target)
		case s.State == Removed, s.State == Failed:
			set(t, TaskFailed, "its session "+string(s.State)+": "+s.Detail)
		}
	}
	// Start what is ready, in order.
	for _, name := range p.Topo() {
		t := r.task(name)
		if t.State != TaskWaiting {
			continue
		}
		spec := p.Task(name)
		waiting, blocked := ps.waitsOf(&r, spec)
		if blocked != "" {
			set(t, TaskFailed, blocked)
			continue
		}
		if len(waiting) > 0 {
			set(t, TaskWaiting, "waits for "+strings.Join(waiting, ", "))
			continue
		}
		s, synced, err := ps.startTask(ctx, &r, spec)
		if err != nil {
			set(t, TaskFailed, "spawn: "+err.Error())
			continue
		}
		t.Session, t.Synced = s.ID, synced
		set(t, TaskStarted, "")
		changed = true
	}
	// Stacked tasks follow their parents' branches.
	for i := range r.Tasks {
		t := &r.Tasks[i]
		spec := p.Task(t.Name)
		if t.State != TaskStarted || spec.Stack == "" {
			continue
		}
		parent := r.task(spec.Stack)
		if parent.State != TaskStarted {
			continue // landed: the target has it; failed: nothing to follow
		}
		if tip, detail, ok := ps.follow(ctx, t, parent); ok && (tip != t.Synced || detail != t.Detail) {
			t.Synced, t.Detail, changed = tip, detail, true
		}
	}
	done := true
	for _, t := range r.Tasks {
		done = done && (t.State == TaskLanded || t.State == TaskFailed || t.State == TaskCancelled)
	}
	if done {
		r.State, changed = PlanDone, true
	}
	if !changed {
		return
	}
	if _, err := ps.change(ctx, id, func(cur *PlanRun) bool {
		if cur.State == PlanCancelled {
			// Cancelled meanwhile: keep what started, start nothing more.
			for i := range r.Tasks {
				if r.Tasks[i].State == TaskWaiting {
					r.Tasks[i] = cur.Tasks[i]
				}
			}
			r.State = PlanCancelled
		}
		*cur = r
		return true
	}); err != nil {
		ps.log.Warn("plan: store", "plan", id, "err", err)
	}
}

// waitsOf lists what task t still waits for, or why it never can start.
func (ps *plans) waitsOf(r *PlanRun, t *plan.Task) (waiting []string, blocked string) {
	for _, e := range t.Waits() {
		dep := r.task(e.Task)
		if dep.State == TaskFailed || dep.State == TaskCancelled {
			return nil, fmt.Sprintf("%s %s %s", map[string]string{plan.EdgeAfter: "after", plan.EdgeStack: "stacked on", plan.EdgeReviews: "reviews"}[e.Kind], e.Task, dep.State)
		}
		switch e.Kind {
		case plan.EdgeAfter:
			if dep.State != TaskLanded {
				waiting = append(waiting, e.Task+" to land")
			}
		case plan.EdgeStack, plan.EdgeReviews:
			// Stacked work and reviews start on the work of the
			// parent's first turn.
			if dep.State == TaskWaiting {
				waiting = append(waiting, e.Task+" to start")
			} else if dep.State == TaskStarted {
				if s, err := ps.env.Lookup(Ref{Session: dep.Session}); err == nil && (s.State == Starting || s.State == Working || s.State == Waiting) {
					waiting = append(waiting, e.Task+" to finish its turn")
				}
			}
		}
	}
	return waiting, ""
}
