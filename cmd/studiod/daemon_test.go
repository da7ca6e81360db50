package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/internal/studiotest"
	"github.com/studiod/studiod/protocol"
)

// daemon is a real `studiod serve` process under a private STUDIOD_HOME.
type daemon struct {
	t      *testing.T
	home   string
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has been reaped
}

func newHome(t *testing.T) string {
	t.Helper()
	// Unix socket paths are short: keep the home near the root.
	home, err := os.MkdirTemp("", "sd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cleanupHome(home)
		os.RemoveAll(home)
	})
	return home
}

func (d *daemon) socket() string { return filepath.Join(d.home, "run", "studiod.sock") }

func startDaemon(t *testing.T, home string) *daemon {
	t.Helper()
	return startDaemonEnv(t, home)
}

// interactiveEnv is the test's environment without the variables a CI
// machine sets: the daemon gives its agents a terminal as on a developer's
// machine, and with CI=true some agents (Gemini CLI) run headless instead.
func interactiveEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "CI" || k == "GITHUB_ACTIONS" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// startDaemonEnv starts a daemon with extra environment.
func startDaemonEnv(t *testing.T, home string, env ...string) *daemon {
	t.Helper()
	cmd := exec.Command("studiod", "serve")
	cmd.Env = append(append(interactiveEnv(), "STUDIOD_HOME="+home), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	d := &daemon{t: t, home: home, cmd: cmd, exited: exited}
	go func() { cmd.Wait(); close(exited) }()
	// Stop the agents and the daemon before the test's repositories go:
	// cleanups run last first, and the repositories were made before.
	t.Cleanup(func() {
		cleanupHome(home)
		// A daemon that would not shut down does not outlive its test.
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		// A daemon answers once it has recovered its sessions: the socket
		// listens before that.
		c, err := protocol.Dial(t.Context(), d.socket(), nil)
		if err == nil {
			_, err = c.Hello(t.Context(), protocol.HelloParams{Client: "test", Version: protocol.Version})
			c.Close()
			if err == nil {
				return d
			}
		}
		select {
		case <-exited:
			t.Fatalf("daemon exited: %s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not come up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill9 kills the daemon the hard way.
func (d *daemon) kill9() {
	d.cmd.Process.Kill()
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		d.t.Fatal("the daemon survived SIGKILL")
	}
}

func (d *daemon) client(notify protocol.NotifyFunc) *protocol.Client {
	d.t.Helper()
	c, err := protocol.Dial(d.t.Context(), d.socket(), notify)
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { c.Close() })
	return c
}

// watch connects a client that follows the daemon's sessions and
// conflicts (and the given output streams) as its notifications arrive.
func (d *daemon) watch(output ...protocol.OutputSubscription) (*protocol.Client, *studiotest.Watch) {
	d.t.Helper()
	w := studiotest.NewWatch()
	c := d.client(w.Receive)
	w.Follow(d.t, c, output...)
	return c, w
}

func sessionState(t *testing.T, c *protocol.Client, id string) *protocol.Session {
	s, err := c.Session(t.Context(), protocol.SessionRef{Session: id})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDaemonCrashKeepsAgentsAndOutput kills the daemon with SIGKILL while an
// agent writes, starts a new one, and checks the agent kept running, no
// output byte was lost, and its exit was recorded.
func TestDaemonCrashKeepsAgentsAndOutput(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	repo := gittest.NewRepo(t, nil)
	d := startDaemon(t, home)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "writer",
		Command: []string{"fakeagent", "-lines", "300", "-every", "10ms", "-exit", "5"}})
	if err != nil {
		t.Fatal(err)
	}
	w.Follow(t, c, protocol.OutputSubscription{Session: s.ID})
	w.Await(t, "some output", func() bool {
		out, _ := w.Output(s.ID)
		return bytes.Contains(out, []byte("line 20\r\n"))
	})
	d.kill9()
	if err := syscall.Kill(s.PID, 0); err != nil {
		t.Fatalf("agent died with the daemon: %v", err)
	}
	d2 := startDaemon(t, home)
	c2, w2 := d2.watch()
	got := sessionState(t, c2, s.ID)
	if got.Name != "writer" || got.Worktree != s.Worktree {
		t.Fatalf("session after restart: %+v", got)
	}
	w2.AwaitState(t, s.ID, protocol.StateExited)
	got = sessionState(t, c2, s.ID)
	if got.ExitCode == nil || *got.ExitCode != 5 {
		t.Errorf("exit code: got %v, want 5", got.ExitCode)
	}
	out, err := c2.Output(t.Context(), protocol.OutputParams{SessionRef: protocol.SessionRef{Session: s.ID}, Limit: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := 1; i <= 300; i++ {
		fmt.Fprintf(&want, "line %d\r\n", i)
	}
	if !bytes.Contains(out.Data, []byte(want.String())) {
		t.Errorf("output lost lines across the restart:\n%s", out.Data)
	}
	if !out.Done {
		t.Errorf("output not done after exit: %+v", out)
	}
}

// TestCrashDuringSpawn kills the daemon while a spawn runs its setup; the
// next daemon rolls the spawn back.
func TestCrashDuringSpawn(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	// The setup command says it started through a FIFO the test reads.
	fifo := filepath.Join(t.TempDir(), "setup-started")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	repo := gittest.NewRepo(t, map[string]string{
		".studio.toml": "[setup]\ncommands = [\"if [ -p " + fifo + " ]; then echo $STUDIO_WORKTREE > " + fifo + "; sleep 30; fi\"]\n",
	})
	d := startDaemon(t, home)
	c := d.client(nil)
	if _, err := c.Trust(t.Context(), protocol.TrustParams{Repo: repo}); err != nil {
		t.Fatal(err)
	}
	spawned := make(chan error, 1)
	go func() {
		_, err := c.Spawn(context.Background(), protocol.SpawnParams{Repo: repo, Name: "cut", Command: []string{"fakeagent", "-hang"}})
		spawned <- err
	}()
	// Opening a FIFO for reading blocks until the setup command opens it.
	read := make(chan []byte, 1)
	go func() {
		b, _ := os.ReadFile(fifo)
		read <- b
	}()
	var started []byte
	select {
	case started = <-read:
	case err := <-spawned:
		t.Fatalf("the spawn ended before its setup started: %v", err)
	}
	wt := strings.TrimSpace(string(started))
	d.kill9()
	<-spawned
	// The setup's sleep was the daemon's child; it must not keep the
	// worktree busy for the rollback.
	d2 := startDaemon(t, home)
	c2 := d2.client(nil)
	r, err := c2.Sessions(t.Context(), protocol.SessionsParams{All: true})
	if err != nil || len(r.Sessions) != 1 {
		t.Fatalf("sessions after restart: %+v, %v", r, err)
	}
	s := r.Sessions[0]
	if s.State != protocol.StateFailed || !strings.Contains(s.Detail, "interrupted") {
		t.Errorf("state: got %s (%s), want failed: interrupted", s.State, s.Detail)
	}
	if out := gittest.Git(t, repo, "branch", "--list", "studio/cut"); out != "" {
		t.Errorf("branch left behind: %q", out)
	}
	if out := gittest.Git(t, repo, "worktree", "list", "--porcelain"); strings.Contains(out, "cut") {
		t.Errorf("worktree left behind:\n%s", out)
	}
	if _, err := os.Stat(wt); err == nil {
		t.Errorf("worktree directory %s left behind", wt)
	}
	// The name is free again (the setup does nothing without its FIFO).
	os.Remove(fifo)
	if _, err := c2.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "cut", Command: []string{"fakeagent", "-hang"}}); err != nil {
		t.Errorf("respawn after the rollback: %v", err)
	}
}

func TestSecondDaemonAndStaleSocket(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	d := startDaemon(t, home)
	cmd := exec.Command("studiod", "serve")
	cmd.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already running") {
		t.Fatalf("second daemon: err %v, output %q", err, out)
	}
	// The first one still serves.
	if _, err := d.client(nil).Status(t.Context(), protocol.Empty{}); err != nil {
		t.Fatal(err)
	}
	d.kill9()
	// The socket file a crashed daemon leaves behind is recovered.
	if _, err := os.Stat(d.socket()); err != nil {
		t.Fatalf("expected a stale socket: %v", err)
	}
	d2 := startDaemon(t, home)
	if _, err := d2.client(nil).Status(t.Context(), protocol.Empty{}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(d2.socket())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode: %v, %v", fi.Mode(), err)
	}
	di, err := os.Stat(filepath.Dir(d2.socket()))
	if err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("socket dir mode: %v, %v", di.Mode(), err)
	}
}

// TestAutoStart checks that any client starts the daemon when none runs.
func TestAutoStart(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	cmd := exec.Command("studiod", "ls", "--json")
	cmd.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ls: %v: %s", err, out)
	}
	cmd = exec.Command("studiod", "status", "--json")
	cmd.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("status: %v: %s", err, out)
	}
	var st protocol.StatusResult
	if err := json.Unmarshal(out, &st); err != nil || st.PID == 0 {
		t.Fatalf("status: %s (%v)", out, err)
	}
}

// TestAutoStartAfterDyingDaemon: a daemon killed a moment ago can still
// take a connection (it sat in the listen queue) and then close it without
// a word; the client dials again, starts a daemon and goes on.
func TestAutoStartAfterDyingDaemon(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	run := filepath.Join(home, "run")
	if err := os.MkdirAll(run, 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(run, "studiod.sock"))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
		ln.Close()
	}()
	cmd := exec.Command("studiod", "ls", "--json")
	cmd.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ls after a daemon that died under it: %v: %s", err, out)
	}
}

// rawCall sends one framed body and reads one framed reply.
func rawExchange(t *testing.T, nc net.Conn, body string) map[string]any {
	t.Helper()
	fmt.Fprintf(nc, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return rawRead(t, nc)
}

func rawRead(t *testing.T, nc net.Conn) map[string]any {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	st := protocol.NewStream(nc)
	b, err := st.ReadBody()
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("reply %q: %v", b, err)
	}
	return m
}

func errCode(m map[string]any) int {
	e, ok := m["error"].(map[string]any)
	if !ok {
		return 0
	}
	return int(e["code"].(float64))
}

func TestMalformedRPC(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	d := startDaemon(t, home)
	nc, err := net.Dial("unix", d.socket())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cases := []struct {
		name string
		body string
		code int
	}{
		{"not json", `{"jsonrpc":"2.0",`, protocol.CodeParseError},
		{"not a message", `{"jsonrpc":"2.0","id":1}`, protocol.CodeInvalidRequest},
		{"unknown method", `{"jsonrpc":"2.0","id":2,"method":"studio/nope"}`, protocol.CodeMethodNotFound},
		{"wrong param type", `{"jsonrpc":"2.0","id":3,"method":"studio/spawn","params":{"rows":"many"}}`, protocol.CodeInvalidParams},
		{"missing session", `{"jsonrpc":"2.0","id":4,"method":"studio/session","params":{"session":"nobody"}}`, protocol.CodeNotFound},
		{"empty ref", `{"jsonrpc":"2.0","id":5,"method":"studio/session","params":{}}`, protocol.CodeInvalid},
	}
	for _, tc := range cases {
		if got := errCode(rawExchange(t, nc, tc.body)); got != tc.code {
			t.Errorf("%s: got code %d, want %d", tc.name, got, tc.code)
		}
	}
	// The connection survived all of that.
	if m := rawExchange(t, nc, `{"jsonrpc":"2.0","id":9,"method":"studio/sessions"}`); m["result"] == nil {
		t.Errorf("sessions after bad input: %v", m)
	}
	// An oversized message is refused without being read, and the
	// connection closed.
	fmt.Fprintf(nc, "Content-Length: %d\r\n\r\n", protocol.MaxMessage+1)
	if got := errCode(rawRead(t, nc)); got != protocol.CodeInvalidRequest {
		t.Errorf("oversized: got code %d", got)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Read(make([]byte, 1)); err == nil {
		t.Error("connection still open after an oversized message")
	}
	// And the daemon serves others.
	if _, err := d.client(nil).Status(t.Context(), protocol.Empty{}); err != nil {
		t.Fatal(err)
	}
}

// TestSubscribeNotifications checks that state changes and output reach a
// subscribed client, output from the offset it asked for.
func TestSubscribeNotifications(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	repo := gittest.NewRepo(t, nil)
	d := startDaemon(t, home)
	states := make(chan string, 100)
	output := make(chan []byte, 100)
	c := d.client(func(method string, params json.RawMessage) {
		switch method {
		case protocol.NotifySessionChanged:
			var n protocol.SessionChanged
			json.Unmarshal(params, &n)
			states <- string(n.Session.State) + ":" + n.Session.Detail
		case protocol.NotifyOutput:
			var n protocol.OutputNotification
			json.Unmarshal(params, &n)
			output <- n.Data
		}
	})
	if _, err := c.Subscribe(t.Context(), protocol.SubscribeParams{Sessions: true}); err != nil {
		t.Fatal(err)
	}
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "asker",
		Command: []string{"fakeagent", "-ask", "Proceed?", "-echo"}})
	if err != nil {
		t.Fatal(err)
	}
	wantState := func(want string) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case got := <-states:
				if got == want {
					return
				}
			case <-timeout:
				t.Fatalf("no %q notification", want)
			}
		}
	}
	wantState("waiting:Proceed?")
	if _, err := c.Subscribe(t.Context(), protocol.SubscribeParams{Sessions: true,
		Output: []protocol.OutputSubscription{{Session: s.ID, Offset: 0}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(t.Context(), protocol.SendParams{SessionRef: protocol.SessionRef{Session: "asker", Repo: repo}, Text: "yes"}); err != nil {
		t.Fatal(err)
	}
	wantState("idle:")
	var got []byte
	timeout := time.After(30 * time.Second)
	for !bytes.Contains(got, []byte("answer: yes")) {
		select {
		case b := <-output:
			got = append(got, b...)
		case <-timeout:
			t.Fatalf("output so far: %q", got)
		}
	}
	if !bytes.HasPrefix(got, []byte("fakeagent started")) {
		t.Errorf("output did not start at offset 0: %q", got)
	}
}

// TestConflictsLive spawns two agents that rewrite the same file and checks
// the daemon predicts the conflict, with line ranges, and pushes it to a
// subscribed client as a delta.
func TestConflictsLive(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"shared.txt": gittest.Lines(10), "other.txt": "x\n"})
	d := startDaemon(t, home)
	c, w := d.watch()
	for _, name := range []string{"one", "two"} {
		if _, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: name,
			Command: []string{"fakeagent", "-edit", "shared.txt", "-hang"}}); err != nil {
			t.Fatal(err)
		}
	}
	// A write caught half-way (the file truncated, not yet written) may be
	// predicted first; the settled prediction has each side's one line, in
	// each side's own file. It arrives as a delta.
	w.AwaitConflict(t, "line 1 on both sides, in each side's own file", func(cf protocol.Conflict) bool {
		for _, s := range []protocol.Side{cf.A, cf.B} {
			if len(s.Ranges) != 1 || s.Ranges[0] != (protocol.Range{Start: 1, End: 1}) ||
				!strings.HasSuffix(s.File, "/"+s.Session+"/shared.txt") {
				return false
			}
		}
		return cf.Path == "shared.txt" && cf.Kind == protocol.KindContent && cf.Severity == protocol.SeverityConflict &&
			cf.A.Session != cf.B.Session && cf.A.Session != protocol.TargetSide && cf.B.Session != protocol.TargetSide
	})
	res, err := c.Conflicts(t.Context(), protocol.ConflictsParams{Session: "one", Repo: repo})
	if err != nil || len(res.Conflicts) == 0 {
		t.Fatalf("studio/conflicts: %+v, %v", res, err)
	}
	// The session's conflict count follows, announced in its own event.
	s := w.AwaitState(t, "one", protocol.StateWorking)
	w.Await(t, "session one's conflict count", func() bool {
		s, _ = w.Session("one")
		return s.Conflicts > 0
	})
	// From inside a session's worktree, the repo is the session's.
	inside := filepath.Join(s.Worktree, "sub")
	os.MkdirAll(inside, 0o755)
	if r, err := c.Conflicts(t.Context(), protocol.ConflictsParams{Repo: inside}); err != nil || len(r.Conflicts) == 0 {
		t.Errorf("conflicts from inside a worktree: %+v, %v", r, err)
	}
	if r, err := c.Sessions(t.Context(), protocol.SessionsParams{Repo: inside}); err != nil || len(r.Sessions) != 2 {
		t.Errorf("sessions from inside a worktree: %+v, %v", r, err)
	}
	if _, err := c.Session(t.Context(), protocol.SessionRef{Session: "two", Repo: inside}); err != nil {
		t.Errorf("another session by name from inside a worktree: %v", err)
	}
	// Removing one side resolves the conflict, and session one's count
	// drops with it.
	if _, err := c.Remove(t.Context(), protocol.RemoveParams{SessionRef: protocol.SessionRef{Session: "two", Repo: repo}, Force: true}); err != nil {
		t.Fatal(err)
	}
	w.Await(t, "the conflict resolved", func() bool {
		for _, cf := range w.Conflicts() {
			if cf.A.Session == "two" || cf.B.Session == "two" {
				return false
			}
		}
		one, _ := w.Session("one")
		return one.Conflicts == len(w.Conflicts())
	})
}

// TestConflictsSurviveRestartAndDeletedWorktree checks that a restarted
// daemon rebuilds its predictions, and that a worktree deleted from under
// it leaves a clear state and no crash.
func TestConflictsSurviveRestartAndDeletedWorktree(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"shared.txt": gittest.Lines(10)})
	d := startDaemon(t, home)
	c, w := d.watch()
	var worktrees []string
	for _, name := range []string{"one", "two"} {
		s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: name,
			Command: []string{"fakeagent", "-edit", "shared.txt", "-hang"}})
		if err != nil {
			t.Fatal(err)
		}
		worktrees = append(worktrees, s.Worktree)
	}
	conflictIDs := func(w *studiotest.Watch) []string {
		var ids []string
		for _, cf := range w.Conflicts() {
			if cf.Severity == protocol.SeverityConflict && cf.A.Session != protocol.TargetSide && cf.B.Session != protocol.TargetSide {
				ids = append(ids, cf.ID)
			}
		}
		return ids
	}
	w.Await(t, "a conflict", func() bool { return len(conflictIDs(w)) == 1 })
	before := conflictIDs(w)
	c.Close()

	d.kill9()
	d2 := startDaemon(t, home)
	c2, w2 := d2.watch()
	w2.Await(t, "the conflict rebuilt", func() bool {
		got := conflictIDs(w2)
		return len(got) == 1 && got[0] == before[0]
	})

	// Delete one worktree behind the daemon's back.
	if err := os.RemoveAll(worktrees[1]); err != nil {
		t.Fatal(err)
	}
	w2.Await(t, "the deleted side to drop out", func() bool { return len(conflictIDs(w2)) == 0 })
	w2.Await(t, "a clear state", func() bool {
		s, _ := w2.Session("two")
		return strings.Contains(s.Detail, "deleted outside studiod")
	})
	if _, err := c2.Status(t.Context(), protocol.Empty{}); err != nil {
		t.Fatalf("daemon unwell after the deletion: %v", err)
	}
	if _, err := c2.Remove(t.Context(), protocol.RemoveParams{SessionRef: protocol.SessionRef{Session: "two", Repo: repo}, Force: true}); err != nil {
		t.Fatalf("rm after deletion: %v", err)
	}
}

// TestSpawnsDoNotWaitForEachOther holds one spawn in its setup and checks
// that another spawn in the same repository completes meanwhile: the repo
// lock is not held across a checkout, setup or agent start.
func TestSpawnsDoNotWaitForEachOther(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	dir := t.TempDir()
	started, gate := filepath.Join(dir, "started"), filepath.Join(dir, "gate")
	for _, f := range []string{started, gate} {
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	repo := gittest.NewRepo(t, map[string]string{
		".studio.toml": "[setup]\ncommands = [\"if [ \\\"$STUDIO_SESSION\\\" = slow ]; then echo > " + started + "; cat " + gate + "; fi\"]\n",
	})
	d := startDaemon(t, home)
	c, w := d.watch()
	if _, err := c.Trust(t.Context(), protocol.TrustParams{Repo: repo}); err != nil {
		t.Fatal(err)
	}
	slow := make(chan error, 1)
	go func() {
		_, err := c.Spawn(context.Background(), protocol.SpawnParams{Repo: repo, Name: "slow", Command: []string{"fakeagent", "-hang"}})
		slow <- err
	}()
	// The slow setup has started (and holds on the gate) once this read
	// returns.
	if _, err := os.ReadFile(started); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "fast", Command: []string{"fakeagent", "-hang"}}); err != nil {
		t.Fatalf("spawn while another is in its setup: %v", err)
	}
	select {
	case err := <-slow:
		t.Fatalf("the slow spawn finished before its setup was released: %v", err)
	default:
	}
	// Release the slow setup: it completes too.
	if err := os.WriteFile(gate, []byte("go\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := <-slow; err != nil {
		t.Fatalf("slow spawn: %v", err)
	}
	w.AwaitState(t, "slow", protocol.StateWorking)
}
