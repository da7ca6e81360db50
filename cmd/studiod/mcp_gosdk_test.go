package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
	mcpface "github.com/studiod/studiod/server/mcp"
)

// goSDK is `studiod mcp` driven over stdio by the official Go MCP SDK, a
// client the face's own code does not share anything with.
type goSDK struct {
	t       *testing.T
	session *sdk.ClientSession
	// schemas are the tools' declared output schemas, resolved with
	// google/jsonschema-go as the SDK resolves its own.
	schemas map[string]*jsonschema.Resolved
}

func newGoSDK(t *testing.T, home, dir string) *goSDK {
	t.Helper()
	cmd := exec.Command("studiod", "mcp")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	client := sdk.NewClient(&sdk.Implementation{Name: "go-sdk-test", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	session, err := client.Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { session.Close() })
	g := &goSDK{t: t, session: session, schemas: map[string]*jsonschema.Resolved{}}
	tools, err := session.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	for _, tl := range tools.Tools {
		if tl.OutputSchema == nil {
			t.Errorf("%s declares no output schema", tl.Name)
			continue
		}
		b, _ := json.Marshal(tl.OutputSchema)
		var s jsonschema.Schema
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("%s: output schema %s: %v", tl.Name, b, err)
		}
		if s.Type != "object" {
			t.Errorf("%s: output schema type %q, want object", tl.Name, s.Type)
		}
		r, err := s.Resolve(nil)
		if err != nil {
			t.Fatalf("%s: output schema does not resolve: %v", tl.Name, err)
		}
		g.schemas[tl.Name] = r
	}
	if len(g.schemas) != 25 {
		t.Fatalf("got %d tools with output schemas, want 25", len(g.schemas))
	}
	return g
}

// call calls a tool that must succeed, checks its structured content
// against the declared schema and its text for a summary, and decodes the
// structured content into v.
func (g *goSDK) call(name string, args map[string]any, v any) string {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(g.t.Context(), 60*time.Second)
	defer cancel()
	res, err := g.session.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		g.t.Fatalf("%s: %v", name, err)
	}
	text := sdkText(res)
	if res.IsError {
		g.t.Fatalf("%s: tool error %q", name, text)
	}
	if res.StructuredContent == nil {
		g.t.Fatalf("%s: no structured content", name)
	}
	// Validate the value as it came over the wire.
	b, _ := json.Marshal(res.StructuredContent)
	var value any
	json.Unmarshal(b, &value)
	if err := g.schemas[name].Validate(value); err != nil {
		g.t.Fatalf("%s: structured content %s does not match the output schema: %v", name, b, err)
	}
	// The text is a short summary for a model, not the JSON again.
	if text == "" || json.Valid([]byte(strings.TrimSpace(text))) || strings.Contains(text, `"id":`) {
		g.t.Fatalf("%s: text content %q is not a summary", name, text)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			g.t.Fatalf("%s: %s: %v", name, b, err)
		}
	}
	return text
}

// callError calls a tool that must fail and returns its error text.
func (g *goSDK) callError(name string, args map[string]any) string {
	g.t.Helper()
	res, err := g.session.CallTool(g.t.Context(), &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		g.t.Fatalf("%s: protocol error %v, want a tool error", name, err)
	}
	if !res.IsError {
		g.t.Fatalf("%s: succeeded with %q, want a tool error", name, sdkText(res))
	}
	return sdkText(res)
}

func sdkText(res *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// TestMCPGoSDK calls every tool through the official Go MCP SDK over
// stdio, validating each result against the tool's declared output schema,
// and reads the session's diff resource, which git must be able to apply.
func TestMCPGoSDK(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n", "app.go": "package app\n"})
	// The demo agent waits for its question's answer however long the
	// calls before it take.
	d := startDaemonEnv(t, home, "STUDIO_DEMO_SPEED=20", "STUDIO_DEMO_ANSWER_WAIT=0")
	g := newGoSDK(t, home, repo)

	// Errors name the tool to call, never a CLI command.
	msg := g.callError(mcpface.ToolGetSession, map[string]any{"session": "ghost"})
	if !strings.Contains(msg, "list_sessions") || strings.Contains(msg, "studiod ls") {
		t.Fatalf("unknown session: %q", msg)
	}

	var s protocol.Session
	g.call(mcpface.ToolSpawnSession, map[string]any{"agent": "demo", "name": "sdk", "prompt": "add a feature"}, &s)
	dc, w := d.watch()
	w.Follow(t, dc, protocol.OutputSubscription{Session: s.ID})
	w.AwaitState(t, s.ID, protocol.StateWaiting)

	// A second spawn with the same name: the daemon's message names `studiod
	// rm`; the model is told about remove_session instead.
	msg = g.callError(mcpface.ToolSpawnSession, map[string]any{"agent": "demo", "name": "sdk"})
	if !strings.Contains(msg, "remove_session") || strings.Contains(msg, "studiod rm") || strings.Contains(msg, "--name") {
		t.Fatalf("duplicate name: %q", msg)
	}
	var list protocol.SessionsResult
	if text := g.call(mcpface.ToolListSessions, nil, &list); !strings.Contains(text, "sdk (demo): waiting") {
		t.Fatalf("list_sessions summary %q", text)
	}
	g.call(mcpface.ToolGetSession, map[string]any{"session": "sdk"}, nil)
	g.call(mcpface.ToolReadOutput, map[string]any{"session": "sdk", "tail": 2048}, nil)
	var note protocol.Session
	g.call(mcpface.ToolSetNote, map[string]any{"session": "sdk", "note": "documenting the module"}, &note)
	if note.Note != "documenting the module" {
		t.Fatalf("set_note: note %q", note.Note)
	}
	var answered protocol.AnswerResult
	g.call(mcpface.ToolAnswerSession, map[string]any{"session": "sdk", "text": "yes"}, &answered)
	// Removing a live session: MCP names its tools, the CLI its verbs, from
	// the same error's data.
	msg = g.callError(mcpface.ToolRemoveSession, map[string]any{"session": "sdk"})
	if !strings.Contains(msg, "stop_session") || !strings.Contains(msg, "force=true") || strings.Contains(msg, "studiod") || strings.Contains(msg, "--force") {
		t.Fatalf("remove_session of a live session: %q", msg)
	}
	rm := exec.Command("studiod", "rm", "--repo", repo, "sdk")
	rm.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	if out, err := rm.CombinedOutput(); err == nil || !strings.Contains(string(out), "stop it first (`studiod stop sdk`) or pass --force") || strings.Contains(string(out), "_session") {
		t.Fatalf("studiod rm of a live session: %v %q", err, out)
	}

	if answered.Session.State == protocol.StateWaiting {
		t.Fatalf("answer_session: still waiting")
	}
	// A second answer finds nothing to answer: the first one won.
	g.callError(mcpface.ToolAnswerSession, map[string]any{"session": "sdk", "text": "no"})
	// Typed input reaches the idle demo agent as feedback.
	g.call(mcpface.ToolSendInput, map[string]any{"session": "sdk", "text": "keep it short"}, nil)

	var diff protocol.DiffResult
	text := g.call(mcpface.ToolSessionDiff, map[string]any{"session": "sdk"}, &diff)
	if len(diff.Files) == 0 || !strings.Contains(text, "\n--- ") {
		t.Fatalf("session_diff: %d files, text %q", len(diff.Files), text)
	}
	g.call(mcpface.ToolSessionDiff, map[string]any{"session": "sdk", "stat": true}, nil)
	g.call(mcpface.ToolCheckConflicts, map[string]any{"session": "sdk"}, nil)
	g.call(mcpface.ToolCheckConflicts, map[string]any{"path": "README.md"}, nil)
	g.call(mcpface.ToolAddReviewComment, map[string]any{"session": "sdk", "path": "README.md", "start_line": 1, "body": "Say hello."}, nil)
	g.call(mcpface.ToolSendFeedback, map[string]any{"session": "sdk"}, nil)

	// The diff resource is a unified diff git applies to the base, giving
	// the session's files.
	w.Await(t, "the demo agent to settle", func() bool {
		out, _ := w.Output(s.ID)
		got, _ := w.Session(s.ID)
		return strings.Count(string(out), "addressed") >= 2 && (got.State == protocol.StateIdle || got.State == protocol.StateExited)
	})
	g.call(mcpface.ToolSessionDiff, map[string]any{"session": "sdk"}, &diff)
	rr, err := g.session.ReadResource(t.Context(), &sdk.ReadResourceParams{URI: "studio://sessions/sdk/diff"})
	if err != nil {
		t.Fatal(err)
	}
	patch := rr.Contents[0].Text
	if rr.Contents[0].MIMEType != "text/x-diff" || !strings.HasPrefix(patch, "diff --git ") {
		t.Fatalf("diff resource (%s) starts %q", rr.Contents[0].MIMEType, patch[:min(len(patch), 80)])
	}
	check := filepath.Join(t.TempDir(), "check")
	gittest.Git(t, repo, "worktree", "add", "-q", "--detach", check, s.Base)
	file := filepath.Join(t.TempDir(), "sdk.diff")
	os.WriteFile(file, []byte(patch), 0o644)
	gittest.Git(t, check, "apply", file)
	for _, f := range diff.Files {
		if f.Status == "deleted" {
			continue
		}
		want, _ := os.ReadFile(filepath.Join(s.Worktree, f.Path))
		got, _ := os.ReadFile(filepath.Join(check, f.Path))
		if string(got) != string(want) {
			t.Errorf("%s after git apply: %q, want %q", f.Path, got, want)
		}
	}

	// Plans: checked, run, read; a reviewer on the session's work.
	var rep protocol.PlanReport
	g.call(mcpface.ToolPlanCheck, map[string]any{"plan": "[[task]]\nname = \"one\"\nscope = [\"app.go\"]\n[[task]]\nname = \"two\"\nscope = [\"*.go\"]\n"}, &rep)
	if len(rep.Pairs) != 1 || rep.Pairs[0].Risk != protocol.PlanRiskOverlap {
		t.Fatalf("plan_check: %+v", rep)
	}
	var pl protocol.Plan
	g.call(mcpface.ToolPlanRun, map[string]any{"plan": "[[task]]\nname = \"planned\"\nagent = \"demo\"\nprompt = \"add a page\"\n"}, &pl)
	g.call(mcpface.ToolPlanStatus, nil, nil)
	var rv protocol.Session
	g.call(mcpface.ToolReviewBy, map[string]any{"session": "sdk", "agent": "demo"}, &rv)
	if rv.Reviews != "sdk" {
		t.Fatalf("review_by: %+v", rv)
	}

	g.call(mcpface.ToolMergeSession, map[string]any{"session": "sdk", "dry_run": true}, nil)
	var merged protocol.MergeResult
	if text := g.call(mcpface.ToolMergeSession, map[string]any{"session": "sdk"}, &merged); !strings.Contains(text, `undo_merge {"session":"sdk"}`) {
		t.Fatalf("merge_session summary %q", text)
	}
	var undone protocol.UndoResult
	g.call(mcpface.ToolUndoMerge, map[string]any{"session": "sdk"}, &undone)
	if undone.Undone != merged.New || undone.Restored != merged.Old {
		t.Fatalf("undo_merge: %+v after merging %+v", undone, merged)
	}
	g.call(mcpface.ToolStopSession, map[string]any{"session": "sdk", "force": true}, nil)
	g.call(mcpface.ToolRemoveSession, map[string]any{"session": "sdk", "force": true}, nil)
}
