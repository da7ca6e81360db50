package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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
func (s *screen) typed(text string) {
	// tmux takes a leading "-" for a flag: that one goes as hex.
	for strings.HasPrefix(text, "-") {
		s.tmux("send-keys", "-t", "board", "-H", "2d")
		text = text[1:]
	}
	if text != "" {
		s.tmux("send-keys", "-t", "board", "-l", text)
	}
}

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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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

// selectRow moves the board's selection (the line marked ">") to the
// session called name, one key at a time, each awaited on the screen.
func (s *screen) selectRow(name string) {
	s.t.Helper()
	// rows are the sessions' lines: "> " when selected, else two spaces
	// and the state.
	rows := func(text string) (sel, want int) {
		sel, want = -1, -1
		i := 0
		for _, l := range strings.Split(text, "\n") {
			if !strings.HasPrefix(l, "> ") && !(strings.HasPrefix(l, "  ") && len(l) > 2 && l[2] != ' ') {
				continue
			}
			if strings.HasPrefix(l, "> ") {
				sel = i
			}
			if strings.Contains(l, " "+name+" ") {
				want = i
			}
			i++
		}
		return sel, want
	}
	s.keys("g")
	text := s.await("the first session selected", func(text string) bool { sel, _ := rows(text); return sel == 0 })
	_, want := rows(text)
	if want < 0 {
		s.t.Fatalf("no session %s on the board:\n%s", name, text)
	}
	for i := 1; i <= want; i++ {
		s.keys("j")
		s.await(fmt.Sprintf("row %d selected", i), func(text string) bool { sel, _ := rows(text); return sel == i })
	}
}

// awaitStatus waits for the board's status line to say want.
func (s *screen) awaitStatus(want string) string {
	s.t.Helper()
	return s.await("“"+want+"”", func(text string) bool { return strings.Contains(text, want) })
}

// TestBoardVerbs drives every verb key of `studiod ui` in a real 80×24
// terminal against the real daemon, and checks each reached the daemon or
// the agent: spawn, stop, send, comment (and a comment it cannot read),
// feedback, diff and logs through the pager and back, preview, sync,
// merge and its undo, attach and back, land, answering a session that
// asks nothing.
func TestBoardVerbs(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	old := gittest.Git(t, repo, "rev-parse", "main")
	d := startDaemon(t, home)
	c, w := d.watch()
	ids := map[string]string{}
	for _, name := range []string{"one", "two"} {
		s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: name, Command: []string{"fakeagent", "-edit", name + ".txt", "-echo"}})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = s.ID
		w.Await(t, name+"'s change", func() bool {
			got, _ := w.Session(s.ID)
			return got.State == protocol.StateIdle && got.Changes.Files == 1
		})
	}
	output := func(name, want string) {
		t.Helper()
		w.Await(t, name+" to get "+want, func() bool {
			out, err := c.Output(t.Context(), protocol.OutputParams{SessionRef: protocol.SessionRef{Session: ids[name]}})
			return err == nil && strings.Contains(string(out.Data), want)
		})
	}
	scr := startScreen(t, 80, 24, home, "ui", "--repo", repo)
	scr.await("both sessions", func(text string) bool { return line(text, "idle", "one") != "" && line(text, "idle", "two") != "" })

	// n spawns; x stops (after asking).
	scr.keys("n")
	scr.awaitStatus("spawn (a prompt, or -- and a command):")
	scr.typed("-- fakeagent -hang")
	scr.keys("Enter")
	text := scr.awaitStatus("spawned ")
	spawned := strings.Fields(strings.SplitN(line(text, "spawned "), "spawned ", 2)[1])[0]
	scr.await(spawned+" working", func(text string) bool { return line(text, "working", spawned) != "" })
	scr.selectRow(spawned)
	scr.keys("x")
	scr.awaitStatus("stop " + spawned + "? y to go ahead:")
	scr.typed("y")
	scr.keys("Enter")
	scr.awaitStatus("stopped " + spawned)
	scr.await(spawned+" stopped", func(text string) bool { return line(text, "stopped", spawned) != "" })

	// a on a session that asks nothing says so.
	scr.selectRow("one")
	scr.keys("a")
	scr.awaitStatus("one is not waiting for an answer")

	// s sends a line to the agent.
	scr.keys("s")
	scr.awaitStatus("send to one:")
	scr.typed("hello board")
	scr.keys("Enter")
	scr.awaitStatus("sent to one: hello board")
	output("one", "got: hello board")

	// c comments on a line, f sends the comments; a comment without a
	// place is refused with what to write.
	scr.keys("c")
	scr.typed("nowhere")
	scr.keys("Enter")
	scr.awaitStatus("comment: write PATH:LINE[-END] then the comment")
	scr.keys("c")
	scr.awaitStatus("comment on one (PATH:LINE[-END] text):")
	scr.typed("one.txt:1 cover this line")
	scr.keys("Enter")
	scr.awaitStatus("on one.txt:1-1; f sends the comments to one")
	scr.keys("f")
	scr.awaitStatus("sent 1 comment(s) to one")
	output("one", "cover this line")

	// d and l page the diff and the log, and q comes back to the board.
	scr.keys("d")
	scr.await("the diff in the pager", func(text string) bool {
		return strings.Contains(text, "+edited by one") && !strings.Contains(text, "studiod ·")
	})
	scr.keys("q")
	scr.awaitStatus("back from diff one")
	scr.keys("l")
	scr.await("the log in the pager", func(text string) bool {
		return strings.Contains(text, "got: hello board") && !strings.Contains(text, "studiod ·")
	})
	scr.keys("q")
	scr.awaitStatus("back from logs one")

	// p previews the repository's integration below the sessions; esc
	// clears it.
	scr.keys("p")
	text = scr.awaitStatus("preview of " + filepath.Base(repo))
	if !strings.Contains(text, "one") || !strings.Contains(text, "two") {
		t.Errorf("the preview names neither session:\n%s", text)
	}

	// y syncs: one is at main's tip already.
	scr.keys("y")
	scr.awaitStatus("one already has main's tip")

	// m merges (after asking), u undoes it.
	scr.keys("m")
	scr.awaitStatus("merge one into main? y to go ahead:")
	scr.typed("y")
	scr.keys("Enter")
	scr.awaitStatus("merged one into main")
	if got := gittest.Git(t, repo, "show", "main:one.txt"); got != "edited by one" {
		t.Errorf("main after the board's merge: one.txt %q", got)
	}
	scr.keys("u")
	scr.awaitStatus("undo the last merge of one? y to go ahead:")
	scr.typed("y")
	scr.keys("Enter")
	scr.awaitStatus("undid the merge of one")
	if got := gittest.Git(t, repo, "rev-parse", "main"); got != old {
		t.Errorf("main after the board's undo: %s, want %s", got, old)
	}

	// enter attaches to the agent's terminal; Ctrl-] comes back.
	scr.selectRow("two")
	scr.keys("Enter")
	scr.awaitStatus("attached to two")
	scr.typed("ping")
	scr.keys("Enter")
	scr.awaitStatus("got: ping")
	scr.keys("C-]")
	scr.awaitStatus("back from attach two")

	// L lands what fits (after asking): two's work reaches main, once two
	// is done with the line it was typed.
	w.AwaitState(t, ids["two"], protocol.StateIdle)
	scr.keys("L")
	scr.awaitStatus("land every session that fits onto its target? y to go ahead:")
	scr.typed("y")
	scr.keys("Enter")
	scr.awaitStatus("landed in " + filepath.Base(repo))
	if got, err := gittest.Try(repo, "show", "main:two.txt"); err != nil || got != "edited by two" {
		t.Errorf("main after the board's land: two.txt %q, %v", got, err)
	}
	scr.keys("q")
}

// TestBoardPlan: a running plan groups its tasks under it, in the plan's
// order: the started task with its session (waiting, so the group comes
// first, with the question) and the task after it saying what it waits
// for; a session outside the plan shows on its own, after.
func TestBoardPlan(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	d := startDaemon(t, home)
	c, w := d.watch()
	solo, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "solo", Command: []string{"fakeagent", "-echo"}})
	if err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, solo.ID, protocol.StateIdle)
	plan := "[[task]]\nname = \"api\"\ncommand = [\"fakeagent\", \"-ask\", \"Ship the API?\"]\n\n" +
		"[[task]]\nname = \"client\"\nafter = [\"api\"]\ncommand = [\"fakeagent\", \"-echo\"]\n"
	if _, err := c.PlanRun(t.Context(), protocol.PlanRunParams{Repo: repo, Path: "plan.toml", Text: plan}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, "api", protocol.StateWaiting)

	scr := startScreen(t, 80, 24, home, "ui", "--repo", repo)
	text := scr.await("the plan's group", func(text string) bool {
		return line(text, "plan plan.toml", "running", "0 of 2 landed") != "" &&
			line(text, "waiting", "api") != "" && line(text, "client", "waits for api to land") != "" &&
			strings.Contains(text, "? Ship the API?") && line(text, "solo") != ""
	})
	heading := strings.Index(text, "plan plan.toml")
	api, client, soloAt := strings.Index(text, "api "), strings.Index(text, "client"), strings.Index(text, "solo")
	if !(heading < api && api < client && client < soloAt) {
		t.Errorf("want the plan's heading, api, client, then solo:\n%s", text)
	}
	// The tasks sit under their plan's heading.
	if l := line(text, "client", "waits for"); !strings.HasPrefix(l, "    ") {
		t.Errorf("client's row is not indented under its plan: %q", l)
	}
	// The first session is the plan's waiting one: keys act on it.
	scr.keys("a")
	scr.awaitStatus("answer api")
	scr.keys("Escape")

	// ui --json lists the sessions in the board's order.
	js := exec.Command("studiod", "ui", "--json", "--repo", repo)
	js.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	b, err := js.Output()
	var res protocol.SessionsResult
	if err != nil || json.Unmarshal(b, &res) != nil || len(res.Sessions) != 2 || res.Sessions[0].Name != "api" || res.Sessions[1].Name != "solo" {
		t.Errorf("ui --json: %v: %s", err, b)
	}
	scr.keys("q")
}

// TestBoardRowUsage: a session's row says what its model used once the
// agent reported it, cache reads counted as tokens sent, and nothing
// before.
func TestBoardRowUsage(t *testing.T) {
	t.Parallel()
	cost := 0.0166
	b := &board{repo: "/r"}
	s := protocol.Session{Name: "api", Branch: "studio/api", State: protocol.StateIdle}
	if row := b.row(s, 8, 12); strings.Contains(row, " in ") {
		t.Errorf("row without usage: %q", row)
	}
	s.Usage = &protocol.Usage{Input: 1245, Output: 66, CacheRead: 9103, CacheWrite: 871, Cost: &cost}
	if row := b.row(s, 8, 12); !strings.Contains(row, "11.2k in 66 out $0.02") {
		t.Errorf("row %q, want 11.2k in 66 out $0.02", row)
	}
}
