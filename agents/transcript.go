package agents

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	acp "github.com/coder/acp-go-sdk"
	"github.com/studiod/studiod/agents/host"
)

// Transcript renders an ACP session's log (shim records, as the attach
// stream and studio/output carry them) as text for a person: prompts, the
// agent's messages, each tool call with its status and files, permission
// requests and their answers, the plan as it changes, each turn's end.
// Write takes the log in chunks of any size.
type Transcript struct {
	w    io.Writer
	buf  []byte
	st   *acpState
	text string // the kind of text being streamed: "agent", "thought"; "" none
	msg  string // the id of the message being streamed, when it has one
}

// NewTranscript returns a Transcript writing to w; worktree makes paths
// relative.
func NewTranscript(w io.Writer, worktree string) *Transcript {
	return &Transcript{w: w, st: newACPState(worktree)}
}

func (t *Transcript) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	for {
		i := bytes.IndexByte(t.buf, '\n')
		if i < 0 {
			break
		}
		t.record(t.buf[:i])
		t.buf = t.buf[i+1:]
	}
	t.buf = append([]byte(nil), t.buf...)
	return len(p), nil
}

// line ends streamed text, then prints a line.
func (t *Transcript) line(format string, args ...any) {
	if t.text != "" {
		fmt.Fprintln(t.w)
		t.text = ""
	}
	fmt.Fprintf(t.w, format+"\n", args...)
}

func (t *Transcript) stream(kind string, id *string, text string) {
	if id != nil && *id != t.msg && t.text != "" {
		fmt.Fprintln(t.w)
		t.text = ""
	}
	if id != nil {
		t.msg = *id
	}
	if t.text != kind {
		if t.text != "" {
			fmt.Fprintln(t.w)
		}
		label := "agent: "
		if kind == "thought" {
			label = "(thinking) "
		}
		fmt.Fprint(t.w, label)
		t.text = kind
	}
	fmt.Fprint(t.w, text)
}

func (t *Transcript) record(b []byte) {
	var rec host.Record
	if json.Unmarshal(b, &rec) != nil {
		return
	}
	// What the state knew before this record: the request a response
	// answers, the tool an update changes.
	var m rpcMsg
	if rec.Msg != nil {
		json.Unmarshal(rec.Msg, &m)
	}
	var req rpcMsg
	if rec.From == host.FromAgent && m.isResponse() {
		req = t.st.requests[m.key()]
	}
	var prevStatus string
	if tool := t.toolOf(m); tool != nil {
		prevStatus = tool.Status
	}
	act := t.st.apply(rec)

	switch rec.From {
	case host.FromShim:
		t.line("── agent %s", rec.Text)
		return
	case host.FromStderr:
		t.line("   stderr: %s", rec.Text)
		return
	}
	if rec.Msg == nil {
		t.line("   ! malformed message from the agent: %s", clip(rec.Text, 200))
		return
	}
	if rec.From == host.FromClient {
		switch {
		case m.Method == acp.AgentMethodSessionPrompt:
			var p acp.PromptRequest
			json.Unmarshal(m.Params, &p)
			t.line("\n> %s", promptText(p.Prompt))
		case m.Method == acp.AgentMethodSessionCancel:
			t.line("── cancel requested")
		case m.Method != "":
			t.line("── studiod: %s", m.Method)
		case m.isResponse():
			var r acp.RequestPermissionResponse
			json.Unmarshal(m.Result, &r)
			switch {
			case r.Outcome.Selected != nil:
				t.line("   ✓ answered: %s", r.Outcome.Selected.OptionId)
			case r.Outcome.Cancelled != nil:
				t.line("   ✓ answered: cancelled")
			}
		}
		return
	}
	switch {
	case m.isResponse():
		if m.Error != nil {
			t.line("── %s failed: %s", firstNonEmpty(req.Method, "request"), m.Error.String())
			return
		}
		switch req.Method {
		case acp.AgentMethodInitialize:
			name := "agent"
			if i := t.st.init; i != nil && i.AgentInfo != nil {
				name = i.AgentInfo.Name + " " + i.AgentInfo.Version
			}
			t.line("── %s ready (load session: %v)", name, t.st.caps().LoadSession)
		case acp.AgentMethodSessionNew, acp.AgentMethodSessionLoad, acp.AgentMethodSessionResume:
			t.line("── session %s", t.st.sessionID)
		case acp.AgentMethodSessionPrompt:
			t.line("── turn ended: %s", t.st.stop)
		}
	case m.Method == acp.ClientMethodSessionRequestPermission:
		if n := len(t.st.perms); n > 0 {
			p := t.st.perms[n-1]
			a := t.st.ask(p)
			var opts []string
			for _, o := range p.req.Options {
				opts = append(opts, fmt.Sprintf("%s (%s)", o.Name, o.OptionId))
			}
			t.line("   ? permission: %s — %s", a.Question, strings.Join(opts, ", "))
		}
	case m.Method == acp.ClientMethodSessionUpdate:
		var n acp.SessionNotification
		if json.Unmarshal(m.Params, &n) != nil {
			return
		}
		u := n.Update
		switch {
		case u.AgentMessageChunk != nil:
			if c := u.AgentMessageChunk.Content.Text; c != nil {
				t.stream("agent", u.AgentMessageChunk.MessageId, c.Text)
			}
		case u.AgentThoughtChunk != nil:
			if c := u.AgentThoughtChunk.Content.Text; c != nil {
				t.stream("thought", u.AgentThoughtChunk.MessageId, c.Text)
			}
		case u.UserMessageChunk != nil:
			if c := u.UserMessageChunk.Content.Text; c != nil {
				t.line("> %s", c.Text)
			}
		case act != nil && act.tool != nil:
			tool := act.tool
			switch {
			case u.ToolCall != nil:
				t.line("   ⚙ %s [%s] %s%s", tool.Title, firstNonEmpty(tool.Kind, "other"), tool.Status, filesText(tool.Files))
			case tool.Status != prevStatus:
				t.line("   ⚙ %s: %s%s", tool.Title, tool.Status, filesText(tool.Files))
			}
		case act != nil && act.plan != nil:
			var b strings.Builder
			b.WriteString("   plan:")
			for _, s := range act.plan {
				mark := " "
				switch s.Status {
				case "completed":
					mark = "x"
				case "in_progress":
					mark = "~"
				}
				fmt.Fprintf(&b, "\n     [%s] %s", mark, s.Content)
			}
			t.line("%s", b.String())
		}
	}
}

// toolOf is the tool call an update message is about, as known so far.
func (t *Transcript) toolOf(m rpcMsg) *ToolCall {
	if m.Method != acp.ClientMethodSessionUpdate {
		return nil
	}
	var n struct {
		Update struct {
			ToolCallID string `json:"toolCallId"`
		} `json:"update"`
	}
	json.Unmarshal(m.Params, &n)
	if tool := t.st.tools[n.Update.ToolCallID]; tool != nil {
		c := *tool
		return &c
	}
	return nil
}

func filesText(files []string) string {
	if len(files) == 0 {
		return ""
	}
	return " · " + strings.Join(files, ", ")
}

func promptText(blocks []acp.ContentBlock) string {
	var parts []string
	for _, b := range blocks {
		if b.Text != nil {
			parts = append(parts, b.Text.Text)
		}
	}
	return strings.Join(parts, " ")
}
