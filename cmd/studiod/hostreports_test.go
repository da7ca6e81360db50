package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/internal/fakemodel"
	"github.com/studiod/studiod/internal/sshtest"
	"github.com/studiod/studiod/protocol"
)

// TestHostReports: an agent on a host reports through $STUDIO_HOOK as one
// here does (a note, a question, its state), over the reports socket its
// connection forwards there; after the connection drops and comes back it
// reports again. The reports socket takes reports alone, and only with a
// host session's secret.
func TestHostReports(t *testing.T) {
	t.Parallel()
	e := newHostEnv(t, sshtest.Options{}, nil)
	s := e.spawn("reporter", "sh", "-c", `$STUDIO_HOOK note "from the host" && $STUDIO_HOOK waiting "Ship it?" && read a && echo "answered $a" && $STUDIO_HOOK idle && read b && $STUDIO_HOOK note "again: $b" && exec cat`)
	e.follow(s.ID)
	e.w.Await(t, "the host agent's note", func() bool { got, _ := e.w.Session(s.ID); return got.Note == "from the host" },
		func() string { got, _ := e.w.Session(s.ID); return jsonString(got) })
	// No waiting pattern: the question comes from its report.
	w := e.w.AwaitState(t, s.ID, protocol.StateWaiting)
	if w.Waiting == nil || w.Waiting.Question != "Ship it?" {
		t.Fatalf("waiting: %+v", w.Waiting)
	}
	if _, err := e.c.Answer(t.Context(), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: s.ID}, Text: "yes"}); err != nil {
		t.Fatal(err)
	}
	e.awaitOutput(s.ID, "answered yes")
	e.w.AwaitState(t, s.ID, protocol.StateIdle)

	// The socket on the host is the host user's alone.
	sock := e.onHost("ls " + e.ssh.Dir + "/run/home-*.sock")
	if mode := e.onHost("stat -c %a " + sock); mode != "600" {
		t.Errorf("the reports socket on the host is %s, want 600", mode)
	}

	// The connection drops and comes back: the agent reports again.
	e.ssh.Stop()
	e.w.AwaitState(t, s.ID, protocol.StateDisconnected)
	e.ssh.Restart()
	e.w.Await(t, "the session back from disconnected", func() bool {
		got, _ := e.w.Session(s.ID)
		return got.State != protocol.StateDisconnected
	})
	if _, err := e.c.Send(t.Context(), protocol.SendParams{SessionRef: protocol.SessionRef{Session: s.ID}, Text: "later"}); err != nil {
		t.Fatal(err)
	}
	e.w.Await(t, "the note after the reconnection", func() bool { got, _ := e.w.Session(s.ID); return got.Note == "again: later" },
		func() string { got, _ := e.w.Session(s.ID); return jsonString(got) })

	// The reports socket at home: nothing but reports, and only a host
	// session's with its secret.
	local, err := e.c.Spawn(t.Context(), protocol.SpawnParams{Repo: e.repo, Name: "local", Command: []string{"fakeagent", "-echo"}})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := protocol.Dial(t.Context(), filepath.Join(e.home, "run", "hosts.sock"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Sessions(t.Context(), protocol.SessionsParams{All: true}); protocol.CodeOf(err) != protocol.CodeForbidden {
		t.Errorf("studio/sessions on the reports socket: %v, want forbidden", err)
	}
	for _, hp := range []protocol.HookParams{
		{SessionRef: protocol.SessionRef{Session: s.ID}, Event: "note", Message: "no secret"},
		{SessionRef: protocol.SessionRef{Session: local.ID}, Event: "note", Message: "a local session", Token: envValue(sessionEnv(t, *local), "STUDIO_SESSION_TOKEN")},
	} {
		if _, err := rc.Hook(t.Context(), hp); protocol.CodeOf(err) != protocol.CodeForbidden {
			t.Errorf("report %q on the reports socket: %v, want forbidden", hp.Message, err)
		}
	}
	if got, _ := e.w.Session(s.ID); strings.Contains(got.Note, "secret") {
		t.Errorf("a refused report changed the note: %q", got.Note)
	}
}

// envValue is the value of key in env, "" when unset.
func envValue(env []string, key string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// hostAgent makes the agent CLI at path runnable by the host's user, in
// dir (which that user can reach, unlike a clone under /root): a hard link
// to the same file, or a copy across file systems.
func hostAgent(t *testing.T, path, dir string) string {
	t.Helper()
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(path))
	if err := os.Link(real, dst); err != nil {
		if out, err := exec.Command("cp", real, dst).CombinedOutput(); err != nil {
			t.Fatalf("cp %s: %v: %s", real, err, out)
		}
	}
	return dst
}

// TestHostClaudeCode runs the real Claude Code on a host: its hooks report
// home over the connection, so its permission request waits with the tool
// and the file (as a path of the session's, though the agent named the
// host's), the answer lets the write through there, the file comes home
// and the session is idle when the turn ends.
func TestHostClaudeCode(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "claude")
	hostBin, err := os.MkdirTemp(sshtest.UserHome(t), "agents-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(hostBin) })
	os.Chmod(hostBin, 0o755)
	hostAgent(t, filepath.Join(bin, "claude"), hostBin)
	// The host's sessions find the agent on their PATH.
	e := newHostEnv(t, sshtest.Options{Path: hostBin + ":/usr/local/bin:/usr/bin:/bin"}, map[string]string{"README.md": "hello\n"})
	const name, key = "hello", "sk-ant-fake-0123456789abcdefghijklmnop"
	wt := e.ssh.Dir + "/worktrees/" + host.RepoKey(e.repo) + "/" + name
	fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
		{UserContains: "hello.py", Text: "I'll create it.", Tool: fakemodel.Call("Write", map[string]string{"file_path": wt + "/hello.py", "content": "print('hello')\n"})},
		{AfterToolResult: true, Text: "Done: hello.py is written."},
	}})
	defer fm.Close()

	// Claude Code's own home on the host: onboarding done, the key
	// approved, the worktree trusted.
	claudeHome := filepath.Join(e.ssh.Dir, "claude-home")
	writeJSON(t, filepath.Join(claudeHome, ".claude.json"), map[string]any{
		"hasCompletedOnboarding": true,
		"customApiKeyResponses":  map[string]any{"approved": []string{key[len(key)-20:]}},
		"projects":               map[string]any{wt: map[string]any{"hasTrustDialogAccepted": true}},
	})
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", e.ssh.UID, e.ssh.GID), claudeHome).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v: %s", err, out)
	}
	conf, err := os.ReadFile(filepath.Join(e.home, "config", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	e.writeConfig(string(conf) + fmt.Sprintf(`
[agents.claude]
command = ["claude", "--permission-mode", "manual", "{prompt}"]
env = { HOME = %q, ANTHROPIC_BASE_URL = %q, ANTHROPIC_API_KEY = %q, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1", DISABLE_AUTOUPDATER = "1" }
`, claudeHome, fm.URL(), key))

	s, err := e.c.Spawn(t.Context(), protocol.SpawnParams{Repo: e.repo, Name: name, Agent: "claude", Host: "box", Prompt: "Create hello.py that prints hello"})
	if err != nil {
		t.Fatal(err)
	}
	e.follow(s.ID)
	got := e.w.AwaitState(t, s.ID, protocol.StateWaiting)
	if got.Waiting == nil || got.Waiting.Kind != protocol.WaitPermission || got.Waiting.Tool != "Write" || got.Waiting.Subject != "hello.py" {
		t.Fatalf("waiting: %+v (detail %q), want a permission to Write hello.py", got.Waiting, got.Detail)
	}
	if _, err := e.c.Answer(t.Context(), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: s.ID}, Answer: protocol.AnswerAllow}); err != nil {
		t.Fatalf("answer: %v", err)
	}
	e.w.AwaitState(t, s.ID, protocol.StateIdle)
	if out := e.onHost("cat " + wt + "/hello.py"); out != "print('hello')" {
		t.Errorf("hello.py on the host: %q", out)
	}
	e.w.Await(t, "hello.py at home", func() bool {
		b, err := os.ReadFile(filepath.Join(s.Worktree, "hello.py"))
		return err == nil && string(b) == "print('hello')\n"
	}, func() string {
		got, _ := e.w.Session(s.ID)
		return fmt.Sprintf("%s; on the host: %s", jsonString(got), e.onHost("cd "+wt+" && git status --short"))
	})
}

// TestHostHooksRefused: an agent whose reports could not reach home, or
// that cannot run on a host yet, is refused before anything is made:
// Claude Code, Codex and Gemini CLI (their hooks) on a host whose sshd
// forwards nothing, ACP agents and the sandbox on any host; each error
// says why.
func TestHostHooksRefused(t *testing.T) {
	t.Parallel()
	e := newHostEnv(t, sshtest.Options{NoForwarding: true}, nil)
	e.addConfig("\n[agents.boxed]\ncommand = [\"sh\", \"-c\", \"exec cat\"]\nsandbox = { mode = \"bwrap\" }\n")
	for agent, want := range map[string]string{
		"claude":     "must allow remote forwarding",
		"codex":      "must allow remote forwarding",
		"gemini":     "must allow remote forwarding",
		"claude-acp": "ACP agent profiles do not run on hosts yet",
		"boxed":      "the agent sandbox does not run on hosts yet",
	} {
		_, err := e.c.Spawn(t.Context(), protocol.SpawnParams{Repo: e.repo, Name: "x", Agent: agent, Host: "box", Prompt: "hello"})
		if protocol.CodeOf(err) != protocol.CodeInvalid || !strings.Contains(err.Error(), want) {
			t.Errorf("%s on the host: %v, want an invalid-argument error saying %q", agent, err, want)
		}
	}
	e.nothingMade()
	// Without hooks, the same host runs the agent.
	s := e.spawn("plain", "sh", "-c", "echo ran; exec cat")
	e.follow(s.ID)
	e.awaitOutput(s.ID, "ran")
}
