package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/internal/fakemodel"
	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/internal/studiotest"
	"github.com/studiod/studiod/protocol"
)

// TestACPTerminal: an ACP agent that asks studiod, its client, to run
// commands gets them run in the session's worktree with the session's
// environment: the output and exit status reach it, a cwd outside the
// worktree (or through a link out of it) is refused with a reason, the
// output is cut to its limit at a character's start, an unknown terminal
// is an error, and a killed command leaves nothing running, not even what
// it detached.
func TestACPTerminal(t *testing.T) {
	t.Parallel()
	home := acpHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	d := startDaemon(t, home)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "terms", Agent: "fake", Prompt: "term echo hello; echo oops >&2; exit 3"})
	if err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	if err := os.Mkdir(filepath.Join(s.Worktree, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(s.Worktree, "out")); err != nil {
		t.Fatal(err)
	}
	prompts := []struct{ prompt, want string }{
		{"term env=GREETING=hi env=STUDIO_SESSION_ID=other echo $GREETING $STUDIO_SESSION $STUDIO_SESSION_ID",
			`term: exit 0, truncated false, output "hi terms ` + s.ID + `\n", release ok`},
		{"term cwd=sub pwd", `term: exit 0, truncated false, output "` + s.Worktree + `/sub\n", release ok`},
		{"term args printf [%s] a $HOME", `term: exit 0, truncated false, output "[a][$HOME]", release ok`},
		{"term limit=10 printf éééééx", `term: exit 0, truncated true, output "ééééx", release ok`},
		{"term yes abcdefg | head -c 3000000", `term: exit 0, truncated true, output of 1048576 bytes, release ok`},
		{"term kill -TERM $$", `term: signal SIGTERM, truncated false, output "", release ok`},
		{"term cwd=/tmp pwd", "term: error -32602 Invalid params cwd /tmp is outside the session's worktree " + s.Worktree},
		{"term cwd=out pwd", "term: error -32602 Invalid params cwd " + s.Worktree + "/out leads outside the session's worktree (a symbolic link)"},
		{"termoutput nope", `termoutput: error -32602 Invalid params terminal "nope": no such terminal in this session`},
		{"termkill (setsid sleep 4243 &); sleep 4242 & echo ready; wait",
			`termkill: kill ok, wait signal SIGKILL ok, output "ready\n" ok, release ok, then output: error -32602 Invalid params terminal "term-`},
	}
	for _, p := range prompts {
		sendTurn(t, c, w, s.ID, p.prompt)
	}
	tr := logs(t, home, s.ID)
	spawned := struct{ prompt, want string }{"the spawn's prompt", `term: exit 3, truncated false, output "hello\noops\n", release ok`}
	for _, p := range append(prompts, spawned) {
		if !strings.Contains(tr, p.want) {
			t.Errorf("%s: the agent did not hear %q:\n%s", p.prompt, p.want, tr)
		}
	}
	if left := commandsLeft(s.ID, "sleep 424"); len(left) > 0 {
		t.Errorf("the killed terminal's processes still run:\n%s", strings.Join(left, "\n"))
	}
}

// TestACPTerminalStop: stopping a session ends the commands its agent had
// studiod run, and what they detached.
func TestACPTerminalStop(t *testing.T) {
	t.Parallel()
	home := acpHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	d := startDaemon(t, home)
	c, w := d.watch()
	s := holdTerminal(t, c, w, repo, "held", "sleep 4245")
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: ref(s.ID)}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateStopped, protocol.StateExited)
	if left := sessionProcesses(s.ID); len(left) > 0 {
		t.Errorf("processes of the session still running after stop:\n%s", strings.Join(left, "\n"))
	}
}

// TestACPTerminalDaemonDies: the commands a daemon killed with SIGKILL
// was running for an agent end when the next daemon follows the session,
// what they detached too.
func TestACPTerminalDaemonDies(t *testing.T) {
	t.Parallel()
	home := acpHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	d := startDaemon(t, home)
	c, w := d.watch()
	s := holdTerminal(t, c, w, repo, "orphans", "sleep 4247")
	d.kill9()
	d = startDaemon(t, home)
	c, w = d.watch()
	// The daemon sweeps them as it follows the session again; nothing
	// announces it: look at the processes until they are gone.
	for deadline := time.Now().Add(studiotest.Timeout); len(commandsLeft(s.ID, "sleep 424")) > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal's commands outlived the daemon that ran them:\n%s", strings.Join(commandsLeft(s.ID, "sleep 424"), "\n"))
		}
	}
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: ref(s.ID)}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateStopped, protocol.StateExited)
}

// holdTerminal spawns a fake ACP agent whose terminal runs cmd, having
// detached another command (setsid), and waits until both run.
func holdTerminal(t *testing.T, c *protocol.Client, w *studiotest.Watch, repo, name, cmd string) *protocol.Session {
	t.Helper()
	prompt := "termhold setsid sh -c 'echo ready; exec " + cmd + "0' & " + cmd
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: name, Agent: "fake", Prompt: prompt})
	if err != nil {
		t.Fatal(err)
	}
	w.Follow(t, c, protocol.OutputSubscription{Session: s.ID})
	w.Await(t, "the terminal to run", func() bool {
		out, _ := w.Output(s.ID)
		return strings.Contains(string(out), "termhold: running")
	})
	if len(commandsLeft(s.ID, cmd)) == 0 || len(commandsLeft(s.ID, cmd+"0")) == 0 {
		t.Fatalf("the terminal's commands are not running: the checks that follow would prove nothing:\n%s", strings.Join(sessionProcesses(s.ID), "\n"))
	}
	return s
}

// commandsLeft lists the session's processes whose command line holds
// text.
func commandsLeft(id, text string) []string {
	var out []string
	for _, p := range sessionProcesses(id) {
		if strings.Contains(p, text) {
			out = append(out, p)
		}
	}
	return out
}

// TestACPTerminalSandbox: a sandboxed session's terminals run in the same
// sandbox as its agent: they write the worktree, not the person's checkout,
// and have a /tmp of their own.
func TestACPTerminalSandbox(t *testing.T) {
	t.Parallel()
	if ok, why := agents.SandboxStatus(t.Context()); !ok {
		t.Skip(why)
	}
	home := acpHome(t)
	f, err := os.OpenFile(filepath.Join(home, "config", "config.toml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\n[sandbox]\nmode = \"bwrap\"\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	scratch := fmt.Sprintf("/tmp/studiod-term-sandbox-%d.txt", os.Getpid())
	intruder := filepath.Join(repo, "intruder.txt")
	d := startDaemon(t, home)
	c, w := d.watch()
	prompt := fmt.Sprintf("term echo x > %s; echo x > %s && echo TMP; echo x > own.txt && echo OWN", intruder, scratch)
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "boxed", Agent: "fake", Prompt: prompt})
	if err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	tr := logs(t, home, s.ID)
	if !strings.Contains(tr, "Read-only file system") || !strings.Contains(tr, `TMP\nOWN\n`) {
		t.Errorf("the terminal's writes: want the checkout refused, /tmp and the worktree written:\n%s", tr)
	}
	if _, err := os.Stat(intruder); err == nil {
		t.Errorf("%s was written", intruder)
	}
	if _, err := os.Stat(scratch); err == nil {
		os.Remove(scratch)
		t.Errorf("the terminal's /tmp is the machine's, not its own")
	}
	if _, err := os.Stat(filepath.Join(s.Worktree, "own.txt")); err != nil {
		t.Errorf("own.txt in the worktree: %v", err)
	}
}

// TestClaudeAgentACPBash: the real claude-agent-acp, told by studiod that
// its client has terminals, still runs its Bash tool and the model gets
// the command's output. The version pinned runs Bash itself, never
// through terminal/create; the log says which it did.
func TestClaudeAgentACPBash(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "claude-agent-acp")
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
		{UserContains: "sum", Text: "Running it.", Tool: fakemodel.Call("Bash", map[string]string{"command": "echo sum=$((6*7)) in $STUDIO_SESSION", "description": "add"})},
		{AfterToolResult: true, Text: "Done."},
	}})
	defer fm.Close()
	const key = "sk-ant-fake-0123456789abcdefghijklmnop"
	d := startDaemonEnv(t, home,
		claudeACPEnv(t, bin, key, repo, fm.URL())...)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "bash-acp", Agent: "claude-acp", Prompt: "Print the sum of 6 times 7"})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.AwaitState(t, s.ID, protocol.StateWaiting, protocol.StateIdle); got.State == protocol.StateWaiting {
		if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: ref(s.ID), Answer: protocol.AnswerAllow}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), studiotest.Timeout)
	defer cancel()
	if _, err := fm.Wait(ctx, func(r *fakemodel.Request) bool {
		for _, res := range r.LastToolResults() {
			if strings.Contains(res.Output, "sum=42 in bash-acp") {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("the model never got the command's output: %v", err)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	raw := logs(t, home, s.ID, "--raw")
	if !strings.Contains(raw, `"terminal":true`) {
		t.Errorf("studiod did not advertise its terminals:\n%s", raw)
	}
	t.Logf("claude-agent-acp ran Bash through studiod's terminal: %v", strings.Contains(raw, `"terminal/create"`))
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: ref(s.ID)}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateStopped, protocol.StateExited)
	if left := sessionProcesses(s.ID); len(left) > 0 {
		t.Errorf("processes of the session still running after stop:\n%s", strings.Join(left, "\n"))
	}
}
