package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/internal/studiotest"
	"github.com/studiod/studiod/protocol"
)

// TestAttach runs `studiod attach` in a real terminal: it shows the agent's
// screen, types into it, and detaches on Ctrl-] leaving the agent running.
func TestAttach(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	repo := gittest.NewRepo(t, nil)
	d := startDaemon(t, home)
	c := d.client(nil)
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "tty", Command: []string{"fakeagent", "-echo"}})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("studiod", "attach", "tty")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var mu sync.Mutex
	var screen bytes.Buffer
	var read studiotest.Signal
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			read.Notify()
			if err != nil {
				return
			}
		}
	}()
	seen := func(s string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return strings.Contains(screen.String(), s)
		}
	}
	read.Await(t, "the attach banner", seen("[attached to tty; detach with Ctrl-]]"))
	read.Await(t, "the agent's earlier output", seen("fakeagent started"))
	io.WriteString(ptmx, "hello agent\r")
	read.Await(t, "the agent's answer", seen("got: hello agent"))
	ptmx.Write([]byte{detachKey})
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("attach exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("attach did not detach on Ctrl-]")
	}
	read.Await(t, "the detach message", seen("[detached from tty]"))
	if got := sessionState(t, c, s.ID); !got.State.Live() {
		t.Errorf("agent state after detach: %s", got.State)
	}
}
