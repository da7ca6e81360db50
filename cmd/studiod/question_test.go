package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcptest"

	"github.com/studiod/studiod/internal/fakemodel"
	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
	mcpface "github.com/studiod/studiod/server/mcp"
)

// askColour is an AskUserQuestion call: one question, three options.
var askColour = map[string]any{"questions": []map[string]any{{
	"question": "Which colour should the button be?", "header": "Colour", "multiSelect": false,
	"options": []map[string]string{
		{"label": "Red", "description": "Warm and loud"},
		{"label": "Green", "description": "Calm"},
		{"label": "Blue", "description": "The usual"},
	},
}}}

// TestClaudeCodeAskUserQuestion: the real Claude Code's model asks the
// person to choose (AskUserQuestion). The session waits on the question
// with its options, not on a permission with raw JSON; `studiod answer`
// takes an option's label and MCP's answer_session its number, and the
// model gets the option chosen.
func TestClaudeCodeAskUserQuestion(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "claude")
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
		{UserContains: "pick a colour", Text: "Let me ask.", Tool: fakemodel.Call("AskUserQuestion", askColour)},
		{AfterToolResult: true, Text: "Noted."},
		{UserContains: "once more", Text: "Asking again.", Tool: fakemodel.Call("AskUserQuestion", askColour)},
		{AfterToolResult: true, Text: "Noted again."},
	}})
	defer fm.Close()
	const key = "sk-ant-fake-0123456789abcdefghijklmnop"
	d := startDaemonEnv(t, home, claudeEnv(t, bin, key, repo, fm.URL())...)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "ask", Agent: "claude", Prompt: "pick a colour"})
	if err != nil {
		t.Fatal(err)
	}
	asked := func() {
		t.Helper()
		got := w.AwaitState(t, s.ID, protocol.StateWaiting)
		wa := got.Waiting
		if wa == nil || wa.Kind != protocol.WaitQuestion || wa.Question != "Which colour should the button be?" || len(wa.Options) != 3 ||
			wa.Options[0].ID != "1" || wa.Options[1].Label != "Green — Calm" || wa.Options[2].Kind != "" {
			t.Fatalf("waiting: %+v, want the question with its three options", wa)
		}
	}
	chosen := func(label string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		defer cancel()
		if _, err := fm.Wait(ctx, func(r *fakemodel.Request) bool {
			for _, res := range r.LastToolResults() {
				if strings.Contains(res.Output, `="`+label+`"`) {
					return true
				}
			}
			return false
		}); err != nil {
			t.Fatalf("the model never got %q as the answer: %v", label, err)
		}
		w.AwaitState(t, s.ID, protocol.StateIdle)
	}

	asked()
	show := exec.Command("studiod", "show", "ask")
	show.Dir, show.Env = repo, append(os.Environ(), "STUDIOD_HOME="+home)
	if out, err := show.CombinedOutput(); err != nil || !strings.Contains(string(out), "2. Green — Calm") {
		t.Errorf("studiod show: %v\n%s\nwant the options listed", err, out)
	}
	bad := exec.Command("studiod", "answer", "ask", "purple")
	bad.Dir, bad.Env = repo, append(os.Environ(), "STUDIOD_HOME="+home)
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "choose 1 (Red), 2 (Green) or 3 (Blue)") {
		t.Errorf("studiod answer ask purple: %v\n%s\nwant a refusal naming the choices", err, out)
	}
	if got, _ := c.Session(t.Context(), protocol.SessionRef{Session: s.ID}); got.State != protocol.StateWaiting {
		t.Errorf("after a refused answer the session is %s, want still waiting", got.State)
	}
	answer := exec.Command("studiod", "answer", "ask", "green")
	answer.Dir, answer.Env = repo, append(os.Environ(), "STUDIOD_HOME="+home)
	if out, err := answer.CombinedOutput(); err != nil {
		t.Fatalf("studiod answer ask green: %v\n%s", err, out)
	}
	chosen("Green")

	// The same question again, answered through MCP by number.
	if _, err := c.Send(t.Context(), protocol.SendParams{SessionRef: protocol.SessionRef{Session: s.ID}, Text: "once more"}); err != nil {
		t.Fatal(err)
	}
	asked()
	m := mcpface.New(mcpface.Config{Dir: repo, Dial: func(ctx context.Context, notify protocol.NotifyFunc) (*protocol.Client, error) {
		c, err := protocol.Dial(ctx, d.socket(), notify)
		if err == nil {
			_, err = c.Hello(ctx, protocol.HelloParams{Client: "mcp-test", Version: protocol.Version})
		}
		return c, err
	}})
	defer m.Close()
	srv, err := mcptest.NewServer(t, m.Tools()...)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	r := callTool(t, srv.Client(), mcpface.ToolAnswerSession, map[string]any{"session": "ask", "answer": "3"}, nil)
	var res protocol.AnswerResult
	if b, _ := json.Marshal(r.StructuredContent); r.IsError || json.Unmarshal(b, &res) != nil {
		t.Fatalf("answer_session: %s", resultText(r))
	}
	chosen("Blue")
}

// askTwo is an AskUserQuestion call with two questions.
var askTwo = map[string]any{"questions": []map[string]any{
	askColour["questions"].([]map[string]any)[0],
	{
		"question": "Which size should it be?", "header": "Size", "multiSelect": false,
		"options": []map[string]string{
			{"label": "Small", "description": "Fits a toolbar"},
			{"label": "Large", "description": "Fills the card"},
		},
	},
}}

// TestClaudeCodeQuestions: the real Claude Code (the pinned version and the
// one npm installs on Node 20) asks two questions in one AskUserQuestion.
// The session waits on the first, then, answered, on the second (each
// saying which of the two it is), and once that is answered the model gets
// both answers: the person is not left at Claude Code's review of them.
func TestClaudeCodeQuestions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ version, bin string }{
		{"pinned", fakemodel.AgentsBin(t, "claude")},
		{"node20", fakemodel.Node20Bin(t, "claude")},
	} {
		t.Run(tc.version, func(t *testing.T) {
			home := newHome(t)
			repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
			fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
				{UserContains: "pick a colour", Text: "Let me ask.", Tool: fakemodel.Call("AskUserQuestion", askTwo)},
				{AfterToolResult: true, Text: "Noted."},
			}})
			defer fm.Close()
			const key = "sk-ant-fake-0123456789abcdefghijklmnop"
			d := startDaemonEnv(t, home, claudeEnv(t, tc.bin, key, repo, fm.URL())...)
			c, w := d.watch()
			s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "ask", Agent: "claude", Prompt: "pick a colour and a size"})
			if err != nil {
				t.Fatal(err)
			}
			got := w.AwaitState(t, s.ID, protocol.StateWaiting)
			if wa := got.Waiting; wa == nil || wa.Question != "Which colour should the button be?" || wa.Subject != "Colour (1 of 2)" || len(wa.Options) != 3 {
				t.Fatalf("waiting: %+v, want the first question, 1 of 2, with its three options", wa)
			}
			answer := exec.Command("studiod", "answer", "ask", "Green")
			answer.Dir, answer.Env = repo, append(os.Environ(), "STUDIOD_HOME="+home)
			if out, err := answer.CombinedOutput(); err != nil {
				t.Fatalf("studiod answer ask Green: %v\n%s", err, out)
			}
			w.Await(t, "the second question", func() bool {
				got, _ := w.Session(s.ID)
				return got.State == protocol.StateWaiting && got.Waiting != nil && got.Waiting.Question == "Which size should it be?"
			})
			got, _ = w.Session(s.ID)
			if wa := got.Waiting; wa.Subject != "Size (2 of 2)" || len(wa.Options) != 2 || wa.Options[1].Label != "Large — Fills the card" {
				t.Fatalf("waiting: %+v, want the second question, 2 of 2, with its two options", wa)
			}
			// A choice of the first question is not one of the second's.
			bad := exec.Command("studiod", "answer", "ask", "Blue")
			bad.Dir, bad.Env = repo, append(os.Environ(), "STUDIOD_HOME="+home)
			if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "choose 1 (Small) or 2 (Large)") {
				t.Errorf("studiod answer ask Blue: %v\n%s\nwant a refusal naming the second question's choices", err, out)
			}
			if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: s.ID}, Answer: "1"}); err != nil {
				t.Fatalf("answer 1: %v", err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			if _, err := fm.Wait(ctx, func(r *fakemodel.Request) bool {
				for _, res := range r.LastToolResults() {
					if strings.Contains(res.Output, `="Green"`) && strings.Contains(res.Output, `="Small"`) {
						return true
					}
				}
				return false
			}); err != nil {
				t.Fatalf("the model never got both answers: %v", err)
			}
			w.AwaitState(t, s.ID, protocol.StateIdle)
		})
	}
}

// TestClaudeAgentACPQuestions: the real claude-agent-acp asks
// AskUserQuestion's two questions as an ACP form (studiod offers form
// elicitation). The session waits on each field in turn, with its options;
// a choice of the wrong question is refused; once both are answered the
// form is accepted and the model gets both answers. Asked again, reject
// declines the form and the turn goes on.
func TestClaudeAgentACPQuestions(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "claude-agent-acp")
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
		{UserContains: "pick a colour", Text: "Let me ask.", Tool: fakemodel.Call("AskUserQuestion", askTwo)},
		{UserContains: "once more", Text: "Asking again.", Tool: fakemodel.Call("AskUserQuestion", askTwo)},
		{AfterToolResult: true, Repeat: true, Text: "Noted."},
	}})
	defer fm.Close()
	const key = "sk-ant-fake-0123456789abcdefghijklmnop"
	d := startDaemonEnv(t, home,
		claudeACPEnv(t, bin, key, repo, fm.URL())...)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "ask", Agent: "claude-acp", Prompt: "pick a colour and a size"})
	if err != nil {
		t.Fatal(err)
	}
	waitingOn := func(question string) protocol.Waiting {
		t.Helper()
		var got protocol.Session
		w.Await(t, "waiting on "+question, func() bool {
			got, _ = w.Session(s.ID)
			return got.State == protocol.StateWaiting && got.Waiting != nil && got.Waiting.Question == question
		}, func() string { return fmt.Sprintf("%s %+v", got.State, got.Waiting) })
		return *got.Waiting
	}
	first := waitingOn("Which colour should the button be?")
	if first.Kind != protocol.WaitQuestion || first.Source != "acp" || first.Subject != "Colour (1 of 2)" ||
		len(first.Options) != 4 || first.Options[1].Label != "Green — Calm" || first.Options[3].Kind != protocol.AnswerReject {
		t.Fatalf("waiting: %+v, want the first field, 1 of 2, with its three options and reject", first)
	}
	answer := exec.Command("studiod", "answer", "ask", "green")
	answer.Dir, answer.Env = repo, append(os.Environ(), "STUDIOD_HOME="+home)
	if out, err := answer.CombinedOutput(); err != nil {
		t.Fatalf("studiod answer ask green: %v\n%s", err, out)
	}
	second := waitingOn("Which size should it be?")
	if second.Subject != "Size (2 of 2)" || len(second.Options) != 3 {
		t.Fatalf("waiting: %+v, want the second field, 2 of 2", second)
	}
	bad := exec.Command("studiod", "answer", "ask", "Blue")
	bad.Dir, bad.Env = repo, append(os.Environ(), "STUDIOD_HOME="+home)
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "choose 1 (Small) or 2 (Large)") {
		t.Errorf("studiod answer ask Blue: %v\n%s\nwant a refusal naming the second field's choices", err, out)
	}
	if res, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: s.ID}, Answer: "2"}); err != nil || !res.Delivery.Confirmed {
		t.Fatalf("answer 2: %+v, %v", res, err)
	}
	answered := func(want ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		defer cancel()
		if _, err := fm.Wait(ctx, func(r *fakemodel.Request) bool {
			for _, res := range r.LastToolResults() {
				all := true
				for _, w := range want {
					all = all && strings.Contains(res.Output, w)
				}
				if all {
					return true
				}
			}
			return false
		}); err != nil {
			t.Fatalf("the model never got a tool result with %q: %v", want, err)
		}
	}
	answered(`="Green"`, `="Large"`)
	w.AwaitState(t, s.ID, protocol.StateIdle)

	if _, err := c.Send(t.Context(), protocol.SendParams{SessionRef: protocol.SessionRef{Session: s.ID}, Text: "once more"}); err != nil {
		t.Fatal(err)
	}
	before := len(w.States(s.ID))
	w.Await(t, "waiting on the question again", func() bool {
		st := w.States(s.ID)
		return len(st) > before && st[len(st)-1] == protocol.StateWaiting
	})
	waitingOn("Which colour should the button be?")
	if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: s.ID}, Answer: protocol.AnswerReject}); err != nil {
		t.Fatalf("answer reject: %v", err)
	}
	w.Await(t, "idle after the declined form", func() bool {
		st := w.States(s.ID)
		return len(st) > before && st[len(st)-1] == protocol.StateIdle
	})
}
