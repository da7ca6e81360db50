package plan

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/studiod/studiod/workspace"
)

// Options tune Check.
type Options struct {
	// MaxCommits bounds the history read, newest first; 0 means
	// DefaultMaxCommits, negative means all of it.
	MaxCommits int
	// MaxCommitFiles leaves out commits that change more files (mass
	// renames, reformats, vendoring), whose pairs say nothing; 0 means
	// DefaultMaxCommitFiles.
	MaxCommitFiles int
}

// Defaults of Options.
const (
	DefaultMaxCommits     = 20000
	DefaultMaxCommitFiles = 40
)

// Thresholds of a coupling worth waiting for: at least CoupledCommits
// commits changed both scopes, and they are at least CoupledStrength of the
// commits of the scope changed less often.
const (
	CoupledCommits  = 2
	CoupledStrength = 0.1
)

// Caps on the evidence a report carries.
const (
	maxOverlapPaths = 10
	maxEvidence     = 5
	maxPathPairs    = 20000 // distinct path pairs counted per task pair
)

// Report is what Check found.
type Report struct {
	// Commits is the number of commits read; Skipped of those were left
	// out for changing too many files.
	Commits int          `json:"commits"`
	Skipped int          `json:"skipped"`
	Tasks   []TaskReport `json:"tasks"`
	// Pairs lists the pairs of tasks with a finding, riskiest first.
	Pairs []Pair `json:"pairs"`
	// Order is the proposed order: every task with its wave (tasks of one
	// wave run in parallel) and what it waits for.
	Order []Step `json:"order"`
}

// TaskReport is one task's footprint.
type TaskReport struct {
	Name  string   `json:"name"`
	Scope []string `json:"scope,omitempty"`
	// Unscoped is a task with no scope: its risk is unknown.
	Unscoped bool `json:"unscoped,omitempty"`
	// Files are the files at HEAD in its scope; Commits the commits read
	// that changed any.
	Files   int `json:"files"`
	Commits int `json:"commits"`
}

// Risk grades a pair of tasks.
type Risk string

// Risks, worst first.
const (
	RiskOverlap Risk = "overlap" // their scopes cover the same files
	RiskCoupled Risk = "coupled" // history changes their scopes together
	RiskLow     Risk = "low"     // some co-change, below the thresholds
)

// Pair is what two tasks' scopes share.
type Pair struct {
	A    string `json:"a"`
	B    string `json:"b"`
	Risk Risk   `json:"risk"`
	// Ordered says how the plan already orders them ("b after a", "b
	// stacked on a", "b reviews a"); empty when they may run at once.
	Ordered string `json:"ordered,omitempty"`
	// Overlap lists paths (or, where no file shows it, globs) both scopes
	// cover, at most 10 of Overlaps.
	Overlap  []string `json:"overlap,omitempty"`
	Overlaps int      `json:"overlaps,omitempty"`
	// CoChange counts the commits that changed a file in one scope and
	// another file in the other; Strength is it over the commits of the
	// scope changed less often.
	CoChange int     `json:"coChange,omitempty"`
	Strength float64 `json:"strength,omitempty"`
	// Evidence lists the path pairs changed together most often.
	Evidence []PathPair `json:"evidence,omitempty"`
}

// PathPair is two paths, one in each task's scope, and the commits that
// changed both.
type PathPair struct {
	A       string `json:"a"`
	B       string `json:"b"`
	Commits int    `json:"commits"`
}

// Step is one task in the proposed order.
type Step struct {
	Task string `json:"task"`
	// Wave numbers the order from 1: a task starts once the waves before
	// its own are done with what it waits for.
	Wave  int    `json:"wave"`
	Waits []Wait `json:"waits,omitempty"`
}

// Wait is one reason a task waits for another.
type Wait struct {
	Task string `json:"task"`
	// Declared is a wait the plan states (after, stack, reviews); the
	// others are proposed from the analysis.
	Declared bool   `json:"declared,omitempty"`
	Why      string `json:"why"`
}

// Check analyses a valid plan against the repository at dir.
func Check(ctx context.Context, git *workspace.Git, dir string, p *Plan, opts Options) (*Report, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if opts.MaxCommits == 0 {
		opts.MaxCommits = DefaultMaxCommits
	}
	if opts.MaxCommitFiles == 0 {
		opts.MaxCommitFiles = DefaultMaxCommitFiles
	}
	a := newAnalysis(p)
	files, err := trackedFiles(ctx, git, dir)
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	for _, f := range files {
		a.file(f)
	}
	err = walkHistory(ctx, git, dir, opts.MaxCommits, func(paths []string) {
		rep.Commits++
		if len(paths) > opts.MaxCommitFiles {
			rep.Skipped++
			return
		}
		a.commit(paths)
	})
	if err != nil {
		return nil, err
	}
	a.report(rep)
	return rep, nil
}

// trackedFiles lists the files at HEAD; none without commits.
func trackedFiles(ctx context.Context, git *workspace.Git, dir string) ([]string, error) {
	out, err := git.Run(ctx, dir, "ls-tree", "-r", "-z", "--name-only", "--full-tree", "HEAD")
	if err != nil {
		if _, verr := git.Run(ctx, dir, "rev-parse", "--verify", "-q", "HEAD^{commit}"); verr != nil {
			return nil, nil
		}
		return nil, err
	}
	var files []string
	for f := range bytes.SplitSeq(out, []byte{0}) {
		if len(f) > 0 {
			files = append(files, string(f))
		}
	}
	return files, nil
}

// analysis accumulates what the files and the history say about the
// plan's scopes. Tasks are bits of a uint64 (a plan has at most 64).
type analysis struct {
	p     *Plan
	masks map[string]uint64 // path → tasks whose scope covers it
	files []int             // per task: files at HEAD
	comm  []int             // per task: commits
	pairs map[[2]int]*pairAcc
	// perTask is reused by commit: the commit's paths in each task's scope.
	perTask [][]string
}

type pairAcc struct {
	overlap  []string
	overlaps int
	coChange int
	paths    map[[2]string]int
}

func newAnalysis(p *Plan) *analysis {
	return &analysis{
		p:       p,
		masks:   map[string]uint64{},
		files:   make([]int, len(p.Tasks)),
		comm:    make([]int, len(p.Tasks)),
		pairs:   map[[2]int]*pairAcc{},
		perTask: make([][]string, len(p.Tasks)),
	}
}

func (a *analysis) mask(path string) uint64 {
	m, ok := a.masks[path]
	if !ok {
		for i, t := range a.p.Tasks {
			if len(t.Scope) > 0 && InScope(t.Scope, path) {
				m |= 1 << i
			}
		}
		a.masks[path] = m
	}
	return m
}

func (a *analysis) pair(i, j int) *pairAcc {
	k := [2]int{i, j}
	pa := a.pairs[k]
	if pa == nil {
		pa = &pairAcc{paths: map[[2]string]int{}}
		a.pairs[k] = pa
	}
	return pa
}

// file counts one file at HEAD: its tasks, and overlaps.
func (a *analysis) file(path string) {
	m := a.mask(path)
	for rest := m; rest != 0; rest &= rest - 1 {
		i := bits.TrailingZeros64(rest)
		a.files[i]++
		for others := rest & (rest - 1); others != 0; others &= others - 1 {
			pa := a.pair(i, bits.TrailingZeros64(others))
			pa.overlaps++
			if len(pa.overlap) < maxOverlapPaths {
				pa.overlap = append(pa.overlap, path)
			}
		}
	}
}

// commit counts one commit's paths.
func (a *analysis) commit(paths []string) {
	var union uint64
	for _, p := range paths {
		m := a.mask(p)
		for rest := m; rest != 0; rest &= rest - 1 {
			i := bits.TrailingZeros64(rest)
			a.perTask[i] = append(a.perTask[i], p)
		}
		union |= m
	}
	for rest := union; rest != 0; rest &= rest - 1 {
		i := bits.TrailingZeros64(rest)
		a.comm[i]++
		for others := rest & (rest - 1); others != 0; others &= others - 1 {
			j := bits.TrailingZeros64(others)
			var pa *pairAcc
			for _, x := range a.perTask[i] {
				for _, y := range a.perTask[j] {
					if x == y {
						continue
					}
					if pa == nil {
						pa = a.pair(i, j)
						pa.coChange++
					}
					k := [2]string{x, y}
					if n, ok := pa.paths[k]; ok || len(pa.paths) < maxPathPairs {
						pa.paths[k] = n + 1
					}
				}
			}
		}
	}
	for rest := union; rest != 0; rest &= rest - 1 {
		i := bits.TrailingZeros64(rest)
		a.perTask[i] = a.perTask[i][:0]
	}
}

func (a *analysis) report(rep *Report) {
	tasks := a.p.Tasks
	for i, t := range tasks {
		rep.Tasks = append(rep.Tasks, TaskReport{Name: t.Name, Scope: t.Scope, Unscoped: len(t.Scope) == 0, Files: a.files[i], Commits: a.comm[i]})
	}
	reach := a.p.reach()
	for i := range tasks {
		for j := i + 1; j < len(tasks); j++ {
			pa := a.pairs[[2]int{i, j}]
			var lexical []string
			if pa == nil || pa.overlaps == 0 {
				lexical = scopesNest(tasks[i].Scope, tasks[j].Scope)
			}
			if pa == nil && lexical == nil {
				continue
			}
			if pa == nil {
				pa = &pairAcc{}
			}
			pr := Pair{A: tasks[i].Name, B: tasks[j].Name, Overlap: pa.overlap, Overlaps: pa.overlaps, CoChange: pa.coChange}
			if lexical != nil {
				pr.Overlap, pr.Overlaps = lexical, len(lexical)
			}
			if least := min(a.comm[i], a.comm[j]); least > 0 {
				pr.Strength = float64(pa.coChange) / float64(least)
			}
			for k, n := range pa.paths {
				pr.Evidence = append(pr.Evidence, PathPair{A: k[0], B: k[1], Commits: n})
			}
			slices.SortFunc(pr.Evidence, func(x, y PathPair) int {
				return cmp.Or(-cmp.Compare(x.Commits, y.Commits), cmp.Compare(x.A, y.A), cmp.Compare(x.B, y.B))
			})
			pr.Evidence = pr.Evidence[:min(len(pr.Evidence), maxEvidence)]
			switch {
			case pr.Overlaps > 0:
				pr.Risk = RiskOverlap
			case pr.CoChange >= CoupledCommits && pr.Strength >= CoupledStrength:
				pr.Risk = RiskCoupled
			default:
				pr.Risk = RiskLow
			}
			pr.Ordered = ordered(a.p, reach, tasks[i].Name, tasks[j].Name)
			rep.Pairs = append(rep.Pairs, pr)
		}
	}
	slices.SortStableFunc(rep.Pairs, func(x, y Pair) int {
		return cmp.Or(cmp.Compare(riskRank(x.Risk), riskRank(y.Risk)), -cmp.Compare(x.CoChange, y.CoChange))
	})
	rep.Order = a.order(rep.Pairs, reach)
}

func riskRank(r Risk) int { return slices.Index([]Risk{RiskOverlap, RiskCoupled, RiskLow}, r) }

// reach maps each task to every task it waits for, directly or not.
func (p *Plan) reach() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	var visit func(string) map[string]bool
	visit = func(n string) map[string]bool {
		if r, ok := out[n]; ok {
			return r
		}
		r := map[string]bool{}
		out[n] = r
		for _, e := range p.Task(n).Waits() {
			r[e.Task] = true
			for k := range visit(e.Task) {
				r[k] = true
			}
		}
		return r
	}
	for _, t := range p.Tasks {
		visit(t.Name)
	}
	return out
}

// ordered says how the plan orders a and b, or "".
func ordered(p *Plan, reach map[string]map[string]bool, a, b string) string {
	say := func(first, then string) string {
		for _, e := range p.Task(then).Waits() {
			if e.Task == first {
				switch e.Kind {
				case EdgeStack:
					return then + " is stacked on " + first
				case EdgeReviews:
					return then + " reviews " + first
				}
				return then + " is after " + first
			}
		}
		return then + " waits for " + first
	}
	switch {
	case reach[b][a]:
		return say(a, b)
	case reach[a][b]:
		return say(b, a)
	}
	return ""
}

// order proposes waves: every task after what it waits for, and of two
// risky tasks the plan lets run at once, the later in the order waits for
// the earlier.
func (a *analysis) order(pairs []Pair, reach map[string]map[string]bool) []Step {
	risky := map[[2]string]Pair{}
	for _, pr := range pairs {
		if pr.Ordered == "" && pr.Risk != RiskLow {
			risky[[2]string{pr.A, pr.B}] = pr
			risky[[2]string{pr.B, pr.A}] = pr
		}
	}
	wave := map[string]int{}
	// after holds, per task, every task it waits for, declared or
	// proposed, directly or not: a proposal already implied is left out.
	after := map[string]map[string]bool{}
	waitFor := func(name, other string) {
		after[name][other] = true
		for k := range after[other] {
			after[name][k] = true
		}
	}
	var steps []Step
	for _, name := range a.p.Topo() {
		st := Step{Task: name, Wave: 1}
		after[name] = map[string]bool{}
		for _, e := range a.p.Task(name).Waits() {
			waitFor(name, e.Task)
			why := map[string]string{
				EdgeAfter:   "after " + e.Task + ": starts from the target once it has landed",
				EdgeStack:   "stacked on " + e.Task + ": starts on its branch and follows it",
				EdgeReviews: "reviews " + e.Task + ": starts on its work",
			}[e.Kind]
			st.Waits = append(st.Waits, Wait{Task: e.Task, Declared: true, Why: why})
			st.Wave = max(st.Wave, wave[e.Task]+1)
		}
		for _, prev := range steps {
			pr, ok := risky[[2]string{prev.Task, name}]
			if !ok || after[name][prev.Task] {
				continue
			}
			waitFor(name, prev.Task)
			st.Waits = append(st.Waits, Wait{Task: prev.Task, Why: riskWhy(pr)})
			st.Wave = max(st.Wave, wave[prev.Task]+1)
		}
		wave[name] = st.Wave
		steps = append(steps, st)
	}
	slices.SortStableFunc(steps, func(x, y Step) int { return cmp.Compare(x.Wave, y.Wave) })
	return steps
}

func riskWhy(pr Pair) string {
	if pr.Risk == RiskOverlap {
		more := ""
		if pr.Overlaps > 1 {
			more = fmt.Sprintf(" and %d more", pr.Overlaps-1)
		}
		return fmt.Sprintf("scopes overlap: %s%s", pr.Overlap[0], more)
	}
	why := fmt.Sprintf("history changes their scopes together: %d commits", pr.CoChange)
	if len(pr.Evidence) > 0 {
		e := pr.Evidence[0]
		why += fmt.Sprintf(", %s with %s in %d", e.A, e.B, e.Commits)
	}
	return why
}

// InScope reports whether path (slash-separated, relative to the
// repository) is inside scopes: a glob matches it, or names a directory
// above it.
func InScope(scopes []string, path string) bool {
	for _, g := range scopes {
		if ok, _ := doublestar.Match(g, path); ok {
			return true
		}
		if ok, _ := doublestar.Match(strings.TrimSuffix(g, "/")+"/**", path); ok {
			return true
		}
	}
	return false
}

// scopesNest lists the globs of a and b where one covers the other's
// fixed part ("server/**" covers "server/api/*.go"): an overlap no file
// shows yet.
func scopesNest(a, b []string) []string {
	var out []string
	for _, x := range a {
		for _, y := range b {
			bx, _ := doublestar.SplitPattern(x)
			by, _ := doublestar.SplitPattern(y)
			switch {
			case x == y:
				out = append(out, x)
			case by != "." && InScope([]string{x}, by):
				out = append(out, x+" covers "+y)
			case bx != "." && InScope([]string{y}, bx):
				out = append(out, y+" covers "+x)
			}
		}
	}
	return out
}
