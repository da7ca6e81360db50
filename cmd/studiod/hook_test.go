package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// TestHookLargePayload: a Write of more than the 4 MiB an agent's hook
// once read reaches the gate whole enough to decide on, through studiod
// hook and studiod-hook alike, and its decision is what stops the tool.
func TestHookLargePayload(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{"shared.txt": gittest.Lines(10)})
	home := newHome(t)
	d := startDaemon(t, home)
	c := d.client(nil)
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "big", Command: []string{"fakeagent", "-hang"},
		Gate: protocol.GateDeny, Scopes: []string{"web/**"}})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(map[string]any{
		"session_id": "11111111-2222-4333-8444-555555555555", "cwd": s.Worktree,
		"hook_event_name": "PreToolUse", "tool_name": "Write", "tool_use_id": "call_big",
		"tool_input": map[string]string{"file_path": filepath.Join(s.Worktree, "shared.txt"), "content": strings.Repeat("x", 5<<20) + "\n"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The hook speaks for the session with its secret, as the agent's would.
	token, err := os.ReadFile(filepath.Join(home, "state", "sessions", s.ID, "token"))
	if err != nil {
		t.Fatal(err)
	}
	for _, argv := range [][]string{{"studiod", "hook", "--agent", "claude"}, {"studiod-hook", "--agent", "claude"}} {
		dir := t.TempDir()
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "STUDIOD_HOME="+home, "STUDIO_SESSION_ID="+s.ID,
			"STUDIO_SESSION_TOKEN="+strings.TrimSpace(string(token)), "STUDIOD_SOCKET="+d.socket(), "STUDIO_SESSION_DIR="+dir)
		cmd.Stdin = strings.NewReader(string(payload))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s with a 5 MiB Write: %v: %s", argv[0], err, stderr.String())
		}
		if !strings.Contains(string(out), `"deny"`) || !strings.Contains(string(out), "outside this session's scope") {
			t.Errorf("%s with a 5 MiB Write printed %q; want the gate's denial", argv[0], out)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "hooks.log")); len(b) > 0 {
			t.Errorf("%s: hooks.log says %q", argv[0], b)
		}
	}
}

// TestHookDaemonSilent: a daemon that takes the connection and never
// answers (stopped, or stuck) holds an agent's hook no longer than the
// hook's timeout: it lets the agent go on and the hooks log says why.
func TestHookDaemonSilent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sock := filepath.Join(dir, "silent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	payload := `{"hook_event_name":"PreToolUse","tool_name":"Write","tool_input":{"file_path":"/w/a.txt","content":"x"}}`
	for _, argv := range [][]string{{"studiod-hook", "--agent", "claude"}, {"studiod", "hook", "waiting", "may I?"}} {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "STUDIOD_HOME="+newHome(t), "STUDIO_SESSION_ID=0123456789ab",
			"STUDIOD_SOCKET="+sock, "STUDIO_SESSION_DIR="+dir)
		cmd.Stdin = strings.NewReader(payload)
		if out, err := cmd.Output(); err != nil || len(out) > 0 {
			t.Errorf("%s with a silent daemon: %v, printed %q; want exit 0 and nothing", argv[0], err, out)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "hooks.log"))
	if !strings.Contains(string(b), "went on unchecked") || !strings.Contains(string(b), "waiting not reported: studiod did not answer") {
		t.Errorf("hooks.log %q does not say the daemon did not answer", b)
	}
}
