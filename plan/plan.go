package plan

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/bmatcuk/doublestar/v4"
)

// Plan is a plan file: its tasks, in the file's order, and settings that
// hold for all of them.
type Plan struct {
	Settings Settings `toml:"plan"`
	Tasks    []Task   `toml:"task"`
}

// Settings is a plan's [plan] table.
type Settings struct {
	// RequireReview makes every task's session need a review before it
	// merges or lands.
	RequireReview bool `toml:"require_review"`
	// Budget is each task's budget unless it gives its own: tokens
	// ("200k") or US dollars ("$5").
	Budget string `toml:"budget"`
}

// Task is one [[task]]: a session to start once what it waits for is done.
type Task struct {
	// Name is the session's name.
	Name   string `toml:"name"`
	Prompt string `toml:"prompt"`
	// Agent, Role and Command choose what runs: a profile, a role from the
	// configuration, or a command line as `spawn -- CMD`. At most one.
	Agent   string   `toml:"agent"`
	Role    string   `toml:"role"`
	Command []string `toml:"command"`
	// Scope lists globs, relative to the repository, the task's work is
	// meant to stay in. No scope is an unknown risk.
	Scope []string `toml:"scope"`
	// After names tasks that must land on the target before this one
	// starts (from the new tip).
	After []string `toml:"after"`
	// Stack names the task whose branch this one starts on and follows.
	Stack string `toml:"stack"`
	// Reviews names the task this one reviews.
	Reviews string `toml:"reviews"`
	// RequireReview makes the task's session need a review before it
	// merges or lands.
	RequireReview bool `toml:"require_review"`
	// Budget caps what the task's session's model may use: tokens
	// ("200k") or US dollars ("$5"); empty: the plan's, else its agent
	// profile's.
	Budget string `toml:"budget"`
}

// BudgetOf is the budget t's session gets from the plan ("" for none).
func (p *Plan) BudgetOf(t *Task) string {
	if t.Budget != "" {
		return t.Budget
	}
	return p.Settings.Budget
}

// NeedsReview reports whether t's session must be reviewed before it
// merges or lands.
func (p *Plan) NeedsReview(t *Task) bool { return p.Settings.RequireReview || t.RequireReview }

// Task returns the task named name, or nil.
func (p *Plan) Task(name string) *Task {
	for i := range p.Tasks {
		if p.Tasks[i].Name == name {
			return &p.Tasks[i]
		}
	}
	return nil
}

// Waits lists what t waits for before it starts, each with its relation:
// "after", "stack" or "reviews".
func (t *Task) Waits() []Edge {
	var out []Edge
	for _, a := range t.After {
		out = append(out, Edge{Task: a, Kind: EdgeAfter})
	}
	if t.Stack != "" {
		out = append(out, Edge{Task: t.Stack, Kind: EdgeStack})
	}
	if t.Reviews != "" {
		out = append(out, Edge{Task: t.Reviews, Kind: EdgeReviews})
	}
	return out
}

// Edge is one task's relation to another it waits for.
type Edge struct {
	Task string
	Kind string
}

// Edge kinds.
const (
	EdgeAfter   = "after"
	EdgeStack   = "stack"
	EdgeReviews = "reviews"
)

// Error is a plan refused before anything started: every problem found,
// each a sentence naming the task.
type Error struct {
	Problems []string
}

func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return "plan refused: " + e.Problems[0]
	}
	return fmt.Sprintf("plan refused, %d problems:\n  - %s", len(e.Problems), strings.Join(e.Problems, "\n  - "))
}

// maxTasks bounds a plan (Check counts tasks in the bits of a uint64).
const maxTasks = 64

// nameRE is the session name rule (agents.ValidateName).
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// Parse reads a plan file and validates it; a plan with any structural
// problem is an *Error listing them all.
func Parse(data []byte) (*Plan, error) {
	var p Plan
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&p)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{Problems: []string{fmt.Sprintf("line %d: %s", pe.Position.Line, pe.Message)}}
		}
		return nil, &Error{Problems: []string{err.Error()}}
	}
	var problems []string
	for _, k := range md.Undecoded() {
		problems = append(problems, fmt.Sprintf("unknown key %q (a task has name, prompt, agent, role, command, scope, after, stack, reviews, require_review, budget)", k.String()))
	}
	problems = append(problems, p.problems()...)
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	return &p, nil
}

// Validate checks a plan built in code as Parse checks a file.
func (p *Plan) Validate() error {
	if probs := p.problems(); len(probs) > 0 {
		return &Error{Problems: probs}
	}
	return nil
}

func (p *Plan) problems() []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if len(p.Tasks) == 0 {
		add("no tasks: add a [[task]] with a name and a prompt")
		return out
	}
	if len(p.Tasks) > maxTasks {
		add("%d tasks: a plan has at most %d", len(p.Tasks), maxTasks)
		return out
	}
	seen := map[string]bool{}
	for i, t := range p.Tasks {
		label := fmt.Sprintf("task %d", i+1)
		switch {
		case t.Name == "":
			add("%s has no name", label)
		case !nameRE.MatchString(t.Name):
			add("task name %q is invalid: use lower-case letters, digits and '-', at most 40", t.Name)
		case seen[t.Name]:
			add("two tasks are named %q", t.Name)
		}
		seen[t.Name] = true
		if t.Name != "" {
			label = fmt.Sprintf("task %q", t.Name)
		}
		n := 0
		for _, s := range []bool{t.Agent != "", t.Role != "", len(t.Command) > 0} {
			if s {
				n++
			}
		}
		if n > 1 {
			add("%s sets more than one of agent, role and command: choose one", label)
		}
		if len(t.After) > 0 && t.Stack != "" {
			add("%s is both after %s and stacked on %q: a stacked task starts on its parent's branch, an after task from the target once its prerequisites landed; choose one", label, strings.Join(t.After, ", "), t.Stack)
		}
		for _, g := range t.Scope {
			if msg := scopeProblem(g); msg != "" {
				add("%s: %s", label, msg)
			}
		}
	}
	for _, t := range p.Tasks {
		for _, e := range t.Waits() {
			switch {
			case e.Task == t.Name && e.Kind == EdgeReviews:
				add("task %q reviews itself: a reviewer cannot review itself", t.Name)
			case e.Task == t.Name:
				add("task %q is %s itself", t.Name, map[string]string{EdgeAfter: "after", EdgeStack: "stacked on"}[e.Kind])
			case !seen[e.Task]:
				add("task %q: %s names %q, which is no task of this plan", t.Name, e.Kind, e.Task)
			}
		}
	}
	if len(out) == 0 {
		if cyc := p.cycle(); cyc != nil {
			add("tasks wait for each other in a cycle: %s", strings.Join(cyc, " → "))
		}
	}
	return out
}

// scopeProblem says what is wrong with a scope glob, or "".
func scopeProblem(g string) string {
	switch {
	case g == "":
		return "empty scope: give a path glob such as web/**"
	case strings.HasPrefix(g, "/"), strings.HasPrefix(g, "-"):
		return fmt.Sprintf("scope %q: give a glob relative to the repository, such as web/**", g)
	case slices.Contains(strings.Split(g, "/"), ".."):
		return fmt.Sprintf("scope %q leaves the repository", g)
	case !doublestar.ValidatePattern(g):
		return fmt.Sprintf("scope %q is not a valid glob (use *, ** and {a,b})", g)
	}
	return ""
}

// cycle returns the tasks of one cycle of waits, first repeated at the
// end, or nil. Names must be known.
func (p *Plan) cycle() []string {
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var stack []string
	var found []string
	var visit func(name string) bool
	visit = func(name string) bool {
		switch state[name] {
		case active:
			i := slices.Index(stack, name)
			found = append(slices.Clone(stack[i:]), name)
			return true
		case done:
			return false
		}
		state[name] = active
		stack = append(stack, name)
		for _, e := range p.Task(name).Waits() {
			if visit(e.Task) {
				return true
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
		return false
	}
	for _, t := range p.Tasks {
		if visit(t.Name) {
			return found
		}
	}
	return nil
}

// Topo returns the tasks' names in an order where every task comes after
// what it waits for, otherwise in the file's order. The plan must be valid.
func (p *Plan) Topo() []string {
	var out []string
	placed := map[string]bool{}
	for progress := true; progress; {
		progress = false
		for _, t := range p.Tasks {
			if placed[t.Name] {
				continue
			}
			ready := true
			for _, e := range t.Waits() {
				ready = ready && placed[e.Task]
			}
			if ready {
				placed[t.Name] = true
				out = append(out, t.Name)
				progress = true
				break
			}
		}
	}
	return out
}
