package agents

import (
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/studiod/studiod/agents/host"
)

// acpAgent plays an ACP agent on a fake process: it answers the
// handshake, opens a session, and runs each prompt turn as the test's
// script says.
type acpAgent struct {
	t *testing.T
	p *host.FakeProc
	// turn runs a prompt turn: it may send updates and requests, then
	// returns the stop reason.
	turn func(a *acpAgent, prompt string) string

	mu      sync.Mutex
	waiting map[string]chan json.RawMessage // replies to the agent's requests, by id
}

type agentMsg struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
}

func (a *acpAgent) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		a.t.Errorf("marshal: %v", err)
		return
	}
	a.p.WriteRecord(host.FromAgent, b)
}

func (a *acpAgent) reply(id json.RawMessage, result any) {
	a.send(map[string]any{"jsonrpc": "2.0", "id": id, "result": result})
}

// update sends a session/update notification.
func (a *acpAgent) update(u map[string]any) {
	a.send(map[string]any{"jsonrpc": "2.0", "method": "session/update", "params": map[string]any{"sessionId": "s-1", "update": u}})
}

// ask sends a session/request_permission and waits for the client's
// reply.
func (a *acpAgent) ask(id string, params map[string]any) json.RawMessage {
	ch := make(chan json.RawMessage, 1)
	a.mu.Lock()
	a.waiting[`"`+id+`"`] = ch
	a.mu.Unlock()
	params["sessionId"] = "s-1"
	a.send(map[string]any{"jsonrpc": "2.0", "id": id, "method": "session/request_permission", "params": params})
	return <-ch
}

// input handles what studiod writes to the agent. Requests are answered
// on their own goroutine, as an agent would, never on the writer's.
func (a *acpAgent) input(data []byte) {
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var m agentMsg
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			a.t.Errorf("the agent got a malformed message %q: %v", line, err)
			continue
		}
		if m.Method == "" {
			a.mu.Lock()
			ch := a.waiting[string(m.ID)]
			a.mu.Unlock()
			if ch != nil {
				ch <- m.Result
			}
			continue
		}
		go a.handle(m)
	}
}

func (a *acpAgent) handle(m agentMsg) {
	switch m.Method {
	case "initialize":
		a.reply(m.ID, map[string]any{"protocolVersion": 1, "agentCapabilities": map[string]any{"loadSession": true}})
	case "session/new", "session/load":
		a.reply(m.ID, map[string]any{"sessionId": "s-1"})
	case "session/prompt":
		var p struct {
			Prompt []struct{ Text string } `json:"prompt"`
		}
		json.Unmarshal(m.Params, &p)
		var text []string
		for _, c := range p.Prompt {
			text = append(text, c.Text)
		}
		a.reply(m.ID, map[string]any{"stopReason": a.turn(a, strings.Join(text, ""))})
	case "session/cancel":
	default:
		if len(m.ID) > 0 {
			a.send(map[string]any{"jsonrpc": "2.0", "id": m.ID, "error": map[string]any{"code": -32601, "message": "no method " + m.Method}})
		}
	}
}

func (r *rig) acpConfig() {
	r.t.Helper()
	if err := os.WriteFile(r.opts.UserConfig, []byte("[agents.fake-acp]\ncommand = [\"sh\"]\nprotocol = \"acp\"\n"), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

func TestACPSession(t *testing.T) {
	r := newRig(t)
	r.acpConfig()
	r.restart()
	var agent *acpAgent
	r.rt.Started = func(p *host.FakeProc) {
		agent = &acpAgent{t: t, p: p, waiting: map[string]chan json.RawMessage{}}
		agent.turn = func(a *acpAgent, prompt string) string {
			a.update(map[string]any{"sessionUpdate": "agent_message_chunk", "content": map[string]any{"type": "text", "text": "on it: " + prompt}})
			if strings.Contains(prompt, "write") {
				a.update(map[string]any{"sessionUpdate": "tool_call", "toolCallId": "t1", "title": "Write b.txt", "kind": "edit", "status": "pending"})
				got := a.ask("p1", map[string]any{
					"toolCall": map[string]any{"toolCallId": "t1", "title": "Write b.txt", "kind": "edit", "status": "pending"},
					"options": []map[string]any{
						{"optionId": "yes", "name": "Allow", "kind": "allow_once"},
						{"optionId": "no", "name": "Reject", "kind": "reject_once"},
					},
				})
				if !strings.Contains(string(got), `"yes"`) {
					t.Errorf("permission reply: got %s, want option yes", got)
				}
				a.update(map[string]any{"sessionUpdate": "tool_call_update", "toolCallId": "t1", "status": "completed"})
			}
			return "end_turn"
		}
		p.OnInput(agent.input)
	}
	s, err := r.m.Spawn(t.Context(), SpawnRequest{Repo: r.repo, Name: "acp", Agent: "fake-acp", Prompt: "look around"}, nil)
	if err != nil {
		t.Fatalf("spawn: %v", err)
	}
	if s.Protocol != ProtocolACP || s.Conversation != "s-1" {
		t.Errorf("spawned: protocol %q, conversation %q; want acp, s-1", s.Protocol, s.Conversation)
	}
	if spec := r.rt.Proc(s.ID).Spec(); spec.Mode != host.Pipes {
		t.Errorf("started on %v, want pipes", spec.Mode)
	}
	r.awaitState(s.ID, Idle)

	if _, _, err := r.m.Send(t.Context(), Ref{Session: s.ID}, "x", false); err == nil {
		t.Errorf("Send without submit to an ACP session: no error")
	}
	if _, _, err := r.m.Send(t.Context(), Ref{Session: s.ID}, "write b.txt", true); err != nil {
		t.Fatalf("Send: %v", err)
	}
	w := r.awaitState(s.ID, Waiting)
	if w.Ask == nil || w.Ask.Kind != WaitPermission || len(w.Ask.Options) != 2 {
		t.Fatalf("ask: got %+v, want a permission with two options", w.Ask)
	}
	if _, _, err := r.m.Answer(t.Context(), Ref{Session: s.ID}, "maybe", "", "test"); err == nil {
		t.Errorf("Answer with no such option: no error")
	}
	if _, _, err := r.m.Answer(t.Context(), Ref{Session: s.ID}, AnswerAllow, "", "test"); err != nil {
		t.Fatalf("Answer: %v", err)
	}
	r.awaitState(s.ID, Idle)

	// The transcript reads the log the process kept.
	out, err := r.m.ReadOutput(Ref{Session: s.ID}, 0, 0)
	if err != nil || !strings.Contains(string(out.Data), "on it: write b.txt") {
		t.Errorf("log: got %q, %v; want the agent's reply", out.Data, err)
	}

	// A restart replays the log and follows on.
	r.restart()
	if s, _ := r.m.Lookup(Ref{Session: s.ID}); s.State != Idle {
		t.Errorf("after restart: got %s, want %s", s.State, Idle)
	}
	if _, _, err := r.m.Send(t.Context(), Ref{Session: s.ID}, "once more", true); err != nil {
		t.Fatalf("Send after restart: %v", err)
	}
	awaitProc(t, r.rt.Proc(s.ID), "the second prompt", func(p *host.FakeProc) bool { return p.HasTyped("once more") })
	r.awaitState(s.ID, Idle)

	if _, err := r.m.Stop(t.Context(), Ref{Session: s.ID}, false); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if s, _ := r.m.Lookup(Ref{Session: s.ID}); s.State != Stopped {
		t.Errorf("after Stop: got %s, want %s", s.State, Stopped)
	}
}
