package agents

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	acp "github.com/coder/acp-go-sdk"
	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/vocab"
)

// ProtocolACP marks a profile (and its sessions) whose agent is driven over
// the Agent Client Protocol on its stdio, held by a shim in pipes mode.
const ProtocolACP = vocab.ProtocolACP

// acpAuthRequired is ACP's error code for "authenticate first".
const acpAuthRequired = -32000

// rpcMsg is the envelope of one logged JSON-RPC message: enough to follow
// requests and their responses. The SDK does the wire; this reads the log.
type rpcMsg struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *rpcError       `json:"error,omitempty"`
}

type rpcError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *rpcError) String() string {
	msg := e.Message
	if len(e.Data) > 0 && string(e.Data) != "null" {
		var d struct {
			Message string `json:"message"`
			Details string `json:"details"`
			Error   string `json:"error"`
		}
		if json.Unmarshal(e.Data, &d) == nil && firstNonEmpty(d.Message, d.Details, d.Error) != "" {
			msg += ": " + firstNonEmpty(d.Message, d.Details, d.Error)
		}
	}
	return msg
}

func (m *rpcMsg) key() string { return string(bytes.TrimSpace(m.ID)) }
func (m *rpcMsg) isRequest() bool {
	return m.Method != "" && len(m.ID) > 0 && string(m.ID) != "null"
}
func (m *rpcMsg) isResponse() bool { return m.Method == "" && len(m.ID) > 0 }

// acpPerm is an open session/request_permission: the agent waits for it.
type acpPerm struct {
	key string          // its JSON-RPC id
	raw json.RawMessage // the whole message, to hand the SDK again after a restart
	req acp.RequestPermissionRequest
}

// ToolCall is what is known of one of an ACP agent's tool calls: Kind
// and Status are ACP's (edit, execute…; pending, in_progress, completed,
// failed), Files those it touches, relative to the worktree.
type ToolCall struct {
	ID, Title, Kind, Status string
	Files                   []string
}

// acpState is where an ACP session stands, rebuilt from the log's records
// alone: a daemon that restarts reads the log and knows the same. It holds
// no locks; its owner does.
type acpState struct {
	worktree string

	init      *acp.InitializeResponse
	initErr   string
	sessionID string
	modes     *acp.SessionModeState
	// requests are studiod's requests the agent has not answered, by id.
	requests map[string]rpcMsg
	// turn is the id of the open session/prompt, "" between turns.
	turn string
	// prompts counts session/prompt requests sent; confirmed those the
	// agent has reacted to (a message after it): a prompt taken.
	prompts, confirmed int
	perms              []acpPerm
	elicits            []acpElicit // open forms, oldest first
	authNeeded         bool
	authErr            string
	stop               string // the last turn's stop reason
	turnErr            string // the last turn's error
	fatal              string // a session could not be opened
	tools              map[string]*ToolCall
	plan               []acp.PlanEntry
	// usage sums the token counts of the turns' responses, over every
	// process of the session; cost is the process's cost in US dollars, as
	// its last usage_update said, and spent what the earlier processes'
	// came to.
	usage       *Usage
	cost, spent *float64
	// context and window are the tokens in the model's context and its
	// size, as the last usage_update said.
	context, window int64
	stderr          string // the agent's last line on stderr
	exited          bool
	starts          int // processes started in the session (as far as the log tells)
	// gate is what the edit gate said of open permissions, by tool call
	// id: shown with the question, or, refused, answered by studiod.
	gate map[string]gateMark
}

// gateMark is the edit gate's word on one permission request.
type gateMark struct {
	reason string
	refuse bool // studiod rejects it itself (gate mode deny)
}

// open returns the permission requests the person is to answer: those the
// gate refuses are answered by studiod.
func (st *acpState) open() []acpPerm {
	var out []acpPerm
	for _, p := range st.perms {
		if !st.gate[string(p.req.ToolCall.ToolCallId)].refuse {
			out = append(out, p)
		}
	}
	return out
}

func (st *acpState) mark(toolCall string, m gateMark) {
	if st.gate == nil {
		st.gate = map[string]gateMark{}
	}
	st.gate[toolCall] = m
}

func newACPState(worktree string) *acpState {
	return &acpState{worktree: worktree, requests: map[string]rpcMsg{}, tools: map[string]*ToolCall{}}
}

// activity is what a record changed that clients follow: a tool call or
// the plan.
type activity struct {
	tool *ToolCall
	plan []PlanStep
}

// PlanStep is one entry of an ACP agent's plan.
type PlanStep struct {
	Content, Status, Priority string
}

func planSteps(entries []acp.PlanEntry) []PlanStep {
	out := make([]PlanStep, len(entries))
	for i, e := range entries {
		out[i] = PlanStep{Content: e.Content, Status: string(e.Status), Priority: string(e.Priority)}
	}
	return out
}

// apply reads one record; it returns what changed for clients following
// the session's activity, if anything.
func (st *acpState) apply(rec host.Record) (act *activity) {
	switch rec.From {
	case host.FromShim:
		if strings.HasPrefix(rec.Text, "started") {
			// A new process: a new connection, nothing of the old one
			// is pending. The conversation id survives (session/load), and
			// so does what the session used.
			*st = acpState{worktree: st.worktree, sessionID: st.sessionID, requests: map[string]rpcMsg{}, tools: map[string]*ToolCall{}, plan: st.plan, starts: st.starts + 1,
				usage: st.usage, spent: addCost(st.spent, st.cost), context: st.context, window: st.window}
		} else {
			st.exited = true
		}
		return nil
	case host.FromStderr:
		if t := strings.TrimSpace(rec.Text); t != "" {
			st.stderr = t
		}
		return nil
	}
	if rec.Msg == nil {
		return nil // a malformed line: the SDK logs it, and so does the log
	}
	var m rpcMsg
	if err := json.Unmarshal(rec.Msg, &m); err != nil {
		return nil
	}
	if rec.From == host.FromClient {
		switch {
		case m.isRequest():
			st.requests[m.key()] = m
			if m.Method == acp.AgentMethodSessionPrompt {
				st.turn, st.stop, st.turnErr = m.key(), "", ""
				st.prompts++
			}
		case m.isResponse():
			for i, p := range st.perms {
				if p.key == m.key() {
					st.perms = append(st.perms[:i:i], st.perms[i+1:]...)
					break
				}
			}
			for i, e := range st.elicits {
				if e.key == m.key() {
					st.elicits = append(st.elicits[:i:i], st.elicits[i+1:]...)
					break
				}
			}
		}
		return nil
	}
	// From the agent. Any message after a prompt says the agent took it.
	if st.confirmed < st.prompts {
		st.confirmed = st.prompts
	}
	switch {
	case m.isResponse():
		req, ok := st.requests[m.key()]
		if !ok {
			return nil
		}
		delete(st.requests, m.key())
		st.response(req, m)
	case m.isRequest():
		if m.Method == acp.ClientMethodElicitationCreate {
			if e, ok := parseElicit(m.key(), rec.Msg, m.Params); ok {
				st.elicits = append(st.elicits, e)
			}
			return nil
		}
		if m.Method == acp.ClientMethodSessionRequestPermission {
			var p acp.RequestPermissionRequest
			if json.Unmarshal(m.Params, &p) == nil {
				st.perms = append(st.perms, acpPerm{key: m.key(), raw: rec.Msg, req: p})
				return &activity{tool: st.toolUpdate(p.ToolCall)}
			}
		}
	case m.Method == acp.ClientMethodSessionUpdate:
		var n acp.SessionNotification
		if json.Unmarshal(m.Params, &n) != nil {
			return nil // an update of a kind this SDK does not know: ignored
		}
		u := n.Update
		switch {
		case u.ToolCall != nil:
			t := &ToolCall{ID: string(u.ToolCall.ToolCallId), Title: u.ToolCall.Title, Kind: string(u.ToolCall.Kind), Status: string(u.ToolCall.Status)}
			if t.Status == "" {
				t.Status = string(acp.ToolCallStatusPending)
			}
			t.Files = st.files(u.ToolCall.Locations, u.ToolCall.Content)
			st.tools[t.ID] = t
			c := *t
			return &activity{tool: &c}
		case u.ToolCallUpdate != nil:
			tu := u.ToolCallUpdate
			return &activity{tool: st.toolUpdate(acp.ToolCallUpdate{ToolCallId: tu.ToolCallId, Title: tu.Title, Kind: tu.Kind,
				Status: tu.Status, Locations: tu.Locations, Content: tu.Content})}
		case u.Plan != nil:
			st.plan = u.Plan.Entries
			return &activity{plan: planSteps(st.plan)}
		case u.UsageUpdate != nil:
			if c := u.UsageUpdate.Cost; c != nil && c.Currency == "USD" {
				st.cost = &c.Amount
			}
			st.context, st.window = int64(u.UsageUpdate.Used), int64(u.UsageUpdate.Size)
		case u.CurrentModeUpdate != nil && st.modes != nil:
			st.modes.CurrentModeId = u.CurrentModeUpdate.CurrentModeId
		}
	}
	return nil
}

// response applies the agent's answer to one of studiod's requests.
func (st *acpState) response(req, m rpcMsg) {
	switch req.Method {
	case acp.AgentMethodInitialize:
		if m.Error != nil {
			st.initErr = m.Error.String()
			return
		}
		var r acp.InitializeResponse
		if err := json.Unmarshal(m.Result, &r); err != nil {
			st.initErr = "initialize: " + err.Error()
			return
		}
		st.init = &r
	case acp.AgentMethodSessionNew, acp.AgentMethodSessionLoad, acp.AgentMethodSessionResume:
		if m.Error != nil {
			if m.Error.Code == acpAuthRequired {
				st.authNeeded, st.authErr = true, m.Error.String()
			} else {
				st.fatal = req.Method + ": " + m.Error.String()
			}
			return
		}
		var r struct {
			SessionID string                `json:"sessionId"`
			Modes     *acp.SessionModeState `json:"modes"`
		}
		json.Unmarshal(m.Result, &r)
		if r.SessionID == "" {
			var p struct {
				SessionID string `json:"sessionId"`
			}
			json.Unmarshal(req.Params, &p)
			r.SessionID = p.SessionID
		}
		st.sessionID, st.modes, st.authNeeded, st.authErr, st.fatal = r.SessionID, r.Modes, false, "", ""
	case acp.AgentMethodAuthenticate:
		if m.Error != nil {
			st.authErr = m.Error.String()
		}
	case acp.AgentMethodSessionSetMode:
		var p acp.SetSessionModeRequest
		if m.Error == nil && json.Unmarshal(req.Params, &p) == nil && st.modes != nil {
			st.modes.CurrentModeId = p.ModeId
		}
	case acp.AgentMethodSessionPrompt:
		if st.turn == req.key() {
			st.turn = ""
		}
		if m.Error != nil {
			if m.Error.Code == acpAuthRequired {
				st.authNeeded, st.authErr = true, m.Error.String()
			}
			st.turnErr = m.Error.String()
			return
		}
		var r acp.PromptResponse
		json.Unmarshal(m.Result, &r)
		st.stop = string(r.StopReason)
		if u := r.Usage; u != nil {
			if st.usage == nil {
				st.usage = new(Usage)
			}
			st.usage.Input += int64(u.InputTokens)
			st.usage.Output += int64(u.OutputTokens)
			if u.CachedReadTokens != nil {
				st.usage.CacheRead += int64(*u.CachedReadTokens)
			}
			if u.CachedWriteTokens != nil {
				st.usage.CacheWrite += int64(*u.CachedWriteTokens)
			}
		}
		if st.stop == "" {
			st.stop = "end_turn"
		}
	}
}

// toolUpdate merges an update into what is known of its tool call.
func (st *acpState) toolUpdate(u acp.ToolCallUpdate) *ToolCall {
	id := string(u.ToolCallId)
	t := st.tools[id]
	if t == nil {
		t = &ToolCall{ID: id, Status: string(acp.ToolCallStatusPending)}
		st.tools[id] = t
	}
	if u.Title != nil && *u.Title != "" {
		t.Title = *u.Title
	}
	if u.Kind != nil {
		t.Kind = string(*u.Kind)
	}
	if u.Status != nil {
		t.Status = string(*u.Status)
	}
	if f := st.files(u.Locations, u.Content); len(f) > 0 {
		t.Files = f
	}
	c := *t
	return &c
}

// files lists the files a tool call touches, relative to the worktree
// when inside it.
func (st *acpState) files(locs []acp.ToolCallLocation, content []acp.ToolCallContent) []string {
	var out []string
	add := func(p string) {
		if p == "" {
			return
		}
		if st.worktree != "" && filepath.IsAbs(p) {
			if rel, err := filepath.Rel(st.worktree, p); err == nil && !strings.HasPrefix(rel, "..") {
				p = rel
			}
		}
		for _, o := range out {
			if o == p {
				return
			}
		}
		out = append(out, p)
	}
	for _, l := range locs {
		add(l.Path)
	}
	for _, c := range content {
		if c.Diff != nil {
			add(c.Diff.Path)
		}
	}
	return out
}

// caps are the capabilities the agent advertised in initialize.
func (st *acpState) caps() acp.AgentCapabilities {
	if st.init == nil {
		return acp.AgentCapabilities{}
	}
	return st.init.AgentCapabilities
}

// authMethods lists the agent's sign-in methods as answer options.
func (st *acpState) authMethods() []Option {
	if st.init == nil {
		return nil
	}
	var out []Option
	for _, a := range st.init.AuthMethods {
		switch {
		case a.Agent != nil:
			out = append(out, Option{ID: a.Agent.Id, Label: a.Agent.Name})
		case a.EnvVar != nil:
			out = append(out, Option{ID: a.EnvVar.Id, Label: a.EnvVar.Name})
		case a.Terminal != nil:
			out = append(out, Option{ID: a.Terminal.Id, Label: a.Terminal.Name})
		}
	}
	return out
}

// permissionKinds maps studiod's answers to ACP's option kinds.
var permissionKinds = map[string]acp.PermissionOptionKind{
	AnswerAllow:  acp.PermissionOptionKindAllowOnce,
	AnswerAlways: acp.PermissionOptionKindAllowAlways,
	AnswerReject: acp.PermissionOptionKindRejectOnce,
	AnswerNever:  acp.PermissionOptionKindRejectAlways,
}

func answerOfKind(k acp.PermissionOptionKind) string {
	for a, kind := range permissionKinds {
		if kind == k {
			return a
		}
	}
	return ""
}

// ask is what the open permission p asks the person.
func (st *acpState) ask(p acpPerm) *Ask {
	t := st.tools[string(p.req.ToolCall.ToolCallId)]
	a := &Ask{Kind: WaitPermission, Source: "acp"}
	if t != nil {
		a.Tool = t.Kind
		a.Question = t.Title
		if len(t.Files) > 0 {
			a.Subject = strings.Join(t.Files, ", ")
		}
	}
	if a.Question == "" {
		a.Question = "Allow " + firstNonEmpty(a.Tool, "a tool call") + "?"
	}
	a.Question = clip(oneLine(a.Question), 200)
	if g, ok := st.gate[string(p.req.ToolCall.ToolCallId)]; ok {
		a.Question += " — " + clip(oneLine(g.reason), 600)
	}
	if a.Subject == "" && t != nil {
		a.Subject = clip(oneLine(t.Title), 80)
	}
	for _, o := range p.req.Options {
		a.Options = append(a.Options, Option{ID: string(o.OptionId), Kind: answerOfKind(o.Kind), Label: o.Name})
	}
	return a
}

// used is what the log says the session's model used; nil when it says
// nothing.
func (st *acpState) used() *Usage {
	cost := addCost(st.spent, st.cost)
	if st.usage == nil && cost == nil && st.context == 0 {
		return nil
	}
	var u Usage
	if st.usage != nil {
		u = *st.usage
	}
	u.Cost = cost
	u.Context, u.ContextWindow = st.context, st.window
	return &u
}

// addCost adds two costs, either unknown (nil).
func addCost(a, b *float64) *float64 {
	switch {
	case a == nil && b == nil:
		return nil
	case a == nil:
		a, b = b, a
	}
	c := *a
	if b != nil {
		c += *b
	}
	return &c
}

// status is the session state the protocol says: ok is false before a
// session is open (the state stays as it is).
func (st *acpState) status(agent string) (state vocab.State, detail string, ask *Ask, ok bool) {
	open := st.open()
	switch {
	case len(open) > 0:
		a := st.ask(open[0])
		return Waiting, a.Question, a, true
	case len(st.elicits) > 0:
		a := st.elicits[0].ask()
		return Waiting, a.Question, a, true
	case st.authNeeded:
		a := &Ask{Kind: WaitLogin, Source: "acp", Options: st.authMethods(),
			Question: fmt.Sprintf("%s needs signing in (%s): set its key in the session's environment ([agents.%s] env) and spawn again, or answer with one of its sign-in methods",
				agent, clip(oneLine(st.authErr), 120), agent)}
		return Waiting, a.Question, a, true
	case st.turn != "":
		return Working, "", nil, true
	case st.sessionID != "" && st.turnErr != "":
		return Idle, "the turn failed: " + clip(oneLine(st.turnErr), 300), nil, true
	case st.sessionID != "":
		return Idle, st.stop, nil, true
	}
	return "", "", nil, false
}
