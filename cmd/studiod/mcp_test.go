package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/mcptest"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/internal/studiotest"
	"github.com/studiod/studiod/protocol"
	mcpface "github.com/studiod/studiod/server/mcp"
)

// reviewLanded makes the MCP tests demand successful results from the
// tools over studio/diff, studio/conflicts, studio/comment, studio/feedback
// and studio/merge. Until the daemon implements them they may return a
// readable tool error instead. Flip it (or set STUDIOD_MCP_STRICT=1) when
// they land; test/mcp reads the same variable.
const reviewLanded = true

func strictReview() bool { return reviewLanded || os.Getenv("STUDIOD_MCP_STRICT") == "1" }

type roots []string

func (r roots) ListRoots(ctx context.Context, req mcp.ListRootsRequest) (*mcp.ListRootsResult, error) {
	res := &mcp.ListRootsResult{}
	for _, p := range r {
		res.Roots = append(res.Roots, mcp.Root{URI: "file://" + p, Name: filepath.Base(p)})
	}
	return res, nil
}

// mcpEnv is an MCP client wired through the adapter to a real daemon.
type mcpEnv struct {
	t                 *testing.T
	repo              string
	daemon            *daemon
	client            *mcpclient.Client
	studiotest.Signal // MCP notifications arrived

	mu     sync.Mutex
	notifs []mcp.JSONRPCNotification
}

// newMCPEnv starts a daemon under a private home and an in-process MCP
// server (mcptest) over it. dir is the adapter's fallback repository; with
// withRoots the client offers the repository as its root.
func newMCPEnv(t *testing.T, dir string, withRoots bool) *mcpEnv {
	t.Helper()
	// mcp-go's stdio server keeps its one session in a package variable:
	// two in-process servers at once would write to each other's pipes.
	// The tests of in-process MCP take turns (released last, after the
	// server's cleanup).
	mcpTurn.Lock()
	t.Cleanup(mcpTurn.Unlock)
	home := newHome(t)
	e := &mcpEnv{t: t, repo: gittest.NewRepo(t, map[string]string{"README.md": "hello\n", "app.go": "package app\n"})}
	e.daemon = startDaemonEnv(t, home, "STUDIO_DEMO_SPEED=20")
	if dir == "repo" {
		dir = e.repo
	}
	// The adapter's log, shown when the test fails.
	var logBuf syncBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("MCP adapter log:\n%s", logBuf.String())
		}
	})
	m := mcpface.New(mcpface.Config{
		Dir: dir,
		Log: slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Dial: func(ctx context.Context, notify protocol.NotifyFunc) (*protocol.Client, error) {
			c, err := protocol.Dial(ctx, e.daemon.socket(), notify)
			if err != nil {
				return nil, err
			}
			if _, err := c.Hello(ctx, protocol.HelloParams{Client: "mcp-test", Version: protocol.Version}); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		},
	})
	t.Cleanup(func() { m.Close() })
	s := mcptest.NewUnstartedServer(t)
	s.AddTools(m.Tools()...)
	s.AddResources(m.Resources()...)
	s.AddResourceTemplates(m.ResourceTemplates()...)
	s.AddServerOptions(m.Options()...)
	if withRoots {
		s.SetRootsHandler(roots{e.repo})
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// mcptest's Close waits for its server goroutine, which can be
		// stuck writing a late response into a pipe nobody reads any more
		// (the harness closes that pipe only after the wait): do not let
		// that hold the test binary for good.
		done := make(chan struct{})
		go func() { s.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Log("the in-process MCP server did not close: a response was left unread in its pipe")
		}
	})
	e.client = s.Client()
	e.client.OnNotification(func(n mcp.JSONRPCNotification) {
		e.mu.Lock()
		e.notifs = append(e.notifs, n)
		e.mu.Unlock()
		e.Notify()
	})
	return e
}

func (e *mcpEnv) call(name string, args map[string]any) *mcp.CallToolResult {
	e.t.Helper()
	return callTool(e.t, e.client, name, args, nil)
}

func callTool(t *testing.T, c *mcpclient.Client, name string, args map[string]any, meta *mcp.Meta) *mcp.CallToolResult {
	t.Helper()
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = args
	req.Params.Meta = meta
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("%s: protocol error (want a result or a tool error): %v", name, err)
	}
	return res
}

func resultText(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// wantOK fails unless r is a successful result, and decodes its structured
// content into v.
func wantOK(t *testing.T, name string, r *mcp.CallToolResult, v any) {
	t.Helper()
	if r.IsError {
		t.Fatalf("%s: got tool error %q, want success", name, resultText(r))
	}
	if v != nil {
		b, _ := json.Marshal(r.StructuredContent)
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: structured content %s: %v", name, b, err)
		}
	}
}

// wantOKOrReadable accepts a success, or, until the review methods land, a
// tool error that explains itself.
func wantOKOrReadable(t *testing.T, name string, r *mcp.CallToolResult, v any) bool {
	t.Helper()
	if !r.IsError {
		wantOK(t, name, r, v)
		return true
	}
	if strictReview() {
		t.Fatalf("%s: got tool error %q, want success (strict)", name, resultText(r))
	}
	text := resultText(r)
	if !strings.HasPrefix(text, name) || len(text) < len(name)+20 {
		t.Fatalf("%s: tool error %q does not say what failed and why", name, text)
	}
	t.Logf("%s: tool error (allowed until the daemon implements it): %s", name, text)
	return false
}

func TestMCPListTools(t *testing.T) {
	t.Parallel()
	e := newMCPEnv(t, "repo", false)
	res, err := e.client.ListTools(t.Context(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	readOnly := map[string]bool{
		mcpface.ToolListSessions: true, mcpface.ToolGetSession: true, mcpface.ToolReadOutput: true,
		mcpface.ToolSessionDiff: true, mcpface.ToolCheckConflicts: true, mcpface.ToolPreviewIntegration: true,
		mcpface.ToolListSalvage: true,
		mcpface.ToolPlanCheck:   true, mcpface.ToolPlanStatus: true,
	}
	destructive := map[string]bool{mcpface.ToolMergeSession: true, mcpface.ToolStopSession: true, mcpface.ToolRemoveSession: true,
		mcpface.ToolLandSessions: true, mcpface.ToolSyncSession: true, mcpface.ToolUndoLand: true, mcpface.ToolUndoMerge: true}
	got := map[string]bool{}
	for _, tl := range res.Tools {
		got[tl.Name] = true
		a := tl.Annotations
		if a.ReadOnlyHint == nil || *a.ReadOnlyHint != readOnly[tl.Name] {
			t.Errorf("%s: readOnlyHint %v, want %v", tl.Name, a.ReadOnlyHint, readOnly[tl.Name])
		}
		if a.DestructiveHint == nil || *a.DestructiveHint != destructive[tl.Name] {
			t.Errorf("%s: destructiveHint %v, want %v", tl.Name, a.DestructiveHint, destructive[tl.Name])
		}
		if a.OpenWorldHint == nil || *a.OpenWorldHint {
			t.Errorf("%s: openWorldHint %v, want false", tl.Name, a.OpenWorldHint)
		}
		if tl.InputSchema.AdditionalProperties != false {
			t.Errorf("%s: additionalProperties %v, want false", tl.Name, tl.InputSchema.AdditionalProperties)
		}
		if tl.OutputSchema.Type != "object" || len(tl.OutputSchema.Properties) == 0 {
			t.Errorf("%s: output schema %+v, want an object with properties", tl.Name, tl.OutputSchema)
		}
		if len(tl.Description) < 40 {
			t.Errorf("%s: description %q is too thin for a model", tl.Name, tl.Description)
		}
		if tl.Name == mcpface.ToolSpawnSession {
			if _, ok := tl.InputSchema.Properties["command"]; ok {
				t.Errorf("spawn_session offers a command argument")
			}
		}
	}
	want := []string{"spawn_session", "list_sessions", "get_session", "read_output", "send_input", "answer_session", "set_note", "set_budget", "session_diff",
		"check_conflicts", "add_review_comment", "send_feedback", "merge_session", "undo_merge", "stop_session", "remove_session",
		"preview_integration", "land_sessions", "sync_session", "undo_land", "list_salvage",
		"plan_check", "plan_run", "plan_status", "review_by"}
	for _, n := range want {
		if !got[n] {
			t.Errorf("tool %s missing", n)
		}
	}
	if len(res.Tools) != len(want) {
		t.Errorf("got %d tools, want %d", len(res.Tools), len(want))
	}
}

func TestMCPBadArguments(t *testing.T) {
	t.Parallel()
	e := newMCPEnv(t, "repo", false)
	tests := []struct {
		name string
		tool string
		args map[string]any
		want string // in the tool error
	}{
		{"command refused", "spawn_session", map[string]any{"agent": "demo", "command": []string{"sh", "-c", "id"}}, "never a command"},
		{"argv refused", "spawn_session", map[string]any{"argv": "id"}, "never a command"},
		{"command profile refused", "spawn_session", map[string]any{"agent": "command"}, "not available to MCP clients"},
		{"unknown profile", "spawn_session", map[string]any{"agent": "nosuch", "prompt": "x"}, "no agent profile"},
		{"bad name", "spawn_session", map[string]any{"agent": "demo", "name": "Bad Name!"}, "spawn_session: "},
		{"not a repo", "spawn_session", map[string]any{"agent": "demo", "repo": "/nonexistent/repo"}, "spawn_session: "},
		{"relative repo with no base", "list_sessions", map[string]any{"repo": "x", "bogus": 1}, "unknown field"},
		{"unknown session", "get_session", map[string]any{"session": "ghost"}, "list_sessions"},
		{"missing session", "get_session", map[string]any{}, "session is required"},
		{"negative tail", "read_output", map[string]any{"session": "ghost", "tail": -5}, "negative"},
		{"wrong type", "read_output", map[string]any{"session": 7}, "invalid arguments"},
		{"bad strategy", "merge_session", map[string]any{"session": "ghost", "strategy": "octopus"}, "strategy must be"},
		{"bad land strategy", "land_sessions", map[string]any{"strategy": "octopus"}, "strategy must be"},
		{"squash sync", "sync_session", map[string]any{"session": "ghost", "strategy": "squash"}, "strategy must be merge or rebase"},
		{"unknown session sync", "sync_session", map[string]any{"session": "ghost"}, "list_sessions"},
		{"unknown session preview", "preview_integration", map[string]any{"sessions": []string{"ghost"}}, "list_sessions"},
		{"no check command", "preview_integration", map[string]any{"check": true}, "no check command"},
		{"nothing to land", "land_sessions", map[string]any{}, "nothing to land"},
		{"check command refused", "preview_integration", map[string]any{"check_command": "id"}, "unknown field"},
		{"bad against", "session_diff", map[string]any{"session": "ghost", "against": "yesterday"}, "against must be"},
		{"unknown session stop", "stop_session", map[string]any{"session": "ghost"}, "list_sessions"},
		{"unknown session remove", "remove_session", map[string]any{"session": "ghost"}, "list_sessions"},
		{"empty comment", "add_review_comment", map[string]any{"session": "ghost", "path": "a", "start_line": 1, "body": " "}, "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := callTool(t, e.client, tt.tool, tt.args, nil)
			if !r.IsError {
				t.Fatalf("got success %q, want a tool error", resultText(r))
			}
			if got := resultText(r); !strings.Contains(got, tt.want) {
				t.Fatalf("got %q, want it to contain %q", got, tt.want)
			}
		})
	}
	// Nothing was spawned by any of them.
	var list struct{ Sessions []protocol.Session }
	wantOK(t, "list_sessions", e.call("list_sessions", map[string]any{"all_repos": true, "include_removed": true}), &list)
	if len(list.Sessions) != 0 {
		t.Fatalf("bad calls left sessions behind: %+v", list.Sessions)
	}
}

// TestMCPMissingRepo: no repo argument, no roots, and a working directory
// that is none or not a repository.
func TestMCPMissingRepo(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"", "/"} {
		t.Run("dir="+dir, func(t *testing.T) {
			e := newMCPEnv(t, dir, false)
			r := e.call("spawn_session", map[string]any{"agent": "demo", "prompt": "x"})
			if !r.IsError || !strings.Contains(resultText(r), "pass repo") {
				t.Fatalf("got %v %q, want a tool error asking for repo", r.IsError, resultText(r))
			}
		})
	}
}

// TestMCPFlow drives every tool on a demo agent, with the repository
// coming from the client's roots, and checks progress and resource update
// notifications.
func TestMCPFlow(t *testing.T) {
	t.Parallel()
	e := newMCPEnv(t, "", true)
	ctx := t.Context()
	// mcptest speaks protocol 2026-07-28: resource updates come on a
	// subscriptions/listen stream (the real clients in test/mcp use
	// resources/subscribe).
	stop, err := e.client.ListenAsync(ctx, mcp.SubscriptionFilter{ResourceSubscriptions: []string{"studio://sessions"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	var s protocol.Session
	r := callTool(t, e.client, "spawn_session", map[string]any{"agent": "demo", "name": "feat", "prompt": "add a feature", "scopes": []string{"app/**"}},
		&mcp.Meta{ProgressToken: "spawn-1"})
	wantOK(t, "spawn_session", r, &s)
	if s.Name != "feat" || s.Branch != "studio/feat" || s.Repo != e.repo {
		t.Fatalf("spawned %+v", s)
	}
	e.Await(t, "progress and resource update notifications", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		var progress, updated bool
		for _, n := range e.notifs {
			switch n.Method {
			case "notifications/progress":
				progress = progress || n.Params.AdditionalFields["progressToken"] == "spawn-1"
			case "notifications/resources/updated":
				updated = updated || n.Params.AdditionalFields["uri"] == "studio://sessions"
			}
		}
		return progress && updated
	})

	// The demo agent edits, commits and asks a question.
	dc, w := e.daemon.watch()
	w.Follow(t, dc, protocol.OutputSubscription{Session: s.ID})
	w.AwaitState(t, s.ID, protocol.StateWaiting)
	var out struct {
		Text string `json:"text"`
		Next int64  `json:"next"`
	}
	wantOK(t, "read_output", e.call("read_output", map[string]any{"session": "feat", "tail": 4096}), &out)
	if out.Text == "" || strings.ContainsRune(out.Text, 0x1b) || strings.Contains(out.Text, "\r") {
		t.Fatalf("read_output text %q: want plain text", out.Text)
	}
	wantOK(t, "read_output", e.call("read_output", map[string]any{"session": "feat", "offset": 0, "limit": 10}), &out)
	if out.Next != 10 {
		t.Fatalf("read_output limit 10: next %d", out.Next)
	}
	wantOK(t, "send_input", e.call("send_input", map[string]any{"session": "feat", "text": "yes"}), nil)

	// Resources.
	rr, err := e.client.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: "studio://sessions"}})
	if err != nil {
		t.Fatal(err)
	}
	if txt := rr.Contents[0].(mcp.TextResourceContents).Text; !strings.Contains(txt, `"feat"`) {
		t.Fatalf("studio://sessions: %s", txt)
	}
	rr, err = e.client.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: "studio://sessions/feat/output"}})
	if err != nil {
		t.Fatal(err)
	}
	if txt := rr.Contents[0].(mcp.TextResourceContents).Text; txt == "" || strings.ContainsRune(txt, 0x1b) {
		t.Fatalf("studio://sessions/feat/output: %q", txt)
	}

	var diff protocol.DiffResult
	if wantOKOrReadable(t, "session_diff", e.call("session_diff", map[string]any{"session": "feat"}), &diff) && len(diff.Files) == 0 {
		t.Fatalf("session_diff: no files")
	}
	wantOKOrReadable(t, "check_conflicts", e.call("check_conflicts", map[string]any{"session": "feat"}), nil)
	// By path: who else edits the file, with lines, scope and note.
	w.Await(t, "feat's change to app/config.txt", func() bool {
		s, _ := w.Session(s.ID)
		return s.Changes.Files > 0
	})
	var byPath struct {
		Editing []protocol.Presence `json:"editing"`
	}
	wantOK(t, "check_conflicts", e.call("check_conflicts", map[string]any{"path": "app/config.txt"}), &byPath)
	if len(byPath.Editing) != 1 || byPath.Editing[0].Session != "feat" || byPath.Editing[0].Note != "add a feature" ||
		len(byPath.Editing[0].Scope) != 1 || !byPath.Editing[0].InScope {
		t.Errorf("check_conflicts by path: %+v, want feat editing in its scope, with its note", byPath.Editing)
	}
	var noted protocol.Session
	wantOK(t, "set_note", e.call("set_note", map[string]any{"session": "feat", "note": "now the docs"}), &noted)
	if noted.Note != "now the docs" {
		t.Errorf("set_note: %+v", noted)
	}
	if wantOKOrReadable(t, "add_review_comment", e.call("add_review_comment", map[string]any{"session": "feat", "path": "README.md", "start_line": 1, "body": "Say hello to the reader."}), nil) {
		wantOKOrReadable(t, "send_feedback", e.call("send_feedback", map[string]any{"session": "feat"}), nil)
	}
	// The agent has the answer and the feedback queued in its terminal:
	// it has settled once it has addressed the feedback and gone idle.
	w.Await(t, "the demo agent to settle", func() bool {
		out, _ := w.Output(s.ID)
		got, _ := w.Session(s.ID)
		addressed := !reviewLanded || strings.Contains(string(out), "addressed")
		return addressed && (got.State == protocol.StateIdle || got.State == protocol.StateExited)
	})
	wantOKOrReadable(t, "merge_session", e.call("merge_session", map[string]any{"session": "feat", "dry_run": true}), nil)
	if wantOKOrReadable(t, "merge_session", callTool(t, e.client, "merge_session", map[string]any{"session": "feat", "strategy": "merge"}, &mcp.Meta{ProgressToken: 7}), nil) {
		if log := gittest.Git(t, e.repo, "log", "--oneline", "main"); !strings.Contains(log, "Merge") && len(strings.Split(log, "\n")) < 2 {
			t.Fatalf("main after merge: %s", log)
		}
		// The merge is undone through the tool its text names; a second
		// undo is refused and changes nothing.
		merged := gittest.Git(t, e.repo, "rev-parse", "main")
		var undone protocol.UndoResult
		wantOK(t, "undo_merge", e.call("undo_merge", map[string]any{"session": "feat"}), &undone)
		if undone.Target != "main" || undone.Undone != merged || gittest.Git(t, e.repo, "rev-parse", "main") != undone.Restored || undone.Restored == merged {
			t.Fatalf("undo_merge: %+v; main at %s, was %s", undone, gittest.Git(t, e.repo, "rev-parse", "main"), merged)
		}
		r := e.call("undo_merge", map[string]any{"session": "feat"})
		if text := resultText(r); !r.IsError || !strings.Contains(text, "no merge to undo") || gittest.Git(t, e.repo, "rev-parse", "main") != undone.Restored {
			t.Fatalf("second undo_merge: %v %q", r.IsError, text)
		}
	}
	var stopped protocol.Session
	wantOK(t, "stop_session", e.call("stop_session", map[string]any{"session": "feat", "force": true}), &stopped)
	if stopped.State.Live() {
		t.Fatalf("stop_session: still %s", stopped.State)
	}
	var removed protocol.RemoveResult
	wantOK(t, "remove_session", e.call("remove_session", map[string]any{"session": "feat", "force": true}), &removed)
	var list struct{ Sessions []protocol.Session }
	wantOK(t, "list_sessions", e.call("list_sessions", nil), &list)
	if len(list.Sessions) != 0 {
		t.Fatalf("sessions after remove: %+v", list.Sessions)
	}
}

// freePort returns a loopback port nothing listens on (racy, but only
// tests use it).
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestMCPHTTPServe runs `studiod serve --mcp-http` and drives it with
// mcp-go's Streamable HTTP client.
func TestMCPHTTPServe(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command("studiod", "serve", "--mcp-http", addr)
	cmd.Env = append(os.Environ(), "STUDIOD_HOME="+home, "STUDIO_DEMO_SPEED=20")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// The daemon says it listens once every face, the MCP endpoint
	// among them, serves.
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	listening := make(chan string, 1)
	var logMu sync.Mutex
	var daemonLog strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			daemonLog.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if strings.Contains(sc.Text(), "listening on") {
				listening <- sc.Text()
			}
		}
		close(listening)
	}()
	tc := exec.Command("studiod", "mcp-token")
	tc.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	tokOut, err := tc.Output()
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tokOut))
	if fi, err := os.Stat(filepath.Join(home, "state", mcpface.TokenFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	url := "http://" + addr + "/mcp"
	select {
	case line, ok := <-listening:
		if !ok {
			t.Fatal("the daemon exited before it listened")
		}
		t.Log(line)
	case <-time.After(studiotest.Timeout):
		t.Fatal("the daemon did not start")
	}

	tr, err := transport.NewStreamableHTTP(url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	if err != nil {
		t.Fatal(err)
	}
	c := mcpclient.NewClient(tr)
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = "2025-11-25"
	init.Params.ClientInfo = mcp.Implementation{Name: "go-test", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		logMu.Lock()
		defer logMu.Unlock()
		t.Fatalf("initialize: %v (daemon: %s)", err, daemonLog.String())
	}
	// Over HTTP there is no working directory: a call without repo says so.
	r := callTool(t, c, "spawn_session", map[string]any{"agent": "demo"}, nil)
	if !r.IsError || !strings.Contains(resultText(r), "pass repo") {
		t.Fatalf("spawn without repo over HTTP: %q", resultText(r))
	}
	var s protocol.Session
	wantOK(t, "spawn_session", callTool(t, c, "spawn_session", map[string]any{"repo": repo, "agent": "demo", "name": "web"}, nil), &s)
	var got protocol.Session
	wantOK(t, "get_session", callTool(t, c, "get_session", map[string]any{"repo": repo, "session": "web"}, nil), &got)
	if got.ID != s.ID {
		t.Fatalf("get_session: %+v", got)
	}
	wantOK(t, "stop_session", callTool(t, c, "stop_session", map[string]any{"repo": repo, "session": "web", "force": true}, nil), nil)

	// The same endpoint without the token is refused.
	bad, _ := transport.NewStreamableHTTP(url)
	bc := mcpclient.NewClient(bad)
	defer bc.Close()
	bc.Start(ctx)
	if _, err := bc.Initialize(ctx, init); err == nil {
		t.Fatal("initialize without a token succeeded")
	}
}

func TestServeRefusesNonLoopbackMCP(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:8765", "[::]:8765", ":8765", "192.0.2.1:8765", "example.com:8765"} {
		t.Run(addr, func(t *testing.T) {
			home := newHome(t)
			cmd := exec.Command("studiod", "serve", "--mcp-http", addr)
			cmd.Env = append(os.Environ(), "STUDIOD_HOME="+home)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("serve --mcp-http %s started", addr)
			}
			if !strings.Contains(string(out), "loopback") {
				t.Fatalf("got %q, want an error about loopback", out)
			}
		})
	}
}

func TestMCPPrintConfig(t *testing.T) {
	t.Parallel()
	for _, client := range []string{"claude-code", "claude-desktop", "cursor", "vscode"} {
		t.Run(client, func(t *testing.T) {
			out, err := exec.Command("studiod", "mcp", "--print-config", client).Output()
			if err != nil {
				t.Fatal(err)
			}
			var v map[string]map[string]struct {
				Command string   `json:"command"`
				Args    []string `json:"args"`
			}
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("%s: %v", out, err)
			}
			key := "mcpServers"
			if client == "vscode" {
				key = "servers"
			}
			e := v[key]["studiod"]
			if !filepath.IsAbs(e.Command) || strings.Join(e.Args, " ") != "mcp" {
				t.Fatalf("got %s", out)
			}
		})
	}
	if err := exec.Command("studiod", "mcp", "--print-config", "emacs").Run(); err == nil {
		t.Fatal("unknown client accepted")
	}
}

// TestMCPIntegration runs the integration loop through the MCP tools: two
// sessions collide, the preview says which one lands and why the other
// waits (also as the live studio://preview resource), land lands the first
// and sends the conflict to the second's agent, and sync refuses it with
// the conflict list.
func TestMCPIntegration(t *testing.T) {
	t.Parallel()
	e := newMCPEnv(t, "", true)
	ctx := t.Context()
	stop, err := e.client.ListenAsync(ctx, mcp.SubscriptionFilter{ResourceSubscriptions: []string{"studio://preview"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	dc, w := e.daemon.watch()
	// MCP clients cannot run commands: the sessions come from the CLI's
	// side of the daemon.
	var ids []string
	for _, name := range []string{"first", "second"} {
		s, err := dc.Spawn(ctx, protocol.SpawnParams{Repo: e.repo, Name: name,
			Command: []string{"sh", "-c", "echo " + name + " > README.md && exec fakeagent -echo"}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
		w.Follow(t, dc, protocol.OutputSubscription{Session: s.ID})
		w.Await(t, name+" idle with its change", func() bool {
			got, _ := w.Session(s.ID)
			return got.State == protocol.StateIdle && got.Changes.Files > 0
		})
	}

	var pv protocol.Preview
	wantOK(t, "preview_integration", e.call("preview_integration", nil), &pv)
	if !slices.Equal(pv.Order, []string{"first"}) {
		t.Fatalf("order %v, want [first]", pv.Order)
	}
	r := e.call("preview_integration", nil)
	if txt := resultText(r); !strings.Contains(txt, "Landing order onto main: first.") || !strings.Contains(txt, "second left out (conflict): conflicts with first in README.md (line 1)") {
		t.Errorf("preview summary:\n%s", txt)
	}
	rr, err := e.client.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: "studio://preview"}})
	if err != nil {
		t.Fatal(err)
	}
	var res protocol.Preview
	if err := json.Unmarshal([]byte(rr.Contents[0].(mcp.TextResourceContents).Text), &res); err != nil || !slices.Equal(res.Order, []string{"first"}) {
		t.Fatalf("studio://preview: %v %+v", err, res)
	}

	working := func() int { return strings.Count(fmt.Sprint(w.States(ids[1])), string(protocol.StateWorking)) }
	before := working()
	var land protocol.LandResult
	lr := e.call("land_sessions", map[string]any{"send_failures": true})
	wantOK(t, "land_sessions", lr, &land)
	if len(land.Landed) != 1 || land.Landed[0].Session != "first" || land.Stopped == nil || land.Stopped.Session != "second" || !land.Stopped.Sent {
		t.Fatalf("land: %+v stopped %+v", land, land.Stopped)
	}
	if text := resultText(lr); !strings.Contains(text, `undo_land {"land":"`+land.ID+`"}`) || strings.Contains(text, "studiod ") {
		t.Fatalf("land_sessions names how to undo with a tool: %q", text)
	}
	w.Await(t, "second's agent to hear of the conflict", func() bool {
		out, _ := w.Output(ids[1])
		return strings.Contains(string(out), "got: studiod could not land your work on main: it conflicts with main in README.md")
	})
	// The landed merge moved main: the live preview was recomputed.
	e.Await(t, "an update of studio://preview", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, n := range e.notifs {
			if n.Method == "notifications/resources/updated" && n.Params.AdditionalFields["uri"] == "studio://preview" {
				return true
			}
		}
		return false
	})
	// It has read the message: worked on it and gone idle again.
	w.Await(t, "second idle after the message", func() bool {
		got, _ := w.Session(ids[1])
		return working() > before && got.State == protocol.StateIdle
	})
	r = e.call("sync_session", map[string]any{"session": "second"})
	if !r.IsError || !strings.Contains(resultText(r), "Conflicts:") || !strings.Contains(resultText(r), "README.md") {
		t.Fatalf("sync_session of a conflicting session: %v %q, want a tool error listing the conflict", r.IsError, resultText(r))
	}
	var undone protocol.UndoLandResult
	wantOK(t, "undo_land", e.call("undo_land", map[string]any{"land": land.ID}), &undone)
	if undone.ID != land.ID || !slices.Equal(undone.Sessions, []string{"first"}) {
		t.Fatalf("undo_land: %+v", undone)
	}
	r = e.call("undo_land", map[string]any{"land": "nope"})
	if text := resultText(r); !r.IsError || !strings.Contains(text, "land_sessions returned") || strings.Contains(text, "studiod ") {
		t.Fatalf("undo_land of no land: %v %q", r.IsError, text)
	}
}

// mcpTurn is held by the test running an in-process MCP server.
var mcpTurn sync.Mutex

// syncBuffer is a bytes.Buffer safe to write from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
