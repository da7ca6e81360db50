package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/studiod/studiod/agents/shim"
	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// TestMergeDeletedWorktree merges a session whose worktree was deleted
// behind studiod's back: git cannot run in it, which is not "git missing";
// the committed work on the branch merges.
func TestMergeDeletedWorktree(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	home := newHome(t) // after the repo: its cleanup, stopping the daemon, runs first
	d := startDaemon(t, home)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "gone",
		Command: []string{"fakeagent", "-edit", "work.txt", "-echo"}})
	if err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	gittest.Git(t, s.Worktree, "add", "-A")
	gittest.Commit(t, s.Worktree, "work")
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: protocol.SessionRef{Session: s.ID}}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(s.Worktree); err != nil {
		t.Fatal(err)
	}
	res, err := c.Merge(t.Context(), protocol.MergeParams{SessionRef: protocol.SessionRef{Session: s.ID}})
	if err != nil {
		t.Fatalf("merge after the worktree was deleted: %v (code %d)", err, protocol.CodeOf(err))
	}
	if got := gittest.Git(t, repo, "show", "main:work.txt"); got != "edited by gone" {
		t.Errorf("main:work.txt after the merge: %q", got)
	}
	if res.Session.State != protocol.StateMerged {
		t.Errorf("state after the merge: %s, want merged", res.Session.State)
	}
}

// TestCommentLimit: a review comment over 64 KiB is refused, not stored.
func TestCommentLimit(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	home := newHome(t) // after the repo: its cleanup, stopping the daemon, runs first
	d := startDaemon(t, home)
	c := d.client(nil)
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "talk", Command: []string{"fakeagent", "-hang"}})
	if err != nil {
		t.Fatal(err)
	}
	ref := protocol.SessionRef{Session: s.ID}
	if _, err := c.Comment(t.Context(), protocol.CommentParams{SessionRef: ref, Path: "a.txt", StartLine: 1, Body: strings.Repeat("x", 64<<10)}); err != nil {
		t.Fatalf("a 64 KiB comment: %v", err)
	}
	_, err = c.Comment(t.Context(), protocol.CommentParams{SessionRef: ref, Path: "a.txt", StartLine: 1, Body: strings.Repeat("x", 64<<10+1)})
	if protocol.CodeOf(err) != protocol.CodeInvalid || !strings.Contains(err.Error(), "64 KiB") {
		t.Fatalf("a comment over 64 KiB: got %v, want an invalid-argument error naming the limit", err)
	}
	list, err := c.Comments(t.Context(), ref)
	if err != nil || len(list.Comments) != 1 {
		t.Fatalf("comments stored: %d (%v), want 1", len(list.Comments), err)
	}
}

// TestTwoContentLengths: a message with two Content-Length headers is
// refused with a parse error and the connection closed, instead of hanging
// while the daemon waits for a body the longer length promises.
func TestTwoContentLengths(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	d := startDaemon(t, home)
	nc, err := net.Dial("unix", d.socket())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	body := `{"jsonrpc":"2.0","id":1,"method":"studio/sessions"}`
	fmt.Fprintf(nc, "Content-Length: %d\r\nContent-Length: %d\r\n\r\n%s", len(body), len(body)+100, body)
	m := rawRead(t, nc)
	if errCode(m) != protocol.CodeParseError || !strings.Contains(fmt.Sprint(m), "more than one Content-Length") {
		t.Fatalf("reply: %v", m)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Read(make([]byte, 1)); err == nil {
		t.Error("connection still open after a message with two lengths")
	}
}

// shimPID finds the pid of the shim of session id.
func shimPID(t *testing.T, id string) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		args := strings.Split(string(b), "\x00")
		if len(args) > 3 && args[1] == "shim" && args[2] == "--spec" && strings.Contains(args[3], id) {
			return pid
		}
	}
	t.Fatalf("no shim process for session %s", id)
	return 0
}

// TestSessionProcessTree: nothing of a session runs once it has ended,
// however it ends — stopped, its shim killed with SIGKILL or sent SIGTERM,
// or its agent exiting — even a helper the agent detached (its own
// session, SIGHUP and SIGTERM ignored, the terminal held open).
func TestSessionProcessTree(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, nil)
	home := newHome(t) // after the repo: its cleanup, stopping the daemon, runs first
	d := startDaemon(t, home)
	c, w := d.watch()
	start := func(name string, args ...string) protocol.Session {
		t.Helper()
		s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: name,
			Command: append([]string{"fakeagent", "-detach"}, args...)})
		if err != nil {
			t.Fatal(err)
		}
		w.Follow(t, c, protocol.OutputSubscription{Session: s.ID})
		w.Await(t, name+"'s helper", func() bool {
			out, _ := w.Output(s.ID)
			return strings.Contains(string(out), "helper started")
		})
		return *s
	}
	running := func(s protocol.Session) []int { return shim.Running("STUDIO_SESSION_ID=" + s.ID) }
	check := func(s protocol.Session) {
		t.Helper()
		if pids := running(s); len(pids) > 0 {
			t.Errorf("%s ended, but its processes %v still run", s.Name, pids)
		}
	}
	cases := []struct {
		name  string
		args  []string
		end   func(s protocol.Session)
		state []protocol.State
	}{
		{"stop", []string{"-hang"}, func(s protocol.Session) {
			if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: protocol.SessionRef{Session: s.ID}}); err != nil {
				t.Fatal(err)
			}
		}, []protocol.State{protocol.StateStopped}},
		{"kill-shim", []string{"-hang"}, func(s protocol.Session) {
			syscall.Kill(shimPID(t, s.ID), syscall.SIGKILL)
		}, []protocol.State{protocol.StateFailed}},
		{"term-shim", []string{"-hang"}, func(s protocol.Session) {
			syscall.Kill(shimPID(t, s.ID), syscall.SIGTERM)
			// Ended so soon after it started, the session may count as a
			// failed spawn, and be rolled back.
		}, []protocol.State{protocol.StateExited, protocol.StateFailed}},
		{"agent-exits", []string{"-lines", "1", "-every", "1s"}, func(s protocol.Session) {}, []protocol.State{protocol.StateExited}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := start(tc.name, tc.args...)
			if pids := running(s); len(pids) < 2 && tc.name != "agent-exits" {
				t.Fatalf("the agent and its helper should run: %v", pids)
			}
			tc.end(s)
			got := w.AwaitState(t, s.ID, tc.state...)
			check(s)
			// Stopping what has ended says so and leaves nothing.
			if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: protocol.SessionRef{Session: s.ID}}); err != nil {
				t.Errorf("stop after %s: %v", tc.name, err)
			}
			check(s)
			t.Logf("%s: %s (%s)", s.Name, got.State, got.Detail)
		})
	}
}

// awaitClosed reads from nc until the daemon closes it; the deadline is a
// safety net only.
func awaitClosed(t *testing.T, nc net.Conn, what string) []byte {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(60 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := nc.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("%s: the daemon did not close the connection", what)
			}
			return got
		}
	}
}

// TestConnectionTimeouts: a socket connection that sends nothing, or stops
// half-way through a message, is closed; one that subscribed is not.
func TestConnectionTimeouts(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	d := startDaemonEnv(t, home, "STUDIOD_IDLE_TIMEOUT=1s", "STUDIOD_MESSAGE_TIMEOUT=1s")
	subscribed := d.client(nil)
	if _, err := subscribed.Subscribe(t.Context(), protocol.SubscribeParams{Sessions: true}); err != nil {
		t.Fatal(err)
	}
	dial := func() net.Conn {
		nc, err := net.Dial("unix", d.socket())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return nc
	}
	silent := dial()
	half := dial()
	fmt.Fprintf(half, "Content-Length: 40\r\n")
	used := dial()
	if m := rawExchange(t, used, `{"jsonrpc":"2.0","id":1,"method":"studio/sessions"}`); m["result"] == nil {
		t.Fatalf("sessions: %v", m)
	}

	awaitClosed(t, silent, "a connection that never sent anything")
	if got := awaitClosed(t, half, "a connection that stopped half-way through a header"); !strings.Contains(string(got), "not complete") {
		t.Errorf("the half-sent message was not answered with why: %q", got)
	}
	awaitClosed(t, used, "a connection idle after its request")
	// The subscribed client waited just as long, and is still served.
	if _, err := subscribed.Status(t.Context(), protocol.Empty{}); err != nil {
		t.Fatalf("a subscribed connection was closed: %v", err)
	}
}

// stopDaemon shuts a daemon down and waits for it to exit.
func (d *daemon) shutdown() {
	d.t.Helper()
	c, err := protocol.Dial(d.t.Context(), d.socket(), nil)
	if err == nil {
		c.Shutdown(d.t.Context(), protocol.Empty{})
		c.Close()
	}
	select {
	case <-d.exited:
	case <-time.After(60 * time.Second):
		d.t.Fatal("the daemon did not shut down")
	}
}

func sessionNames(t *testing.T, c *protocol.Client) []string {
	t.Helper()
	r, err := c.Sessions(t.Context(), protocol.SessionsParams{All: true})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range r.Sessions {
		names = append(names, s.Name)
	}
	return names
}

// TestStateDBDeleted: the state database deleted under a running daemon is
// written back from the daemon's open copy; nothing is lost, and the next
// daemon knows every session.
func TestStateDBDeleted(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, nil)
	home := newHome(t) // after the repo: its cleanup, stopping the daemon, runs first
	d := startDaemon(t, home)
	c := d.client(nil)
	if _, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "before", Command: []string{"fakeagent", "-hang"}}); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(home, "state", "studiod.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(db + suffix)
	}
	if _, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "after", Command: []string{"fakeagent", "-hang"}}); err != nil {
		t.Fatalf("spawn after the database was deleted: %v", err)
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("the database was not written back: %v", err)
	}
	d.shutdown()
	d2 := startDaemon(t, home)
	if got := sessionNames(t, d2.client(nil)); !slices.Equal(got, []string{"before", "after"}) {
		t.Errorf("sessions after a restart: %v, want [before after]", got)
	}
}

// TestStateDBReplaced: a state database replaced under a running daemon by
// another file makes the daemon refuse work with an error that says what
// happened and what to do, and keep its own copy.
func TestStateDBReplaced(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, nil)
	home := newHome(t) // after the repo: its cleanup, stopping the daemon, runs first
	d := startDaemon(t, home)
	c := d.client(nil)
	if _, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "before", Command: []string{"fakeagent", "-hang"}}); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(home, "state", "studiod.db")
	other := db + ".other"
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, db); err != nil {
		t.Fatal(err)
	}
	_, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "after", Command: []string{"fakeagent", "-hang"}})
	if d, _ := protocol.DataOf(err); err == nil || !strings.Contains(err.Error(), "was replaced") || d.Fix != protocol.FixRestartDaemon || !strings.Contains(cliMessage(err), "studiod shutdown") {
		t.Fatalf("spawn after the database was replaced: got %v, want a refusal saying what happened", err)
	}
	copies, _ := filepath.Glob(db + ".daemon-*")
	if len(copies) != 1 || !strings.Contains(err.Error(), copies[0]) {
		t.Fatalf("the daemon's copy: %v (error: %v)", copies, err)
	}
	if got := sessionNames(t, c); !slices.Equal(got, []string{"before"}) {
		t.Errorf("sessions: %v, want [before]", got)
	}
	// Keeping the daemon's copy brings everything back.
	d.shutdown()
	if err := os.Rename(copies[0], db); err != nil {
		t.Fatal(err)
	}
	d2 := startDaemon(t, home)
	if got := sessionNames(t, d2.client(nil)); !slices.Equal(got, []string{"before"}) {
		t.Errorf("sessions after restoring the daemon's copy: %v, want [before]", got)
	}
}

// TestCorruptStateDB: a client that cannot start the daemon because its
// database is damaged says why, as the daemon's log does, and what to do.
func TestCorruptStateDB(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	if err := os.MkdirAll(filepath.Join(home, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "state", "studiod.db"), []byte(strings.Repeat("not a database\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("studiod", "ls")
	cmd.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if cmd.ProcessState.ExitCode() != exitNoDaemon {
		t.Fatalf("exit: %v, want %d; stderr: %s", err, exitNoDaemon, stderr.String())
	}
	if got := stderr.String(); !strings.Contains(got, "damaged") || !strings.Contains(got, "mv ") || strings.Contains(got, "within") {
		t.Errorf("stderr does not give the cause: %s", got)
	}
}
