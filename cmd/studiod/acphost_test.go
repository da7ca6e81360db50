package main

// `studiod acp`, the ACP face, driven by the ACP Go SDK's client side over
// the real process's stdio, against the real daemon with the scripted ACP
// agent of fakeacp_test.go underneath.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	acp "github.com/coder/acp-go-sdk"

	"github.com/studiod/studiod/internal/fakemodel"
	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/internal/studiotest"
	"github.com/studiod/studiod/protocol"
)

// acpHostHome is acpHome with [acp] agent = "fake".
func acpHostHome(t *testing.T) string {
	t.Helper()
	home := acpHome(t)
	f, err := os.OpenFile(filepath.Join(home, "config", "config.toml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("\n[acp]\nagent = \"fake\"\n"); err != nil {
		t.Fatal(err)
	}
	return home
}

// acpEditor is an ACP client (an editor's agent panel) running `studiod
// acp`: it records the updates it gets and hands permission requests to
// the test.
type acpEditor struct {
	t    *testing.T
	cmd  *exec.Cmd
	conn *acp.ClientSideConnection

	studiotest.Signal
	mu      sync.Mutex
	updates []acp.SessionNotification
	asks    []*editorAsk
}

// editorAsk is a permission request shown to the person.
type editorAsk struct {
	req    acp.RequestPermissionRequest
	ctx    context.Context // ends when studiod withdraws it
	answer chan acp.PermissionOptionId
}

func startACPEditor(t *testing.T, home string) *acpEditor {
	t.Helper()
	cmd := exec.Command("studiod", "acp")
	cmd.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &acpEditor{t: t, cmd: cmd}
	e.conn = acp.NewClientSideConnection(e, in, out)
	t.Cleanup(func() {
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	init, err := e.conn.Initialize(t.Context(), acp.InitializeRequest{ProtocolVersion: acp.ProtocolVersionNumber,
		ClientInfo: &acp.Implementation{Name: "test-editor", Version: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if init.ProtocolVersion != acp.ProtocolVersionNumber || !init.AgentCapabilities.LoadSession || init.AgentCapabilities.SessionCapabilities.List == nil {
		t.Fatalf("initialize: %+v, want protocol %d with session/load and session/list", init, acp.ProtocolVersionNumber)
	}
	if len(init.AuthMethods) != 0 || init.AgentCapabilities.PromptCapabilities.Image {
		t.Errorf("initialize advertises %+v: studiod offers no sign-in and no images", init)
	}
	return e
}

// texts is every text of the given kind sent for session sid: "agent",
// "user", "tool" (tool call titles).
func (e *acpEditor) texts(sid acp.SessionId, kind string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, n := range e.updates {
		if n.SessionId != sid {
			continue
		}
		u := n.Update
		switch {
		case kind == "agent" && u.AgentMessageChunk != nil && u.AgentMessageChunk.Content.Text != nil:
			out = append(out, u.AgentMessageChunk.Content.Text.Text)
		case kind == "user" && u.UserMessageChunk != nil && u.UserMessageChunk.Content.Text != nil:
			out = append(out, u.UserMessageChunk.Content.Text.Text)
		case kind == "tool" && u.ToolCall != nil:
			out = append(out, u.ToolCall.Title)
		case kind == "tool" && u.ToolCallUpdate != nil && u.ToolCallUpdate.Title != nil:
			out = append(out, *u.ToolCallUpdate.Title)
		}
	}
	return out
}

func (e *acpEditor) awaitText(sid acp.SessionId, kind, substr string) {
	e.t.Helper()
	e.Await(e.t, fmt.Sprintf("a %s update with %q", kind, substr), func() bool {
		return slices.ContainsFunc(e.texts(sid, kind), func(s string) bool { return strings.Contains(s, substr) })
	}, func() string { return strings.Join(e.texts(sid, kind), " | ") })
}

// awaitAsk waits for the n-th permission request (from 1).
func (e *acpEditor) awaitAsk(n int) *editorAsk {
	e.t.Helper()
	e.Await(e.t, fmt.Sprintf("permission request %d", n), func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.asks) >= n
	})
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.asks[n-1]
}

func (e *acpEditor) SessionUpdate(ctx context.Context, n acp.SessionNotification) error {
	e.mu.Lock()
	e.updates = append(e.updates, n)
	e.mu.Unlock()
	e.Notify()
	return nil
}

func (e *acpEditor) RequestPermission(ctx context.Context, p acp.RequestPermissionRequest) (acp.RequestPermissionResponse, error) {
	a := &editorAsk{req: p, ctx: ctx, answer: make(chan acp.PermissionOptionId, 1)}
	e.mu.Lock()
	e.asks = append(e.asks, a)
	e.mu.Unlock()
	e.Notify()
	select {
	case id := <-a.answer:
		return acp.RequestPermissionResponse{Outcome: acp.NewRequestPermissionOutcomeSelected(id)}, nil
	case <-ctx.Done():
		e.Notify()
		return acp.RequestPermissionResponse{Outcome: acp.NewRequestPermissionOutcomeCancelled()}, nil
	}
}

func (e *acpEditor) ReadTextFile(context.Context, acp.ReadTextFileRequest) (acp.ReadTextFileResponse, error) {
	return acp.ReadTextFileResponse{}, acp.NewMethodNotFound(acp.ClientMethodFsReadTextFile)
}

func (e *acpEditor) WriteTextFile(context.Context, acp.WriteTextFileRequest) (acp.WriteTextFileResponse, error) {
	return acp.WriteTextFileResponse{}, acp.NewMethodNotFound(acp.ClientMethodFsWriteTextFile)
}

func (e *acpEditor) CreateTerminal(context.Context, acp.CreateTerminalRequest) (acp.CreateTerminalResponse, error) {
	return acp.CreateTerminalResponse{}, acp.NewMethodNotFound(acp.ClientMethodTerminalCreate)
}

func (e *acpEditor) KillTerminal(context.Context, acp.KillTerminalRequest) (acp.KillTerminalResponse, error) {
	return acp.KillTerminalResponse{}, acp.NewMethodNotFound(acp.ClientMethodTerminalKill)
}

func (e *acpEditor) TerminalOutput(context.Context, acp.TerminalOutputRequest) (acp.TerminalOutputResponse, error) {
	return acp.TerminalOutputResponse{}, acp.NewMethodNotFound(acp.ClientMethodTerminalOutput)
}

func (e *acpEditor) ReleaseTerminal(context.Context, acp.ReleaseTerminalRequest) (acp.ReleaseTerminalResponse, error) {
	return acp.ReleaseTerminalResponse{}, acp.NewMethodNotFound(acp.ClientMethodTerminalRelease)
}

func (e *acpEditor) WaitForTerminalExit(context.Context, acp.WaitForTerminalExitRequest) (acp.WaitForTerminalExitResponse, error) {
	return acp.WaitForTerminalExitResponse{}, acp.NewMethodNotFound(acp.ClientMethodTerminalWaitForExit)
}

// prompt sends a prompt and returns where its answer will arrive.
func (e *acpEditor) prompt(sid acp.SessionId, text string) <-chan promptResult {
	ch := make(chan promptResult, 1)
	go func() {
		r, err := e.conn.Prompt(context.WithoutCancel(e.t.Context()), acp.PromptRequest{SessionId: sid, Prompt: []acp.ContentBlock{acp.TextBlock(text)}})
		ch <- promptResult{r, err}
	}()
	return ch
}

type promptResult struct {
	r   acp.PromptResponse
	err error
}

func awaitPrompt(t *testing.T, ch <-chan promptResult) acp.PromptResponse {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("session/prompt: %v", r.err)
		}
		return r.r
	case <-time.After(studiotest.Timeout):
		t.Fatalf("session/prompt did not end within %s", studiotest.Timeout)
	}
	return acp.PromptResponse{}
}

// TestACPHost: a thread of an ACP client is a studiod session in its own
// worktree; the agent's tool call asks permission in the client, allowed
// it writes in the worktree and not in the client's checkout; a second
// client on the same session sees the same request, the first answer wins
// and the other is withdrawn and told; a session spawned from the CLI is
// listed and replayed; a conflict with another session arrives as an
// update; session/cancel ends the turn; bad input is refused clearly.
func TestACPHost(t *testing.T) {
	t.Parallel()
	home := acpHostHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	d := startDaemon(t, home)
	c, w := d.watch()
	ed := startACPEditor(t, home)
	ctx := t.Context()

	ns, err := ed.conn.NewSession(ctx, acp.NewSessionRequest{Cwd: repo, McpServers: []acp.McpServer{}})
	if err != nil {
		t.Fatal(err)
	}
	sid := ns.SessionId
	sess := sessionState(t, c, string(sid))
	if sess.Agent != "fake" || sess.Repo != repo {
		t.Fatalf("session %+v: want agent fake ([acp] agent) in %s", sess, repo)
	}
	if _, err := os.Stat(sess.Worktree); err != nil || sess.Worktree == repo {
		t.Fatalf("worktree %q: %v", sess.Worktree, err)
	}
	if len(ns.ConfigOptions) != 1 || ns.ConfigOptions[0].Select == nil || ns.ConfigOptions[0].Select.CurrentValue != "fake" {
		t.Errorf("config options %+v: want agent = fake", ns.ConfigOptions)
	}

	// Prompt → tool call → permission in the client → allow → written in
	// the worktree, not in the client's checkout.
	done := ed.prompt(sid, "please write a.txt")
	ask := ed.awaitAsk(1)
	if ask.req.SessionId != sid || ask.req.ToolCall.Title == nil || !strings.HasPrefix(*ask.req.ToolCall.Title, "Write a.txt") {
		t.Fatalf("permission request %+v", ask.req)
	}
	var ids []string
	for _, o := range ask.req.Options {
		ids = append(ids, string(o.OptionId))
	}
	if !slices.Equal(ids, []string{"allow-once", "allow-always", "reject-once", "reject-always"}) {
		t.Errorf("options %v: want the agent's own", ids)
	}
	ask.answer <- "allow-once"
	if r := awaitPrompt(t, done); r.StopReason != acp.StopReasonEndTurn {
		t.Errorf("stop reason %q, want end_turn", r.StopReason)
	}
	if b, err := os.ReadFile(filepath.Join(sess.Worktree, "a.txt")); err != nil || string(b) != "hello from fakeacp\n" {
		t.Fatalf("a.txt in the worktree: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(repo, "a.txt")); err == nil {
		t.Fatal("a.txt written in the client's checkout")
	}
	ed.awaitText(sid, "agent", "Done: a.txt is written.")
	ed.awaitText(sid, "tool", "Write a.txt")
	var located bool
	ed.mu.Lock()
	for _, n := range ed.updates {
		if tc := n.Update.ToolCall; tc != nil && len(tc.Locations) == 1 && tc.Locations[0].Path == filepath.Join(sess.Worktree, "a.txt") {
			located = true
		}
	}
	ed.mu.Unlock()
	if !located {
		t.Error("no tool call locates a.txt in the worktree")
	}

	// Two clients on one session: both are asked, the second answers, the
	// first's request is withdrawn and it is told.
	ed2 := startACPEditor(t, home)
	if _, err := ed2.conn.LoadSession(ctx, acp.LoadSessionRequest{SessionId: sid, Cwd: repo, McpServers: []acp.McpServer{}}); err != nil {
		t.Fatal(err)
	}
	ed2.awaitText(sid, "user", "please write a.txt") // replayed
	ed2.awaitText(sid, "agent", "Done: a.txt is written.")
	done = ed.prompt(sid, "write b.txt")
	ask1, ask2 := ed.awaitAsk(2), ed2.awaitAsk(1)
	ask2.answer <- "allow-once"
	ed.Await(t, "the first client's request withdrawn", func() bool { return ask1.ctx.Err() != nil })
	awaitPrompt(t, done)
	ed.awaitText(sid, "tool", "answered elsewhere: Allow")
	if _, err := os.Stat(filepath.Join(sess.Worktree, "b.txt")); err != nil {
		t.Fatal(err)
	}
	ed2.awaitText(sid, "user", "write b.txt") // another face's prompt

	// A session spawned from the CLI is listed, and loading it replays it.
	cli, err := c.Spawn(ctx, protocol.SpawnParams{Repo: repo, Name: "from-cli", Agent: "fake", Prompt: "hello from the terminal"})
	if err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, cli.ID, protocol.StateIdle)
	list, err := ed.conn.ListSessions(ctx, acp.ListSessionsRequest{Cwd: &repo})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, s := range list.Sessions {
		listed = append(listed, string(s.SessionId))
	}
	if !slices.Contains(listed, cli.ID) || !slices.Contains(listed, string(sid)) {
		t.Fatalf("session/list %v: want %s and %s", listed, cli.ID, sid)
	}
	if _, err := ed.conn.LoadSession(ctx, acp.LoadSessionRequest{SessionId: acp.SessionId(cli.ID), Cwd: repo, McpServers: []acp.McpServer{}}); err != nil {
		t.Fatal(err)
	}
	// Replayed before the answer.
	if !slices.Contains(ed.texts(acp.SessionId(cli.ID), "user"), "hello from the terminal") {
		t.Errorf("load replayed user messages %v", ed.texts(acp.SessionId(cli.ID), "user"))
	}
	ed.awaitText(acp.SessionId(cli.ID), "agent", "you said: hello from the terminal")

	// A second session changing a.txt otherwise: the client hears of the
	// conflict, with the lines.
	other, err := c.Spawn(ctx, protocol.SpawnParams{Repo: repo, Name: "other", Command: []string{"sh", "-c", "printf 'other\\n' > a.txt; exec sleep 600"}})
	if err != nil {
		t.Fatal(err)
	}
	w.AwaitConflict(t, "a.txt between the thread and other", func(cf protocol.Conflict) bool {
		return cf.Path == "a.txt" && (cf.A.Session == other.Name || cf.B.Session == other.Name)
	})
	ed.awaitText(sid, "tool", "studiod: session other changes line 1 of a.txt you are editing")
	// And where it stands in the integration preview.
	ed.awaitText(sid, "tool", "studiod: integration preview: "+sess.Name)
	// Writing a.txt again, the agent's request carries what studiod's gate
	// found: another session changed that file.
	done = ed.prompt(sid, "write a.txt")
	ask = ed.awaitAsk(3)
	if title := *ask.req.ToolCall.Title; !strings.Contains(title, "— studiod: ") || !strings.Contains(title, "other") {
		t.Errorf("permission title %q: want the gate's finding about session other", title)
	}
	ask.answer <- "reject-once"
	awaitPrompt(t, done)

	// session/cancel ends the running turn; the agent stays.
	done = ed.prompt(sid, "wait")
	ed.awaitText(sid, "agent", "waiting to be cancelled")
	if err := ed.conn.Cancel(ctx, acp.CancelNotification{SessionId: sid}); err != nil {
		t.Fatal(err)
	}
	if r := awaitPrompt(t, done); r.StopReason != acp.StopReasonCancelled {
		t.Errorf("stop reason %q after session/cancel, want cancelled", r.StopReason)
	}
	if s := w.AwaitState(t, string(sid), protocol.StateIdle); !s.State.Live() {
		t.Errorf("session %s after cancel", s.State)
	}

	// The agent's plan reaches the client; a commit on main puts the
	// session behind it, and the client hears so.
	awaitPrompt(t, ed.prompt(sid, "plan"))
	ed.Await(t, "the plan", func() bool {
		ed.mu.Lock()
		defer ed.mu.Unlock()
		return slices.ContainsFunc(ed.updates, func(n acp.SessionNotification) bool {
			return n.SessionId == sid && n.Update.Plan != nil && len(n.Update.Plan.Entries) == 2 && n.Update.Plan.Entries[0].Status == "completed"
		})
	})
	gittest.Write(t, repo, map[string]string{"NEWS": "a change on main\n"})
	gittest.Commit(t, repo, "news")
	ed.awaitText(sid, "tool", "studiod: "+sess.Name+" is 1 commit behind main")

	// Bad input: a cwd outside any repository, a session of another
	// repository, an unknown session, an unknown config value.
	outside := t.TempDir()
	if _, err := ed.conn.NewSession(ctx, acp.NewSessionRequest{Cwd: outside, McpServers: []acp.McpServer{}}); !acpErr(err, -32602, outside) {
		t.Errorf("session/new outside a repository: %v", err)
	}
	repo2 := gittest.NewRepo(t, map[string]string{"x": "1\n"})
	if _, err := ed2.conn.LoadSession(ctx, acp.LoadSessionRequest{SessionId: acp.SessionId(cli.ID), Cwd: repo2, McpServers: []acp.McpServer{}}); !acpErr(err, -32602, "belongs to repository") {
		t.Errorf("session/load of another repository's session: %v", err)
	}
	if _, err := ed.conn.LoadSession(ctx, acp.LoadSessionRequest{SessionId: "nope", Cwd: repo, McpServers: []acp.McpServer{}}); !acpErr(err, -32002, "nope") {
		t.Errorf("session/load of no session: %v", err)
	}
	if _, err := ed.conn.Prompt(ctx, acp.PromptRequest{SessionId: "nope", Prompt: []acp.ContentBlock{acp.TextBlock("hi")}}); !acpErr(err, -32002, "load it first") {
		t.Errorf("session/prompt to no session: %v", err)
	}
	if _, err := ed.conn.SetSessionConfigOption(ctx, acp.SetSessionConfigOptionRequest{ValueId: &acp.SetSessionConfigOptionValueId{SessionId: sid, ConfigId: "agent", Value: "fake-auth"}}); !acpErr(err, -32602, "has had a prompt") {
		t.Errorf("changing the agent after a prompt: %v", err)
	}
	if s := sessionState(t, c, string(sid)); s.State != protocol.StateIdle || s.Agent != "fake" {
		t.Errorf("session after bad input: %s %s", s.State, s.Agent)
	}
}

// acpErr reports whether err is an ACP error with code whose message says
// substr.
func acpErr(err error, code int, substr string) bool {
	re, ok := err.(*acp.RequestError)
	return ok && re.Code == code && strings.Contains(re.Message, substr)
}

// TestACPHostClientGone: a client killed in the middle of a turn, and one
// killed while a permission waits in it, leave the session going: the
// turn ends, the permission waits for another face.
func TestACPHostClientGone(t *testing.T) {
	t.Parallel()
	home := acpHostHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	d := startDaemon(t, home)
	c, w := d.watch()

	ed := startACPEditor(t, home)
	ns, err := ed.conn.NewSession(t.Context(), acp.NewSessionRequest{Cwd: repo, McpServers: []acp.McpServer{}})
	if err != nil {
		t.Fatal(err)
	}
	id := string(ns.SessionId)
	wt := sessionState(t, c, id).Worktree
	ed.prompt(ns.SessionId, "hold")
	ed.awaitText(ns.SessionId, "agent", "holding until released")
	// Working in the daemon's eyes too: the idle awaited below is the
	// turn's end, not the idle before it.
	w.AwaitState(t, id, protocol.StateWorking)
	ed.cmd.Process.Signal(syscall.SIGKILL)
	ed.cmd.Wait()
	if err := os.WriteFile(filepath.Join(wt, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if s := w.AwaitState(t, id, protocol.StateIdle); s.Detail != "end_turn" {
		t.Errorf("after the client died the turn ended %q, want end_turn", s.Detail)
	}

	ed = startACPEditor(t, home)
	if _, err := ed.conn.LoadSession(t.Context(), acp.LoadSessionRequest{SessionId: ns.SessionId, Cwd: repo, McpServers: []acp.McpServer{}}); err != nil {
		t.Fatal(err)
	}
	ed.prompt(ns.SessionId, "write c.txt")
	ed.awaitAsk(1)
	ed.cmd.Process.Signal(syscall.SIGKILL)
	ed.cmd.Wait()
	w.AwaitState(t, id, protocol.StateWaiting)
	if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: ref(id), Answer: protocol.AnswerAllow}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, id, protocol.StateIdle)
	if _, err := os.Stat(filepath.Join(wt, "c.txt")); err != nil {
		t.Fatal(err)
	}
}

// TestACPHostMalformed: lines that are not JSON-RPC messages and unknown
// methods get JSON-RPC errors, and the connection goes on.
func TestACPHostMalformed(t *testing.T) {
	t.Parallel()
	home := acpHostHome(t)
	startDaemon(t, home)
	cmd := exec.Command("studiod", "acp")
	cmd.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	io.WriteString(in, "this is not json\n[1,2]\n"+
		`{"jsonrpc":"2.0","id":1,"method":"nope/nothing","params":{}}`+"\n"+
		`{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":1}}`+"\n")
	sc := bufio.NewScanner(out)
	var codes []int
	for len(codes) < 4 && sc.Scan() {
		var m struct {
			ID     any `json:"id"`
			Result *struct {
				ProtocolVersion int `json:"protocolVersion"`
			} `json:"result"`
			Error *struct {
				Code int `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("studiod acp wrote %q: %v", sc.Text(), err)
		}
		switch {
		case m.Error != nil:
			codes = append(codes, m.Error.Code)
		case m.Result != nil:
			codes = append(codes, m.Result.ProtocolVersion)
		}
	}
	slices.Sort(codes)
	if want := []int{-32700, -32601, -32600, 1}; !slices.Equal(codes, want) {
		t.Errorf("answers %v, want %v (parse error, method not found, invalid request, then initialize's protocol version)", codes, want)
	}
}

// TestACPHostClaudeAgentACP: the real claude-agent-acp (npm) against the
// scripted model, under a thread of an ACP client: the client names the
// session, the agent's permission shows in the client, allowed it writes
// in the session's worktree, and the turn ends with end_turn.
func TestACPHostClaudeAgentACP(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "claude-agent-acp")
	home := newHome(t)
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "config", "config.toml"), []byte("[acp]\nagent = \"claude-acp\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	const name = "hello-zed"
	wt := filepath.Join(home, "data", "worktrees", filepath.Base(repo)+"-"+sha256Hex(repo)[:8], name)
	fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
		{UserContains: "hello.py", Text: "I'll create it.", Tool: fakemodel.Call("Write", map[string]string{"file_path": filepath.Join(wt, "hello.py"), "content": "print('hello')\n"})},
		{AfterToolResult: true, Text: "Done: hello.py is written."},
	}})
	defer fm.Close()
	const key = "sk-ant-fake-0123456789abcdefghijklmnop"
	d := startDaemonEnv(t, home,
		claudeACPEnv(t, bin, key, repo, fm.URL())...)
	c, w := d.watch()
	ed := startACPEditor(t, home)
	ns, err := ed.conn.NewSession(t.Context(), acp.NewSessionRequest{Cwd: repo, McpServers: []acp.McpServer{},
		Meta: map[string]any{"studiod": map[string]any{"name": name}}})
	if err != nil {
		t.Fatal(err)
	}
	if s := sessionState(t, c, string(ns.SessionId)); s.Name != name || s.Agent != "claude-acp" || s.Worktree != wt {
		t.Fatalf("session %s (%s) in %s: want %s (claude-acp) in %s", s.Name, s.Agent, s.Worktree, name, wt)
	}
	done := ed.prompt(ns.SessionId, "Create hello.py that prints hello")
	ask := ed.awaitAsk(1)
	if ask.req.ToolCall.Title == nil || !strings.Contains(*ask.req.ToolCall.Title, "hello.py") {
		t.Fatalf("permission request %+v: want the write of hello.py", ask.req.ToolCall)
	}
	var allow acp.PermissionOptionId
	for _, o := range ask.req.Options {
		if o.Kind == acp.PermissionOptionKindAllowOnce {
			allow = o.OptionId
		}
	}
	if allow == "" {
		t.Fatalf("options %+v: no allow_once", ask.req.Options)
	}
	if _, err := os.Stat(filepath.Join(wt, "hello.py")); err == nil {
		t.Fatal("hello.py written before the permission was answered")
	}
	ask.answer <- allow
	if r := awaitPrompt(t, done); r.StopReason != acp.StopReasonEndTurn {
		t.Errorf("stop reason %q, want end_turn", r.StopReason)
	}
	if b, err := os.ReadFile(filepath.Join(wt, "hello.py")); err != nil || string(b) != "print('hello')\n" {
		t.Fatalf("hello.py in the worktree: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(repo, "hello.py")); err == nil {
		t.Fatal("hello.py written in the client's checkout")
	}
	ed.awaitText(ns.SessionId, "agent", "Done: hello.py is written.")
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: ref(string(ns.SessionId))}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, string(ns.SessionId), protocol.StateStopped, protocol.StateExited)
}

// TestACPHostTerminalAgent: the thread's Agent option switches, before
// the first prompt, to a terminal agent, in a session of the same name; a
// prompt is typed into its terminal and its turn ends when it goes idle.
// After the prompt the option is refused, changing nothing.
func TestACPHostTerminalAgent(t *testing.T) {
	t.Parallel()
	home := acpHostHome(t)
	f, err := os.OpenFile(filepath.Join(home, "config", "config.toml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// No hooks: the terminal going quiet says the turn ended.
	f.WriteString("\n[agents.term]\ncommand = [\"fakeagent\", \"--echo\", \"--nohook\"]\nidle_after = \"300ms\"\n")
	f.Close()
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	d := startDaemon(t, home)
	c, w := d.watch()
	ed := startACPEditor(t, home)
	ns, err := ed.conn.NewSession(t.Context(), acp.NewSessionRequest{Cwd: repo, McpServers: []acp.McpServer{}})
	if err != nil {
		t.Fatal(err)
	}
	first := sessionState(t, c, string(ns.SessionId))
	res, err := ed.conn.SetSessionConfigOption(t.Context(), acp.SetSessionConfigOptionRequest{ValueId: &acp.SetSessionConfigOptionValueId{SessionId: ns.SessionId, ConfigId: "agent", Value: "term"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.ConfigOptions[0].Select.CurrentValue; got != "term" {
		t.Errorf("agent option %q after the switch, want term", got)
	}
	if s := sessionState(t, c, first.ID); s.State != protocol.StateRemoved {
		t.Errorf("the first agent's session is %s, want removed", s.State)
	}
	list, err := c.Sessions(t.Context(), protocol.SessionsParams{Repo: repo})
	if err != nil {
		t.Fatal(err)
	}
	var now protocol.Session
	for _, s := range list.Sessions {
		if s.Name == first.Name {
			now = s
		}
	}
	if now.Agent != "term" {
		t.Fatalf("session %s runs %q, want term", first.Name, now.Agent)
	}
	w.AwaitState(t, now.ID, protocol.StateIdle)
	r := awaitPrompt(t, ed.prompt(ns.SessionId, "hello terminal"))
	if r.StopReason != acp.StopReasonEndTurn {
		t.Errorf("stop reason %q, want end_turn", r.StopReason)
	}
	ed.awaitText(ns.SessionId, "agent", "(term, a terminal agent, finished its turn")
	out, err := c.Output(t.Context(), protocol.OutputParams{SessionRef: ref(now.ID)})
	if err != nil || !strings.Contains(string(out.Data), "got: hello terminal") {
		t.Errorf("terminal output %q, %v: want the prompt echoed", out.Data, err)
	}
	if _, err := ed.conn.SetSessionConfigOption(t.Context(), acp.SetSessionConfigOptionRequest{ValueId: &acp.SetSessionConfigOptionValueId{SessionId: ns.SessionId, ConfigId: "agent", Value: "fake"}}); !acpErr(err, -32602, "has had a prompt") {
		t.Errorf("switching after a prompt: %v", err)
	}
}

// TestACPPrintConfig: each documented client's snippet runs this binary's
// `acp`; an unknown client is a usage error.
func TestACPPrintConfig(t *testing.T) {
	t.Parallel()
	for _, client := range []string{"zed", "jetbrains", "acpx"} {
		out, err := exec.Command("studiod", "acp", "--print-config", client).Output()
		if err != nil {
			t.Fatalf("%s: %v", client, err)
		}
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("%s: %v\n%s", client, err, out)
		}
		if !strings.Contains(string(out), `"acp"`) || !strings.Contains(string(out), "studiod") {
			t.Errorf("%s: %s does not run `studiod acp`", client, out)
		}
	}
	err := exec.Command("studiod", "acp", "--print-config", "emacs").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Errorf("unknown client: %v, want exit 2", err)
	}
}

// TestACPHostDaemonRestart: the daemon killed under a client; the face
// dials again (starting a daemon), and the thread goes on: the next prompt
// is answered.
func TestACPHostDaemonRestart(t *testing.T) {
	t.Parallel()
	home := acpHostHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	d := startDaemon(t, home)
	ed := startACPEditor(t, home)
	ns, err := ed.conn.NewSession(t.Context(), acp.NewSessionRequest{Cwd: repo, McpServers: []acp.McpServer{}})
	if err != nil {
		t.Fatal(err)
	}
	awaitPrompt(t, ed.prompt(ns.SessionId, "hello one"))
	ed.awaitText(ns.SessionId, "agent", "you said: hello one")
	d.kill9()
	r := awaitPrompt(t, ed.prompt(ns.SessionId, "hello two"))
	if r.StopReason != acp.StopReasonEndTurn {
		t.Errorf("stop reason %q after the restart, want end_turn", r.StopReason)
	}
	ed.awaitText(ns.SessionId, "agent", "you said: hello two")
}
