package main

// ACP sessions under the real daemon, with the scripted agent of
// fakeacp_test.go (run as `fakeacp` through testscript.Main).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/internal/studiotest"
	"github.com/studiod/studiod/protocol"
)

// acpHome is a daemon home whose config has the scripted ACP agent as
// profile "fake" (and "fake-auth", which needs signing in).
func acpHome(t *testing.T) string {
	t.Helper()
	home := newHome(t)
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := `[agents.fake]
command = ["fakeacp"]
protocol = "acp"

[agents.fake-auth]
command = ["fakeacp", "--auth"]
protocol = "acp"

[agents.fake-slow]
command = ["fakeacp", "--slowinit", "2s"]
protocol = "acp"
`
	if err := os.WriteFile(filepath.Join(home, "config", "config.toml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return home
}

// activities collects studio/sessionActivity notifications.
type activities struct {
	studiotest.Signal
	mu   sync.Mutex
	list []protocol.SessionActivity
}

func (a *activities) receive(method string, params json.RawMessage) {
	(&protocol.Events{SessionActivity: func(n protocol.SessionActivity) {
		a.mu.Lock()
		a.list = append(a.list, n)
		a.mu.Unlock()
	}}).Notify(method, params)
	a.Notify()
}

func (a *activities) has(match func(protocol.SessionActivity) bool) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.ContainsFunc(a.list, match)
}

func ref(id string) protocol.SessionRef { return protocol.SessionRef{Session: id} }

// logs runs `studiod logs` against the daemon under home.
func logs(t *testing.T, home, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command("studiod", append([]string{"logs", name}, args...)...)
	cmd.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("studiod logs %s: %v\n%s", name, err, out)
	}
	return string(out)
}

// TestACPPermission: an ACP agent's permission request is a waiting
// session with the tool call's title, kind, file and the offered options;
// allow writes the file, reject does not; the first answer wins; editors
// follow the tool call and the plan; the transcript tells it all.
func TestACPPermission(t *testing.T) {
	t.Parallel()
	home := acpHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	d := startDaemon(t, home)
	c, w := d.watch()
	var acts activities
	ac := d.client(acts.receive)
	if _, err := ac.Subscribe(t.Context(), protocol.SubscribeParams{Activity: true}); err != nil {
		t.Fatal(err)
	}

	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "perm", Agent: "fake", Prompt: "please write a.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Protocol != "acp" {
		t.Errorf("protocol %q, want acp", s.Protocol)
	}
	got := w.AwaitState(t, s.ID, protocol.StateWaiting)
	wt := got.Worktree
	wa := got.Waiting
	if wa == nil || wa.Kind != protocol.WaitPermission || wa.Source != "acp" || wa.Question != "Write a.txt" || wa.Tool != "edit" || wa.Subject != "a.txt" {
		t.Fatalf("waiting: %+v, want the permission to Write a.txt (edit) from acp", wa)
	}
	wantOpts := []protocol.Option{{ID: "allow-once", Kind: "allow", Label: "Allow"}, {ID: "allow-always", Kind: "always", Label: "Always allow"},
		{ID: "reject-once", Kind: "reject", Label: "Reject"}, {ID: "reject-always", Kind: "never", Label: "Never"}}
	if !slices.Equal(wa.Options, wantOpts) {
		t.Errorf("options %+v, want %+v", wa.Options, wantOpts)
	}
	if got.Conversation == "" || !strings.HasPrefix(got.Conversation, "fake-") {
		t.Errorf("conversation %q: want the ACP session id", got.Conversation)
	}
	if _, err := os.Stat(filepath.Join(wt, "a.txt")); err == nil {
		t.Fatal("a.txt written before the permission was answered")
	}
	// Text is no answer to a permission.
	if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: ref(s.ID), Text: "yes please"}); protocol.CodeOf(err) != protocol.CodeInvalid {
		t.Errorf("text answer: %v, want invalid", err)
	}
	ans, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: ref(s.ID), Answer: protocol.AnswerAllow})
	if err != nil {
		t.Fatal(err)
	}
	if !ans.Delivery.Confirmed || ans.Delivery.Via != "acp" {
		t.Errorf("answer delivery %+v, want confirmed over acp", ans.Delivery)
	}
	if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: ref(s.ID), Answer: protocol.AnswerAllow}); protocol.CodeOf(err) != protocol.CodeInvalid {
		t.Errorf("second answer: %v, want invalid (the first won)", err)
	}
	idle := w.AwaitState(t, s.ID, protocol.StateIdle)
	if idle.Detail != "end_turn" {
		t.Errorf("idle detail %q, want the stop reason end_turn", idle.Detail)
	}
	if b, err := os.ReadFile(filepath.Join(wt, "a.txt")); err != nil || string(b) != "hello from fakeacp\n" {
		t.Fatalf("a.txt: %q, %v", b, err)
	}
	acts.Await(t, "the tool call completed, with its file", func() bool {
		return acts.has(func(a protocol.SessionActivity) bool {
			return a.Session == s.ID && a.Tool != nil && a.Tool.Title == "Write a.txt" && a.Tool.Status == "completed" && slices.Equal(a.Tool.Files, []string{"a.txt"})
		})
	})

	// Reject, by the option's id this time; and a plan.
	if _, err := c.Send(t.Context(), protocol.SendParams{SessionRef: ref(s.ID), Text: "plan then write b.txt"}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateWaiting)
	if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: ref(s.ID), Answer: "reject-once"}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	if _, err := os.Stat(filepath.Join(wt, "b.txt")); err == nil {
		t.Error("b.txt written though the permission was rejected")
	}
	acts.Await(t, "the plan", func() bool {
		return acts.has(func(a protocol.SessionActivity) bool {
			return len(a.Plan) == 2 && a.Plan[0].Status == "completed" && a.Plan[1].Content == "write the fix"
		})
	})

	tr := logs(t, home, s.ID)
	for _, want := range []string{"> please write a.txt", "agent: I'll write a.txt.", "⚙ Write a.txt [edit] pending · a.txt",
		"? permission: Write a.txt — Allow (allow-once)", "✓ answered: allow-once", "⚙ Write a.txt: completed · a.txt",
		"agent: Done: a.txt is written.", "── turn ended: end_turn", "✓ answered: reject-once", "⚙ Write b.txt: failed",
		"[x] read the code", "[~] write the fix"} {
		if !strings.Contains(tr, want) {
			t.Errorf("transcript lacks %q:\n%s", want, tr)
		}
	}
	raw := logs(t, home, s.ID, "--raw")
	if !strings.Contains(raw, `"from":"studiod"`) || !strings.Contains(raw, `"method":"session/request_permission"`) {
		t.Errorf("raw log lacks the messages:\n%s", raw)
	}
}

// TestACPTurns: unknown notifications and a malformed line are ignored; a
// prompt sent while a turn runs is queued and runs next; stop cancels the
// running turn (session/cancel, stop reason cancelled) before ending the
// process; an agent that crashes mid-turn is an exited session saying so.
func TestACPTurns(t *testing.T) {
	t.Parallel()
	home := acpHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	d := startDaemon(t, home)
	c, w := d.watch()

	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "turns", Agent: "fake", Prompt: "unknown garbage"})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.AwaitState(t, s.ID, protocol.StateIdle); got.Detail != "end_turn" {
		t.Fatalf("after unknown and malformed messages: %s %q", got.State, got.Detail)
	}

	// Queued behind a permission that holds the turn.
	if _, err := c.Send(t.Context(), protocol.SendParams{SessionRef: ref(s.ID), Text: "write q.txt"}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateWaiting)
	// Sent from the CLI, which says it is queued, not delivered.
	send := exec.Command("studiod", "send", s.ID, "second prompt")
	send.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	out, err := send.CombinedOutput()
	if err != nil {
		t.Fatalf("studiod send: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "queued for turns") || !strings.Contains(string(out), "becomes the next prompt") {
		t.Errorf("studiod send during a turn says:\n%s\nwant queued", out)
	}
	if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: ref(s.ID), Answer: protocol.AnswerAllow}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	tr := logs(t, home, s.ID)
	first, second := strings.Index(tr, "agent: Done: q.txt is written."), strings.Index(tr, "> second prompt")
	if first < 0 || second < first || !strings.Contains(tr[second:], "agent: you said: second prompt") {
		t.Errorf("the queued prompt did not run after the first turn:\n%s", tr)
	}
	if !strings.Contains(tr, "! malformed message from the agent: this line is not JSON") {
		t.Errorf("transcript does not show the malformed line:\n%s", tr)
	}
	// No idle between the two turns: the queued prompt went at once.
	states := w.States(s.ID)
	i, j := slices.Index(states, protocol.StateWaiting), len(states)-1
	for j >= 0 && states[j] != protocol.StateWorking {
		j--
	}
	if i < 0 || j < i || slices.Contains(states[i:j], protocol.StateIdle) {
		t.Errorf("states %v: idle before the queued turn ran", states)
	}

	// Stop cancels the turn first.
	if d, err := c.Send(t.Context(), protocol.SendParams{SessionRef: ref(s.ID), Text: "wait"}); err != nil || !d.Delivery.Confirmed {
		t.Fatalf("send wait: %+v, %v", d, err)
	}
	w.AwaitState(t, s.ID, protocol.StateWorking)
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: ref(s.ID)}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateStopped)
	tr = logs(t, home, s.ID)
	if !strings.Contains(tr, "── cancel requested") || !strings.Contains(tr, "── turn ended: cancelled") {
		t.Errorf("stop did not cancel the turn:\n%s", tr)
	}

	// A crash mid-turn.
	s2, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "crash", Agent: "fake", Prompt: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s2.ID, protocol.StateIdle)
	if _, err := c.Send(t.Context(), protocol.SendParams{SessionRef: ref(s2.ID), Text: "crash"}); err != nil {
		t.Fatal(err)
	}
	got := w.AwaitState(t, s2.ID, protocol.StateExited, protocol.StateFailed)
	if got.State != protocol.StateExited || got.ExitCode == nil || *got.ExitCode != 3 ||
		!strings.Contains(got.Detail, "mid-turn") || !strings.Contains(got.Detail, "crashing as asked") {
		t.Errorf("after a crash mid-turn: %s (exit %v) %q", got.State, got.ExitCode, got.Detail)
	}
}

// TestACPSignIn: an agent that needs authenticate waits, kind login, with
// its sign-in methods; answering one signs in, opens the session and runs
// the prompt.
func TestACPSignIn(t *testing.T) {
	t.Parallel()
	home := acpHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	d := startDaemon(t, home)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "auth", Agent: "fake-auth", Prompt: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	got := w.AwaitState(t, s.ID, protocol.StateWaiting)
	if wa := got.Waiting; wa == nil || wa.Kind != protocol.WaitLogin || len(wa.Options) != 1 || wa.Options[0].ID != "key" ||
		!strings.Contains(wa.Question, "Authentication required") {
		t.Fatalf("waiting: %+v", got.Waiting)
	}
	if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: ref(s.ID), Answer: "key"}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	if tr := logs(t, home, s.ID); !strings.Contains(tr, "agent: you said: hi") {
		t.Errorf("the prompt did not run after signing in:\n%s", tr)
	}
}

// TestACPDaemonRestart kills the daemon (SIGKILL) while an ACP agent waits
// on a permission: the restarted daemon rebuilds the session from the log
// and the permission is still answerable. Killed again mid-turn, the turn
// finishes while no daemon runs, and the next daemon sees it ended. A
// stopped session is continued by send, through session/load.
func TestACPDaemonRestart(t *testing.T) {
	t.Parallel()
	home := acpHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	d := startDaemon(t, home)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "crashy", Agent: "fake", Prompt: "write a.txt"})
	if err != nil {
		t.Fatal(err)
	}
	got := w.AwaitState(t, s.ID, protocol.StateWaiting)
	d.kill9()

	d = startDaemon(t, home)
	c, w = d.watch()
	if again := w.AwaitState(t, s.ID, protocol.StateWaiting); again.Waiting == nil || len(again.Waiting.Options) != 4 {
		t.Fatalf("after the restart: %+v", again.Waiting)
	}
	ans, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: ref(s.ID), Answer: protocol.AnswerAllow})
	if err != nil || !ans.Delivery.Confirmed {
		t.Fatalf("answer after the restart: %+v, %v", ans, err)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	if _, err := os.Stat(filepath.Join(got.Worktree, "a.txt")); err != nil {
		t.Fatalf("a.txt after answering across a restart: %v", err)
	}

	// A turn that ends while no daemon runs.
	if _, err := c.Send(t.Context(), protocol.SendParams{SessionRef: ref(s.ID), Text: "hold"}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateWorking)
	d.kill9()
	if err := os.WriteFile(filepath.Join(got.Worktree, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d = startDaemon(t, home)
	c, w = d.watch()
	if idle := w.AwaitState(t, s.ID, protocol.StateIdle); idle.Detail != "end_turn" {
		t.Errorf("after the turn ended without a daemon: %q", idle.Detail)
	}
	if tr := logs(t, home, s.ID); !strings.Contains(tr, "agent: released") {
		t.Errorf("transcript:\n%s", tr)
	}
	// And the next prompt goes as usual over the new connection.
	if r, err := c.Send(t.Context(), protocol.SendParams{SessionRef: ref(s.ID), Text: "after restart"}); err != nil || !r.Delivery.Confirmed {
		t.Fatalf("send after restart: %+v, %v", r, err)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)

	// Continued after it stopped: the agent loads its conversation.
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: ref(s.ID)}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateStopped)
	r, err := c.Send(t.Context(), protocol.SendParams{SessionRef: ref(s.ID), Text: "welcome back"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Delivery.Via != "resume" || !r.Delivery.Confirmed {
		t.Errorf("send to a stopped ACP session: %+v", r.Delivery)
	}
	resumed := w.AwaitState(t, s.ID, protocol.StateIdle)
	if resumed.Conversation != got.Conversation {
		t.Errorf("conversation %q after resume, want %q", resumed.Conversation, got.Conversation)
	}
	tr := logs(t, home, s.ID)
	if !strings.Contains(tr, "── studiod: session/load") || !strings.Contains(tr, "> (loaded) the earlier conversation") ||
		!strings.Contains(tr, "agent: you said: welcome back") {
		t.Errorf("resume transcript:\n%s", tr)
	}
}

// TestACPGate: an ACP agent asks to edit a file another session changed.
// In deny mode studiod rejects the edit itself (the person is never asked)
// and the agent gets the reason as its next prompt; in ask mode the
// person's question carries the reason.
func TestACPGate(t *testing.T) {
	t.Parallel()
	for _, mode := range []protocol.GateMode{protocol.GateDeny, protocol.GateAsk} {
		t.Run(string(mode), func(t *testing.T) {
			home := acpHome(t)
			repo := gittest.NewRepo(t, map[string]string{"shared.txt": gittest.Lines(10)})
			d := startDaemon(t, home)
			c, w := d.watch()
			spawnAPI(t, c, w, repo)
			s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "ui", Agent: "fake", Gate: mode, Prompt: "write shared.txt"})
			if err != nil {
				t.Fatal(err)
			}
			const why = "session `api` (scope shared.txt; working on: rename CheckToken to VerifyToken)"
			switch mode {
			case protocol.GateDeny:
				ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
				defer cancel()
				var tr string
				for !strings.Contains(tr, "you said: Your edit was refused (gate mode deny). studiod: other agents work in this repository in parallel. "+why) {
					if ctx.Err() != nil {
						t.Fatalf("the agent was not told why; its transcript:\n%s", tr)
					}
					time.Sleep(100 * time.Millisecond)
					tr = logs(t, home, s.ID)
				}
				if slices.Contains(w.States(s.ID), protocol.StateWaiting) {
					t.Errorf("states %v: the person was asked, though the gate refused", w.States(s.ID))
				}
				got, _ := w.Session(s.ID)
				if b, _ := os.ReadFile(filepath.Join(got.Worktree, "shared.txt")); string(b) == "hello from fakeacp\n" {
					t.Error("the edit went through in deny mode")
				}
			case protocol.GateAsk:
				got := w.AwaitState(t, s.ID, protocol.StateWaiting)
				if got.Waiting == nil || !strings.HasPrefix(got.Waiting.Question, "Write shared.txt — ") || !strings.Contains(got.Waiting.Question, why) {
					t.Fatalf("waiting: %+v, want the gate's reason in the question", got.Waiting)
				}
				if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: ref(s.ID), Answer: protocol.AnswerAllow}); err != nil {
					t.Fatal(err)
				}
				w.AwaitState(t, s.ID, protocol.StateIdle)
				if b, _ := os.ReadFile(filepath.Join(got.Worktree, "shared.txt")); string(b) != "hello from fakeacp\n" {
					t.Errorf("allowed, shared.txt is %q", b)
				}
			}
		})
	}
}

// TestACPLogLimit: an ACP session's log is capped by log_limit like a
// terminal's; what was rotated out does not cost the daemon its knowledge
// of the agent: after a restart the session is still idle in its
// conversation, and once stopped it is continued through session/load.
func TestACPLogLimit(t *testing.T) {
	t.Parallel()
	home := acpHome(t)
	f, err := os.OpenFile(filepath.Join(home, "config", "config.toml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n[defaults]\nlog_limit = \"8KiB\"\n")
	f.Close()
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	d := startDaemon(t, home)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "chatty", Agent: "fake", Prompt: "chatter 200"})
	if err != nil {
		t.Fatal(err)
	}
	first := w.AwaitState(t, s.ID, protocol.StateIdle)
	out, err := c.Output(t.Context(), protocol.OutputParams{SessionRef: ref(s.ID)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Start == 0 || out.Size-out.Start > 8<<10+1024 {
		t.Fatalf("log keeps [%d, %d): want older records rotated out under 8KiB", out.Start, out.Size)
	}
	d.kill9()

	d = startDaemon(t, home)
	c, w = d.watch()
	if got := w.AwaitState(t, s.ID, protocol.StateIdle); got.Conversation != first.Conversation {
		t.Errorf("after the restart: conversation %q, want %q", got.Conversation, first.Conversation)
	}
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: ref(s.ID)}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateStopped)
	r, err := c.Send(t.Context(), protocol.SendParams{SessionRef: ref(s.ID), Text: "welcome back"})
	if err != nil {
		t.Fatalf("continue after rotation: %v", err)
	}
	if r.Delivery.Via != "resume" || !r.Delivery.Confirmed {
		t.Errorf("send to the stopped session: %+v", r.Delivery)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	if tr := logs(t, home, s.ID); !strings.Contains(tr, "agent: you said: welcome back") {
		t.Errorf("transcript:\n%s", tr)
	}
}

// TestACPDaemonDiesInHandshake: the daemon is killed while the agent has
// not answered initialize yet; the restarted daemon opens the agent's
// session itself and sends the spawn's prompt.
func TestACPDaemonDiesInHandshake(t *testing.T) {
	t.Parallel()
	home := acpHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	d := startDaemon(t, home)
	c, w := d.watch()
	go c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "slow", Agent: "fake-slow", Prompt: "hello there"})
	var id string
	w.Await(t, "the session recorded", func() bool {
		s, ok := w.Session("slow")
		id = s.ID
		return ok && s.PID != 0
	})
	d.kill9()

	d = startDaemon(t, home)
	c, w = d.watch()
	got := w.AwaitState(t, id, protocol.StateIdle)
	if !strings.HasPrefix(got.Conversation, "fake-") {
		t.Errorf("conversation %q: want the session opened after the restart", got.Conversation)
	}
	if tr := logs(t, home, id); !strings.Contains(tr, "agent: you said: hello there") {
		t.Errorf("the spawn's prompt was not sent after the restart:\n%s", tr)
	}
}
