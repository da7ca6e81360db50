package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/studiod/studiod/protocol"
)

// MCP tool names. The README documents them.
const (
	ToolSpawnSession     = "spawn_session"
	ToolListSessions     = "list_sessions"
	ToolGetSession       = "get_session"
	ToolReadOutput       = "read_output"
	ToolSendInput        = "send_input"
	ToolAnswerSession    = "answer_session"
	ToolSetNote          = "set_note"
	ToolSetBudget        = "set_budget"
	ToolSessionDiff      = "session_diff"
	ToolCheckConflicts   = "check_conflicts"
	ToolAddReviewComment = "add_review_comment"
	ToolSendFeedback     = "send_feedback"
	ToolMergeSession     = "merge_session"
	ToolUndoMerge        = "undo_merge"
	ToolStopSession      = "stop_session"
	ToolRemoveSession    = "remove_session"
	ToolListSalvage      = "list_salvage"
)

// Output read limits for read_output, in bytes.
const (
	outputDefaultLimit = 16 << 10
	outputMaxLimit     = 256 << 10
)

// Shared argument descriptions.
const (
	descRepo    = "Absolute path of the git repository (any directory inside it). Optional: defaults to the client's workspace root, else the directory studiod mcp was started in."
	descSession = "Session name (as given to spawn_session or shown by list_sessions) or session ID."
)

// hints are a tool's annotations. Every studiod tool acts on the local
// daemon only, so none is open-world.
type hints struct{ readOnly, destructive, idempotent bool }

func (h hints) options(title string) []mcp.ToolOption {
	return []mcp.ToolOption{
		mcp.WithTitleAnnotation(title),
		mcp.WithReadOnlyHintAnnotation(h.readOnly),
		mcp.WithDestructiveHintAnnotation(h.destructive),
		mcp.WithIdempotentHintAnnotation(h.idempotent),
		mcp.WithOpenWorldHintAnnotation(false),
		mcp.WithSchemaAdditionalProperties(false),
	}
}

func tool(name, title, desc string, h hints, opts ...mcp.ToolOption) mcp.Tool {
	all := append([]mcp.ToolOption{mcp.WithDescription(desc)}, h.options(title)...)
	return mcp.NewTool(name, append(all, opts...)...)
}

func repoArg() mcp.ToolOption { return mcp.WithString("repo", mcp.Description(descRepo)) }
func sessionArg() mcp.ToolOption {
	return mcp.WithString("session", mcp.Required(), mcp.Description(descSession), mcp.MinLength(1))
}

// Tools returns every tool with its handler.
func (m *Server) Tools() []mcpserver.ServerTool {
	ro := hints{readOnly: true, idempotent: true}
	return append([]mcpserver.ServerTool{
		refuseCommand(typed(m, tool(ToolSpawnSession, "Start an agent session",
			"Start a coding agent in a new git worktree on its own branch (studio/<name>), working on the prompt you give it. "+
				"The agent is one of the profiles the user configured (for example claude, codex, aider, or demo for a scripted demo agent); "+
				"this tool never runs an arbitrary command. Returns the new session; follow it with get_session or read_output.",
			hints{},
			repoArg(),
			mcp.WithString("prompt", mcp.Description("The task for the agent, in plain language.")),
			mcp.WithString("agent", mcp.Description("Name of a configured agent profile. Optional: defaults to the user's default profile.")),
			mcp.WithString("name", mcp.Description("Session name: lowercase letters, digits and dashes; also names the branch studio/<name>. Optional: derived from the prompt.")),
			mcp.WithString("base", mcp.Description("Branch or commit to start from. Optional: the target branch.")),
			mcp.WithString("target", mcp.Description("Branch the work will be merged into. Optional: the repository's configured target, else its current branch.")),
			mcp.WithArray("scopes", mcp.WithStringItems(), mcp.Description("Path globs of the area the session is meant to work in, relative to the repository (for example web/** or docs/web.md). The agent is told before it writes outside them, or inside another session's.")),
			mcp.WithString("note", mcp.Description("What the session is for, shown to the other agents and the person. Optional: the prompt's first line.")),
			mcp.WithString("budget", mcp.Description("How much the session's model may use: tokens (200k, 1.5M) or US dollars ($5, where the agent reports its cost). At 80% the user is told; at 100% the turn is interrupted and the session waits until the user raises or clears it. Optional: the agent profile's budget, if any.")),
		), m.spawnSession)),
		typed(m, tool(ToolSetBudget, "Raise or clear a session's budget",
			"Give a session a new budget, or clear it. A session that used its whole budget waits (waiting.kind budget) until the user raises or clears it; then it is idle again and can be sent work. "+
				"Only the user may change a budget: a session cannot change its own or another's. Ask the user before raising one.",
			hints{idempotent: true}, repoArg(), sessionArg(),
			mcp.WithString("budget", mcp.Description("Tokens (200k, 1.5M, 50000) or US dollars ($5, 2.50 USD). Leave out with clear.")),
			mcp.WithBoolean("clear", mcp.Description("Remove the budget: no limit.")),
		), m.setBudget),
		typed(m, tool(ToolSetNote, "Set a session's intent note",
			"Say what a session is doing now, in one line: the other agents see it when they are about to write where it works, and the person sees it in their editor. "+
				"An agent that has this MCP server can keep its own note current.",
			hints{idempotent: true}, repoArg(), sessionArg(),
			mcp.WithString("note", mcp.Required(), mcp.Description("One line: what the session is doing.")),
		), m.setNote),
		typed(m, tool(ToolListSessions, "List agent sessions",
			"List agent sessions with their state (starting, working, waiting for input, idle, exited, failed, stopped, merged), branch, change counts and predicted conflicts.",
			ro,
			repoArg(),
			mcp.WithBoolean("all_repos", mcp.Description("List sessions of every repository, not only this one.")),
			mcp.WithBoolean("include_removed", mcp.Description("Also list removed and failed sessions.")),
		), m.listSessions),
		typed(m, tool(ToolListSalvage, "List what removed sessions left",
			"List the salvages of this repository: before a session's worktree is removed, studiod keeps its last snapshot, uncommitted work included, "+
				"as refs/studio/salvage/<name>. Each says when, from which session and branch, and what it holds (files, lines, whether uncommitted work is in it). "+
				"The person brings one back with `studiod restore NAME`.",
			ro, repoArg(),
		), m.listSalvage),
		typed(m, tool(ToolGetSession, "Show one session",
			"Show one session: state (and the agent's question when it is waiting), branch, worktree path, changes and predicted conflicts.",
			ro, repoArg(), sessionArg(),
		), m.getSession),
		typed(m, tool(ToolReadOutput, "Read an agent's terminal output",
			"Read what the agent printed to its terminal, as plain text (terminal escapes removed). "+
				"Use tail to see the latest output, or offset/limit to page through it; the result says where the next read starts.",
			ro, repoArg(), sessionArg(),
			mcp.WithInteger("offset", mcp.Description("Byte offset to read from (the previous result's next). Ignored when tail is set."), mcp.Min(0)),
			mcp.WithInteger("limit", mcp.Description(fmt.Sprintf("Maximum bytes to read (default %d, at most %d).", outputDefaultLimit, outputMaxLimit)), mcp.Min(1), mcp.Max(outputMaxLimit)),
			mcp.WithInteger("tail", mcp.Description("Read the last N bytes of output instead of from offset."), mcp.Min(1), mcp.Max(outputMaxLimit)),
		), m.readOutput),
		typed(m, tool(ToolSendInput, "Type into an agent's terminal",
			"Type text into the agent's terminal, for example to answer the question it is waiting on. Presses Enter afterwards unless submit is false.",
			hints{}, repoArg(), sessionArg(),
			mcp.WithString("text", mcp.Required(), mcp.Description("The text to type.")),
			mcp.WithBoolean("submit", mcp.Description("Press Enter after the text (default true).")),
		), m.sendInput),
		typed(m, tool(ToolAnswerSession, "Answer a waiting agent",
			"Answer the question a waiting session asks (get_session shows it under waiting: a permission for a tool, a trust or sign-in screen, or a question). "+
				"Give answer for a permission or screen (allow once, always, reject, never, or the id of an option it offers) or text for a question. "+
				"A question with options to choose from (waiting.options without a kind, as Claude Code's AskUserQuestion) takes an option's id (its number) or its label, as answer or text. "+
				"The first answer wins: a session that is no longer waiting refuses the answer.",
			hints{}, repoArg(), sessionArg(),
			mcp.WithString("answer", mcp.Description("allow, always, reject, never, or the id of an offered option.")),
			mcp.WithString("text", mcp.Description("The answer in words, for a question.")),
		), m.answerSession),
		typed(m, tool(ToolSessionDiff, "Show a session's changes",
			"Show the session's changes as a unified diff, uncommitted work included, against its base (default) or against the current target branch.",
			ro, repoArg(), sessionArg(),
			mcp.WithString("against", mcp.Enum("base", "target"), mcp.Description("Compare with the commit the session started from (base) or the target branch's tip (target).")),
			mcp.WithArray("paths", mcp.WithStringItems(), mcp.Description("Only these repository-relative paths.")),
			mcp.WithBoolean("stat", mcp.Description("Only list files and line counts, no hunks.")),
		), m.sessionDiff),
		typed(m, tool(ToolCheckConflicts, "Check predicted conflicts",
			"Predict where parallel work collides before anything is merged: which sessions (or the target branch) change the same files, and which lines on each side. "+
				"Give session to see one session's collisions, path to ask who else is editing that file, or neither for the whole repository. "+
				"severity conflict means the merge would fail; overlap means both sides change the file but it merges cleanly.",
			ro, repoArg(),
			mcp.WithString("session", mcp.Description("Only conflicts involving this session (name or ID).")),
			mcp.WithString("path", mcp.Description("Only conflicts on this repository-relative file path.")),
		), m.checkConflicts),
		typed(m, tool(ToolAddReviewComment, "Add a review comment",
			"Attach a review comment to lines of a file in the session's work. Comments are queued: send_feedback delivers them to the agent.",
			hints{}, repoArg(), sessionArg(),
			mcp.WithString("path", mcp.Required(), mcp.Description("Repository-relative path of the file.")),
			mcp.WithInteger("start_line", mcp.Required(), mcp.Min(1), mcp.Description("First line (1-based) in the session's version of the file.")),
			mcp.WithInteger("end_line", mcp.Min(1), mcp.Description("Last line, inclusive (default start_line).")),
			mcp.WithString("body", mcp.Required(), mcp.MinLength(1), mcp.Description("What to change and why, addressed to the agent.")),
		), m.addReviewComment),
		typed(m, tool(ToolSendFeedback, "Send review feedback to the agent",
			"Deliver the session's pending review comments to its agent in one message (typed into its terminal, or by resuming it if it has exited).",
			hints{}, repoArg(), sessionArg(),
		), m.sendFeedback),
		typed(m, tool(ToolMergeSession, "Merge a session into its target",
			"Merge the session's branch into its target branch. A backup ref of the old target tip is kept, so the merge can be undone (undo_merge). "+
				"Run with dry_run first to see what would happen; a conflicting merge is refused and lists the conflicts.",
			hints{destructive: true}, repoArg(), sessionArg(),
			mcp.WithString("strategy", mcp.Enum(string(protocol.StrategyMerge), string(protocol.StrategySquash), string(protocol.StrategyRebase)), mcp.Description("How to merge (default: the repository's configured strategy, else merge).")),
			mcp.WithString("message", mcp.Description("Commit message for merge and squash.")),
			mcp.WithBoolean("dry_run", mcp.Description("Only report what the merge would do; change nothing.")),
			mcp.WithBoolean("cleanup", mcp.Description("Remove the session's worktree and branch after a successful merge.")),
		), m.mergeSession),
		typed(m, tool(ToolUndoMerge, "Undo a session's merge",
			"Put the target branch back where it was before the session's last merge (merge_session), from the backup ref kept then, while the target is still at that merge's result: "+
				"refused, changing nothing, once other commits are on the target. The session's own branch is not touched.",
			hints{destructive: true}, repoArg(), sessionArg(),
		), m.undoMerge),
		typed(m, tool(ToolStopSession, "Stop an agent",
			"Stop the session's agent (SIGTERM, then SIGKILL after a grace period). Its worktree, branch and output stay; remove_session deletes them.",
			hints{destructive: true, idempotent: true}, repoArg(), sessionArg(),
			mcp.WithBoolean("force", mcp.Description("Kill at once (SIGKILL) instead of asking it to stop.")),
		), m.stopSession),
		typed(m, tool(ToolRemoveSession, "Remove a session",
			"Remove the session's worktree. Its branch is deleted only when merged (or with force); otherwise it is kept and the result says why. "+
				"A worktree with uncommitted work is refused unless force is set.",
			hints{destructive: true, idempotent: true}, repoArg(), sessionArg(),
			mcp.WithBoolean("keep_branch", mcp.Description("Keep the branch even when it was merged.")),
			mcp.WithBoolean("force", mcp.Description("Also discard uncommitted work and unmerged branches. Only when the user asked for it.")),
		), m.removeSession),
	}, append(m.integrationTools(), m.planTools()...)...)
}

// decodeArgs decodes a tool's arguments strictly: an unknown argument is
// an error, so a misspelt option is reported instead of ignored.
func decodeArgs(req mcp.CallToolRequest, v any) error {
	raw, err := json.Marshal(req.GetRawArguments())
	if err != nil {
		return err
	}
	if string(raw) == "null" {
		raw = []byte("{}")
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("invalid arguments: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

type sessionArgs struct {
	Repo    string `json:"repo"`
	Session string `json:"session"`
}

// ref resolves a session reference. The repo narrows the name to one
// repository; without any, the daemon finds the only session of that name.
func (m *Server) ref(ctx context.Context, a sessionArgs) (protocol.SessionRef, error) {
	if strings.TrimSpace(a.Session) == "" {
		return protocol.SessionRef{}, errors.New("session is required: pass a session name or ID (see list_sessions)")
	}
	repo, err := m.repo(ctx, a.Repo)
	if err != nil && a.Repo != "" {
		return protocol.SessionRef{}, err
	}
	return protocol.SessionRef{Session: a.Session, Repo: repo}, nil
}

// handlerFunc is a tool's work: it gets the decoded arguments and a client
// of the daemon, and returns the structured result and a short summary of
// it for a model to read.
type handlerFunc[A, R any] func(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a A) (R, string, error)

// typed makes a tool from its definition and handler: the output schema is
// generated from the handler's result type R, so the two cannot drift; the
// arguments are decoded into A; any failure becomes a tool error the model
// can act on. The text content is the summary, not R again.
func typed[A, R any](m *Server, t mcp.Tool, fn handlerFunc[A, R]) mcpserver.ServerTool {
	mcp.WithOutputSchema[R]()(&t)
	what := t.Name
	return mcpserver.ServerTool{Tool: t, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var a A
		if err := decodeArgs(req, &a); err != nil {
			return mcp.NewToolResultError(fmt.Sprintf("%s: %v. Check the tool's input schema and retry.", what, err)), nil
		}
		c, err := m.daemon(ctx)
		if err != nil {
			return mcp.NewToolResultError(fmt.Sprintf("%s: cannot reach the studiod daemon: %v. Ask the user to run `studiod doctor`.", what, err)), nil
		}
		res, summary, err := fn(ctx, req, c, a)
		if err != nil {
			return toolError(what, err), nil
		}
		return mcp.NewToolResultStructured(res, summary), nil
	}}
}

// progress reports progress to a client that asked for it with a
// progressToken; it never fails the call.
func progress(ctx context.Context, req mcp.CallToolRequest, done, total float64, msg string) {
	if req.Params.Meta == nil || req.Params.Meta.ProgressToken == nil {
		return
	}
	srv := mcpserver.ServerFromContext(ctx)
	if srv == nil {
		return
	}
	srv.SendNotificationToClient(ctx, string(mcp.MethodNotificationProgress), map[string]any{
		"progressToken": req.Params.Meta.ProgressToken, "progress": done, "total": total, "message": msg,
	})
}

type spawnArgs struct {
	Repo   string   `json:"repo"`
	Prompt string   `json:"prompt"`
	Agent  string   `json:"agent"`
	Name   string   `json:"name"`
	Base   string   `json:"base"`
	Target string   `json:"target"`
	Scopes []string `json:"scopes"`
	Note   string   `json:"note"`
	Budget string   `json:"budget"`
}

type budgetArgs struct {
	sessionArgs
	Budget string `json:"budget"`
	Clear  bool   `json:"clear"`
}

func (m *Server) setBudget(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a budgetArgs) (protocol.Session, string, error) {
	r, err := m.ref(ctx, a.sessionArgs)
	if err != nil {
		return protocol.Session{}, "", argError{err.Error()}
	}
	s, err := c.Budget(ctx, protocol.BudgetParams{SessionRef: r, Budget: a.Budget, Clear: a.Clear})
	if err != nil {
		return protocol.Session{}, "", err
	}
	if s.Budget == nil {
		return *s, fmt.Sprintf("Session %s has no budget now (%s).", s.Name, s.State), nil
	}
	return *s, fmt.Sprintf("Session %s: budget %s (%s).", s.Name, s.Budget.Text, s.State), nil
}

type noteArgs struct {
	sessionArgs
	Note string `json:"note"`
}

func (m *Server) setNote(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a noteArgs) (protocol.Session, string, error) {
	r, err := m.ref(ctx, a.sessionArgs)
	if err != nil {
		return protocol.Session{}, "", argError{err.Error()}
	}
	s, err := c.Note(ctx, protocol.NoteParams{SessionRef: r, Note: a.Note})
	if err != nil {
		return protocol.Session{}, "", err
	}
	return *s, fmt.Sprintf("Session %s: %s", s.Name, s.Note), nil
}

// refuseCommand wraps spawn_session's handler: an MCP client picks an agent
// profile; it never gets to run a command. The schema forbids extra
// properties, and this says why to a client that does not read schemas.
func refuseCommand(t mcpserver.ServerTool) mcpserver.ServerTool {
	h := t.Handler
	t.Handler = func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		args := req.GetArguments()
		for _, k := range []string{"command", "argv", "args", "cmd"} {
			if _, ok := args[k]; ok {
				return mcp.NewToolResultError(fmt.Sprintf("%s: %q is not accepted: an MCP client can only pick an agent profile the user configured (agent), never a command to run.", t.Tool.Name, k)), nil
			}
		}
		return h(ctx, req)
	}
	return t
}

func (m *Server) spawnSession(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a spawnArgs) (protocol.Session, string, error) {
	if a.Agent == "command" {
		return protocol.Session{}, "", argError{`agent profile "command" runs an arbitrary command and is not available to MCP clients; pick a configured agent profile such as claude, codex or demo`}
	}
	repo, err := m.repo(ctx, a.Repo)
	if err != nil {
		return protocol.Session{}, "", argError{err.Error()}
	}
	progress(ctx, req, 0, 2, "creating the worktree and starting the agent")
	s, err := c.Spawn(ctx, protocol.SpawnParams{Repo: repo, Name: a.Name, Agent: a.Agent, Base: a.Base, Target: a.Target, Prompt: a.Prompt,
		Scopes: a.Scopes, Note: a.Note, Budget: a.Budget})
	if err != nil {
		return protocol.Session{}, "", err
	}
	progress(ctx, req, 2, 2, "agent started")
	return *s, fmt.Sprintf("Started session %s (agent %s) on branch %s in %s. Follow it with get_session or read_output.", s.Name, s.Agent, s.Branch, s.Worktree), nil
}

type listArgs struct {
	Repo           string `json:"repo"`
	AllRepos       bool   `json:"all_repos"`
	IncludeRemoved bool   `json:"include_removed"`
}

func (m *Server) listSessions(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a listArgs) (protocol.SessionsResult, string, error) {
	p := protocol.SessionsParams{All: a.IncludeRemoved}
	if !a.AllRepos {
		repo, err := m.repo(ctx, a.Repo)
		if err != nil && a.Repo != "" {
			return protocol.SessionsResult{}, "", argError{err.Error()}
		}
		p.Repo = repo
	}
	res, err := c.Sessions(ctx, p)
	if err != nil {
		return protocol.SessionsResult{}, "", err
	}
	if res.Sessions == nil {
		res.Sessions = []protocol.Session{}
	}
	return *res, sessionsSummary(res.Sessions), nil
}

// sessionsSummary lists sessions, one short line each.
func sessionsSummary(ss []protocol.Session) string {
	if len(ss) == 0 {
		return "No sessions."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d session(s):", len(ss))
	for _, s := range ss {
		b.WriteString("\n- " + sessionLine(s))
	}
	return b.String()
}

// sessionLine says what a session is doing: "feat (claude): waiting
// (Proceed?), 2 file(s) +10 -3, 1 predicted conflict(s)".
func sessionLine(s protocol.Session) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s", s.Name, s.Agent, s.State)
	if s.State == protocol.StateExited && s.ExitCode != nil {
		fmt.Fprintf(&b, " with code %d", *s.ExitCode)
	}
	if s.Detail != "" {
		fmt.Fprintf(&b, " (%s)", toolWords(s.Detail))
	}
	fmt.Fprintf(&b, ", %d file(s) +%d -%d", s.Changes.Files, s.Changes.Additions, s.Changes.Deletions)
	if s.Conflicts > 0 {
		fmt.Fprintf(&b, ", %d predicted conflict(s)", s.Conflicts)
	}
	return b.String()
}

func (m *Server) getSession(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a sessionArgs) (protocol.Session, string, error) {
	r, err := m.ref(ctx, a)
	if err != nil {
		return protocol.Session{}, "", argError{err.Error()}
	}
	s, err := c.Session(ctx, r)
	if err != nil {
		return protocol.Session{}, "", err
	}
	text := fmt.Sprintf("Session %s; branch %s → %s; worktree %s.", sessionLine(*s), s.Branch, s.Target, s.Worktree)
	if s.Usage != nil {
		text += " Model usage: " + s.Usage.String() + "."
	}
	return *s, text, nil
}

type outputArgs struct {
	sessionArgs
	Offset *int64 `json:"offset"`
	Limit  int    `json:"limit"`
	Tail   int    `json:"tail"`
}

// outputInfo is read_output's structured result.
type outputInfo struct {
	Text   string `json:"text"`
	Offset int64  `json:"offset"`
	Next   int64  `json:"next"`
	Size   int64  `json:"size"`
	Done   bool   `json:"done"`
}

func (m *Server) readOutput(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a outputArgs) (outputInfo, string, error) {
	r, err := m.ref(ctx, a.sessionArgs)
	if err != nil {
		return outputInfo{}, "", argError{err.Error()}
	}
	if a.Limit < 0 || a.Tail < 0 || a.Offset != nil && *a.Offset < 0 {
		return outputInfo{}, "", argError{"offset, limit and tail must not be negative"}
	}
	p := protocol.OutputParams{SessionRef: r, Limit: min(cmp0(a.Limit, outputDefaultLimit), outputMaxLimit)}
	switch {
	case a.Tail > 0:
		p.Offset = -int64(min(a.Tail, outputMaxLimit))
		p.Limit = min(a.Tail, outputMaxLimit)
	case a.Offset != nil:
		p.Offset = *a.Offset
	}
	out, err := c.Output(ctx, p)
	if err != nil {
		return outputInfo{}, "", err
	}
	info := outputInfo{Text: plainText(out.Data), Offset: out.Offset, Next: out.Next, Size: out.Size, Done: out.Done}
	more := "the agent may write more"
	switch {
	case out.Next < out.Size:
		more = fmt.Sprintf("more output follows: read again with offset %d", out.Next)
	case out.Done:
		more = "the agent has exited; this is the end"
	}
	// The output is what a model reads here: it follows the summary.
	return info, fmt.Sprintf("[bytes %d-%d of %d; %s]\n%s", out.Offset, out.Next, out.Size, more, info.Text), nil
}

func cmp0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

type sendArgs struct {
	sessionArgs
	Text   string `json:"text"`
	Submit *bool  `json:"submit"`
}

func (m *Server) sendInput(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a sendArgs) (protocol.SendResult, string, error) {
	r, err := m.ref(ctx, a.sessionArgs)
	if err != nil {
		return protocol.SendResult{}, "", argError{err.Error()}
	}
	res, err := c.Send(ctx, protocol.SendParams{SessionRef: r, Text: a.Text, Submit: a.Submit})
	if err != nil {
		return protocol.SendResult{}, "", err
	}
	return *res, fmt.Sprintf("Sent to %s (%s); it is now %s.", res.Session.Name, deliveryText(res.Delivery), res.Session.State), nil
}

// deliveryText says whether the agent confirmed a delivery.
func deliveryText(d protocol.Delivery) string {
	switch {
	case d.Confirmed:
		return "the agent confirmed it took the prompt"
	case d.Queued:
		return "queued: the agent is busy with a turn; this becomes its next prompt when that one ends"
	case d.Via == "resume":
		return "the agent was resumed with it"
	case d.Note != "":
		return toolWords(d.Note)
	}
	return "typed, not confirmed"
}

type answerArgs struct {
	sessionArgs
	Answer string `json:"answer"`
	Text   string `json:"text"`
}

func (m *Server) answerSession(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a answerArgs) (protocol.AnswerResult, string, error) {
	r, err := m.ref(ctx, a.sessionArgs)
	if err != nil {
		return protocol.AnswerResult{}, "", argError{err.Error()}
	}
	if (a.Answer == "") == (a.Text == "") {
		return protocol.AnswerResult{}, "", argError{"give answer (allow, always, reject, never, or an offered option's id) or text, one of the two"}
	}
	res, err := c.Answer(ctx, protocol.AnswerParams{SessionRef: r, Answer: protocol.Answer(a.Answer), Text: a.Text})
	if err != nil {
		return protocol.AnswerResult{}, "", err
	}
	return *res, fmt.Sprintf("Answered %s (%s); it is now %s.", res.Session.Name, deliveryText(res.Delivery), res.Session.State), nil
}

type diffArgs struct {
	sessionArgs
	Against string   `json:"against"`
	Paths   []string `json:"paths"`
	Stat    bool     `json:"stat"`
}

func (m *Server) sessionDiff(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a diffArgs) (protocol.DiffResult, string, error) {
	r, err := m.ref(ctx, a.sessionArgs)
	if err != nil {
		return protocol.DiffResult{}, "", argError{err.Error()}
	}
	if a.Against != "" && a.Against != "base" && a.Against != "target" {
		return protocol.DiffResult{}, "", argError{fmt.Sprintf("against must be base or target, not %q", a.Against)}
	}
	d, err := c.Diff(ctx, protocol.DiffParams{SessionRef: r, Against: a.Against, Paths: a.Paths, Stat: a.Stat})
	if err != nil {
		return protocol.DiffResult{}, "", err
	}
	if d.Files == nil {
		d.Files = []protocol.FileDiff{}
	}
	if a.Stat {
		var b strings.Builder
		b.WriteString(diffSummary(d))
		for _, f := range d.Files {
			fmt.Fprintf(&b, "\n- %s %s +%d -%d", f.Path, f.Status, f.Additions, f.Deletions)
		}
		return *d, b.String(), nil
	}
	return *d, diffText(d), nil
}

// diffText is a diff for a model: a one-line summary, then the unified
// diff (protocol.UnifiedDiff).
func diffText(d *protocol.DiffResult) string {
	return diffSummary(d) + "\n" + protocol.UnifiedDiff(d.Files)
}

// diffSummary says how big a diff is, in one line.
func diffSummary(d *protocol.DiffResult) string {
	return fmt.Sprintf("%d file(s) changed, +%d -%d (%.12s..%.12s)", len(d.Files), d.Stats.Additions, d.Stats.Deletions, d.From, d.To)
}

type conflictsArgs struct {
	Repo    string `json:"repo"`
	Session string `json:"session"`
	Path    string `json:"path"`
}

func (m *Server) checkConflicts(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a conflictsArgs) (conflictsResult, string, error) {
	repo, err := m.repo(ctx, a.Repo)
	if err != nil && (a.Repo != "" || a.Session == "") {
		return conflictsResult{}, "", argError{err.Error()}
	}
	res, err := c.Conflicts(ctx, protocol.ConflictsParams{Repo: repo, Session: a.Session, Path: a.Path})
	if err != nil {
		return conflictsResult{}, "", err
	}
	if res.Conflicts == nil {
		res.Conflicts = []protocol.Conflict{}
	}
	out := conflictsResult{ConflictsResult: *res}
	summary := "No predicted conflicts or overlaps."
	if len(res.Conflicts) > 0 {
		summary = fmt.Sprintf("%d predicted collision(s):\n%s", len(res.Conflicts), conflictsText(res.Conflicts))
	}
	// By path: who else is editing the file, with their lines, scopes
	// and notes.
	if a.Path != "" && repo != "" {
		who, err := c.Who(ctx, protocol.WhoParams{Repo: repo, Path: a.Path})
		if err != nil {
			return conflictsResult{}, "", err
		}
		out.Editing = who.Sessions
		summary += "\n" + whoText(who)
	}
	return out, summary, nil
}

// conflictsResult is check_conflicts' result: the conflicts, and by path
// the sessions editing the file.
type conflictsResult struct {
	protocol.ConflictsResult
	Editing []protocol.Presence `json:"editing,omitempty"`
}

// whoText says who edits a file, one line per session.
func whoText(w *protocol.WhoResult) string {
	if len(w.Sessions) == 0 {
		return "No session changes " + w.Path + "."
	}
	lines := []string{fmt.Sprintf("Sessions changing %s:", w.Path)}
	for _, p := range w.Sessions {
		l := fmt.Sprintf("- %s (%s, %s): %s", p.Session, p.Agent, p.State, protocol.FormatRanges(p.Ranges))
		if len(p.Scope) > 0 {
			l += "; scope " + strings.Join(p.Scope, ", ")
			if !p.InScope {
				l += " (this file is outside it)"
			}
		}
		if p.Note != "" {
			l += "; working on: " + p.Note
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

// conflictsText says who collides where, one line per conflict.
func conflictsText(cs []protocol.Conflict) string {
	cs = append([]protocol.Conflict(nil), cs...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Path < cs[j].Path })
	var lines []string
	for _, c := range cs {
		lines = append(lines, fmt.Sprintf("- %s: %s (%s) between %s and %s", c.Path, c.Severity, c.Kind, sideText(c.A), sideText(c.B)))
	}
	return strings.Join(lines, "\n")
}

func sideText(s protocol.Side) string {
	if len(s.Ranges) == 0 {
		return s.Session
	}
	return s.Session + " " + protocol.FormatRanges(s.Ranges)
}

type commentArgs struct {
	sessionArgs
	Path      string `json:"path"`
	StartLine int    `json:"start_line"`
	EndLine   int    `json:"end_line"`
	Body      string `json:"body"`
}

func (m *Server) addReviewComment(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a commentArgs) (protocol.Comment, string, error) {
	r, err := m.ref(ctx, a.sessionArgs)
	if err != nil {
		return protocol.Comment{}, "", argError{err.Error()}
	}
	if a.Path == "" || a.StartLine < 1 || strings.TrimSpace(a.Body) == "" {
		return protocol.Comment{}, "", argError{"path, start_line (1 or more) and body are required"}
	}
	if a.EndLine != 0 && a.EndLine < a.StartLine {
		return protocol.Comment{}, "", argError{"end_line must not be before start_line"}
	}
	cm, err := c.Comment(ctx, protocol.CommentParams{SessionRef: r, Path: a.Path, StartLine: a.StartLine, EndLine: a.EndLine, Body: a.Body, By: m.cfg.Session})
	if err != nil {
		return protocol.Comment{}, "", err
	}
	lines := protocol.FormatRanges([]protocol.Range{{Start: cm.StartLine, End: max(cm.EndLine, cm.StartLine)}})
	return *cm, fmt.Sprintf("Comment %d queued on %s, %s. Call send_feedback to deliver pending comments to the agent.", cm.ID, cm.Path, lines), nil
}

func (m *Server) sendFeedback(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a sessionArgs) (protocol.FeedbackResult, string, error) {
	r, err := m.ref(ctx, a)
	if err != nil {
		return protocol.FeedbackResult{}, "", argError{err.Error()}
	}
	fb, err := c.Feedback(ctx, r)
	if err != nil {
		return protocol.FeedbackResult{}, "", err
	}
	return *fb, fmt.Sprintf("Sent %d comment(s) to the agent: %s.", fb.Sent, deliveryText(fb.Delivery)), nil
}

func (m *Server) undoMerge(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a sessionArgs) (protocol.UndoResult, string, error) {
	r, err := m.ref(ctx, a)
	if err != nil {
		return protocol.UndoResult{}, "", argError{err.Error()}
	}
	res, err := c.Undo(ctx, r)
	if err != nil {
		return protocol.UndoResult{}, "", err
	}
	return *res, fmt.Sprintf("Undid the merge of %s: %s is back at %.12s (the undone merge was %.12s).", a.Session, res.Target, res.Restored, res.Undone), nil
}

type mergeArgs struct {
	sessionArgs
	Strategy protocol.Strategy `json:"strategy"`
	Message  string            `json:"message"`
	DryRun   bool              `json:"dry_run"`
	Cleanup  bool              `json:"cleanup"`
}

func (m *Server) mergeSession(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a mergeArgs) (protocol.MergeResult, string, error) {
	r, err := m.ref(ctx, a.sessionArgs)
	if err != nil {
		return protocol.MergeResult{}, "", argError{err.Error()}
	}
	switch a.Strategy {
	case "", protocol.StrategyMerge, protocol.StrategySquash, protocol.StrategyRebase:
	default:
		return protocol.MergeResult{}, "", argError{fmt.Sprintf("strategy must be merge, squash or rebase, not %q", a.Strategy)}
	}
	progress(ctx, req, 0, 1, "merging "+a.Session)
	res, err := c.Merge(ctx, protocol.MergeParams{SessionRef: r, Strategy: a.Strategy, Message: a.Message, DryRun: a.DryRun, Cleanup: a.Cleanup})
	if err != nil {
		return protocol.MergeResult{}, "", err
	}
	progress(ctx, req, 1, 1, "merged")
	summary := fmt.Sprintf("Merged %s into %s (%s, %d file(s)): %.12s → %.12s. The old tip is kept in %s; undo the merge with %s {\"session\":%q}.", res.Session.Name, res.Target, res.Strategy, res.Files, res.Old, res.New, res.Backup, ToolUndoMerge, res.Session.Name)
	if res.DryRun {
		summary = fmt.Sprintf("Dry run: %s would merge cleanly into %s (%s, %d file(s)). Nothing changed.", res.Session.Name, res.Target, res.Strategy, res.Files)
	}
	return *res, summary, nil
}

type stopArgs struct {
	sessionArgs
	Force bool `json:"force"`
}

func (m *Server) stopSession(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a stopArgs) (protocol.Session, string, error) {
	r, err := m.ref(ctx, a.sessionArgs)
	if err != nil {
		return protocol.Session{}, "", argError{err.Error()}
	}
	s, err := c.Stop(ctx, protocol.StopParams{SessionRef: r, Force: a.Force})
	if err != nil {
		return protocol.Session{}, "", err
	}
	return *s, fmt.Sprintf("Session %s is %s.", s.Name, s.State), nil
}

type removeArgs struct {
	sessionArgs
	KeepBranch bool `json:"keep_branch"`
	Force      bool `json:"force"`
}

func (m *Server) removeSession(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a removeArgs) (protocol.RemoveResult, string, error) {
	r, err := m.ref(ctx, a.sessionArgs)
	if err != nil {
		return protocol.RemoveResult{}, "", argError{err.Error()}
	}
	res, err := c.Remove(ctx, protocol.RemoveParams{SessionRef: r, KeepBranch: a.KeepBranch, Force: a.Force})
	if err != nil {
		return protocol.RemoveResult{}, "", err
	}
	summary := fmt.Sprintf("Removed session %s; branch %s deleted.", res.Session.Name, res.Session.Branch)
	if !res.BranchDeleted {
		summary = fmt.Sprintf("Removed session %s; branch %s kept (%s).", res.Session.Name, res.Session.Branch, res.BranchKept)
	}
	return *res, summary, nil
}

// Resource URIs.
const (
	sessionsURI = "studio://sessions"
)

func sessionURI(name, what string) string { return "studio://sessions/" + name + "/" + what }

// Resources returns the fixed resources.
func (m *Server) Resources() []mcpserver.ServerResource {
	return append([]mcpserver.ServerResource{{
		Resource: mcp.NewResource(sessionsURI, "sessions",
			mcp.WithResourceDescription("Every agent session of this repository (all repositories over HTTP), as JSON. Subscribe to be told when any session changes."),
			mcp.WithMIMEType("application/json")),
		Handler: m.readSessions,
	}}, append(m.integrationResources(), m.planResources()...)...)
}

// ResourceTemplates returns the per-session resources.
func (m *Server) ResourceTemplates() []mcpserver.ServerResourceTemplate {
	return []mcpserver.ServerResourceTemplate{
		{
			Template: mcp.NewResourceTemplate("studio://sessions/{name}/diff", "session diff",
				mcp.WithTemplateDescription("The session's changes against its base as a unified diff, uncommitted work included."),
				mcp.WithTemplateMIMEType("text/x-diff")),
			Handler: m.readDiff,
		},
		{
			Template: mcp.NewResourceTemplate("studio://sessions/{name}/output", "session output",
				mcp.WithTemplateDescription("The last 64 KiB of the agent's terminal output as plain text."),
				mcp.WithTemplateMIMEType("text/plain")),
			Handler: m.readOutputResource,
		},
	}
}

func (m *Server) readSessions(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	c, err := m.daemon(ctx)
	if err != nil {
		return nil, err
	}
	repo, _ := m.repo(ctx, "")
	res, err := c.Sessions(ctx, protocol.SessionsParams{Repo: repo})
	if err != nil {
		return nil, err
	}
	if res.Sessions == nil {
		res.Sessions = []protocol.Session{}
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: "application/json", Text: string(b)}}, nil
}

// templateRef is the session a per-session resource names.
func (m *Server) templateRef(ctx context.Context, req mcp.ReadResourceRequest) (protocol.SessionRef, error) {
	var name string
	switch v := req.Params.Arguments["name"].(type) {
	case string:
		name = v
	case []string:
		if len(v) > 0 {
			name = v[0]
		}
	}
	if name == "" {
		return protocol.SessionRef{}, fmt.Errorf("no session name in %s", req.Params.URI)
	}
	repo, _ := m.repo(ctx, "")
	return protocol.SessionRef{Session: name, Repo: repo}, nil
}

func (m *Server) readDiff(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	r, err := m.templateRef(ctx, req)
	if err != nil {
		return nil, err
	}
	c, err := m.daemon(ctx)
	if err != nil {
		return nil, err
	}
	d, err := c.Diff(ctx, protocol.DiffParams{SessionRef: r})
	if err != nil {
		return nil, err
	}
	// A valid unified diff, and nothing else: what `git apply` or an
	// editor's diff view takes.
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: "text/x-diff", Text: protocol.UnifiedDiff(d.Files)}}, nil
}

func (m *Server) readOutputResource(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	r, err := m.templateRef(ctx, req)
	if err != nil {
		return nil, err
	}
	c, err := m.daemon(ctx)
	if err != nil {
		return nil, err
	}
	out, err := c.Output(ctx, protocol.OutputParams{SessionRef: r, Offset: -(64 << 10), Limit: 64 << 10})
	if err != nil {
		return nil, err
	}
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: "text/plain", Text: plainText(out.Data)}}, nil
}

type salvageArgs struct {
	Repo string `json:"repo"`
}

func (m *Server) listSalvage(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a salvageArgs) (protocol.SalvageResult, string, error) {
	repo, err := m.repo(ctx, a.Repo)
	if err != nil {
		return protocol.SalvageResult{}, "", argError{err.Error()}
	}
	res, err := c.Salvage(ctx, protocol.SalvageParams{Repo: repo})
	if err != nil {
		return protocol.SalvageResult{}, "", err
	}
	if len(res.Salvages) == 0 {
		return *res, "No salvage: removed sessions left no work behind.", nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d salvage(s):", len(res.Salvages))
	for _, sv := range res.Salvages {
		fmt.Fprintf(&b, "\n- %s (from session %s, %s): %d file(s) +%d -%d", sv.Name, sv.Session, sv.When.Format("2006-01-02 15:04"), sv.Changes.Files, sv.Changes.Additions, sv.Changes.Deletions)
		if sv.Uncommitted {
			b.WriteString(", uncommitted work included")
		}
	}
	return *res, b.String(), nil
}
