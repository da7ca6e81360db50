package fakemodel

// These tests run the real agent CLIs, installed by .ci/agents.sh into
// test/agents/node_modules, in a real PTY against the fake model server, fully
// offline (loopback only). They follow docs/agents.md to the letter: if one
// breaks after a version bump, the recipe there is what changed. They fail
// when the CLIs are not installed.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// repo makes a git repository with one commit, outside any other repository.
func repo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "README"}, {"commit", "-qm", "init"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@studiod.invalid", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@studiod.invalid")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

// baseEnv is a minimal environment: nothing of the user's leaks in.
func baseEnv(home string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"), "TERM=xterm-256color", "LANG=C.UTF-8",
		"HOME=" + home, "TMPDIR=" + os.TempDir(),
	}
}

// term is an agent running in a PTY of 120x40. It answers the two terminal
// queries the agents wait on (DA1 and the cursor position report), as a
// terminal would.
type term struct {
	t    *testing.T
	f    *os.File
	cmd  *exec.Cmd
	done chan struct{} // closed when the PTY reader ends

	mu  sync.Mutex // guards out
	out bytes.Buffer
}

func startTerm(t *testing.T, dir string, env []string, argv ...string) *term {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	// If the test binary dies (a -timeout panic skips Cleanup), the agent
	// gets SIGKILL; pty adds Setsid and Setctty to these attributes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 40})
	if err != nil {
		t.Fatalf("start %s: %v", argv[0], err)
	}
	tm := &term{t: t, f: f, cmd: cmd, done: make(chan struct{})}
	go tm.read()
	t.Cleanup(tm.stop)
	return tm
}

var replies = []struct{ query, reply string }{
	{"\x1b[c", "\x1b[?62;22c"},
	{"\x1b[0c", "\x1b[?62;22c"},
	{"\x1b[6n", "\x1b[1;1R"},
}

func (tm *term) read() {
	defer close(tm.done)
	buf := make([]byte, 32<<10)
	var tail []byte
	for {
		n, err := tm.f.Read(buf)
		if n > 0 {
			tm.mu.Lock()
			tm.out.Write(buf[:n])
			tm.mu.Unlock()
			// Look for queries in the previous tail plus this chunk, counting
			// only those that end in this chunk.
			scan := append(tail, buf[:n]...)
			for _, r := range replies {
				for i := 0; ; {
					j := bytes.Index(scan[i:], []byte(r.query))
					if j < 0 {
						break
					}
					if end := i + j + len(r.query); end > len(tail) {
						_, _ = tm.f.Write([]byte(r.reply))
					}
					i += j + 1
				}
			}
			tail = append([]byte(nil), scan[max(0, len(scan)-8):]...)
		}
		if err != nil {
			return
		}
	}
}

// send writes keys to the agent, as one write.
func (tm *term) send(s string) {
	tm.t.Helper()
	if _, err := tm.f.Write([]byte(s)); err != nil {
		tm.t.Fatalf("write to pty: %v", err)
	}
}

// output returns everything the agent wrote so far.
func (tm *term) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

// stop ends the agent's whole process group and waits for it.
func (tm *term) stop() {
	_ = syscall.Kill(-tm.cmd.Process.Pid, syscall.SIGTERM)
	waited := make(chan struct{})
	go func() { _ = tm.cmd.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(5 * time.Second): // a grace period, not a test bound
		_ = syscall.Kill(-tm.cmd.Process.Pid, syscall.SIGKILL)
		<-waited
	}
	tm.f.Close()
	<-tm.done
}

// answer waits until the agent has drawn text (its permission prompt),
// lets the prompt settle, then sends keys. A hook fires before the agent's
// UI takes input: Enter sent the moment PermissionRequest (Claude Code,
// Codex) or Notification (Gemini CLI) arrives is sometimes lost.
func (tm *term) answer(ctx context.Context, text, keys string) {
	tm.t.Helper()
	for !strings.Contains(tm.output(), text) {
		if tm.exited() {
			tm.t.Fatalf("agent exited before showing %q; it wrote:\n%s", text, tail(tm.output()))
		}
		select {
		case <-ctx.Done():
			tm.t.Fatalf("agent never showed %q: %v; it wrote:\n%s", text, ctx.Err(), tail(tm.output()))
		case <-time.After(50 * time.Millisecond):
		}
	}
	time.Sleep(500 * time.Millisecond) // settle; not a bound
	tm.send(keys)
}

// exited reports whether the agent has exited, for failure messages.
func (tm *term) exited() bool {
	select {
	case <-tm.done:
		return true
	default:
		return false
	}
}

// hookRecorder writes a hook command that saves each event's stdin (or, for
// Codex's notify, its last argument) as DIR/<ns>.json.
func hookRecorder(t *testing.T) (cmd, dir string) {
	t.Helper()
	base := t.TempDir()
	dir = filepath.Join(base, "events")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd = filepath.Join(base, "record.sh")
	script := fmt.Sprintf(`#!/bin/sh
f=%q/$(date +%%s%%N)-$$
if [ $# -gt 0 ]; then eval "printf '%%s' \"\${$#}\"" > "$f.tmp"; else cat > "$f.tmp"; fi
mv "$f.tmp" "$f.json"
`, dir)
	if err := os.WriteFile(cmd, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return cmd, dir
}

// waitEvent waits until a recorded event satisfies cond, polling the
// directory, and returns it. The test's own deadline bounds it.
func waitEvent(ctx context.Context, t *testing.T, tm *term, dir string, what string, cond func(map[string]any) bool) map[string]any {
	t.Helper()
	for {
		names, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				continue
			}
			var ev map[string]any
			if json.Unmarshal(b, &ev) == nil && cond(ev) {
				return ev
			}
		}
		if tm.exited() {
			t.Fatalf("agent exited before %s; it wrote:\n%s", what, tail(tm.output()))
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no %s: %v; the agent wrote:\n%s", what, ctx.Err(), tail(tm.output()))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tail(s string) string {
	if len(s) > 3000 {
		s = s[len(s)-3000:]
	}
	return s
}

func event(name string) func(map[string]any) bool {
	return func(ev map[string]any) bool { return ev["hook_event_name"] == name }
}

// waitModel waits for a request to the model that satisfies cond.
func waitModel(ctx context.Context, t *testing.T, tm *term, s *Server, what string, cond func(*Request) bool) Request {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-tm.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	r, err := s.Wait(ctx, cond)
	if err != nil {
		t.Fatalf("model never got %s (%v); the agent wrote:\n%s", what, err, tail(tm.output()))
	}
	return r
}

func hasToolResult(r *Request) bool { return len(r.LastToolResults()) > 0 }

func mustExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the agent did not write %s: %v", path, err)
	}
}

func writeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestClaudeCode: prompt → Write hello.py → permission (PermissionRequest
// hook) → Enter → file written → Stop → a pasted 500-character review reaches
// the model as the user prompt → stop ends every process.
func TestClaudeCode(t *testing.T) {
	bin := AgentsBin(t, "claude")
	ctx := t.Context()
	dir := repo(t)
	home := t.TempDir()
	review := "REVIEW: " + strings.Repeat("please rename x to count; ", 19)[:492]
	s := New(Script{Turns: []Turn{
		{UserContains: "hello.py", Text: "I'll create it.", Tool: Call("Write", map[string]string{"file_path": filepath.Join(dir, "hello.py"), "content": "print('hello')\n"})},
		{AfterToolResult: true, Text: "Done: hello.py is written."},
		{UserContains: "REVIEW:", Text: "Thanks for the review."},
	}})
	defer s.Close()

	const key = "sk-ant-fake-0123456789abcdefghijklmnop"
	writeJSONFile(t, filepath.Join(home, ".claude.json"), map[string]any{
		"hasCompletedOnboarding": true,
		"customApiKeyResponses":  map[string]any{"approved": []string{key[len(key)-20:]}},
		"projects":               map[string]any{dir: map[string]any{"hasTrustDialogAccepted": true}},
	})
	record, events := hookRecorder(t)
	hooks := map[string]any{}
	for _, e := range []string{"SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest", "PostToolUse", "Notification", "Stop", "StopFailure", "SessionEnd"} {
		hooks[e] = []any{map[string]any{"matcher": "*", "hooks": []any{map[string]any{"type": "command", "command": record}}}}
	}
	settings, _ := json.Marshal(map[string]any{"hooks": hooks})
	env := append(baseEnv(home),
		"ANTHROPIC_BASE_URL="+s.URL(), "ANTHROPIC_API_KEY="+key,
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_AUTOUPDATER=1")
	const session = "5f0c2a4e-8d1b-4c3a-9e7f-0a1b2c3d4e5f"
	tm := startTerm(t, dir, env, filepath.Join(bin, "claude"),
		"--permission-mode", "manual", "--settings", string(settings), "--session-id", session,
		"Create hello.py that prints hello")

	perm := waitEvent(ctx, t, tm, events, "PermissionRequest hook", event("PermissionRequest"))
	if perm["tool_name"] != "Write" || perm["session_id"] != session {
		t.Errorf("PermissionRequest %v: want tool Write in session %s", perm, session)
	}
	tm.answer(ctx, "Do you want to create", "\r") // 1. Yes is selected
	waitModel(ctx, t, tm, s, "the Write tool result", hasToolResult)
	waitEvent(ctx, t, tm, events, "Stop hook", event("Stop"))
	mustExist(t, filepath.Join(dir, "hello.py"))

	// Paste the review, then press Enter in a separate write.
	tm.send("\x1b[200~" + review + "\x1b[201~")
	time.Sleep(300 * time.Millisecond) // let the paste land before Enter; not a bound
	tm.send("\r")
	got := waitModel(ctx, t, tm, s, "the review", func(r *Request) bool { return strings.Contains(r.LastUserText(), "REVIEW:") })
	if !strings.Contains(got.LastUserText(), review) {
		t.Errorf("the model got %q, want the whole review", got.LastUserText())
	}
	submitted := waitEvent(ctx, t, tm, events, "UserPromptSubmit for the review", func(ev map[string]any) bool {
		return ev["hook_event_name"] == "UserPromptSubmit" && strings.HasPrefix(fmt.Sprint(ev["prompt"]), "REVIEW:")
	})
	if submitted["prompt"] != review {
		t.Errorf("UserPromptSubmit prompt %q, want the review", submitted["prompt"])
	}
}

// TestCodex: trust, provider and hooks all on the command line; a command
// that needs approval → PermissionRequest hook → Enter → Stop and notify.
func TestCodex(t *testing.T) {
	bin := AgentsBin(t, "codex")
	ctx := t.Context()
	dir := repo(t)
	home := t.TempDir()
	codexHome := filepath.Join(home, ".codex")
	if err := os.Mkdir(codexHome, 0o700); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "outside.txt")
	s := New(Script{Turns: []Turn{
		{UserContains: "outside.txt", Text: "I'll write it.", Tool: Call("exec_command", map[string]string{
			"cmd": "echo hi > " + outside, "sandbox_permissions": "require_escalated", "justification": "Write outside.txt?"})},
		{AfterToolResult: true, Text: "Done: wrote it."},
	}})
	defer s.Close()

	record, events := hookRecorder(t)
	args := []string{filepath.Join(bin, "codex"), "--no-daemon", "--dangerously-bypass-hook-trust",
		"-c", "model_provider=fake",
		"-c", fmt.Sprintf(`model_providers.fake={name="fake",base_url=%q,env_key="FAKE_API_KEY",wire_api="responses"}`, s.URL()+"/v1"),
		"-c", fmt.Sprintf(`projects={%q={trust_level="trusted"}}`, dir),
		"-c", fmt.Sprintf(`notify=[%q]`, record),
		"-m", "gpt-fake",
	}
	for _, e := range []string{"SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest", "PostToolUse", "Stop", "SessionEnd"} {
		args = append(args, "-c", fmt.Sprintf(`hooks.%s=[{hooks=[{type="command",command=%q}]}]`, e, record))
	}
	args = append(args, "Write outside.txt")
	env := append(baseEnv(home), "CODEX_HOME="+codexHome, "FAKE_API_KEY=sk-fake")
	tm := startTerm(t, dir, env, args...)

	start := waitEvent(ctx, t, tm, events, "SessionStart hook", event("SessionStart"))
	perm := waitEvent(ctx, t, tm, events, "PermissionRequest hook", event("PermissionRequest"))
	if perm["tool_name"] != "Bash" || perm["session_id"] != start["session_id"] {
		t.Errorf("PermissionRequest %v: want tool Bash in session %v", perm, start["session_id"])
	}
	tm.answer(ctx, "Would you like to run", "\r") // 1. Yes, proceed
	waitModel(ctx, t, tm, s, "the command's output", hasToolResult)
	waitEvent(ctx, t, tm, events, "Stop hook", event("Stop"))
	notify := waitEvent(ctx, t, tm, events, "notify for the session's turn", func(ev map[string]any) bool {
		return ev["type"] == "agent-turn-complete" && ev["thread-id"] == start["session_id"]
	})
	if notify["last-assistant-message"] != "Done: wrote it." {
		t.Errorf("notify %v", notify)
	}
	mustExist(t, outside)
}

// TestGeminiCLI: API key, base URL, auth type and hooks in a private HOME;
// trust by environment; write_file → Notification ToolPermission → Enter →
// AfterAgent.
func TestGeminiCLI(t *testing.T) {
	bin := AgentsBin(t, "gemini")
	ctx := t.Context()
	dir := repo(t)
	home := t.TempDir()
	s := New(Script{Turns: []Turn{
		{UserContains: "hello.py", Text: "I'll create it.", Tool: Call("write_file", map[string]string{"file_path": filepath.Join(dir, "hello.py"), "content": "print('hello')\n"})},
		{AfterToolResult: true, Text: "Done: hello.py is written."},
	}})
	defer s.Close()

	record, events := hookRecorder(t)
	hooks := map[string]any{}
	for _, e := range []string{"SessionStart", "BeforeAgent", "BeforeTool", "AfterTool", "Notification", "AfterAgent", "SessionEnd"} {
		hooks[e] = []any{map[string]any{"matcher": "*", "hooks": []any{map[string]any{"type": "command", "command": record, "name": "studiod-" + e}}}}
	}
	writeJSONFile(t, filepath.Join(home, ".gemini", "settings.json"), map[string]any{
		"security": map[string]any{"auth": map[string]any{"selectedType": "gemini-api-key"}},
		"hooks":    hooks,
	})
	env := append(baseEnv(home), "GEMINI_API_KEY=fake-key", "GOOGLE_GEMINI_BASE_URL="+s.URL(), "GEMINI_CLI_TRUST_WORKSPACE=true")
	const session = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	tm := startTerm(t, dir, env, filepath.Join(bin, "gemini"), "--session-id", session, "-i", "Create hello.py")

	perm := waitEvent(ctx, t, tm, events, "Notification ToolPermission hook", func(ev map[string]any) bool {
		return ev["hook_event_name"] == "Notification" && ev["notification_type"] == "ToolPermission"
	})
	if perm["session_id"] != session {
		t.Errorf("Notification %v: want session %s", perm, session)
	}
	tm.answer(ctx, "Apply this change", "\r") // 1. Allow once
	waitModel(ctx, t, tm, s, "the write_file result", hasToolResult)
	waitEvent(ctx, t, tm, events, "AfterAgent hook", event("AfterAgent"))
	mustExist(t, filepath.Join(dir, "hello.py"))
}

// TestOpencode: an OpenAI-compatible provider in a config file named by
// OPENCODE_CONFIG; edits allowed, so the turn runs to the end unattended.
func TestOpencode(t *testing.T) {
	bin := AgentsBin(t, "opencode")
	ctx := t.Context()
	dir := repo(t)
	home := t.TempDir()
	s := New(Script{Turns: []Turn{
		{UserContains: "hello.py", Text: "I'll create it.", Tool: Call("write", map[string]string{"filePath": filepath.Join(dir, "hello.py"), "content": "print('hello')\n"})},
		{AfterToolResult: true, Text: "Done: hello.py is written."},
	}})
	defer s.Close()

	config := filepath.Join(t.TempDir(), "opencode.json")
	writeJSONFile(t, config, map[string]any{
		"autoupdate": false, "share": "disabled",
		"provider": map[string]any{"fake": map[string]any{
			"npm": "@ai-sdk/openai-compatible", "name": "Fake",
			"options": map[string]any{"baseURL": s.URL() + "/v1", "apiKey": "sk-fake"},
			"models":  map[string]any{"fake-model": map[string]any{"name": "Fake Model", "tool_call": true}},
		}},
		"model": "fake/fake-model", "small_model": "fake/fake-model",
		"permission": map[string]any{"edit": "allow", "bash": "ask"},
	})
	env := append(baseEnv(home), "OPENCODE_CONFIG="+config,
		"OPENCODE_DISABLE_AUTOUPDATE=1", "OPENCODE_DISABLE_MODELS_FETCH=1", "OPENCODE_DISABLE_DEFAULT_PLUGINS=1")
	tm := startTerm(t, dir, env, filepath.Join(bin, "opencode"), "--prompt", "Create hello.py")

	waitModel(ctx, t, tm, s, "the write result", hasToolResult)
	mustExist(t, filepath.Join(dir, "hello.py"))
	for _, r := range s.Requests() {
		if r.API == Unknown {
			t.Errorf("opencode called %s %s", r.Method, r.Path)
		}
	}
}

// TestClaudeAgentACP drives claude-agent-acp over stdio with hand-written
// JSON-RPC lines (the real client will use an ACP library): initialize →
// session/new → session/set_mode "default" → session/prompt →
// session/request_permission answered allow-once → stopReason end_turn.
func TestClaudeAgentACP(t *testing.T) {
	bin := AgentsBin(t, "claude-agent-acp")
	ctx := t.Context()
	dir := repo(t)
	home := t.TempDir()
	s := New(Script{Turns: []Turn{
		{UserContains: "hello.py", Text: "I'll create it.", Tool: Call("Write", map[string]string{"file_path": filepath.Join(dir, "hello.py"), "content": "print('hello')\n"})},
		{AfterToolResult: true, Text: "Done: hello.py is written."},
	}})
	defer s.Close()
	const key = "sk-ant-fake-0123456789abcdefghijklmnop"
	writeJSONFile(t, filepath.Join(home, ".claude.json"), map[string]any{
		"hasCompletedOnboarding": true,
		"customApiKeyResponses":  map[string]any{"approved": []string{key[len(key)-20:]}},
		"projects":               map[string]any{dir: map[string]any{"hasTrustDialogAccepted": true}},
	})
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "claude-agent-acp"))
	cmd.Dir = dir
	cmd.Env = append(baseEnv(home), "ANTHROPIC_BASE_URL="+s.URL(), "ANTHROPIC_API_KEY="+key,
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_AUTOUPDATER=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
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
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	send := func(v map[string]any) {
		v["jsonrpc"] = "2.0"
		b, _ := json.Marshal(v)
		if _, err := in.Write(append(b, '\n')); err != nil {
			t.Fatalf("write to agent: %v", err)
		}
	}
	dec := json.NewDecoder(out)
	type msg struct {
		ID     any             `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	// next returns the response to id, answering permission requests and
	// skipping notifications on the way.
	var permissions int
	next := func(id float64) json.RawMessage {
		t.Helper()
		for {
			var m msg
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("read from agent: %v\nstderr:\n%s", err, tail(stderr.String()))
			}
			if m.Method == "session/request_permission" {
				permissions++
				var p struct {
					ToolCall struct{ Title, Kind string } `json:"toolCall"`
					Options  []struct{ OptionID, Kind string }
				}
				if err := json.Unmarshal(m.Params, &p); err != nil {
					t.Fatal(err)
				}
				if p.ToolCall.Title != "Write hello.py" || p.ToolCall.Kind != "edit" {
					t.Errorf("permission for %+v, want Write hello.py (edit)", p.ToolCall)
				}
				allow := ""
				for _, o := range p.Options {
					if o.Kind == "allow_once" {
						allow = o.OptionID
					}
				}
				send(map[string]any{"id": m.ID, "result": map[string]any{"outcome": map[string]any{"outcome": "selected", "optionId": allow}}})
				continue
			}
			if m.Method == "" && m.ID == id {
				if m.Error != nil {
					t.Fatalf("request %v failed: %s", id, m.Error)
				}
				return m.Result
			}
		}
	}
	send(map[string]any{"id": 1, "method": "initialize", "params": map[string]any{"protocolVersion": 1,
		"clientCapabilities": map[string]any{"fs": map[string]any{"readTextFile": false, "writeTextFile": false}, "terminal": false}}})
	next(1)
	send(map[string]any{"id": 2, "method": "session/new", "params": map[string]any{"cwd": dir, "mcpServers": []any{}}})
	var created struct{ SessionID string }
	if err := json.Unmarshal(next(2), &created); err != nil || created.SessionID == "" {
		t.Fatalf("session/new: %v", err)
	}
	send(map[string]any{"id": 3, "method": "session/set_mode", "params": map[string]any{"sessionId": created.SessionID, "modeId": "default"}})
	next(3)
	send(map[string]any{"id": 4, "method": "session/prompt", "params": map[string]any{"sessionId": created.SessionID,
		"prompt": []any{map[string]any{"type": "text", "text": "Create hello.py"}}}})
	var done struct{ StopReason string }
	if err := json.Unmarshal(next(4), &done); err != nil || done.StopReason != "end_turn" {
		t.Errorf("prompt ended with %+v (%v), want end_turn", done, err)
	}
	if permissions != 1 {
		t.Errorf("got %d permission requests, want 1", permissions)
	}
	mustExist(t, filepath.Join(dir, "hello.py"))
}
