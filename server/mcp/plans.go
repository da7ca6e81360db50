package mcp

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/studiod/studiod/protocol"
)

// Plan tools: check a plan before anything runs, hand it to the daemon,
// follow it; start a reviewer on a session's work.
const (
	ToolPlanCheck  = "plan_check"
	ToolPlanRun    = "plan_run"
	ToolPlanStatus = "plan_status"
	ToolReviewBy   = "review_by"
)

// planURI is the live status of the client's repository's plans.
const planURI = "studio://plan"

const descPlan = "The plan as TOML: [[task]] tables with name, prompt, agent or role, scope (path globs), after (names of tasks that must land first), stack (the task whose branch this one builds on), reviews (the task it reviews), require_review; and an optional [plan] table with require_review."

func (m *Server) planTools() []mcpserver.ServerTool {
	return []mcpserver.ServerTool{
		typed(m, tool(ToolPlanCheck, "Check a plan before running it",
			"Check a plan of parallel tasks against the repository before anything starts: structural errors are refused with every problem named; "+
				"for every pair of tasks, scopes that overlap and files the repository's history changes together across their scopes (commits and the path pairs as evidence); "+
				"tasks with no scope; and a proposed order (which run in parallel, which should wait for which, and why). Use it to find the seams before plan_run.",
			hints{readOnly: true, idempotent: true}, repoArg(),
			mcp.WithString("plan", mcp.Required(), mcp.MinLength(1), mcp.Description(descPlan)),
		), m.planCheck),
		typed(m, tool(ToolPlanRun, "Run a plan",
			"Hand a plan to the studiod daemon, which keeps it across restarts: every task that waits for nothing starts at once; a task after others starts from the target once they landed; "+
				"a stacked task starts on its parent's branch and follows it; a reviewer starts on the reviewed work and its comments reach the reviewed agent. "+
				"Refused as a whole, nothing started, when any task has a problem. Tasks pick agent profiles or roles; an MCP client never runs a command.",
			hints{}, repoArg(),
			mcp.WithString("plan", mcp.Required(), mcp.MinLength(1), mcp.Description(descPlan)),
			mcp.WithString("target", mcp.Description("Branch the tasks land on. Optional: the repository's configured target, else its current branch.")),
		), m.planRun),
		typed(m, tool(ToolPlanStatus, "Show the plans",
			"Show this repository's plans: each task with its session and state, what it waits for, what it is stacked on and what it reviews.",
			hints{readOnly: true, idempotent: true}, repoArg(),
		), m.planStatus),
		typed(m, tool(ToolReviewBy, "Start a reviewer on a session's work",
			"Start a reviewer session on a session's current work (uncommitted work included), on a branch of its own, so it cannot move the reviewed branch. "+
				"Its agent leaves findings as review comments on the reviewed session, recorded as its own; with forward they go to the reviewed agent when its turn ends.",
			hints{}, repoArg(), sessionArg(),
			mcp.WithString("name", mcp.Description("The reviewer session's name. Optional: <session>-review.")),
			mcp.WithString("role", mcp.Description("A role the user configured ([roles.NAME]: agent, brief, scope, gate).")),
			mcp.WithString("agent", mcp.Description("An agent profile. Optional: the role's, else the default.")),
			mcp.WithString("prompt", mcp.Description("What to look at, added to the reviewer's brief.")),
			mcp.WithBoolean("forward", mcp.Description("Send the reviewer's comments to the reviewed agent when the reviewer's turn ends.")),
		), m.reviewBy),
	}
}

type planArgs struct {
	Repo   string `json:"repo"`
	Plan   string `json:"plan"`
	Target string `json:"target"`
}

func (m *Server) planCheck(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a planArgs) (protocol.PlanReport, string, error) {
	if a.Target != "" {
		return protocol.PlanReport{}, "", argError{"target is for plan_run"}
	}
	repo, err := m.repo(ctx, a.Repo)
	if err != nil {
		return protocol.PlanReport{}, "", argError{err.Error()}
	}
	rep, err := c.PlanCheck(ctx, protocol.PlanCheckParams{Repo: repo, Text: a.Plan})
	if err != nil {
		return protocol.PlanReport{}, "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d tasks checked against %d commits.", len(rep.Tasks), rep.Commits)
	for _, p := range rep.Pairs {
		switch p.Risk {
		case protocol.PlanRiskOverlap:
			fmt.Fprintf(&b, " %s and %s overlap on %s.", p.A, p.B, strings.Join(p.Overlap, ", "))
		case protocol.PlanRiskCoupled:
			fmt.Fprintf(&b, " History changes %s and %s together (%d commits).", p.A, p.B, p.CoChange)
		}
	}
	for _, t := range rep.Tasks {
		if t.Unscoped {
			fmt.Fprintf(&b, " %s has no scope.", t.Name)
		}
	}
	for _, s := range rep.Order {
		for _, w := range s.Waits {
			if !w.Declared {
				fmt.Fprintf(&b, " %s should wait for %s: %s.", s.Task, w.Task, w.Why)
			}
		}
	}
	return *rep, b.String(), nil
}

func (m *Server) planRun(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a planArgs) (protocol.Plan, string, error) {
	repo, err := m.repo(ctx, a.Repo)
	if err != nil {
		return protocol.Plan{}, "", argError{err.Error()}
	}
	pl, err := c.PlanRun(ctx, protocol.PlanRunParams{Repo: repo, Text: a.Plan, Target: a.Target, NoCommands: true})
	if err != nil {
		return protocol.Plan{}, "", err
	}
	return *pl, "Plan " + pl.ID + " runs: " + planSummary(*pl), nil
}

func (m *Server) planStatus(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a struct {
	Repo string `json:"repo"`
}) (protocol.PlansResult, string, error) {
	repo, err := m.repo(ctx, a.Repo)
	if err != nil {
		return protocol.PlansResult{}, "", argError{err.Error()}
	}
	res, err := c.Plans(ctx, protocol.PlansParams{Repo: repo})
	if err != nil {
		return protocol.PlansResult{}, "", err
	}
	if len(res.Plans) == 0 {
		return *res, "No plans in this repository.", nil
	}
	var parts []string
	for _, pl := range res.Plans {
		parts = append(parts, fmt.Sprintf("Plan %s (%s): %s", pl.ID, pl.State, planSummary(pl)))
	}
	return *res, strings.Join(parts, "\n"), nil
}

// planSummary is one line per task for a model to read.
func planSummary(pl protocol.Plan) string {
	var parts []string
	for _, t := range pl.Tasks {
		s := t.Name + " " + string(t.State)
		if t.Detail != "" {
			s += " (" + toolWords(t.Detail) + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

type reviewByArgs struct {
	sessionArgs
	Name    string `json:"name"`
	Role    string `json:"role"`
	Agent   string `json:"agent"`
	Prompt  string `json:"prompt"`
	Forward bool   `json:"forward"`
}

func (m *Server) reviewBy(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a reviewByArgs) (protocol.Session, string, error) {
	r, err := m.ref(ctx, a.sessionArgs)
	if err != nil {
		return protocol.Session{}, "", argError{err.Error()}
	}
	if a.Agent == "command" {
		return protocol.Session{}, "", argError{`agent profile "command" runs an arbitrary command and is not available to MCP clients; pick a configured agent profile`}
	}
	s, err := c.ReviewBy(ctx, protocol.ReviewByParams{SessionRef: r, Name: a.Name, Role: a.Role, Agent: a.Agent, Prompt: a.Prompt,
		Forward: a.Forward, By: m.cfg.Session})
	if err != nil {
		return protocol.Session{}, "", err
	}
	return *s, fmt.Sprintf("%s reviews %s (%s).", s.Name, a.Session, s.State), nil
}

// planResources is the live plan status.
func (m *Server) planResources() []mcpserver.ServerResource {
	return []mcpserver.ServerResource{{
		Resource: mcp.NewResource(planURI, "plans",
			mcp.WithResourceDescription("This repository's plans as JSON: each task with its session, state, what it waits for, its stack and its review. Subscribe to be told when they change."),
			mcp.WithMIMEType("application/json")),
		Handler: m.readPlans,
	}}
}

func (m *Server) readPlans(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	return repoResource(ctx, m, req, func(c *protocol.Client, repo string) (*protocol.PlansResult, error) {
		return c.Plans(ctx, protocol.PlansParams{Repo: repo})
	})
}
