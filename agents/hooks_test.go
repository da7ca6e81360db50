package agents

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/studiod/studiod/vocab"
)

// TestDecodeHook reads the hook payloads the real agents sent (recorded in
// testdata/hooks) and checks what studiod makes of each.
func TestDecodeHook(t *testing.T) {
	for _, tc := range []struct {
		kind, file          string
		state               vocab.State
		question, subject   string
		conversation, quote string // quote: the prompt text a delivery is confirmed by
		detail              string
		transcript          bool // the hook names the transcript, read for usage
	}{
		{kind: HooksClaude, file: "claude/session-start.json", conversation: "11111111-2222-4333-8444-555555555555"},
		{kind: HooksClaude, file: "claude/user-prompt-submit.json", state: Working, quote: "Create hello.py that prints hello"},
		{kind: HooksClaude, file: "claude/pre-tool-use-write.json", state: Working},
		{kind: HooksClaude, file: "claude/permission-request.json", state: Waiting, question: "Write hello.py?", subject: "hello.py"},
		{kind: HooksClaude, file: "claude/notification-permission-prompt.json", state: Waiting, question: "Claude needs your permission"},
		{kind: HooksClaude, file: "claude/post-tool-use.json", state: Working, transcript: true},
		{kind: HooksClaude, file: "claude/stop.json", state: Idle, transcript: true},
		{kind: HooksClaude, file: "claude/stop-failure.json", state: Idle, detail: "the turn failed: API Error: 400 fakemodel: scripted failure", transcript: true},
		{kind: HooksClaude, file: "claude/notification-idle-prompt.json", state: Idle},
		{kind: HooksClaude, file: "claude/session-end-exit.json"},
		{kind: HooksClaude, file: "claude/message-display.json"},
		{kind: HooksCodex, file: "codex/session-start.json", conversation: "01a22072-d691-7c50-9ec4-23e9da2c2f2a"},
		{kind: HooksCodex, file: "codex/user-prompt-submit.json", state: Working, quote: "Create hello.py", conversation: "01a22072-d691-7c50-9ec4-23e9da2c2f2a"},
		{kind: HooksCodex, file: "codex/permission-request.json", state: Waiting, question: "Do you want to write /tmp/cx3/outside.py?", subject: "`printf 'print(1)\\n' > /tmp/cx3/outside.py`"},
		{kind: HooksCodex, file: "codex/stop.json", state: Idle, transcript: true},
		{kind: HooksCodexNotify, file: "codex/notify-agent-turn-complete.json", state: Idle, conversation: "01a22072-d691-7c50-9ec4-23e9da2c2f2a"},
		{kind: HooksGemini, file: "gemini/session-start.json", conversation: "22222222-3333-4444-8555-666666666667"},
		{kind: HooksGemini, file: "gemini/before-agent.json", state: Working, quote: "Create hello.py"},
		{kind: HooksGemini, file: "gemini/before-tool.json", state: Working},
		{kind: HooksGemini, file: "gemini/notification-tool-permission.json", state: Waiting, question: "Confirm Write: hello.py", subject: "hello.py"},
		{kind: HooksGemini, file: "gemini/after-agent.json", state: Idle, transcript: true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "hooks", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			e, err := decodeHook(tc.kind, b)
			if err != nil {
				t.Fatal(err)
			}
			if e.state != tc.state {
				t.Errorf("state: got %q, want %q", e.state, tc.state)
			}
			if (e.ask != nil) != (tc.question != "") {
				t.Fatalf("ask: got %+v, want question %q", e.ask, tc.question)
			}
			if e.ask != nil && (e.ask.Question != tc.question || e.ask.Subject != tc.subject) {
				t.Errorf("ask: got %q / %q, want %q / %q", e.ask.Question, e.ask.Subject, tc.question, tc.subject)
			}
			if e.conversation != tc.conversation {
				t.Errorf("conversation: got %q, want %q", e.conversation, tc.conversation)
			}
			if e.prompt != (tc.quote != "") || e.promptText != tc.quote {
				t.Errorf("prompt: got %v %q, want %q", e.prompt, e.promptText, tc.quote)
			}
			if (e.transcript != "") != tc.transcript {
				t.Errorf("transcript: got %q, want one: %v", e.transcript, tc.transcript)
			}
			if e.detail != tc.detail {
				t.Errorf("detail: got %q, want %q", e.detail, tc.detail)
			}
		})
	}
}

func TestDecodeHookBadInput(t *testing.T) {
	for _, tc := range []struct{ kind, payload string }{
		{HooksClaude, "not json"},
		{HooksClaude, `[1,2]`},
		{"nosuch", `{}`},
	} {
		if _, err := decodeHook(tc.kind, []byte(tc.payload)); err == nil {
			t.Errorf("decodeHook(%q, %q): no error", tc.kind, tc.payload)
		}
	}
}

// TestQuestions reads an AskUserQuestion of two questions: the first is
// asked, with the second to follow, each saying which of the two it is; a
// question without its text makes no question at all.
func TestQuestions(t *testing.T) {
	in := `{"questions":[{"question":"Which colour?","header":"Colour","options":[{"label":"Red","description":"Warm"},{"label":"Blue"}]},` +
		`{"question":"Which size?","header":"Size","options":[{"label":"Small"},{"label":"Large"}]}]}`
	a := hookPayload{ToolName: "AskUserQuestion", ToolInput: json.RawMessage(in)}.question()
	if a == nil || a.Question != "Which colour?" || a.Subject != "Colour (1 of 2)" || a.Last || len(a.Options) != 2 || a.Options[0].Label != "Red — Warm" {
		t.Fatalf("first question: %+v", a)
	}
	if len(a.Then) != 1 || a.Then[0].Question != "Which size?" || a.Then[0].Subject != "Size (2 of 2)" || !a.Then[0].Last || a.Then[0].Options[1].ID != "2" {
		t.Fatalf("the question to follow: %+v", a.Then)
	}
	one := hookPayload{ToolName: "AskUserQuestion", ToolInput: json.RawMessage(`{"questions":[{"question":"Which colour?","header":"Colour","options":[{"label":"Red"}]}]}`)}.question()
	if one == nil || one.Subject != "Colour" || one.Last || one.Then != nil {
		t.Fatalf("a single question: %+v", one)
	}
	if q := (hookPayload{ToolName: "AskUserQuestion", ToolInput: json.RawMessage(`{"questions":[{"question":"A?"},{"header":"B"}]}`)}).question(); q != nil {
		t.Errorf("a question without its text: %+v", q)
	}
	if k := submitKey("Review your answers\n❯ 1. Submit answers\n  2. Cancel"); k != "1" {
		t.Errorf("submit key %q, want 1", k)
	}
}
