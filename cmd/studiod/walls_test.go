package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/internal/fakemodel"
	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// TestMCPWaitingIsNotDone merges and lands, through MCP, a session whose
// agent waits for an answer: both are refused as busy and nothing moves,
// as for a working agent.
func TestMCPWaitingIsNotDone(t *testing.T) {
	t.Parallel()
	e := newMCPEnv(t, "repo", false)
	c, w := e.daemon.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: e.repo, Name: "half",
		Command: []string{"fakeagent", "-edit", "half.txt", "-ask", "may I go on?"}})
	if err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateWaiting)
	main := gittest.Git(t, e.repo, "rev-parse", "main")
	branch := gittest.Git(t, e.repo, "rev-parse", s.Branch)

	r := e.call("merge_session", map[string]any{"session": "half"})
	if !r.IsError || !strings.Contains(resultText(r), "waiting for an answer") {
		t.Errorf("merge_session: got %v %q, want a tool error saying the agent waits", r.IsError, resultText(r))
	}
	r = e.call("land_sessions", map[string]any{"sessions": []string{"half"}})
	if text := resultText(r); !strings.Contains(text, "busy") || !strings.Contains(text, "waiting for an answer") {
		t.Errorf("land_sessions: got %q, want it stopped at half as busy", text)
	}
	if got := gittest.Git(t, e.repo, "rev-parse", "main"); got != main {
		t.Errorf("main moved to %s", got)
	}
	if got := gittest.Git(t, e.repo, "rev-parse", s.Branch); got != branch {
		t.Errorf("%s moved to %s: the waiting agent's work was checkpointed", s.Branch, got)
	}
	if got := sessionState(t, c, s.ID); got.State != protocol.StateWaiting {
		t.Errorf("after the refusals: got %s, want still waiting", got.State)
	}
}

// sessionEnv is the environment of a session's agent, as a process it
// starts inherits it.
func sessionEnv(t testing.TB, s protocol.Session) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", s.PID))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// runIn runs studiod (or another program) with env in dir and returns its
// exit code and output.
func runIn(t *testing.T, env []string, dir string, argv ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = env, dir
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	case err != nil:
		t.Fatalf("%v: %v", argv, err)
	}
	return 0, string(out)
}

// withoutSecret is env with no session secret: the person's own shell.
func withoutSecret(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "STUDIO_SESSION_TOKEN=") })
}

// TestSessionSpeaksOnlyForItself: from inside session a, neither hooks nor
// the CLI can change session b (its state, its note, its agent, its
// branch), while reading b and acting on a itself work; the person, whose
// shell has no session secret, can do all of it except reporting for b.
func TestSessionSpeaksOnlyForItself(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	d := startDaemon(t, home)
	c, w := d.watch()
	spawn := func(name string) protocol.Session {
		s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: name,
			Command: []string{"fakeagent", "-edit", name + ".txt", "-echo"}})
		if err != nil {
			t.Fatal(err)
		}
		return w.AwaitState(t, s.ID, protocol.StateIdle)
	}
	a, b := spawn("a"), spawn("b")
	envA := sessionEnv(t, a)
	if !slices.ContainsFunc(envA, func(kv string) bool { return strings.HasPrefix(kv, "STUDIO_SESSION_TOKEN=") && len(kv) > 40 }) {
		t.Fatalf("session a's agent has no secret in its environment")
	}
	payload, err := os.ReadFile("../../agents/testdata/hooks/claude/notification-permission-prompt.json")
	if err != nil {
		t.Fatal(err)
	}
	bUnchanged := func(after string) {
		t.Helper()
		got := sessionState(t, c, b.ID)
		if got.State != protocol.StateIdle || got.Note != b.Note {
			t.Fatalf("after %s: b is %s, note %q; want idle, note %q", after, got.State, got.Note, b.Note)
		}
	}

	// Hooks: a report for b from a's environment, or from the person's,
	// is refused; the hook binaries still let their agent go on.
	for _, env := range [][]string{envA, withoutSecret(envA)} {
		if code, out := runIn(t, env, a.Worktree, "studiod", "hook", "--session", b.ID, "waiting", "may I delete prod?"); code != exitForbidden {
			t.Errorf("studiod hook for b: exit %d (%s), want %d", code, out, exitForbidden)
		}
		bUnchanged("studiod hook waiting")
		for _, argv := range [][]string{{"studiod", "hook", "--agent", "claude"}, {"studiod-hook", "--agent", "claude"}} {
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Env, cmd.Dir = append(slices.Clone(env), "STUDIO_SESSION_ID="+b.ID), a.Worktree
			cmd.Stdin = strings.NewReader(string(payload))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s for b: %v (%s), want exit 0: a hook never fails its agent", argv[0], err, out)
			}
			bUnchanged(argv[0])
		}
	}
	hooksLog, _ := os.ReadFile(filepath.Join(home, "state", "sessions", a.ID, "hooks.log"))
	if !strings.Contains(string(hooksLog), "forbidden") {
		t.Errorf("a's hooks log does not say the reports were refused:\n%s", hooksLog)
	}

	// The CLI from a's environment: changing b is refused, reading it is
	// not.
	for _, argv := range [][]string{
		{"note", "b", "taken over"},
		{"stop", "b"},
		{"send", "b", "rm -rf ."},
		{"answer", "b", "allow"},
		{"comment", "b", "b.txt:1", "bad"},
		{"merge", "b"},
		{"land", "b"},
		{"sync", "b"},
		{"rm", "--force", "b"},
		{"land"},
		{"shutdown"},
	} {
		if code, out := runIn(t, envA, a.Worktree, append([]string{"studiod"}, argv...)...); code != exitForbidden || !strings.Contains(out, "forbidden") {
			t.Errorf("studiod %s from a: exit %d (%s), want %d, forbidden", strings.Join(argv, " "), code, out, exitForbidden)
		}
		bUnchanged("studiod " + argv[0])
	}
	// A process of a's that drops the secret from its environment and
	// says nothing of it is still known by its ancestors' environment.
	if code, out := runIn(t, envA, a.Worktree, "sh", "-c", "env -u STUDIO_SESSION_TOKEN studiod stop b; exit $?"); code != exitForbidden {
		t.Errorf("studiod stop b from a child of a without the secret: exit %d (%s), want %d", code, out, exitForbidden)
	}
	bUnchanged("stop from a child without the secret")
	if got := gittest.Git(t, repo, "rev-parse", "main"); got != a.Base {
		t.Errorf("main moved to %s", got)
	}
	for _, argv := range [][]string{{"show", "b"}, {"diff", "b"}, {"ls"}, {"note", "a", "my own note"}, {"hook", "working"}} {
		if code, out := runIn(t, envA, a.Worktree, append([]string{"studiod"}, argv...)...); code != 0 {
			t.Errorf("studiod %s from a: exit %d (%s), want 0", strings.Join(argv, " "), code, out)
		}
	}
	if got := sessionState(t, c, a.ID); got.Note != "my own note" || got.State != protocol.StateWorking {
		t.Errorf("a after its own note and hook: %s %q", got.State, got.Note)
	}

	// The person may.
	if code, out := runIn(t, withoutSecret(envA), repo, "studiod", "note", "b", "the person's note"); code != 0 {
		t.Fatalf("studiod note b from the person: exit %d (%s)", code, out)
	}
	if got := sessionState(t, c, b.ID); got.Note != "the person's note" {
		t.Errorf("b's note: %q", got.Note)
	}
}

// claudeHook runs `studiod hook --agent claude` as session s's agent would,
// from its environment and worktree, with a payload for event, and returns
// what it printed.
func claudeHook(t testing.TB, s protocol.Session, env []string, event, tool, id string, input map[string]any) string {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{"session_id": "conv", "hook_event_name": event, "cwd": s.Worktree,
		"tool_name": tool, "tool_use_id": id, "tool_input": input})
	cmd := exec.Command("studiod", "hook", "--agent", "claude")
	cmd.Env, cmd.Dir = env, s.Worktree
	cmd.Stdin = strings.NewReader(string(payload))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hook %s %s: %v", event, tool, err)
	}
	return string(out)
}

// TestGateResolvesPaths: the gate judges the file a write really changes.
// With session gb holding shared.txt and ga in deny mode, every way of
// naming shared.txt from ga (a committed symlink, /proc/self/cwd, `..`, a
// linked path to the worktree) is denied, and so is any write into gb's
// worktree or the person's checkout, for each of Claude Code's write
// tools; in ask mode such a write is asked, in inform mode reported.
func TestGateResolvesPaths(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"shared.txt": "one\ntwo\nthree\nfour\n", "sub/keep.txt": "keep\n", "README.md": "hi\n"})
	if err := os.Symlink("shared.txt", filepath.Join(repo, "link.txt")); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, repo, "add", "-A")
	gittest.Git(t, repo, "commit", "-q", "-m", "link")
	d := startDaemon(t, home)
	c, w := d.watch()
	spawn := func(name string, gate protocol.GateMode, argv ...string) protocol.Session {
		s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: name, Gate: gate, Command: append([]string{"fakeagent"}, argv...)})
		if err != nil {
			t.Fatal(err)
		}
		return w.AwaitState(t, s.ID, protocol.StateIdle)
	}
	gb := spawn("gb", "", "-edit", "shared.txt", "-echo")
	w.Await(t, "gb's change to shared.txt", func() bool {
		s, _ := w.Session(gb.ID)
		return s.Changes.Files > 0
	})
	ga := spawn("ga", protocol.GateDeny, "-echo")
	envA := sessionEnv(t, ga)
	alias := filepath.Join(t.TempDir(), "alias")
	if err := os.Symlink(ga.Worktree, alias); err != nil {
		t.Fatal(err)
	}
	paths := []struct{ name, path string }{
		{"relative", "shared.txt"},
		{"absolute", filepath.Join(ga.Worktree, "shared.txt")},
		{"dot-dot", "./sub/../shared.txt"},
		{"committed symlink", filepath.Join(ga.Worktree, "link.txt")},
		{"proc self cwd", "/proc/self/cwd/shared.txt"},
		{"linked worktree path", filepath.Join(alias, "shared.txt")},
		{"another session's worktree", filepath.Join(gb.Worktree, "new.txt")},
		{"another session's worktree via dot-dot", filepath.Join(ga.Worktree, "..", "gb", "README.md")},
		{"the person's checkout", filepath.Join(repo, "README.md")},
		{"the person's checkout, new file", filepath.Join(repo, "sub", "..", "added.txt")},
	}
	tools := map[string]func(path string) map[string]any{
		"Write": func(p string) map[string]any { return map[string]any{"file_path": p, "content": "mine\n"} },
		"Edit": func(p string) map[string]any {
			return map[string]any{"file_path": p, "old_string": "one\n", "new_string": "uno\n"}
		},
		"MultiEdit": func(p string) map[string]any {
			return map[string]any{"file_path": p, "edits": []map[string]any{{"old_string": "one\n", "new_string": "uno\n"}}}
		},
		"NotebookEdit": func(p string) map[string]any { return map[string]any{"notebook_path": p, "new_source": "x"} },
	}
	for _, p := range paths {
		for tool, input := range tools {
			t.Run(p.name+"/"+tool, func(t *testing.T) {
				out := claudeHook(t, ga, envA, "PreToolUse", tool, "t-"+tool, input(p.path))
				if !strings.Contains(out, `"permissionDecision":"deny"`) {
					t.Errorf("%s of %s: got %q, want a denial", tool, p.path, out)
				}
			})
		}
	}
	// Its own new file, and a scratch file outside every checkout, are
	// nobody else's.
	for _, p := range []string{filepath.Join(ga.Worktree, "mine.txt"), filepath.Join(t.TempDir(), "scratch.txt")} {
		if out := claudeHook(t, ga, envA, "PreToolUse", "Write", "t-own", map[string]any{"file_path": p, "content": "x"}); out != "" {
			t.Errorf("Write of %s: got %q, want nothing to say", p, out)
		}
	}

	// Ask mode asks; inform mode lets the write go and says why after it.
	gask := spawn("gask", protocol.GateAsk, "-echo")
	into := map[string]any{"file_path": filepath.Join(gb.Worktree, "new.txt"), "content": "x"}
	if out := claudeHook(t, gask, sessionEnv(t, gask), "PreToolUse", "Write", "t1", into); !strings.Contains(out, `"permissionDecision":"ask"`) || !strings.Contains(out, "worktree of session `gb`") {
		t.Errorf("ask mode, write into gb's worktree: got %q, want it asked with the reason", out)
	}
	ginf := spawn("ginf", protocol.GateInform, "-echo")
	envI := sessionEnv(t, ginf)
	into = map[string]any{"file_path": filepath.Join(repo, "README.md"), "content": "x"}
	if out := claudeHook(t, ginf, envI, "PreToolUse", "Write", "t2", into); out != "" {
		t.Errorf("inform mode before the write: got %q, want nothing", out)
	}
	if out := claudeHook(t, ginf, envI, "PostToolUse", "Write", "t2", into); !strings.Contains(out, "additionalContext") || !strings.Contains(out, "the person's own checkout") {
		t.Errorf("inform mode after the write: got %q, want the reason", out)
	}
}

// TestRemoveRecordsWhatWasKept removes, with --force, a stopped session
// with uncommitted work in a repository of many files: the change stats
// recorded on the way out are its own work, never a snapshot of its
// worktree half-deleted, and the work is kept as a salvage.
func TestRemoveRecordsWhatWasKept(t *testing.T) {
	t.Parallel()
	files := map[string]string{}
	for i := range 1500 {
		files[fmt.Sprintf("d%02d/f%04d.txt", i%30, i)] = strings.Repeat("line\n", 20)
	}
	home := newHome(t)
	repo := gittest.NewRepo(t, files)
	d := startDaemon(t, home)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "big",
		Command: []string{"fakeagent", "-edit", "d00/f0000.txt,new.txt", "-echo"}})
	if err != nil {
		t.Fatal(err)
	}
	w.Await(t, "big's changes", func() bool {
		got, _ := w.Session(s.ID)
		return got.State == protocol.StateIdle && got.Changes.Files == 2
	})
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: protocol.SessionRef{Session: s.ID}}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Remove(t.Context(), protocol.RemoveParams{SessionRef: protocol.SessionRef{Session: s.ID}, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Salvage == nil || !res.Salvage.Uncommitted || res.Salvage.Changes.Files != 2 {
		t.Errorf("salvage: %+v, want the uncommitted work of 2 files", res.Salvage)
	}
	want := protocol.Changes{Files: 2, Additions: 2, Deletions: 20}
	if res.Session.Changes != want {
		t.Errorf("recorded changes: %+v, want %+v", res.Session.Changes, want)
	}
	for _, ev := range w.Events(s.ID) {
		if ev.Changes.Files > 2 {
			t.Errorf("announced %s with %+v: a snapshot of a worktree being deleted", ev.State, ev.Changes)
		}
	}
}

// TestSandbox: an agent in the bubblewrap sandbox tries to write into
// another session's worktree, the person's checkout and the home
// directory: every write fails and nothing is written, while it still
// writes its extra writable path and a private /tmp, reports its state
// through its hook, and commits on its branch.
func TestSandbox(t *testing.T) {
	t.Parallel()
	if ok, why := agents.SandboxStatus(t.Context()); !ok {
		t.Skip(why)
	}
	home := newHome(t)
	userHome, extra := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("[sandbox]\nmode = \"bwrap\"\nwritable = [%q]\n", extra)
	if err := os.WriteFile(filepath.Join(home, "config", "config.toml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	d := startDaemonEnv(t, home, "HOME="+userHome)
	c, w := d.watch()
	other, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "other", Command: []string{"fakeagent", "-echo"}})
	if err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, other.ID, protocol.StateIdle)
	scratch := fmt.Sprintf("/tmp/studiod-sandbox-%d.txt", os.Getpid())
	targets := []string{filepath.Join(other.Worktree, "intruder.txt"), filepath.Join(repo, "intruder.txt"), filepath.Join(userHome, "intruder.txt")}
	script := ""
	for _, f := range append(slices.Clone(targets), filepath.Join(extra, "cache.txt"), scratch) {
		script += fmt.Sprintf("if echo x > %q; then echo WROTE %s; else echo REFUSED %s; fi; ", f, f, f)
	}
	script += "echo mine > own.txt && git add own.txt && git commit -q -m own && echo COMMITTED; exec fakeagent -echo"
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "boxed", Command: []string{"sh", "-c", script}})
	if err != nil {
		t.Fatal(err)
	}
	w.Follow(t, c, protocol.OutputSubscription{Session: s.ID})
	w.AwaitState(t, s.ID, protocol.StateIdle)
	w.Await(t, "the script's report", func() bool {
		out, _ := w.Output(s.ID)
		return strings.Contains(string(out), "fakeagent started")
	})
	out, _ := w.Output(s.ID)
	for _, f := range targets {
		if !strings.Contains(string(out), "REFUSED "+f) {
			t.Errorf("writing %s was not refused:\n%s", f, out)
		}
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s was written", f)
			os.Remove(f)
		}
	}
	if !strings.Contains(string(out), "Read-only file system") {
		t.Errorf("the agent was not told why its writes failed:\n%s", out)
	}
	for _, f := range []string{filepath.Join(extra, "cache.txt"), scratch} {
		if !strings.Contains(string(out), "WROTE "+f) {
			t.Errorf("writing %s failed:\n%s", f, out)
		}
	}
	if _, err := os.Stat(scratch); err == nil {
		os.Remove(scratch)
		t.Errorf("the agent's /tmp is the machine's, not its own")
	}
	if !strings.Contains(string(out), "COMMITTED") {
		t.Fatalf("the agent could not commit on its branch:\n%s", out)
	}
	if got := gittest.Git(t, repo, "log", "-1", "--format=%s", s.Branch); got != "own" {
		t.Errorf("%s's last commit: %q, want own", s.Branch, got)
	}
	// Stopping ends the sandbox and everything in it.
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: protocol.SessionRef{Session: s.ID}}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateStopped, protocol.StateExited)
	if err := syscall.Kill(s.PID, 0); err == nil {
		t.Errorf("the sandboxed agent (pid %d) survived its stop", s.PID)
	}
}

// TestClaudeCodeSandbox: the real Claude Code, in its bypass mode (it asks
// nothing) under the sandbox, is told by its model to write into another
// session's worktree, the person's checkout and the home directory: every
// write fails, the model hears why, nothing is written; it still commits on
// its branch.
func TestClaudeCodeSandbox(t *testing.T) {
	t.Parallel()
	if ok, why := agents.SandboxStatus(t.Context()); !ok {
		t.Skip(why)
	}
	bin := fakemodel.AgentsBin(t, "claude")
	const key = "sk-ant-fake-0123456789abcdefghijklmnop"
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	userHome := claudeHome(t, key, repo)
	// The bypass mode's warning, accepted once.
	writeJSON(t, filepath.Join(userHome, ".claude", "settings.json"), map[string]any{"skipDangerousModePermissionPrompt": true})
	otherWT := filepath.Join(home, "data", "worktrees", filepath.Base(repo)+"-"+sha256Hex(repo)[:8], "other")
	targets := []string{filepath.Join(otherWT, "intruder.txt"), filepath.Join(repo, "intruder.txt"), filepath.Join(userHome, "intruder.txt")}
	escape := ""
	for _, f := range targets {
		escape += fmt.Sprintf("echo x > %q; ", f)
	}
	toldWhy := func(r *fakemodel.Request) bool {
		for _, tr := range r.LastToolResults() {
			if strings.Contains(tr.Output, "Read-only file system") {
				return true
			}
		}
		return false
	}
	fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
		{UserContains: "escape", Text: "Trying.", Tool: fakemodel.Call("Bash", map[string]string{"command": escape + "echo tried", "description": "write elsewhere"})},
		{AfterToolResult: true, Match: toldWhy, Text: "Committing.", Tool: fakemodel.Call("Bash", map[string]string{
			"command": "echo mine > own.txt && git add own.txt && git commit -q -m own && echo COMMITTED", "description": "commit"})},
		{AfterToolResult: true, Text: "Done."},
	}})
	defer fm.Close()
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := "[sandbox]\nmode = \"bwrap\"\n[agents.claude]\ncommand = [\"claude\", \"--dangerously-skip-permissions\", \"{prompt}\"]\n"
	if err := os.WriteFile(filepath.Join(home, "config", "config.toml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemonEnv(t, home,
		"PATH="+bin+":"+os.Getenv("PATH"), "HOME="+userHome,
		"ANTHROPIC_BASE_URL="+fm.URL(), "ANTHROPIC_API_KEY="+key,
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_AUTOUPDATER=1",
		// Bypass mode refuses to run as root outside a sandbox it knows.
		"IS_SANDBOX=1")
	c, w := d.watch()
	other, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "other", Command: []string{"fakeagent", "-echo"}})
	if err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, other.ID, protocol.StateIdle)
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "boxed", Agent: "claude", Prompt: "Try to escape"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if _, err := fm.Wait(ctx, toldWhy); err != nil {
		out, _ := c.Output(t.Context(), protocol.OutputParams{SessionRef: protocol.SessionRef{Session: s.ID}, Limit: 1 << 20})
		t.Fatalf("the model never heard that the writes failed: %v\n%s", err, out.Data)
	}
	for _, f := range targets {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s was written", f)
		}
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	// The session says its writes were refused.
	if b, _ := os.ReadFile(filepath.Join(home, "state", "sessions", s.ID, "hooks.log")); !strings.Contains(string(b), "sandbox: refused a write: ") || !strings.Contains(string(b), "intruder.txt") {
		t.Errorf("the session's hooks log does not report the refused writes:\n%s", b)
	}
	if got := gittest.Git(t, repo, "log", "-1", "--format=%s", s.Branch); got != "own" {
		out, _ := c.Output(t.Context(), protocol.OutputParams{SessionRef: protocol.SessionRef{Session: s.ID}, Limit: 1 << 20})
		t.Errorf("%s's last commit: %q, want own\n%s", s.Branch, got, out.Data)
	}
}

// TestMCPListSalvage: what a removed session left is listed to an
// assistant.
func TestMCPListSalvage(t *testing.T) {
	t.Parallel()
	e := newMCPEnv(t, "repo", false)
	var empty protocol.SalvageResult
	wantOK(t, "list_salvage", e.call("list_salvage", map[string]any{}), &empty)
	if len(empty.Salvages) != 0 {
		t.Fatalf("salvages before any removal: %+v", empty.Salvages)
	}
	c, w := e.daemon.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: e.repo, Name: "gone", Command: []string{"fakeagent", "-edit", "wip.txt", "-echo"}})
	if err != nil {
		t.Fatal(err)
	}
	w.Await(t, "gone's work", func() bool {
		got, _ := w.Session(s.ID)
		return got.State == protocol.StateIdle && got.Changes.Files == 1
	})
	if _, err := c.Remove(t.Context(), protocol.RemoveParams{SessionRef: protocol.SessionRef{Session: s.ID}, Force: true}); err != nil {
		t.Fatal(err)
	}
	r := e.call("list_salvage", map[string]any{})
	var res protocol.SalvageResult
	wantOK(t, "list_salvage", r, &res)
	if len(res.Salvages) != 1 || res.Salvages[0].Name != "gone" || !res.Salvages[0].Uncommitted || res.Salvages[0].Changes.Files != 1 {
		t.Fatalf("salvages: %+v", res.Salvages)
	}
	if text := resultText(r); !strings.Contains(text, "gone (from session gone") || !strings.Contains(text, "uncommitted work included") {
		t.Errorf("summary: %q", text)
	}
}

// TestCodexSandbox: the real Codex under the sandbox, its state in
// CODEX_HOME, runs as usual (its hook review, its command's permission
// from its hook, its turn's end), and the command it was allowed to run
// still cannot write outside the worktree.
func TestCodexSandbox(t *testing.T) {
	t.Parallel()
	if ok, why := agents.SandboxStatus(t.Context()); !ok {
		t.Skip(why)
	}
	bin := fakemodel.AgentsBin(t, "codex")
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	wt := filepath.Join(home, "data", "worktrees", filepath.Base(repo)+"-"+sha256Hex(repo)[:8], "cx")
	outside := filepath.Join(t.TempDir(), "outside.txt")
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "config", "config.toml"), []byte("[sandbox]\nmode = \"bwrap\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env, _, _ := codexEnv(t, bin, outside, wt)
	d := startDaemonEnv(t, home, env...)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "cx", Agent: "codex", Prompt: "Write outside.txt"})
	if err != nil {
		t.Fatal(err)
	}
	ref := protocol.SessionRef{Session: s.ID}
	if got := w.AwaitState(t, s.ID, protocol.StateWaiting); got.Waiting == nil || got.Waiting.Kind != protocol.WaitTrust {
		t.Fatalf("waiting: %+v, want Codex's hook review", got.Waiting)
	}
	if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: ref, Answer: protocol.AnswerAllow}); err != nil {
		t.Fatal(err)
	}
	w.Await(t, "the command's permission", func() bool {
		got, _ := w.Session(s.ID)
		return got.State == protocol.StateWaiting && got.Waiting != nil && got.Waiting.Kind == protocol.WaitPermission && got.Waiting.Source == "hook"
	})
	if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: ref, Answer: protocol.AnswerAllow}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	if _, err := os.Stat(outside); err == nil {
		t.Errorf("the allowed command wrote %s outside the sandbox", outside)
	}
}
