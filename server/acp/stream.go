package acp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	sdk "github.com/coder/acp-go-sdk"

	"github.com/studiod/studiod/protocol"
)

// record is one line of an ACP session's log (the shim's record).
type record struct {
	From string          `json:"from"` // agent, studiod, stderr, shim
	Msg  json.RawMessage `json:"msg,omitempty"`
	Text string          `json:"text,omitempty"`
}

// rpcMsg is the envelope of a logged JSON-RPC message.
type rpcMsg struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

func (m *rpcMsg) key() string { return string(bytes.TrimSpace(m.ID)) }

// perm is an open permission request of the agent, and the client's copy.
type perm struct {
	key    string
	req    sdk.RequestPermissionRequest
	cancel context.CancelFunc // withdraws the client's copy
	mine   bool               // this client answered it
}

// follow starts reading the thread's log: from its start with replay
// (session/load: the conversation so far goes to the client first), from
// its end otherwise; then the conflicts it is in are told.
func (s *Server) follow(ctx context.Context, th *thread, replay bool) error {
	return s.run(ctx, func() {
		if replay && th.acp {
			s.replay(ctx, th)
		} else if replay {
			s.replayTerminal(ctx, th)
		} else if th.acp {
			// A new session's log holds only the handshake.
			th.offset = 0
		} else if res, err := s.daemon().Output(ctx, protocol.OutputParams{SessionRef: protocol.SessionRef{Session: th.id}, Offset: -1, Limit: 1}); err == nil {
			th.offset = res.Offset
		}
		if err := s.startStream(ctx, th); err != nil {
			s.cfg.Log.Warn("follow", "session", th.name, "err", err)
		}
		if sess, err := s.daemon().Session(ctx, protocol.SessionRef{Session: th.id}); err == nil {
			s.sessionChanged(*sess)
		}
		s.noteConflicts(th)
		// Asking for the repository's preview once keeps it live: the
		// daemon recomputes it as sessions change, and says so.
		go func() {
			if pv, err := s.daemon().Preview(s.ctx, protocol.PreviewParams{Repo: th.repo}); err == nil {
				s.enqueue(func() { s.previewChanged(*pv) })
			}
		}()
	})
}

// replay reads the whole log and sends the conversation in it; requests
// still open at its end go to the client.
func (s *Server) replay(ctx context.Context, th *thread) {
	th.replaying = true
	for {
		res, err := s.daemon().Output(ctx, protocol.OutputParams{SessionRef: protocol.SessionRef{Session: th.id}, Offset: th.offset})
		if err != nil {
			s.cfg.Log.Warn("read the log", "session", th.name, "err", err)
			break
		}
		s.feed(th, res.Offset, res.Data)
		if len(res.Data) == 0 || res.Next >= res.Size {
			break
		}
	}
	th.replaying = false
	for _, p := range th.perms {
		s.ask(th, p)
	}
}

// replayTerminal tells what there is to tell of a terminal agent's
// session: its prompt, and where its words are.
func (s *Server) replayTerminal(ctx context.Context, th *thread) {
	sess, err := s.daemon().Session(ctx, protocol.SessionRef{Session: th.id})
	if err != nil {
		return
	}
	if sess.Prompt != "" {
		s.update(th, sdk.UpdateUserMessageText(sess.Prompt))
	}
	s.update(th, sdk.UpdateAgentMessageText(fmt.Sprintf("(%s is a terminal agent, %s: its words are in its terminal, `studiod attach %s`)", sess.Agent, sess.State, sess.Name)))
	if res, err := s.daemon().Output(ctx, protocol.OutputParams{SessionRef: protocol.SessionRef{Session: th.id}, Offset: -1, Limit: 1}); err == nil {
		th.offset = res.Offset
	}
}

// startStream asks the daemon to stream the thread's log from where it
// was read to. Only ACP agents' logs are read: a terminal agent's is
// screen bytes.
func (s *Server) startStream(ctx context.Context, th *thread) error {
	if !th.acp {
		return nil
	}
	s.mu.Lock()
	s.outputs[th.id] = th.offset
	th.streaming = true
	s.mu.Unlock()
	return s.resubscribe(ctx)
}

// output takes a piece of a log streamed by the daemon.
func (s *Server) output(n protocol.OutputNotification) {
	s.mu.Lock()
	th := s.byID[n.Session]
	s.mu.Unlock()
	if th == nil {
		return
	}
	s.feed(th, n.Offset, n.Data)
	if n.Done {
		// The agent exited: the daemon's stream ended with it.
		// Its turns end with it.
		s.mu.Lock()
		delete(s.outputs, th.id)
		th.streaming = false
		var sent []*turn
		for _, t := range th.turns {
			if t.key != "" {
				sent = append(sent, t)
			}
		}
		s.mu.Unlock()
		for _, t := range sent {
			t.end(sdk.PromptResponse{}, &sdk.RequestError{Code: -32603, Message: "the agent of session " + th.name + " exited mid-turn"})
		}
	}
}

// feed applies log bytes starting at offset: whole lines, each once.
func (s *Server) feed(th *thread, offset int64, data []byte) {
	switch {
	case offset+int64(len(data)) <= th.offset:
		return // read already
	case offset < th.offset:
		data = data[th.offset-offset:]
	case offset > th.offset:
		th.buf = nil // older output was rotated out of the log
	}
	th.offset = offset + int64(len(data))
	th.buf = append(th.buf, data...)
	for {
		i := bytes.IndexByte(th.buf, '\n')
		if i < 0 {
			break
		}
		s.record(th, th.buf[:i])
		th.buf = th.buf[i+1:]
	}
	th.buf = append([]byte(nil), th.buf...)
}

// record applies one log record: the agent's updates go to the client as
// they are, the prompts of other faces as user messages; the agent's
// permission requests are asked; responses end turns and settle requests.
func (s *Server) record(th *thread, line []byte) {
	var rec record
	if json.Unmarshal(line, &rec) != nil || rec.Msg == nil {
		return
	}
	var m rpcMsg
	if json.Unmarshal(rec.Msg, &m) != nil {
		return
	}
	switch rec.From {
	case "agent":
		switch {
		case m.Method == sdk.ClientMethodSessionUpdate:
			s.forwardUpdate(th, m.Params)
		case m.Method == sdk.ClientMethodSessionRequestPermission && len(m.ID) > 0:
			var req sdk.RequestPermissionRequest
			if json.Unmarshal(m.Params, &req) != nil {
				return
			}
			p := &perm{key: m.key(), req: req}
			th.perms[p.key] = p
			if !th.replaying {
				s.ask(th, p)
			}
		case m.Method == "" && len(m.ID) > 0:
			s.response(th, m)
		}
	case "studiod":
		switch {
		case m.Method == sdk.AgentMethodSessionPrompt:
			th.requests[m.key()] = m.Method
			s.mu.Lock()
			th.prompts++
			s.mu.Unlock()
			var req sdk.PromptRequest
			json.Unmarshal(m.Params, &req)
			text := promptText(req.Prompt)
			if t := s.claim(th, text, m.key()); t == nil {
				// Another face's prompt (or, replayed, any): the client
				// shows it as the person's message.
				s.update(th, sdk.UpdateUserMessageText(text))
			}
		case m.Method != "" && len(m.ID) > 0:
			th.requests[m.key()] = m.Method
		case m.Method == "" && len(m.ID) > 0:
			s.settled(th, m)
		}
	}
}

// claim gives a prompt's id to the first of this client's turns with its
// text that has none yet.
func (s *Server) claim(th *thread, text, key string) *turn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if th.replaying {
		return nil
	}
	for _, t := range th.turns {
		if t.key == "" && t.text == text {
			t.key = key
			return t
		}
	}
	return nil
}

// response is the agent's answer to one of studiod's requests: a prompt's
// ends its turn.
func (s *Server) response(th *thread, m rpcMsg) {
	method := th.requests[m.key()]
	delete(th.requests, m.key())
	if method != sdk.AgentMethodSessionPrompt {
		return
	}
	s.mu.Lock()
	var t *turn
	for _, x := range th.turns {
		if x.key == m.key() {
			t = x
		}
	}
	s.mu.Unlock()
	if t == nil {
		return
	}
	if m.Error != nil {
		t.end(sdk.PromptResponse{}, &sdk.RequestError{Code: m.Error.Code, Message: "the agent: " + m.Error.Message})
		return
	}
	var r sdk.PromptResponse
	json.Unmarshal(m.Result, &r)
	if r.StopReason == "" {
		r.StopReason = sdk.StopReasonEndTurn
	}
	t.end(r, nil)
}

// settled: studiod answered one of the agent's requests, a permission
// from this client or from any other face. The client's copy is
// withdrawn, and, answered elsewhere, the client is told how.
func (s *Server) settled(th *thread, m rpcMsg) {
	p := th.perms[m.key()]
	if p == nil {
		return
	}
	delete(th.perms, m.key())
	s.mu.Lock()
	cancel, mine := p.cancel, p.mine
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if mine || th.replaying {
		return
	}
	var r sdk.RequestPermissionResponse
	json.Unmarshal(m.Result, &r)
	answer := "cancelled"
	if o := r.Outcome.Selected; o != nil {
		answer = string(o.OptionId)
		for _, opt := range p.req.Options {
			if opt.OptionId == o.OptionId {
				answer = opt.Name
			}
		}
	}
	title := "Permission"
	if p.req.ToolCall.Title != nil {
		title = *p.req.ToolCall.Title
	}
	s.note(th, "answered-"+p.key, fmt.Sprintf("studiod: %q was answered elsewhere: %s", title, answer), nil)
}

// forwardUpdate sends one of the agent's session/update notifications to
// the client under the client's session id. Updates of a kind this
// studiod does not know, and the agent's own modes and config options
// (studiod offers its own), are not sent.
func (s *Server) forwardUpdate(th *thread, params json.RawMessage) {
	var n sdk.SessionNotification
	if json.Unmarshal(params, &n) != nil {
		return
	}
	u := n.Update
	if u.CurrentModeUpdate != nil || u.ConfigOptionUpdate != nil {
		return
	}
	s.update(th, u)
}

func (s *Server) update(th *thread, u sdk.SessionUpdate) {
	if err := s.conn.SessionUpdate(s.ctx, sdk.SessionNotification{SessionId: th.sid, Update: u}); err != nil {
		s.cfg.Log.Debug("session/update", "err", err)
	}
}

// ask puts an agent's permission request to the client, with the agent's
// options, and gives the daemon the client's answer. The daemon takes
// the first answer of any face; one that comes later is refused, which
// is no error here.
func (s *Server) ask(th *thread, p *perm) {
	ctx, cancel := context.WithCancel(s.ctx)
	s.mu.Lock()
	p.cancel = cancel
	s.mu.Unlock()
	req := p.req
	req.SessionId = th.sid
	go func() {
		defer cancel()
		// The log reaches this face before the daemon has acted on it:
		// wait for the session to wait, so that the gate has looked at
		// the request (what it found is in the waiting question) and the
		// daemon takes an answer.
		if w := s.waiting(ctx, th); w != nil {
			if _, reason, ok := strings.Cut(w.Question, " — "); ok && req.ToolCall.Title != nil {
				req.ToolCall.Title = ptr(*req.ToolCall.Title + " — studiod: " + reason)
			}
		}
		resp, err := s.conn.RequestPermission(ctx, req)
		if err != nil || resp.Outcome.Selected == nil {
			return // withdrawn, the client went away, or cancelled with the turn
		}
		s.mu.Lock()
		p.mine = true
		s.mu.Unlock()
		if err := s.answer(ctx, th, string(resp.Outcome.Selected.OptionId)); err != nil {
			s.mu.Lock()
			p.mine = false
			s.mu.Unlock()
			s.cfg.Log.Info("answer", "session", th.name, "err", err)
		}
	}()
}

// waiting waits (up to answerWait) for the daemon to have the session
// waiting, and returns what it waits for; nil if it does not, or ctx ends.
func (s *Server) waiting(ctx context.Context, th *thread) *protocol.Waiting {
	deadline := time.After(answerWait)
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		sess, err := s.daemon().Session(ctx, protocol.SessionRef{Session: s.idOf(th)})
		if err != nil {
			return nil
		}
		if sess.State == protocol.StateWaiting && sess.Waiting != nil {
			return sess.Waiting
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		case <-deadline:
			return nil
		}
	}
}

// answerWait bounds how long an answer waits for the daemon to show the
// session waiting.
const answerWait = 10 * time.Second

// answer gives the daemon the client's answer to the permission open in
// ctx. The client can answer before the daemon has the session waiting
// (the log comes first): a refusal then is tried again at each change of
// the session, until the permission is settled (ctx ends) or answerWait.
func (s *Server) answer(ctx context.Context, th *thread, option string) error {
	deadline := time.After(answerWait)
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		_, err := s.daemon().Answer(context.WithoutCancel(ctx), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: s.idOf(th)}, Answer: protocol.Answer(option)})
		if err == nil || protocol.CodeOf(err) != protocol.CodeInvalid {
			return err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil // settled meanwhile, by another face
		case <-deadline:
			return err
		}
	}
}

func promptText(blocks []sdk.ContentBlock) string {
	var parts []string
	for _, b := range blocks {
		if b.Text != nil {
			parts = append(parts, b.Text.Text)
		}
	}
	return strings.Join(parts, "\n")
}
