package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

func writeConfig(t *testing.T, home, text string) {
	t.Helper()
	dir := filepath.Join(home, "config")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// logBytes sums the sizes of a session's output log files.
func logBytes(t *testing.T, home, id string) int64 {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(home, "state", "sessions", id, "output.log*"))
	var n int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// TestLogLimit: a session's log keeps the most recent output under the
// configured limit; offsets still count every byte written; a read from 0
// starts at the first byte kept and says so, and so does `studiod logs`.
func TestLogLimit(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, nil)
	home := newHome(t) // after the repo: its cleanup, stopping the daemon, runs first
	writeConfig(t, home, "[defaults]\nlog_limit = \"64KiB\"\n")
	d := startDaemon(t, home)
	c, w := d.watch()
	const lines = 20000
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "chatty",
		Command: []string{"fakeagent", "-lines", strconv.Itoa(lines)}})
	if err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateExited)
	out, err := c.Output(t.Context(), protocol.OutputParams{SessionRef: protocol.SessionRef{Session: s.ID}, Limit: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if out.Start == 0 || out.Offset != out.Start || out.Next != out.Size || !out.Done {
		t.Fatalf("read from 0: offset %d, start %d, next %d, size %d, done %v: want it to start at the first byte kept", out.Offset, out.Start, out.Next, out.Size, out.Done)
	}
	min := 0
	for i := 1; i <= lines; i++ {
		min += len(fmt.Sprintf("line %d\r\n", i))
	}
	if out.Size < int64(min) {
		t.Errorf("size %d counts fewer bytes than were written (%d at least)", out.Size, min)
	}
	if n := logBytes(t, home, s.ID); n > 64<<10+32<<10 || n != out.Size-out.Start {
		t.Errorf("log files hold %d bytes; kept %d; limit 64 KiB", n, out.Size-out.Start)
	}
	// What is kept is the end of the output, in order.
	text := string(out.Data)
	if !strings.HasSuffix(text, fmt.Sprintf("line %d\r\nfakeagent done\r\n", lines)) {
		t.Errorf("the kept output does not end with the last lines: %q", text[max(0, len(text)-60):])
	}
	kept := strings.Split(text[strings.Index(text, "\r\n")+2:], "\r\n")
	var first int
	fmt.Sscanf(kept[0], "line %d", &first)
	for i, l := range kept[:len(kept)-2] {
		if l != fmt.Sprintf("line %d", first+i) {
			t.Fatalf("kept output is not contiguous at %q (want line %d)", l, first+i)
		}
	}
	// An offset counts the same bytes before and after: a tail read agrees.
	tail, err := c.Output(t.Context(), protocol.OutputParams{SessionRef: protocol.SessionRef{Session: s.ID}, Offset: -15})
	if err != nil || string(tail.Data) != "fakeagent done\r\n"[1:] || tail.Offset != out.Size-15 {
		t.Errorf("tail: %q at %d, %v", tail.Data, tail.Offset, err)
	}

	cmd := exec.Command("studiod", "logs", "--raw", "--repo", repo, "chatty")
	cmd.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("studiod logs: %v: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "rotated out") || !bytes.HasSuffix(stdout.Bytes(), []byte("fakeagent done\r\n")) {
		t.Errorf("studiod logs: stderr %q, stdout ending %q", stderr.String(), stdout.Bytes()[max(0, stdout.Len()-40):])
	}
}

// TestFullDisk fills a small file system with an agent's output and checks
// that stop and rm still work and say what happened: stop reports a state
// it could not record as an error, never as a success; rm --force frees
// the session's log and removes it.
func TestFullDisk(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root to mount a small tmpfs to fill")
	}
	// The repo first: its cleanup runs last, once the daemon has stopped.
	repo := gittest.NewRepo(t, nil)
	dir, err := os.MkdirTemp("", "sdfull")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (%v: %s)", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	home := dir
	t.Cleanup(func() { cleanupHome(home) })
	writeConfig(t, home, "[defaults]\nlog_limit = \"1GiB\"\n")
	d := startDaemon(t, home)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "filler",
		Command: []string{"fakeagent", "-flood", strconv.Itoa(64 << 20), "-hang"}})
	if err != nil {
		t.Fatal(err)
	}
	free := func() int64 {
		var st syscall.Statfs_t
		syscall.Statfs(home, &st)
		return int64(st.Bavail) * st.Bsize
	}
	// Each output notification is a write that reached the disk.
	w.Follow(t, c, protocol.OutputSubscription{Session: s.ID})
	w.Await(t, "the disk to be full", func() bool { return free() < 8<<10 }, func() string { return fmt.Sprintf("%d bytes free", free()) })
	ref := protocol.SessionRef{Session: s.ID}

	stopped, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: ref, Force: true})
	now := sessionState(t, c, s.ID)
	switch {
	case err != nil:
		if !strings.Contains(err.Error(), "recording it failed") || now.State.Live() == false {
			t.Errorf("stop --force on a full disk: %v; state now %s", err, now.State)
		}
	case stopped.State != protocol.StateStopped || now.State != protocol.StateStopped:
		t.Errorf("stop --force reported success with the session %s (now %s)", stopped.State, now.State)
	}
	t.Logf("stop --force on a full disk: %v (state %s)", err, now.State)

	res, err := c.Remove(t.Context(), protocol.RemoveParams{SessionRef: ref, Force: true})
	if err != nil {
		t.Fatalf("rm --force on a full disk: %v", err)
	}
	if res.Session.State != protocol.StateRemoved {
		t.Errorf("rm --force: state %s", res.Session.State)
	}
	if n := logBytes(t, home, s.ID); n != 0 {
		t.Errorf("the log still holds %d bytes", n)
	}
	if free() < 1<<20 {
		t.Errorf("only %d bytes free after rm --force", free())
	}
	// What rm reported was recorded.
	d.shutdown()
	d2 := startDaemon(t, home)
	if got := sessionState(t, d2.client(nil), s.ID); got.State != protocol.StateRemoved {
		t.Errorf("after a restart the session is %s, want removed", got.State)
	}
}
