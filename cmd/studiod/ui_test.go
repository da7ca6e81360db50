package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// screen is a terminal of a given size, a private tmux server's, running
// one command: the tests type into it and read what it shows.
type screen struct {
	t      *testing.T
	server string
}

// startScreen runs `studiod ARGS` in a w×h terminal with STUDIOD_HOME=home.
func startScreen(t *testing.T, w, h int, home string, args ...string) *screen {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (.ci/run installs it)")
	}
	s := &screen{t: t, server: fmt.Sprintf("studiod-test-%d-%d", os.Getpid(), time.Now().UnixNano())}
	self, err := exec.LookPath("studiod")
	if err != nil {
		t.Fatal(err)
	}
	// The command line tmux runs, with the environment the board needs
	// (a tmux server keeps its own).
	line := []string{"env", "STUDIOD_HOME=" + home, "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TERM=xterm-256color", self}
	line = append(line, args...)
	for i, a := range line {
		line[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	s.tmux("-f", "/dev/null", "new-session", "-d", "-s", "board", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), strings.Join(line, " "))
	t.Cleanup(func() { exec.Command("tmux", "-L", s.server, "kill-server").Run() })
	return s
}

func (s *screen) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.server}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// text is what the terminal shows now.
func (s *screen) text() string { return s.tmux("capture-pane", "-p", "-t", "board") }

// keys types keys (tmux key names: Enter, Up, a).
func (s *screen) keys(keys ...string) {
	s.tmux(append([]string{"send-keys", "-t", "board"}, keys...)...)
}

// typed types text literally.
func (s *screen) typed(text string) { s.tmux("send-keys", "-t", "board", "-l", text) }

// await waits until the screen shows what cond wants, and returns it.
func (s *screen) await(what string, cond func(text string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		text := s.text()
		if cond(text) {
			return text
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the screen never showed %s; it shows:\n%s", what, text)
		}
		time.Sleep(50 * time.Millisecond) // the next frame
	}
}

// line is the screen's line holding every one of words ("" if none).
func line(text string, words ...string) string {
	for _, l := range strings.Split(text, "\n") {
		if !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(l, w) }) {
			return l
		}
	}
	return ""
}

// TestBoard drives `studiod ui` in a real 80×24 terminal against the real
// daemon: the waiting session comes first with its question, answering it
// from the board reaches the agent, state changes show with no key
// pressed, and a daemon restart is said and recovered from.
func TestBoard(t *testing.T) {
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	d := startDaemon(t, home)
	c, w := d.watch()
	spawn := func(name string, command ...string) protocol.Session {
		s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: name, Command: command})
		if err != nil {
			t.Fatal(err)
		}
		return *s
	}
	busy := spawn("busy", "fakeagent", "-hang")
	asker := spawn("asker", "fakeagent", "-ask", "Deploy to staging?")
	w.AwaitState(t, asker.ID, protocol.StateWaiting)

	scr := startScreen(t, 80, 24, home, "ui", "--repo", repo)
	text := scr.await("the waiting session first, with its question", func(text string) bool {
		return line(text, "waiting", "asker") != "" && line(text, "busy") != "" &&
			strings.Index(text, "asker") < strings.Index(text, "busy") && strings.Contains(text, "? Deploy to staging?")
	})
	for _, l := range strings.Split(text, "\n") {
		if len([]rune(l)) > 80 {
			t.Errorf("a line wider than the terminal: %q", l)
		}
	}
	if !strings.Contains(text, "1 waiting") || !strings.Contains(text, "a answer") {
		t.Errorf("no waiting count or key help:\n%s", text)
	}

	// ui --json prints the same order.
	js := exec.Command("studiod", "ui", "--json", "--repo", repo)
	js.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	b, err := js.Output()
	var res protocol.SessionsResult
	if err != nil || json.Unmarshal(b, &res) != nil || len(res.Sessions) != 2 || res.Sessions[0].Name != "asker" {
		t.Errorf("ui --json: %v: %s", err, b)
	}
	// A wide terminal shows the same, unclipped.
	wide := startScreen(t, 160, 40, home, "ui", "--repo", repo)
	wide.await("the board in a wide terminal", func(text string) bool {
		return strings.Index(text, "asker") < strings.Index(text, "busy") && line(text, "working", "busy", "studio/busy", "no changes") != ""
	})
	wide.keys("q")

	// Answer from the board: the waiting session is selected first.
	scr.keys("a")
	scr.await("the answer prompt", func(text string) bool { return strings.Contains(text, "answer asker:") })
	scr.typed("ship it")
	scr.keys("Enter")
	w.AwaitState(t, asker.ID, protocol.StateExited)
	out, err := c.Output(t.Context(), protocol.OutputParams{SessionRef: protocol.SessionRef{Session: asker.ID}})
	if err != nil || !strings.Contains(string(out.Data), "answer: ship it") {
		t.Fatalf("the agent did not get the answer: %q, %v", out.Data, err)
	}
	// No key was pressed since: the board follows the daemon's events.
	scr.await("asker exited and busy first", func(text string) bool {
		return line(text, "exited", "asker") != "" && strings.Index(text, "busy") < strings.Index(text, "asker")
	})
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: protocol.SessionRef{Session: busy.ID}, Force: true}); err != nil {
		t.Fatal(err)
	}
	scr.await("busy stopped", func(text string) bool { return line(text, "stopped", "busy") != "" })

	// The daemon goes away and another starts: the board says both.
	d.shutdown()
	scr.await("that the daemon is not running", func(text string) bool { return strings.Contains(text, "daemon is not running") })
	startDaemon(t, home)
	scr.await("that the daemon restarted", func(text string) bool {
		return strings.Contains(text, "the daemon restarted") && line(text, "stopped", "busy") != ""
	})

	scr.keys("q")
}

// TestBoardOrder: what needs the person first, removed sessions left out.
func TestBoardOrder(t *testing.T) {
	ts := []protocol.Session{
		{ID: "1", Name: "idle", State: protocol.StateIdle},
		{ID: "2", Name: "gone", State: protocol.StateRemoved},
		{ID: "3", Name: "asks", State: protocol.StateWaiting},
		{ID: "4", Name: "broke", State: protocol.StateFailed},
		{ID: "5", Name: "busy", State: protocol.StateWorking},
		{ID: "6", Name: "done", State: protocol.StateExited},
	}
	var names []string
	for _, s := range boardOrder(ts) {
		names = append(names, s.Name)
	}
	if want := []string{"asks", "broke", "busy", "idle", "done"}; !slices.Equal(names, want) {
		t.Errorf("board order %v, want %v", names, want)
	}
}

// TestDiffColour: diff paints a terminal, unless NO_COLOR is set; a pipe
// gets plain text (the rough_edges script).
func TestDiffColour(t *testing.T) {
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	d := startDaemon(t, home)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "painter", Command: []string{"fakeagent", "-edit", "a.txt", "-hang"}})
	if err != nil {
		t.Fatal(err)
	}
	w.Await(t, "painter's change", func() bool {
		got, ok := w.Session(s.ID)
		return ok && got.Changes.Files > 0
	})
	for _, tc := range []struct {
		name    string
		env     []string
		colours bool
	}{
		{"terminal", nil, true},
		{"terminal with NO_COLOR", []string{"NO_COLOR=1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("studiod", "diff", "--repo", repo, "painter")
			cmd.Env = append(append(os.Environ(), "STUDIOD_HOME="+home), tc.env...)
			ptmx, err := pty.Start(cmd)
			if err != nil {
				t.Fatal(err)
			}
			defer ptmx.Close()
			out, _ := io.ReadAll(ptmx) // EIO once the command has exited
			cmd.Wait()
			if !strings.Contains(string(out), "edited by painter") {
				t.Fatalf("diff printed %q", out)
			}
			if got := strings.Contains(string(out), "\x1b["); got != tc.colours {
				t.Errorf("colour codes: %v, want %v: %q", got, tc.colours, out)
			}
		})
	}
}
