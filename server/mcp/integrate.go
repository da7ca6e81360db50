package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/studiod/studiod/protocol"
)

// Integration tools: preview the combination of sessions, land them as a
// merge queue, bring the target into a session.
const (
	ToolPreviewIntegration = "preview_integration"
	ToolLandSessions       = "land_sessions"
	ToolSyncSession        = "sync_session"
	ToolUndoLand           = "undo_land"
)

// previewURI is the live preview of the client's repository.
const previewURI = "studio://preview"

func sessionsArg(desc string) mcp.ToolOption {
	return mcp.WithArray("sessions", mcp.WithStringItems(), mcp.Description(desc))
}

// integrationTools are the tools over studio/preview, studio/land and
// studio/sync.
func (m *Server) integrationTools() []mcpserver.ServerTool {
	return []mcpserver.ServerTool{
		typed(m, tool(ToolPreviewIntegration, "Preview integrating the sessions",
			"Fold the sessions' work (uncommitted included) onto their target branch in memory, touching nothing: which sessions combine cleanly, "+
				"which conflict with which (files and lines), and the landing order that lands the most of them with no conflict, with the reason each other session is left out. "+
				"With check, the repository's configured check command runs on the combination in a scratch worktree and a failure is bisected to the session or pair that breaks it (this can take as long as the check). "+
				"Read it before land_sessions.",
			hints{readOnly: true, idempotent: true},
			repoArg(),
			sessionsArg("Sessions (names or IDs) in order of preference. Optional: every live or finished session not yet merged, oldest first."),
			mcp.WithString("target", mcp.Description("Branch to fold onto. Optional: the sessions' target.")),
			mcp.WithBoolean("check", mcp.Description("Run the repository's configured check command ([check] command in .studio.toml) on the combination.")),
		), m.previewIntegration),
		typed(m, tool(ToolLandSessions, "Land sessions as a merge queue",
			"Merge sessions into their target one by one, in the preview's landing order (or the order given): each merge is built, checked when check is set, and only then moves the target, "+
				"with a backup ref so the whole queue can be undone (undo_land). It stops at the first session that conflicts or fails the check; "+
				"with send_failures that session's agent gets the conflict list or the check's output. Without sessions the queue is the landing order followed by the sessions left out, "+
				"so it stops at the first of those and says why.",
			hints{destructive: true},
			repoArg(),
			sessionsArg("The queue (names or IDs), in order. Optional: the landing order, then the sessions left out."),
			mcp.WithString("strategy", mcp.Enum(string(protocol.StrategyMerge), string(protocol.StrategySquash), string(protocol.StrategyRebase)), mcp.Description("How each session is merged (default: the repository's configured strategy, else merge).")),
			mcp.WithBoolean("check", mcp.Description("Check each merge's result with the configured check command before the target moves.")),
			mcp.WithBoolean("send_failures", mcp.Description("Send the conflicts or the check's output to the agent of the session the queue stops at.")),
			mcp.WithString("resume", mcp.Description("Continue the land queue with this ID (or last) after it was cut short.")),
		), m.landSessions),
		typed(m, tool(ToolSyncSession, "Bring the target into a session",
			"Bring the target branch's new commits into the session's branch (merge, or rebase its commits onto the target), after checkpointing its uncommitted work. "+
				"Refused, changing nothing, when it would conflict: the result lists the conflicts, and with send they go to the agent as a task.",
			hints{destructive: true}, repoArg(), sessionArg(),
			mcp.WithString("strategy", mcp.Enum(string(protocol.StrategyMerge), string(protocol.StrategyRebase)), mcp.Description("merge (default) or rebase.")),
			mcp.WithBoolean("send", mcp.Description("When refused, send the conflict list to the agent so it resolves them.")),
		), m.syncSession),
		typed(m, tool(ToolUndoLand, "Undo a land",
			"Put the target branch back where it was before a land queue (land_sessions) moved it, undoing every merge of the queue, while the target is still at the queue's last merge.",
			hints{destructive: true}, repoArg(),
			mcp.WithString("land", mcp.Required(), mcp.MinLength(1), mcp.Description("The land's ID, as land_sessions returned it, or last for the repository's latest.")),
		), m.undoLand),
	}
}

type undoLandArgs struct {
	Repo string `json:"repo"`
	Land string `json:"land"`
}

func (m *Server) undoLand(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a undoLandArgs) (protocol.UndoLandResult, string, error) {
	repo, err := m.repo(ctx, a.Repo)
	if err != nil {
		return protocol.UndoLandResult{}, "", argError{err.Error()}
	}
	r, err := c.UndoLand(ctx, protocol.UndoLandParams{Repo: repo, Land: a.Land})
	if err != nil {
		return protocol.UndoLandResult{}, "", err
	}
	return *r, fmt.Sprintf("Undid land %s: %s is back at %.12s (undone: %s).", r.ID, r.Target, r.Restored, strings.Join(r.Sessions, ", ")), nil
}

type previewArgs struct {
	Repo     string   `json:"repo"`
	Sessions []string `json:"sessions"`
	Target   string   `json:"target"`
	Check    bool     `json:"check"`
}

func (m *Server) previewIntegration(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a previewArgs) (protocol.Preview, string, error) {
	repo, err := m.repo(ctx, a.Repo)
	if err != nil {
		return protocol.Preview{}, "", argError{err.Error()}
	}
	if a.Check {
		progress(ctx, req, 0, 1, "folding the sessions and running the check")
	}
	pv, err := c.Preview(ctx, protocol.PreviewParams{Repo: repo, Sessions: a.Sessions, Target: a.Target, Check: a.Check})
	if err != nil {
		return protocol.Preview{}, "", err
	}
	return *pv, previewText(pv), nil
}

// previewText says what a preview found, for a model to read first.
func previewText(pv *protocol.Preview) string {
	var b strings.Builder
	if len(pv.Sessions) == 0 {
		return fmt.Sprintf("No session of %s has work to land on %s.", pv.Repo, pv.Target)
	}
	if len(pv.Order) == 0 {
		fmt.Fprintf(&b, "No session can land on %s without a conflict.", pv.Target)
	} else {
		fmt.Fprintf(&b, "Landing order onto %s: %s.", pv.Target, strings.Join(pv.Order, ", "))
	}
	for _, ps := range pv.Sessions {
		if ps.Position == 0 {
			fmt.Fprintf(&b, "\n- %s left out (%s): %s", ps.Session, ps.Status, ps.Reason)
			if fix := toolFix(protocol.ErrorData{Fix: ps.Fix, Session: ps.Session}); fix != "" {
				b.WriteString(". " + fix)
			}
		}
	}
	if ck := pv.Check; ck != nil {
		fmt.Fprintf(&b, "\nCheck `%s`: %s", ck.Command, ck.Status)
		if ck.Reason != "" {
			fmt.Fprintf(&b, ": %s", ck.Reason)
		}
		if ck.Status != protocol.CheckPassed && ck.Tail != "" {
			fmt.Fprintf(&b, "\nLast lines of %s:\n%s", ck.Log, ck.Tail)
		}
	}
	if len(pv.Order) > 0 {
		b.WriteString("\nland_sessions lands them in this order.")
	}
	return b.String()
}

type landArgs struct {
	Repo         string            `json:"repo"`
	Sessions     []string          `json:"sessions"`
	Strategy     protocol.Strategy `json:"strategy"`
	Check        bool              `json:"check"`
	SendFailures bool              `json:"send_failures"`
	Resume       string            `json:"resume"`
}

func (m *Server) landSessions(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a landArgs) (protocol.LandResult, string, error) {
	repo, err := m.repo(ctx, a.Repo)
	if err != nil {
		return protocol.LandResult{}, "", argError{err.Error()}
	}
	switch a.Strategy {
	case "", protocol.StrategyMerge, protocol.StrategySquash, protocol.StrategyRebase:
	default:
		return protocol.LandResult{}, "", argError{fmt.Sprintf("strategy must be merge, squash or rebase, not %q", a.Strategy)}
	}
	progress(ctx, req, 0, 1, "landing")
	r, err := c.Land(ctx, protocol.LandParams{Repo: repo, Sessions: a.Sessions, Strategy: a.Strategy, Check: a.Check, SendFailures: a.SendFailures, Resume: a.Resume})
	if err != nil {
		return protocol.LandResult{}, "", err
	}
	progress(ctx, req, 1, 1, string(r.Status))
	var b strings.Builder
	var names []string
	for _, d := range r.Landed {
		names = append(names, d.Session)
	}
	if len(names) > 0 {
		fmt.Fprintf(&b, "Landed %s on %s (%.12s → %.12s); undo them all with %s {\"land\":%q}.", strings.Join(names, ", "), r.Target, r.Old, r.New, ToolUndoLand, r.ID)
	} else {
		fmt.Fprintf(&b, "Landed nothing on %s.", r.Target)
	}
	if st := r.Stopped; st != nil {
		fmt.Fprintf(&b, "\nStopped at %s (%s): %s", st.Session, st.Reason, st.Message)
		if len(st.Conflicts) > 0 {
			fmt.Fprintf(&b, "\nConflicts:\n%s", conflictsText(st.Conflicts))
		}
		if st.Check != nil && st.Check.Tail != "" {
			fmt.Fprintf(&b, "\nLast lines of the check:\n%s", st.Check.Tail)
		}
		if st.Sent {
			fmt.Fprintf(&b, "\nThe failure was sent to %s's agent; follow it with get_session or read_output.", st.Session)
		} else {
			b.WriteString("\nTell the session's agent (send_input), or call again with send_failures.")
		}
	}
	if len(r.Remaining) > 0 {
		fmt.Fprintf(&b, "\nNot tried: %s.", strings.Join(r.Remaining, ", "))
	}
	return *r, b.String(), nil
}

type syncArgs struct {
	sessionArgs
	Strategy protocol.Strategy `json:"strategy"`
	Send     bool              `json:"send"`
}

func (m *Server) syncSession(ctx context.Context, req mcp.CallToolRequest, c *protocol.Client, a syncArgs) (protocol.SyncResult, string, error) {
	r, err := m.ref(ctx, a.sessionArgs)
	if err != nil {
		return protocol.SyncResult{}, "", argError{err.Error()}
	}
	switch a.Strategy {
	case "", protocol.StrategyMerge, protocol.StrategyRebase:
	default:
		return protocol.SyncResult{}, "", argError{fmt.Sprintf("strategy must be merge or rebase, not %q", a.Strategy)}
	}
	res, err := c.Sync(ctx, protocol.SyncParams{SessionRef: r, Strategy: a.Strategy, Send: a.Send})
	if err != nil {
		return protocol.SyncResult{}, "", err
	}
	summary := fmt.Sprintf("Synced %s with %s at %.12s (%s): %.12s → %.12s; the old tip is kept in %s.", res.Session.Name, res.Target, res.TargetTip, res.Strategy, res.Old, res.New, res.Backup)
	if res.UpToDate {
		summary = fmt.Sprintf("%s already has %s at %.12s: nothing to do.", res.Session.Name, res.Target, res.TargetTip)
	}
	return *res, summary, nil
}

// integrationResources is the live preview.
func (m *Server) integrationResources() []mcpserver.ServerResource {
	return []mcpserver.ServerResource{{
		Resource: mcp.NewResource(previewURI, "integration preview",
			mcp.WithResourceDescription("The preview of this repository's sessions folded onto their target (landing order, conflicts, check), as JSON. It is live: subscribe to be told when it is recomputed."),
			mcp.WithMIMEType("application/json")),
		Handler: m.readPreview,
	}}
}

func (m *Server) readPreview(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	return repoResource(ctx, m, req, func(c *protocol.Client, repo string) (*protocol.Preview, error) {
		return c.Preview(ctx, protocol.PreviewParams{Repo: repo})
	})
}

// repoResource reads a live resource of the client's repository: what
// fetch asks the daemon for, as indented JSON.
func repoResource[R any](ctx context.Context, m *Server, req mcp.ReadResourceRequest, fetch func(c *protocol.Client, repo string) (*R, error)) ([]mcp.ResourceContents, error) {
	c, err := m.daemon(ctx)
	if err != nil {
		return nil, err
	}
	repo, err := m.repo(ctx, "")
	if err != nil {
		return nil, err
	}
	res, err := fetch(c, repo)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: "application/json", Text: string(b)}}, nil
}
