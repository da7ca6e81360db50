package protocol

import "time"

// PlanCheckParams asks for a plan's analysis against a repository: the
// plan's TOML in Text (Path, when given, names it in messages).
type PlanCheckParams struct {
	Repo string `json:"repo"`
	Path string `json:"path,omitempty"`
	Text string `json:"text"`
}

// PlanReport is what studio/planCheck found: each task's footprint, the
// pairs of tasks whose scopes overlap or that the history changes together,
// and a proposed order. Commits is the history read; Skipped of them
// changed too many files to say anything.
type PlanReport struct {
	Repo    string           `json:"repo"`
	Commits int              `json:"commits"`
	Skipped int              `json:"skipped"`
	Tasks   []PlanTaskReport `json:"tasks"`
	Pairs   []PlanPair       `json:"pairs"`
	Order   []PlanOrderStep  `json:"order"`
}

// PlanTaskReport is one task's footprint: the files at HEAD in its scope,
// the commits that changed any; Unscoped is a task whose risk is unknown.
type PlanTaskReport struct {
	Name     string   `json:"name"`
	Scope    []string `json:"scope,omitempty"`
	Unscoped bool     `json:"unscoped,omitempty"`
	Files    int      `json:"files"`
	Commits  int      `json:"commits"`
}

// PlanRisk grades a pair of tasks.
type PlanRisk string

// Plan risks, worst first.
const (
	PlanRiskOverlap PlanRisk = "overlap" // their scopes cover the same files
	PlanRiskCoupled PlanRisk = "coupled" // history changes their scopes together
	PlanRiskLow     PlanRisk = "low"     // some co-change, below the thresholds
)

// PlanPair is what two tasks' scopes share. Ordered says how the plan
// already orders them ("b is after a"), empty when they may run at once.
// Overlap lists up to 10 of the Overlaps paths (or globs) both cover;
// CoChange counts the commits that changed a file of each, Strength is it
// over the commits of the scope changed less often, Evidence the path
// pairs changed together most.
type PlanPair struct {
	A        string         `json:"a"`
	B        string         `json:"b"`
	Risk     PlanRisk       `json:"risk"`
	Ordered  string         `json:"ordered,omitempty"`
	Overlap  []string       `json:"overlap,omitempty"`
	Overlaps int            `json:"overlaps,omitempty"`
	CoChange int            `json:"coChange,omitempty"`
	Strength float64        `json:"strength,omitempty"`
	Evidence []PlanPathPair `json:"evidence,omitempty"`
}

// PlanPathPair is a path of each task's scope and the commits that changed
// both.
type PlanPathPair struct {
	A       string `json:"a"`
	B       string `json:"b"`
	Commits int    `json:"commits"`
}

// PlanOrderStep is one task of the proposed order: tasks of one wave run in
// parallel; Waits says what it waits for and why.
type PlanOrderStep struct {
	Task  string     `json:"task"`
	Wave  int        `json:"wave"`
	Waits []PlanWait `json:"waits,omitempty"`
}

// PlanWait is one reason a task waits for another: Declared by the plan
// (after, stack, reviews) or proposed by the analysis.
type PlanWait struct {
	Task     string `json:"task"`
	Declared bool   `json:"declared,omitempty"`
	Why      string `json:"why"`
}

// PlanRunParams hands a plan to the daemon, which starts its ready tasks
// and keeps it (across restarts) until every task landed, failed or was
// cancelled. Target defaults as a spawn's. NoCommands refuses tasks with a
// command: the MCP face sets it, as its clients may only pick agents.
type PlanRunParams struct {
	Repo       string `json:"repo"`
	Path       string `json:"path,omitempty"`
	Text       string `json:"text"`
	Target     string `json:"target,omitempty"`
	NoCommands bool   `json:"noCommands,omitempty"`
}

// PlansParams asks for the plans of a repository (all with no repo), or
// for one.
type PlansParams struct {
	Repo string `json:"repo,omitempty"`
	Plan string `json:"plan,omitempty"`
}

// PlansResult lists plans, oldest first.
type PlansResult struct {
	Plans []Plan `json:"plans"`
}

// PlanCancelParams stops a plan from starting tasks (its sessions go on);
// no plan means the repository's one running plan.
type PlanCancelParams struct {
	Repo string `json:"repo"`
	Plan string `json:"plan,omitempty"`
}

// PlanState is where a plan is.
type PlanState string

// Plan states.
const (
	PlanRunning   PlanState = "running"
	PlanDone      PlanState = "done"      // every task landed, failed or was cancelled
	PlanCancelled PlanState = "cancelled" // no new task starts; its sessions go on
)

// PlanTaskState is where a task of a plan is.
type PlanTaskState string

// Plan task states.
const (
	TaskWaiting   PlanTaskState = "waiting"   // for what it is after, stacked on or reviews
	TaskStarted   PlanTaskState = "started"   // its session runs, or ran and has not landed
	TaskLanded    PlanTaskState = "landed"    // its session merged into the target
	TaskFailed    PlanTaskState = "failed"    // its spawn failed, or its session went unmerged
	TaskCancelled PlanTaskState = "cancelled" // the plan was cancelled before it started
)

// Plan is a plan the daemon runs.
type Plan struct {
	ID      string     `json:"id"`
	Repo    string     `json:"repo"`
	File    string     `json:"file,omitempty"`
	Target  string     `json:"target"`
	State   PlanState  `json:"state"`
	Tasks   []PlanTask `json:"tasks"`
	Created time.Time  `json:"created"`
	// Usage is what the models of the plan's sessions used, summed;
	// absent until one reported any.
	Usage *Usage `json:"usage,omitempty"`
}

// PlanTask is one task of a running plan: its session once started (ID,
// and the session's state), what it is after, stacked on and reviews, who
// reviews it (Reviewed once one of them has finished its turn), and
// Detail: what it waits for, why it failed, a stack conflict sent to its
// agent.
type PlanTask struct {
	Name         string        `json:"name"`
	State        PlanTaskState `json:"state"`
	Session      string        `json:"session,omitempty"`
	SessionState State         `json:"sessionState,omitempty"`
	After        []string      `json:"after,omitempty"`
	Stack        string        `json:"stack,omitempty"`
	Reviews      string        `json:"reviews,omitempty"`
	ReviewedBy   []string      `json:"reviewedBy,omitempty"`
	Reviewed     bool          `json:"reviewed,omitempty"`
	Detail       string        `json:"detail,omitempty"`
	// Usage is what the task's session's model used.
	Usage *Usage `json:"usage,omitempty"`
}

// ReviewByParams starts a reviewer session on a session's current work
// (its snapshot, uncommitted work included) on a branch of its own. By is
// the session asking, if any (a session cannot review itself); Forward
// sends the reviewer's comments to the reviewed agent when its turn ends.
type ReviewByParams struct {
	SessionRef
	Name    string   `json:"name,omitempty"`
	Role    string   `json:"role,omitempty"`
	Agent   string   `json:"agent,omitempty"`
	Prompt  string   `json:"prompt,omitempty"`
	Command []string `json:"command,omitempty"`
	Forward bool     `json:"forward,omitempty"`
	By      string   `json:"by,omitempty"`
}

// Review is one reviewer of a session: Done once its turn has ended (the
// session counts as reviewed), with the comments it made.
type Review struct {
	Reviewer string `json:"reviewer"` // name
	ID       string `json:"id"`
	Done     bool   `json:"done"`
	Comments int    `json:"comments"`
}
