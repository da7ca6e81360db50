package protocol

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
