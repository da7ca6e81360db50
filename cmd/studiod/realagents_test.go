package main

// These tests run the real agent CLIs, installed from npm by .ci/agents.sh
// into test/agents/node_modules (pinned versions), under the real daemon,
// against the scripted model server of internal/fakemodel on loopback.
// docs/agents.md has how each runs offline.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/fakemodel"
	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/internal/studiotest"
	"github.com/studiod/studiod/protocol"
	mcpface "github.com/studiod/studiod/server/mcp"
)

// writeJSON writes v to path as JSON.
func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// sessionProcesses lists the live processes that carry the session's ID
// in their environment: the agent and everything it started.
func sessionProcesses(id string) []string {
	var out []string
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", d.Name(), "environ"))
		if err != nil || !strings.Contains("\x00"+string(env)+"\x00", "\x00STUDIO_SESSION_ID="+id+"\x00") {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		// A zombie (state Z) is gone but for its exit status.
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		out = append(out, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(string(cmd), "\x00", " ")))
	}
	return out
}

// claudeHome makes a HOME for Claude Code that has done its onboarding,
// approved the key and trusts repo (every worktree of it).
// claudeEnv is the environment the real Claude Code runs in under a test
// daemon: the pinned CLIs first on PATH, a private home that knows key and
// trusts repo, and the scripted model at url, with nothing else reached.
func claudeEnv(t *testing.T, bin, key, repo, url string) []string {
	return []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + claudeHome(t, key, repo),
		"ANTHROPIC_BASE_URL=" + url, "ANTHROPIC_API_KEY=" + key,
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_AUTOUPDATER=1"}
}

// claudeACPEnv is claudeEnv for claude-agent-acp (its bin dir), which
// runs Claude Code as root only with IS_SANDBOX=1.
func claudeACPEnv(t *testing.T, bin, key, repo, url string) []string {
	return append(claudeEnv(t, bin, key, repo, url), "IS_SANDBOX=1")
}

func claudeHome(t *testing.T, key, repo string) string {
	home := t.TempDir()
	writeJSON(t, filepath.Join(home, ".claude.json"), map[string]any{
		"hasCompletedOnboarding": true,
		"customApiKeyResponses":  map[string]any{"approved": []string{key[len(key)-20:]}},
		"projects":               map[string]any{repo: map[string]any{"hasTrustDialogAccepted": true}},
	})
	return home
}

// TestClaudeCode drives the real Claude Code through studiod: spawn →
// the permission request shows as waiting with the tool and file → answer
// allow → the file lands in the worktree → idle → a 500-character review
// sent as feedback reaches the model whole, confirmed → stop leaves
// nothing running.
func TestClaudeCode(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "claude")
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	const name = "hello"
	// The session's worktree, where the model will ask to write.
	wt := filepath.Join(home, "data", "worktrees", filepath.Base(repo)+"-"+sha256Hex(repo)[:8], name)
	review := strings.Repeat("please print hello in capitals; ", 20)[:470]
	fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
		{UserContains: "hello.py", Text: "I'll create it.", Tool: fakemodel.Call("Write", map[string]string{"file_path": filepath.Join(wt, "hello.py"), "content": "print('hello')\n"})},
		{AfterToolResult: true, Text: "Done: hello.py is written."},
		{UserContains: "Review feedback", Text: "Thanks for the review."},
	}})
	defer fm.Close()

	const key = "sk-ant-fake-0123456789abcdefghijklmnop"
	// Manual permission mode: this version's default (auto) asks nothing.
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "config", "config.toml"),
		[]byte("[agents.claude]\ncommand = [\"claude\", \"--permission-mode\", \"manual\", \"{prompt}\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemonEnv(t, home,
		claudeEnv(t, bin, key, repo, fm.URL())...)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: name, Agent: "claude", Prompt: "Create hello.py that prints hello"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Worktree != wt {
		t.Fatalf("worktree %s, want %s", s.Worktree, wt)
	}
	if s.Conversation == "" {
		t.Errorf("no conversation id recorded for Claude Code")
	}

	got := w.AwaitState(t, s.ID, protocol.StateWaiting)
	if got.Waiting == nil || got.Waiting.Kind != protocol.WaitPermission || got.Waiting.Tool != "Write" ||
		got.Waiting.Subject != "hello.py" || !strings.Contains(got.Detail, "hello.py") {
		t.Fatalf("waiting: %+v (detail %q), want a permission to Write hello.py", got.Waiting, got.Detail)
	}
	if _, err := os.Stat(filepath.Join(wt, "hello.py")); err == nil {
		t.Fatal("hello.py written before the permission was answered")
	}
	ans, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: s.ID}, Answer: protocol.AnswerAllow})
	if err != nil {
		t.Fatalf("answer: %v", err)
	}
	if !ans.Delivery.Confirmed {
		t.Errorf("answer not confirmed: %+v", ans.Delivery)
	}
	// A second answer finds nothing to answer: the first one won.
	if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: s.ID}, Answer: protocol.AnswerAllow}); protocol.CodeOf(err) != protocol.CodeInvalid {
		t.Errorf("second answer: %v, want an invalid-argument error", err)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	if b, err := os.ReadFile(filepath.Join(wt, "hello.py")); err != nil || string(b) != "print('hello')\n" {
		t.Fatalf("hello.py in the worktree: %q, %v", b, err)
	}

	// A long review arrives whole, as one prompt, confirmed by the agent.
	if _, err := c.Comment(t.Context(), protocol.CommentParams{SessionRef: protocol.SessionRef{Session: s.ID}, Path: "hello.py", StartLine: 1, Body: review}); err != nil {
		t.Fatal(err)
	}
	fb, err := c.Feedback(t.Context(), protocol.SessionRef{Session: s.ID})
	if err != nil {
		t.Fatal(err)
	}
	if !fb.Delivery.Confirmed || len(fb.Message) < 500 {
		t.Errorf("feedback: %d characters, delivery %+v; want 500 or more, confirmed", len(fb.Message), fb.Delivery)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := fm.Wait(ctx, func(r *fakemodel.Request) bool { return strings.Contains(r.LastUserText(), fb.Message) }); err != nil {
		t.Fatalf("the model never received the review as a prompt: %v", err)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)

	// Stop ends the agent and everything it started.
	if len(sessionProcesses(s.ID)) == 0 {
		t.Fatal("no process of the session found before stop: the check below would prove nothing")
	}
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: protocol.SessionRef{Session: s.ID}}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateStopped, protocol.StateExited)
	if left := sessionProcesses(s.ID); len(left) > 0 {
		t.Errorf("processes of the session still running after stop:\n%s", strings.Join(left, "\n"))
	}
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestDoctorAgents: doctor finds each real agent CLI, its version, how its
// state is learned, and says when it looks signed out.
func TestDoctorAgents(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "claude", "codex", "gemini", "opencode", "claude-agent-acp")
	versions := map[string]string{}
	var pkg struct{ DevDependencies map[string]string }
	b, err := os.ReadFile("../../test/agents/package.json")
	if err != nil || json.Unmarshal(b, &pkg) != nil {
		t.Fatalf("test/agents/package.json: %v", err)
	}
	versions["claude"] = pkg.DevDependencies["@anthropic-ai/claude-code"]
	versions["codex"] = pkg.DevDependencies["@openai/codex"]
	versions["gemini"] = pkg.DevDependencies["@google/gemini-cli"]
	versions["opencode"] = pkg.DevDependencies["opencode-linux-x64"]
	doctor := func(env ...string) map[string]agentsCheck {
		t.Helper()
		cmd := exec.Command("studiod", "doctor", "--json")
		cmd.Env = append(os.Environ(), append([]string{"STUDIOD_HOME=" + newHome(t), "HOME=" + t.TempDir(),
			"PATH=" + bin + ":" + os.Getenv("PATH"), "ANTHROPIC_API_KEY=", "OPENAI_API_KEY=", "GEMINI_API_KEY=", "GOOGLE_API_KEY="}, env...)...)
		out, _ := cmd.Output()
		var res struct {
			Checks []struct{ Agent *agentsCheck }
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("doctor --json: %v\n%s", err, out)
		}
		got := map[string]agentsCheck{}
		for _, c := range res.Checks {
			if c.Agent != nil {
				got[c.Agent.Name] = *c.Agent
			}
		}
		return got
	}
	got := doctor()
	for name, v := range versions {
		a, ok := got[name]
		if !ok || !a.Found || a.Version != v {
			t.Errorf("%s: %+v, want found with version %s", name, a, v)
			continue
		}
		if a.Hint == "" {
			t.Errorf("%s: no sign-in hint with an empty HOME and no keys", name)
		}
	}
	for _, name := range []string{"claude", "codex", "gemini"} {
		if got[name].Hooks != "hooks" {
			t.Errorf("%s: state from %q, want hooks", name, got[name].Hooks)
		}
	}
	// The ACP profiles whose programs are installed, with their CLI's hint.
	for _, name := range []string{"claude-acp", "gemini-acp", "opencode-acp"} {
		if a := got[name]; !a.Found || a.Hooks != "acp" || a.Hint == "" {
			t.Errorf("%s: %+v, want found, state from acp, a sign-in hint", name, a)
		}
	}
	if got := doctor("ANTHROPIC_API_KEY=sk-ant-x"); got["claude"].Hint != "" {
		t.Errorf("claude with a key: hint %q", got["claude"].Hint)
	}
}

// agentsCheck is doctor's JSON for an agent.
type agentsCheck struct {
	Name, Version, Hooks, Hint string
	Found                      bool
}

// TestClaudeAgentACP drives the real claude-agent-acp (npm) as an ACP
// session: spawn → waiting with the permission (title "Write hello.py",
// kind edit, the options it offers) → answer allow → hello.py written in
// the worktree → idle with end_turn; the transcript shows the tool call;
// stop leaves nothing running; the session's usage is the model's token
// counts summed, with the agent's cost. The claude-acp profile switches
// the session to mode "default" (the agent starts in auto, which asks
// nothing).
func TestClaudeAgentACP(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "claude-agent-acp")
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	const name = "hello-acp"
	wt := filepath.Join(home, "data", "worktrees", filepath.Base(repo)+"-"+sha256Hex(repo)[:8], name)
	fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
		{UserContains: "hello.py", Text: "I'll create it.", Tool: fakemodel.Call("Write", map[string]string{"file_path": filepath.Join(wt, "hello.py"), "content": "print('hello')\n"}),
			Usage: &fakemodel.Usage{Input: 1203, Output: 57, CacheRead: 4096, CacheWrite: 811}},
		{AfterToolResult: true, Text: "Done: hello.py is written.",
			Usage: &fakemodel.Usage{Input: 42, Output: 9, CacheRead: 5007, CacheWrite: 60}},
	}})
	defer fm.Close()
	const key = "sk-ant-fake-0123456789abcdefghijklmnop"
	d := startDaemonEnv(t, home,
		claudeACPEnv(t, bin, key, repo, fm.URL())...)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: name, Agent: "claude-acp", Prompt: "Create hello.py that prints hello"})
	if err != nil {
		t.Fatal(err)
	}
	got := w.AwaitState(t, s.ID, protocol.StateWaiting)
	wa := got.Waiting
	if wa == nil || wa.Kind != protocol.WaitPermission || wa.Source != "acp" || wa.Question != "Write hello.py" || wa.Tool != "edit" {
		t.Fatalf("waiting: %+v, want the permission to Write hello.py (edit) over ACP", wa)
	}
	kinds := map[protocol.Answer]bool{}
	for _, o := range wa.Options {
		kinds[o.Kind] = true
	}
	if !kinds[protocol.AnswerAllow] || !kinds[protocol.AnswerReject] {
		t.Errorf("options %+v: want at least allow and reject", wa.Options)
	}
	if _, err := os.Stat(filepath.Join(wt, "hello.py")); err == nil {
		t.Fatal("hello.py written before the permission was answered")
	}
	ans, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: s.ID}, Answer: protocol.AnswerAllow})
	if err != nil || !ans.Delivery.Confirmed {
		t.Fatalf("answer: %+v, %v", ans, err)
	}
	idle := w.AwaitState(t, s.ID, protocol.StateIdle)
	if idle.Detail != "end_turn" {
		t.Errorf("idle detail %q, want end_turn", idle.Detail)
	}
	if b, err := os.ReadFile(filepath.Join(wt, "hello.py")); err != nil || string(b) != "print('hello')\n" {
		t.Fatalf("hello.py in the worktree: %q, %v", b, err)
	}
	// The turn's response carries the model's token counts, summed.
	// The context is what its last usage_update said: the last answer's
	// prompt, cached or not, and the answer, of the model's window.
	if u, want := idle.Usage, (protocol.Usage{Input: 1203 + 42, Output: 57 + 9, CacheRead: 4096 + 5007, CacheWrite: 811 + 60, Context: 42 + 5007 + 60 + 9}); u == nil ||
		u.Input != want.Input || u.Output != want.Output || u.CacheRead != want.CacheRead || u.CacheWrite != want.CacheWrite ||
		u.Context != want.Context || u.ContextWindow <= 0 {
		t.Errorf("usage %+v, want %+v and a window", u, want)
	} else if u.Cost == nil || *u.Cost <= 0 {
		t.Errorf("usage %v: no cost, though the agent's usage_update gives one", u)
	}
	tr := logs(t, home, s.ID)
	for _, want := range []string{"> Create hello.py that prints hello", "── studiod: session/set_mode", "Write hello.py", "✓ answered: ", "── turn ended: end_turn"} {
		if !strings.Contains(tr, want) {
			t.Errorf("transcript lacks %q:\n%s", want, tr)
		}
	}
	if len(sessionProcesses(s.ID)) == 0 {
		t.Fatal("no process of the session found before stop: the check below would prove nothing")
	}
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: protocol.SessionRef{Session: s.ID}}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateStopped, protocol.StateExited)
	if left := sessionProcesses(s.ID); len(left) > 0 {
		t.Errorf("processes of the session still running after stop:\n%s", strings.Join(left, "\n"))
	}
}

// TestGeminiACP: `gemini --acp` without a key initializes, then refuses a
// session until signed in: the session waits, kind login, with Gemini's
// sign-in methods.
func TestGeminiACP(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "gemini")
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	d := startDaemonEnv(t, home, "PATH="+bin+":"+os.Getenv("PATH"), "HOME="+t.TempDir(),
		"GEMINI_API_KEY=", "GOOGLE_API_KEY=", "GOOGLE_GENAI_USE_VERTEXAI=", "GOOGLE_CLOUD_PROJECT=")
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "gem", Agent: "gemini-acp", Prompt: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	got := w.AwaitState(t, s.ID, protocol.StateWaiting)
	wa := got.Waiting
	ids := map[string]bool{}
	if wa != nil {
		for _, o := range wa.Options {
			ids[o.ID] = true
		}
	}
	if wa == nil || wa.Kind != protocol.WaitLogin || wa.Source != "acp" || !ids["gemini-api-key"] || !strings.Contains(wa.Question, "gemini-acp") {
		t.Fatalf("waiting: %+v, want a sign-in with Gemini's methods", wa)
	}
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: protocol.SessionRef{Session: s.ID}}); err != nil {
		t.Fatal(err)
	}
}

// TestClaudeCodeStateAccuracy runs 20 turns of the real Claude Code, each
// asking permission for a write, and checks every state transition was
// announced, in order, none missed: working, waiting, working, idle.
func TestClaudeCodeStateAccuracy(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "claude")
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	const name = "turns"
	wt := filepath.Join(home, "data", "worktrees", filepath.Base(repo)+"-"+sha256Hex(repo)[:8], name)
	const turns = 20
	var script []fakemodel.Turn
	for i := 1; i <= turns; i++ {
		file := fmt.Sprintf("f%02d.txt", i)
		script = append(script,
			fakemodel.Turn{UserContains: fmt.Sprintf("task %d:", i), Text: "Writing " + file + ".",
				Tool: fakemodel.Call("Write", map[string]string{"file_path": filepath.Join(wt, file), "content": file + "\n"})},
			fakemodel.Turn{AfterToolResult: true, Text: "Wrote " + file + "."})
	}
	fm := fakemodel.New(fakemodel.Script{Turns: script})
	defer fm.Close()
	const key = "sk-ant-fake-0123456789abcdefghijklmnop"
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "config", "config.toml"),
		[]byte("[agents.claude]\ncommand = [\"claude\", \"--permission-mode\", \"manual\", \"{prompt}\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemonEnv(t, home,
		claudeEnv(t, bin, key, repo, fm.URL())...)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: name, Agent: "claude", Prompt: "task 1: write f01.txt"})
	if err != nil {
		t.Fatal(err)
	}
	ref := protocol.SessionRef{Session: s.ID}
	want := []protocol.State{protocol.StateStarting}
	for i := 1; i <= turns; i++ {
		if i > 1 {
			r, err := c.Send(t.Context(), protocol.SendParams{SessionRef: ref, Text: fmt.Sprintf("task %d: write f%02d.txt", i, i)})
			if err != nil {
				t.Fatal(err)
			}
			if !r.Delivery.Confirmed {
				t.Errorf("turn %d: prompt not confirmed: %+v", i, r.Delivery)
			}
		}
		got := w.AwaitState(t, s.ID, protocol.StateWaiting)
		if got.Waiting == nil || got.Waiting.Subject != fmt.Sprintf("f%02d.txt", i) {
			t.Fatalf("turn %d: waiting on %+v", i, got.Waiting)
		}
		if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: ref, Answer: protocol.AnswerAllow}); err != nil {
			t.Fatalf("turn %d: answer: %v", i, err)
		}
		w.AwaitState(t, s.ID, protocol.StateIdle)
		want = append(want, protocol.StateWorking, protocol.StateWaiting, protocol.StateWorking, protocol.StateIdle)
	}
	// Conflict counts and change stats announce the session again in the
	// same state: compare the transitions.
	var got []protocol.State
	for _, st := range w.States(s.ID) {
		if len(got) == 0 || got[len(got)-1] != st {
			got = append(got, st)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("transitions:\n got %v\nwant %v", got, want)
	}
	for i := 1; i <= turns; i++ {
		if _, err := os.Stat(filepath.Join(wt, fmt.Sprintf("f%02d.txt", i))); err != nil {
			t.Errorf("turn %d wrote nothing: %v", i, err)
		}
	}
}

// TestClaudeCodeGate: the real Claude Code writes a file whose lines
// another session changed. In deny and inform modes the gate's reason
// reaches the model in its next request (as the refused tool's result, or
// as context after the write); in ask mode the write becomes a permission
// question carrying the reason.
func TestClaudeCodeGate(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "claude")
	const key = "sk-ant-fake-0123456789abcdefghijklmnop"
	for _, mode := range []protocol.GateMode{protocol.GateDeny, protocol.GateInform, protocol.GateAsk} {
		t.Run(string(mode), func(t *testing.T) {
			home := newHome(t)
			repo := gittest.NewRepo(t, map[string]string{"shared.txt": gittest.Lines(10)})
			wt := filepath.Join(home, "data", "worktrees", filepath.Base(repo)+"-"+sha256Hex(repo)[:8], "ui")
			fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
				{UserContains: "shared.txt", Text: "Rewriting it.", Tool: fakemodel.Call("Write", map[string]string{"file_path": filepath.Join(wt, "shared.txt"), "content": "mine\n"})},
				{AfterToolResult: true, Text: "Done."},
			}})
			defer fm.Close()
			if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
				t.Fatal(err)
			}
			// Edits need no permission here, so that only the gate asks.
			if err := os.WriteFile(filepath.Join(home, "config", "config.toml"),
				[]byte("[agents.claude]\ncommand = [\"claude\", \"--permission-mode\", \"acceptEdits\", \"{prompt}\"]\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			d := startDaemonEnv(t, home,
				claudeEnv(t, bin, key, repo, fm.URL())...)
			c, w := d.watch()
			// Another session has rewritten shared.txt, and says why.
			spawnAPI(t, c, w, repo)
			s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "ui", Agent: "claude", Gate: mode,
				Scopes: []string{"web/**"}, Prompt: "Rewrite shared.txt"})
			if err != nil {
				t.Fatal(err)
			}
			reason := func(r *fakemodel.Request) bool {
				return strings.Contains(string(r.Body), "session `api` (scope shared.txt; working on: rename CheckToken to VerifyToken)") &&
					strings.Contains(string(r.Body), "outside this session's scope (web/**)")
			}
			ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
			defer cancel()
			switch mode {
			case protocol.GateDeny:
				if _, err := fm.Wait(ctx, reason); err != nil {
					t.Fatalf("the model never got the gate's reason: %v", err)
				}
				w.AwaitState(t, s.ID, protocol.StateIdle)
				if b, _ := os.ReadFile(filepath.Join(wt, "shared.txt")); string(b) == "mine\n" {
					t.Error("the write went through in deny mode")
				}
			case protocol.GateInform:
				if _, err := fm.Wait(ctx, reason); err != nil {
					t.Fatalf("the model never got the gate's reason: %v", err)
				}
				w.AwaitState(t, s.ID, protocol.StateIdle)
				if b, _ := os.ReadFile(filepath.Join(wt, "shared.txt")); string(b) != "mine\n" {
					t.Errorf("inform mode blocked the write: shared.txt is %q", b)
				}
			case protocol.GateAsk:
				got := w.AwaitState(t, s.ID, protocol.StateWaiting)
				if got.Waiting == nil || !strings.Contains(got.Waiting.Question, "session `api`") {
					t.Fatalf("waiting: %+v, want the gate's reason in the question", got.Waiting)
				}
				if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: s.ID}, Answer: protocol.AnswerReject}); err != nil {
					t.Fatal(err)
				}
				w.AwaitState(t, s.ID, protocol.StateIdle, protocol.StateWorking)
			}
		})
	}
}

// TestHookDaemonDown: with no daemon to ask, an agent's hook lets the
// agent go on at once, prints nothing, and notes it in the session's
// hooks log.
func TestHookDaemonDown(t *testing.T) {
	t.Parallel()
	payload, err := os.ReadFile("../../agents/testdata/hooks/claude/pre-tool-use-write.json")
	if err != nil {
		t.Fatal(err)
	}
	// studiod hook, and the small studiod-hook the daemon installs when it
	// is next to studiod.
	for _, argv := range [][]string{{"studiod", "hook", "--agent", "claude"}, {"studiod-hook", "--agent", "claude"}} {
		dir := t.TempDir()
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "STUDIOD_HOME="+newHome(t), "STUDIO_SESSION_ID=0123456789ab",
			"STUDIOD_SOCKET="+filepath.Join(dir, "nobody.sock"), "STUDIO_SESSION_DIR="+dir)
		cmd.Stdin = strings.NewReader(string(payload))
		out, err := cmd.Output()
		if err != nil || len(out) > 0 {
			t.Fatalf("%s with the daemon down: %v, printed %q; want exit 0 and nothing", argv[0], err, out)
		}
		b, err := os.ReadFile(filepath.Join(dir, "hooks.log"))
		if err != nil || !strings.Contains(string(b), "studiod unreachable") || !strings.Contains(string(b), "went on unchecked") {
			t.Errorf("%s: hooks.log: %q, %v", argv[0], b, err)
		}
	}
	// A payload that is not JSON (cut, say) lets the agent go on too: an
	// agent takes exit 2 for "block the tool".
	dir := t.TempDir()
	cmd := exec.Command("studiod-hook", "--agent", "claude")
	cmd.Env = append(os.Environ(), "STUDIO_SESSION_ID=0123456789ab", "STUDIO_SESSION_DIR="+dir)
	cmd.Stdin = strings.NewReader(string(payload[:len(payload)/2]))
	if out, err := cmd.Output(); err != nil || len(out) > 0 {
		t.Errorf("studiod-hook with a cut payload: %v, printed %q; want exit 0 and nothing", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "hooks.log")); !strings.Contains(string(b), "not JSON") {
		t.Errorf("cut payload: hooks.log %q does not say so", b)
	}
	// $STUDIO_HOOK's reports, too.
	cmd = exec.Command("studiod", "hook", "working")
	cmd.Env = append(os.Environ(), "STUDIOD_HOME="+newHome(t), "STUDIO_SESSION_ID=0123456789ab",
		"STUDIOD_SOCKET="+filepath.Join(dir, "nobody.sock"), "STUDIO_SESSION_DIR="+dir)
	if out, err := cmd.Output(); err != nil || len(out) > 0 {
		t.Errorf("studiod hook working with the daemon down: %v, printed %q; want exit 0 and nothing", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "hooks.log")); !strings.Contains(string(b), "working not reported: studiod unreachable") {
		t.Errorf("studiod hook working: hooks.log %q does not say so", b)
	}
}

// TestOpencode drives the real opencode through studiod. It has no hooks
// studiod can install offline: its permission prompt is read from its
// screen (waiting, with what it asks) → answered with its keys → the file
// lands → idle when it goes quiet, with the usage of both answers of the
// turn from opencode's database; a prompt sent later reaches the model;
// stop leaves nothing running.
func TestOpencode(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "opencode")
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	wt := filepath.Join(home, "data", "worktrees", filepath.Base(repo)+"-"+sha256Hex(repo)[:8], "oc")
	fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
		{UserContains: "hello.py", Text: "I'll create it.", Tool: fakemodel.Call("write", map[string]string{"filePath": filepath.Join(wt, "hello.py"), "content": "print('hello')\n"}),
			Usage: &opencodeUsage[0]},
		{AfterToolResult: true, Text: "Done: hello.py is written.", Usage: &opencodeUsage[1]},
		{UserContains: "second task", Text: "On it."},
	}})
	defer fm.Close()
	d := startDaemonEnv(t, home, opencodeEnv(t, bin, fm)...)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "oc", Agent: "opencode", Prompt: "Create hello.py"})
	if err != nil {
		t.Fatal(err)
	}
	got := w.AwaitState(t, s.ID, protocol.StateWaiting)
	if got.Waiting == nil || got.Waiting.Kind != protocol.WaitPermission || got.Waiting.Source != "screen" || !strings.Contains(got.Detail, "hello.py") {
		t.Fatalf("waiting: %+v (%q), want a permission read from the screen, naming hello.py", got.Waiting, got.Detail)
	}
	if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: s.ID}, Answer: protocol.AnswerAllow}); err != nil {
		t.Fatalf("answer: %v", err)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	if b, err := os.ReadFile(filepath.Join(wt, "hello.py")); err != nil || string(b) != "print('hello')\n" {
		t.Fatalf("hello.py: %q, %v", b, err)
	}
	awaitOpencodeUsage(t, w, s.ID)
	if _, err := c.Send(t.Context(), protocol.SendParams{SessionRef: protocol.SessionRef{Session: s.ID}, Text: "second task: nothing"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if _, err := fm.Wait(ctx, func(r *fakemodel.Request) bool { return strings.Contains(r.LastUserText(), "second task") }); err != nil {
		t.Fatalf("the model never got the second prompt: %v", err)
	}
	if len(sessionProcesses(s.ID)) == 0 {
		t.Fatal("no process of the session found before stop")
	}
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: protocol.SessionRef{Session: s.ID}}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateStopped, protocol.StateExited)
	if left := sessionProcesses(s.ID); len(left) > 0 {
		t.Errorf("processes of the session still running after stop:\n%s", strings.Join(left, "\n"))
	}
}

// TestClaudeCodeLastWords: a Claude Code that cannot sign in or reach its
// service gives up; the session says why, in the agent's own words.
func TestClaudeCodeLastWords(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "claude")
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	// No credentials, and a service address where nothing listens.
	d := startDaemonEnv(t, home, "PATH="+bin+":"+os.Getenv("PATH"), "HOME="+t.TempDir(),
		"ANTHROPIC_API_KEY=", "ANTHROPIC_BASE_URL=http://127.0.0.1:9", "DISABLE_AUTOUPDATER=1")
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "offline", Agent: "claude", Prompt: "hello"})
	var detail string
	if err != nil {
		detail = err.Error() // it died before the spawn returned
	} else {
		detail = w.AwaitState(t, s.ID, protocol.StateExited, protocol.StateFailed).Detail
	}
	// The reason is what the agent said last, as its screen showed it, not
	// only an exit code.
	words := detail
	if _, after, ok := strings.Cut(detail, "right after starting: "); ok {
		words = after
	}
	if len(words) < 20 || !strings.Contains(words, "Claude") {
		t.Errorf("reason %q: want the agent's own last words", detail)
	}
}

// TestFirstScreens: Codex with no provider and Gemini CLI in an untrusted
// folder stop at their first screen, read as a waiting session with the
// screen's question; stop leaves nothing of them running.
func TestFirstScreens(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "codex", "gemini")
	for _, tc := range []struct {
		agent string
		env   []string
		kind  protocol.WaitKind
		text  string
	}{
		{"codex", []string{"CODEX_HOME=" + t.TempDir(), "OPENAI_API_KEY="}, protocol.WaitLogin, "Sign in"},
		{"gemini", []string{"GEMINI_CLI_HOME=" + t.TempDir(), "GEMINI_API_KEY=", "GEMINI_CLI_TRUST_WORKSPACE="}, protocol.WaitTrust, "trust the files"},
	} {
		t.Run(tc.agent, func(t *testing.T) {
			home := newHome(t)
			repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
			env := append([]string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, tc.env...)
			d := startDaemonEnv(t, home, env...)
			c, w := d.watch()
			s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: tc.agent, Agent: tc.agent, Prompt: "hello"})
			if err != nil {
				t.Fatal(err)
			}
			got := w.AwaitState(t, s.ID, protocol.StateWaiting)
			if got.Waiting == nil || got.Waiting.Kind != tc.kind || !strings.Contains(got.Waiting.Question, tc.text) {
				t.Fatalf("waiting: %+v, want %s asking %q", got.Waiting, tc.kind, tc.text)
			}
			if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: protocol.SessionRef{Session: s.ID}}); err != nil {
				t.Fatal(err)
			}
			w.AwaitState(t, s.ID, protocol.StateStopped, protocol.StateExited)
			if left := sessionProcesses(s.ID); len(left) > 0 {
				t.Errorf("processes of the session still running after stop:\n%s", strings.Join(left, "\n"))
			}
		})
	}
}

// TestOpencodeACP drives the real opencode over ACP (`opencode acp`)
// against the scripted model: its edit permission is a waiting session
// from acp with opencode's options, allow writes the file, the turn ends
// idle with end_turn and the usage of both its answers (its response has
// the last one's only), and stop leaves nothing of it running.
func TestOpencodeACP(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "opencode")
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	wt := filepath.Join(home, "data", "worktrees", filepath.Base(repo)+"-"+sha256Hex(repo)[:8], "oca")
	fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
		{UserContains: "hello.py", Text: "I'll create it.", Tool: fakemodel.Call("write", map[string]string{"filePath": filepath.Join(wt, "hello.py"), "content": "print('hello')\n"}),
			Usage: &opencodeUsage[0]},
		{AfterToolResult: true, Text: "Done: hello.py is written.", Usage: &opencodeUsage[1]},
	}})
	defer fm.Close()
	d := startDaemonEnv(t, home, opencodeEnv(t, bin, fm)...)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "oca", Agent: "opencode-acp", Prompt: "Create hello.py"})
	if err != nil {
		t.Fatal(err)
	}
	got := w.AwaitState(t, s.ID, protocol.StateWaiting)
	if got.Protocol != "acp" || got.Waiting == nil || got.Waiting.Kind != protocol.WaitPermission || got.Waiting.Source != "acp" || len(got.Waiting.Options) == 0 {
		t.Fatalf("waiting: %+v, want an edit permission from acp with opencode's options", got.Waiting)
	}
	if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: s.ID}, Answer: protocol.AnswerAllow}); err != nil {
		t.Fatalf("answer: %v", err)
	}
	if idle := w.AwaitState(t, s.ID, protocol.StateIdle); idle.Detail != "end_turn" {
		t.Errorf("idle detail %q, want end_turn", idle.Detail)
	}
	if b, err := os.ReadFile(filepath.Join(wt, "hello.py")); err != nil || string(b) != "print('hello')\n" {
		t.Fatalf("hello.py: %q, %v", b, err)
	}
	awaitOpencodeUsage(t, w, s.ID)
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: protocol.SessionRef{Session: s.ID}}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateStopped, protocol.StateExited)
	if left := sessionProcesses(s.ID); len(left) > 0 {
		t.Errorf("processes of the session still running after stop:\n%s", strings.Join(left, "\n"))
	}
}

// TestCodexACP drives the real codex-acp (npm @zed-industries/codex-acp)
// against the scripted model: a command that needs approval is a waiting
// session from acp with Codex's options, allow runs it, the turn ends idle
// with the model's usage read from Codex's rollout, and stop leaves
// nothing of it running.
func TestCodexACP(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "codex-acp")
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	wt := filepath.Join(home, "data", "worktrees", filepath.Base(repo)+"-"+sha256Hex(repo)[:8], "cxa")
	outside := filepath.Join(t.TempDir(), "outside.txt")
	env, _, _ := codexEnv(t, bin, outside, wt)
	d := startDaemonEnv(t, home, env...)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "cxa", Agent: "codex-acp", Prompt: "Write outside.txt"})
	if err != nil {
		t.Fatal(err)
	}
	got := w.AwaitState(t, s.ID, protocol.StateWaiting)
	if got.Waiting == nil || got.Waiting.Kind != protocol.WaitPermission || got.Waiting.Source != "acp" || len(got.Waiting.Options) == 0 {
		t.Fatalf("waiting: %+v, want a permission from acp with Codex's options", got.Waiting)
	}
	if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: s.ID}, Answer: protocol.AnswerAllow}); err != nil {
		t.Fatalf("answer: %v", err)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	if b, err := os.ReadFile(outside); err != nil || string(b) != "hi\n" {
		t.Fatalf("outside.txt: %q, %v", b, err)
	}
	// codex-acp reports no usage over ACP: its rollout, in the
	// repository's Codex home, has the model's two answers exactly.
	want := protocol.Usage{Input: 700 + 50, Output: 30 + 8, CacheRead: 300 + 1000, Context: 50 + 1000 + 8}
	w.Await(t, fmt.Sprintf("usage %v", want), func() bool {
		got, _ := w.Session(s.ID)
		if got.Usage == nil {
			return false
		}
		u := *got.Usage
		u.ContextWindow = 0
		return u == want
	}, func() string {
		got, _ := w.Session(s.ID)
		return fmt.Sprintf("usage %+v", got.Usage)
	})
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: protocol.SessionRef{Session: s.ID}}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateStopped, protocol.StateExited)
	if left := sessionProcesses(s.ID); len(left) > 0 {
		t.Errorf("processes of the session still running after stop:\n%s", strings.Join(left, "\n"))
	}
}

// TestGeminiGate: the real Gemini CLI, its edits approved without asking,
// writes a file whose lines another session changed. In deny mode the
// model gets the gate's reason as the refused tool's result; in ask mode
// the write becomes a permission question carrying the reason.
func TestGeminiGate(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "gemini")
	for _, mode := range []protocol.GateMode{protocol.GateDeny, protocol.GateAsk} {
		t.Run(string(mode), func(t *testing.T) {
			home := newHome(t)
			repo := gittest.NewRepo(t, map[string]string{"shared.txt": gittest.Lines(10)})
			wt := filepath.Join(home, "data", "worktrees", filepath.Base(repo)+"-"+sha256Hex(repo)[:8], "ui")
			fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
				{UserContains: "shared.txt", Text: "Rewriting it.", Tool: fakemodel.Call("write_file", map[string]string{"file_path": filepath.Join(wt, "shared.txt"), "content": "mine\n"}),
					Usage: &fakemodel.Usage{Input: 1200, Output: 30, CacheRead: 400}},
				{AfterToolResult: true, Text: "Done.", Usage: &fakemodel.Usage{Input: 60, Output: 5, CacheRead: 1500}},
			}})
			defer fm.Close()
			geminiHome := t.TempDir()
			writeJSON(t, filepath.Join(geminiHome, ".gemini", "settings.json"), map[string]any{
				"security": map[string]any{"auth": map[string]any{"selectedType": "gemini-api-key"}}})
			if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
				t.Fatal(err)
			}
			// Edits need no permission here, so that only the gate asks.
			if err := os.WriteFile(filepath.Join(home, "config", "config.toml"),
				[]byte("[agents.gemini]\ncommand = [\"gemini\", \"--approval-mode\", \"auto_edit\", \"-i\", \"{prompt}\"]\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			d := startDaemonEnv(t, home, "PATH="+bin+":"+os.Getenv("PATH"), "HOME="+t.TempDir(), "GEMINI_CLI_HOME="+geminiHome,
				"GEMINI_API_KEY=fake-key", "GOOGLE_GEMINI_BASE_URL="+fm.URL(), "GEMINI_CLI_TRUST_WORKSPACE=true")
			c, w := d.watch()
			spawnAPI(t, c, w, repo)
			s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "ui", Agent: "gemini", Gate: mode, Prompt: "Rewrite shared.txt"})
			if err != nil {
				t.Fatal(err)
			}
			const why = "session `api` (scope shared.txt; working on: rename CheckToken to VerifyToken)"
			switch mode {
			case protocol.GateDeny:
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
				defer cancel()
				if _, err := fm.Wait(ctx, func(r *fakemodel.Request) bool { return strings.Contains(string(r.Body), why) }); err != nil {
					t.Fatalf("the model never got the gate's reason: %v", err)
				}
				if b, _ := os.ReadFile(filepath.Join(wt, "shared.txt")); string(b) == "mine\n" {
					t.Error("the write went through in deny mode")
				}
			case protocol.GateAsk:
				got := w.AwaitState(t, s.ID, protocol.StateWaiting)
				if got.Waiting == nil || got.Waiting.Kind != protocol.WaitPermission || !strings.Contains(got.Waiting.Question, why) {
					t.Fatalf("waiting: %+v, want a permission carrying the gate's reason", got.Waiting)
				}
				if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: s.ID}, Answer: protocol.AnswerAllow}); err != nil {
					t.Fatal(err)
				}
				w.Await(t, "the write, allowed", func() bool {
					b, _ := os.ReadFile(filepath.Join(wt, "shared.txt"))
					return string(b) == "mine\n"
				})
				// What the model used, from Gemini CLI's chat: its two
				// answers exactly; its context, the last answer's prompt
				// and the answer.
				want := protocol.Usage{Input: 1200 + 60, Output: 30 + 5, CacheRead: 400 + 1500, Context: 60 + 1500 + 5}
				w.Await(t, fmt.Sprintf("usage %v", want), func() bool {
					got, _ := w.Session(s.ID)
					return got.Usage != nil && *got.Usage == want
				}, func() string {
					got, _ := w.Session(s.ID)
					return fmt.Sprintf("%s, usage %+v", got.State, got.Usage)
				})
			}
			if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: protocol.SessionRef{Session: s.ID}}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// opencodeEnv is the environment that runs the real opencode against the
// scripted model fm: a provider at fm, priced, edits and commands asking
// first.
func opencodeEnv(t *testing.T, bin string, fm *fakemodel.Server) []string {
	config := filepath.Join(t.TempDir(), "opencode.json")
	writeJSON(t, config, map[string]any{
		"autoupdate": false, "share": "disabled",
		"provider": map[string]any{"fake": map[string]any{
			"npm": "@ai-sdk/openai-compatible", "name": "Fake",
			"options": map[string]any{"baseURL": fm.URL() + "/v1", "apiKey": "sk-fake"},
			"models": map[string]any{"fake-model": map[string]any{"name": "Fake Model", "tool_call": true,
				"cost": map[string]any{"input": 3, "output": 15, "cache_read": 0.3, "cache_write": 3.75}}},
		}},
		"model": "fake/fake-model", "small_model": "fake/fake-model",
		"permission": map[string]any{"edit": "ask", "bash": "ask"},
	})
	return []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "OPENCODE_CONFIG=" + config,
		"OPENCODE_DISABLE_AUTOUPDATE=1", "OPENCODE_DISABLE_MODELS_FETCH=1", "OPENCODE_DISABLE_DEFAULT_PLUGINS=1"}
}

// spawnAPI spawns session "api" in repo, which changes shared.txt with
// scope shared.txt and a note, for the gate tests; it returns once its
// change is seen.
func spawnAPI(t *testing.T, c *protocol.Client, w *studiotest.Watch, repo string) {
	t.Helper()
	api, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "api", Scopes: []string{"shared.txt"},
		Note: "rename CheckToken to VerifyToken", Command: []string{"fakeagent", "-edit", "shared.txt", "-hang"}})
	if err != nil {
		t.Fatal(err)
	}
	w.Await(t, "session api's change", func() bool {
		s, _ := w.Session(api.ID)
		return s.Changes.Files == 1
	})
}

// TestCodex drives the real Codex under studiod against the scripted model:
// Codex first asks to review the hooks studiod gave it (a waiting session
// read from its screen), then a command that needs approval is a waiting
// session from its PermissionRequest hook; allow runs it and the turn ends
// idle; stop leaves nothing of it running. Codex signs in with the
// person's auth.json, and the person's ~/.codex/config.toml is never
// written: the hooks' trust lives in studiod's Codex home for the
// repository, so a second session there is not asked again.
func TestCodex(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "codex")
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	wt := filepath.Join(home, "data", "worktrees", filepath.Base(repo)+"-"+sha256Hex(repo)[:8], "cx")
	outside := filepath.Join(t.TempDir(), "outside.txt")
	env, codexDir, fm := codexEnv(t, bin, outside, wt, repo)
	confPath := filepath.Join(codexDir, "config.toml")
	before, err := os.ReadFile(confPath)
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemonEnv(t, home, env...)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "cx", Agent: "codex", Prompt: "Write outside.txt"})
	if err != nil {
		t.Fatal(err)
	}
	ref := protocol.SessionRef{Session: s.ID}
	got := w.AwaitState(t, s.ID, protocol.StateWaiting)
	if got.Waiting == nil || got.Waiting.Kind != protocol.WaitTrust || got.Waiting.Source != "screen" || !strings.Contains(got.Waiting.Question, "Hooks need review") {
		t.Fatalf("waiting: %+v, want Codex's hook review read from its screen", got.Waiting)
	}
	if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: ref, Answer: protocol.AnswerAllow}); err != nil {
		t.Fatal(err)
	}
	w.Await(t, "the command's permission", func() bool {
		got, _ = w.Session(s.ID)
		return got.State == protocol.StateWaiting && got.Waiting != nil && got.Waiting.Kind == protocol.WaitPermission
	})
	if got.Waiting.Source != "hook" ||
		got.Waiting.Question != "Write outside.txt?" || !strings.Contains(got.Waiting.Subject, "echo hi >") {
		t.Fatalf("waiting: %+v, want the command's permission from Codex's hook", got.Waiting)
	}
	if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: ref, Answer: protocol.AnswerAllow}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	if b, err := os.ReadFile(outside); err != nil || string(b) != "hi\n" {
		t.Fatalf("outside.txt: %q, %v", b, err)
	}
	// What the model used, from Codex's rollout: its two answers exactly.
	// Its context: the last answer's input, cached included, and its
	// output, of the window Codex gives the model.
	wantUsage := protocol.Usage{Input: 700 + 50, Output: 30 + 8, CacheRead: 300 + 1000, Context: 50 + 1000 + 8}
	w.Await(t, fmt.Sprintf("usage %v", wantUsage), func() bool {
		got, _ := w.Session(s.ID)
		if got.Usage == nil || got.Usage.ContextWindow <= 0 {
			return false
		}
		u := *got.Usage
		u.ContextWindow = 0
		return u == wantUsage
	}, func() string {
		got, _ := w.Session(s.ID)
		return fmt.Sprintf("usage %+v", got.Usage)
	})
	// Signed in with the person's auth.json: the model saw its key.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := fm.Wait(ctx, func(r *fakemodel.Request) bool { return r.Header.Get("Authorization") == "Bearer sk-from-auth-json" }); err != nil {
		t.Errorf("no model request carried the key of the person's auth.json: %v", err)
	}
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: ref}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateStopped, protocol.StateExited)
	if left := sessionProcesses(s.ID); len(left) > 0 {
		t.Errorf("processes of the session still running after stop:\n%s", strings.Join(left, "\n"))
	}

	// The hooks were trusted once for the repository: the next session (in
	// a worktree of the pool, trusted as the repository's) goes straight to
	// its command's permission, from its hook.
	s2, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "cx2", Agent: "codex", Prompt: "Write outside.txt"})
	if err != nil {
		t.Fatal(err)
	}
	got = w.AwaitState(t, s2.ID, protocol.StateWaiting)
	if got.Waiting == nil || got.Waiting.Kind != protocol.WaitPermission || got.Waiting.Source != "hook" {
		t.Fatalf("second session waiting: %+v, want its command's permission from the hook, not the hook review again", got.Waiting)
	}
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: protocol.SessionRef{Session: s2.ID}}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s2.ID, protocol.StateStopped, protocol.StateExited)

	if after, err := os.ReadFile(confPath); err != nil || !bytes.Equal(after, before) {
		t.Errorf("the person's %s changed:\n%s\nwas:\n%s", confPath, after, before)
	}
	entries, _ := os.ReadDir(codexDir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"auth.json", "config.toml"}) {
		t.Errorf("the person's Codex home holds %q, want only their auth.json and config.toml", names)
	}
}

// codexEnv is the environment that runs the real Codex (or codex-acp)
// against a scripted model in worktrees wts, trusted: asked to write
// outside, the model runs a command that needs approval (escalated), then
// says done. The person's Codex home (~/.codex of the HOME it sets, which
// it returns) holds a config naming the scripted model as a provider that
// takes OpenAI's sign-in, and an auth.json with an API key.
// codexConfig is a Codex config.toml naming the scripted model at url as
// a provider that takes OpenAI's sign-in, with the directories dirs
// trusted.
func codexConfig(url string, dirs ...string) string {
	conf := fmt.Sprintf(`model = "gpt-fake"
model_provider = "fake"

[model_providers.fake]
name = "fake"
base_url = %q
requires_openai_auth = true
wire_api = "responses"
`, url+"/v1")
	for _, d := range dirs {
		conf += fmt.Sprintf("\n[projects.%q]\ntrust_level = \"trusted\"\n", d)
	}
	return conf
}

func codexEnv(t *testing.T, bin, outside string, wts ...string) ([]string, string, *fakemodel.Server) {
	fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
		{AfterToolResult: true, Repeat: true, Text: "Done: wrote it.", Usage: &fakemodel.Usage{Input: 50, Output: 8, CacheRead: 1000}},
		{UserContains: "outside.txt", Repeat: true, Text: "I'll write it.", Tool: fakemodel.Call("exec_command", map[string]string{
			"cmd": "echo hi > " + outside, "sandbox_permissions": "require_escalated", "justification": "Write outside.txt?"}),
			Usage: &fakemodel.Usage{Input: 700, Output: 30, CacheRead: 300}},
	}})
	t.Cleanup(fm.Close)
	userHome := t.TempDir()
	codexHome := filepath.Join(userHome, ".codex")
	conf := codexConfig(fm.URL(), wts...)
	if err := os.MkdirAll(codexHome, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, filepath.Join(codexHome, "auth.json"), map[string]any{"auth_mode": "apikey", "OPENAI_API_KEY": "sk-from-auth-json"})
	return []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + userHome, "CODEX_HOME=", "OPENAI_API_KEY="}, codexHome, fm
}

// costlyScript is a scripted model for a Claude Code session in worktree
// wt: it writes hello.py (an answer of 1,203 in, 57 out, 4,096 read from
// the cache, 811 written to it), then says done (42, 9, 5,007, 60), that
// answer held until hold closes when hold is given.
func costlyScript(wt string, hold <-chan struct{}) fakemodel.Script {
	return fakemodel.Script{Turns: []fakemodel.Turn{
		{UserContains: "hello.py", Text: "I'll create it.", Tool: fakemodel.Call("Write", map[string]string{"file_path": filepath.Join(wt, "hello.py"), "content": "print('hello')\n"}),
			Usage: &fakemodel.Usage{Input: 1203, Output: 57, CacheRead: 4096, CacheWrite: 811}},
		{AfterToolResult: true, Text: "Done: hello.py is written.", Hold: hold,
			Usage: &fakemodel.Usage{Input: 42, Output: 9, CacheRead: 5007, CacheWrite: 60}},
	}}
}

// costlyConfig runs Claude Code accepting edits, so that only the model's
// answers decide the turn.
const costlyConfig = "[agents.claude]\ncommand = [\"claude\", \"--permission-mode\", \"acceptEdits\", \"{prompt}\"]\n"

// TestClaudeCodeUsage: the token counts the model reports reach the
// session exactly, summed over its answers (an answer of text and a tool
// call counted once), in `studiod show --json` and the text of `show`.
func TestClaudeCodeUsage(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "claude")
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	const name = "costly"
	wt := filepath.Join(home, "data", "worktrees", filepath.Base(repo)+"-"+sha256Hex(repo)[:8], name)
	fm := fakemodel.New(costlyScript(wt, nil))
	defer fm.Close()
	const key = "sk-ant-fake-0123456789abcdefghijklmnop"
	writeConfig(t, home, costlyConfig)
	d := startDaemonEnv(t, home, claudeEnv(t, bin, key, repo, fm.URL())...)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: name, Agent: "claude", Prompt: "Create hello.py that prints hello"})
	if err != nil {
		t.Fatal(err)
	}
	// Its context: the last answer's prompt, cached or not, and the
	// answer (the transcript does not say the window).
	want := protocol.Usage{Input: 1203 + 42, Output: 57 + 9, CacheRead: 4096 + 5007, CacheWrite: 811 + 60, Context: 42 + 5007 + 60 + 9}
	w.Await(t, fmt.Sprintf("usage %v", want), func() bool {
		got, _ := w.Session(s.ID)
		return got.State == protocol.StateIdle && got.Usage != nil && *got.Usage == want
	}, func() string {
		got, _ := w.Session(s.ID)
		return fmt.Sprintf("%s, usage %+v", got.State, got.Usage)
	})

	show := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command("studiod", append([]string{"show", name, "--repo", repo}, args...)...)
		cmd.Env = append(os.Environ(), "STUDIOD_HOME="+home)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("show %v: %v: %s", args, err, out)
		}
		return out
	}
	var got struct {
		Usage map[string]any `json:"usage"`
	}
	if out := show("--json"); json.Unmarshal(out, &got) != nil ||
		!reflect.DeepEqual(got.Usage, map[string]any{"input": 1245.0, "output": 66.0, "cacheRead": 9103.0, "cacheWrite": 871.0, "context": 5118.0}) {
		t.Errorf("show --json: usage %v, want the model's figures summed:\n%s", got.Usage, out)
	}
	const words = "1245 tokens in, 66 out, 9103 read from the cache, 871 written to it; context 5.1k tokens"
	if out := show(); !strings.Contains(string(out), words) {
		t.Errorf("show: no usage line with the model's figures:\n%s", out)
	}
	ls := exec.Command("studiod", "ls", "--json", "--repo", repo)
	ls.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	out, err := ls.Output()
	var list protocol.SessionsResult
	if err != nil || json.Unmarshal(out, &list) != nil || len(list.Sessions) != 1 || list.Sessions[0].Usage == nil || *list.Sessions[0].Usage != want {
		t.Errorf("ls --json: %s (%v), want the session with usage %v", out, err, want)
	}
	var got2 protocol.Session
	if text := newGoSDK(t, home, repo).call(mcpface.ToolGetSession, map[string]any{"session": name}, &got2); got2.Usage == nil || *got2.Usage != want || !strings.Contains(text, words) {
		t.Errorf("MCP get_session: usage %v, text %q; want %v in both", got2.Usage, text, want)
	}
}
