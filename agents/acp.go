package agents

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	acp "github.com/coder/acp-go-sdk"

	"github.com/studiod/studiod/agents/shim"
)

// acpDriver speaks ACP to one session's agent through its shim: the shim's
// attach stream (the log: every message both ways) feeds the state and,
// for the agent's messages, the SDK's client connection; the SDK's writes
// go to the shim's input op, which logs them, then writes them to the
// agent's stdin. The state is derived from the log alone (acpState), so
// a restarted daemon rebuilds it by reading the log, and an open
// permission is handed to a new SDK connection to be answered.
type acpDriver struct {
	m                                 *Manager
	id, name, agent, socket, worktree string
	profile                           Profile
	log                               *slog.Logger

	conn *acp.ClientSideConnection
	feed *io.PipeWriter // the agent's messages, to the SDK
	out  *shimWriter

	// pubMu serializes publish, so that the last state computed is the
	// last stored. Lock order: pubMu, mu.
	pubMu sync.Mutex

	// mu guards the fields below; changed is closed (and replaced) at
	// every change of them.
	mu       sync.Mutex
	inflight int // prompts taken from the queue and not answered yet
	st       *acpState
	waiters  map[string]chan acp.RequestPermissionOutcome // by tool call id
	queue    []string                                     // prompts waiting for their turn
	opening  bool                                         // a session is being opened
	changed  chan struct{}
}

func newACPDriver(m *Manager, s Session, p Profile) *acpDriver {
	return &acpDriver{
		m: m, id: s.ID, name: s.Name, agent: s.Agent, socket: s.Socket, worktree: s.Worktree, profile: p,
		log: m.log.With("session", s.Name, "acp", true),
		st:  newACPState(s.Worktree), waiters: map[string]chan acp.RequestPermissionOutcome{},
		changed: make(chan struct{}),
	}
}

// signal wakes everyone waiting on a change. d.mu must be held.
func (d *acpDriver) signal() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// wait returns true once cond holds (checked under d.mu), false when ctx
// ends first.
func (d *acpDriver) wait(ctx context.Context, cond func() bool) bool {
	for {
		d.mu.Lock()
		if cond() {
			d.mu.Unlock()
			return true
		}
		ch := d.changed
		d.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// connect makes the SDK connection. The caller then feeds it records.
func (d *acpDriver) connect(ctx context.Context) {
	pr, pw := io.Pipe()
	d.feed = pw
	d.out = &shimWriter{ctx: ctx, socket: d.socket}
	d.conn = acp.NewClientSideConnection(d, d.out, pr)
	d.conn.SetLogger(d.log)
}

// close ends the SDK connection without a word to the agent: nothing is
// written once closed, so a daemon going away never answers for the person.
func (d *acpDriver) close() {
	if d.out != nil {
		d.out.close()
	}
	if d.feed != nil {
		d.feed.Close()
	}
	d.mu.Lock()
	d.st.exited = true
	d.signal()
	d.mu.Unlock()
}

// record applies one log line; live ones also go on to the SDK and to the
// session's record.
func (d *acpDriver) record(line []byte, live bool) {
	var rec shim.Record
	if err := json.Unmarshal(line, &rec); err != nil {
		d.log.Warn("unreadable log record", "err", err)
		return
	}
	d.mu.Lock()
	n := len(d.st.perms)
	act := d.st.apply(rec)
	var asked []acpPerm
	if len(d.st.perms) > n {
		asked = append(asked, d.st.perms[n:]...)
	}
	d.signal()
	d.mu.Unlock()
	if !live {
		return
	}
	for _, p := range asked {
		d.gatePerm(d.m.ctx, p)
	}
	d.publish()
	if act != nil {
		d.m.announceActivity(Activity{Session: d.id, Tool: act.tool, Plan: act.plan})
	}
	if rec.From == shim.FromAgent && rec.Msg != nil {
		if _, err := d.feed.Write(append(append([]byte(nil), rec.Msg...), '\n')); err != nil {
			d.log.Debug("feed the SDK", "err", err)
		}
	}
}

// publish moves the session's record to the state the protocol says.
func (d *acpDriver) publish() {
	d.pubMu.Lock()
	defer d.pubMu.Unlock()
	d.mu.Lock()
	state, detail, ask, ok := d.st.status(d.agent)
	if ok && state == Idle && len(d.queue)+d.inflight > 0 && !d.st.exited {
		state, detail = Working, "" // the next prompt goes at once
	}
	conv := d.st.sessionID
	d.mu.Unlock()
	d.m.update(d.id, func(s *Session) bool {
		changed := false
		if conv != "" && s.Conversation != conv {
			s.Conversation, changed = conv, true
		}
		if !ok || !live(s.State) {
			return changed
		}
		if s.State == state && s.Detail == detail && sameOptions(s.Ask, ask) {
			return changed
		}
		s.State, s.Detail, s.Ask = state, detail, ask
		return true
	})
}

func sameOptions(a, b *Ask) bool {
	if !sameAsk(a, b) {
		return false
	}
	if a == nil {
		return true
	}
	if len(a.Options) != len(b.Options) {
		return false
	}
	for i := range a.Options {
		if a.Options[i] != b.Options[i] {
			return false
		}
	}
	return true
}

// replay reads the log from 0 to end into the state, without side effects.
//
// When older records were rotated out of the log, the running process's
// handshake (its capabilities, the session it opened) is read first from
// the log's head file.
func (d *acpDriver) replay(path string, end int64) error {
	r, err := shim.OpenLog(path)
	if err != nil {
		return err
	}
	defer r.Close()
	if r.Start() > 0 {
		if head, err := os.ReadFile(shim.HeadFile(path)); err == nil {
			d.replayFrom(bytes.NewReader(head))
		}
	}
	end = min(end, r.End())
	return d.replayFrom(io.NewSectionReader(r, r.Start(), max(end-r.Start(), 0)))
}

// replayFrom applies the whole records read from rd.
func (d *acpDriver) replayFrom(rd io.Reader) error {
	br := bufio.NewReaderSize(rd, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			d.record(line, false)
		}
		if err != nil {
			return nil
		}
	}
}

// resumeOpen hands the SDK the permission requests still open after a
// replay: its handler then waits for the person's answer again, and
// answers them with their original ids.
func (d *acpDriver) resumeOpen() {
	d.mu.Lock()
	perms := append([]acpPerm(nil), d.st.perms...)
	d.mu.Unlock()
	var raws [][]byte
	for _, p := range perms {
		d.gatePerm(d.m.ctx, p)
		raws = append(raws, append(append([]byte(nil), p.raw...), '\n'))
	}
	if len(perms) > 0 {
		d.publish()
	}
	for _, r := range raws {
		d.feed.Write(r)
	}
}

// runTurns sends queued prompts, one turn at a time: when a session is
// open, no turn runs and nothing waits for the person.
func (d *acpDriver) runTurns(ctx context.Context) {
	for {
		ready := d.wait(ctx, func() bool {
			st := d.st
			return st.exited || len(d.queue) > 0 && !d.opening && st.sessionID != "" && st.turn == "" &&
				len(st.perms) == 0 && !st.authNeeded
		})
		d.mu.Lock()
		if !ready || d.st.exited {
			d.mu.Unlock()
			return
		}
		text := d.queue[0]
		d.queue = d.queue[1:]
		d.inflight++
		sid := d.st.sessionID
		d.mu.Unlock()
		// The outcome (stop reason, error) is read from the log; an error
		// here is a connection that ended.
		if _, err := d.conn.Prompt(ctx, acp.PromptRequest{SessionId: acp.SessionId(sid), Prompt: []acp.ContentBlock{acp.TextBlock(text)}}); err != nil {
			d.log.Debug("prompt", "err", err)
		}
		d.mu.Lock()
		d.inflight--
		d.mu.Unlock()
		d.publish()
	}
}

// promptWait is how long a prompt may go unconfirmed before Send says so.
var promptWait = 10 * time.Second

// acpOpenTimeout bounds the handshake of a new or resumed ACP session.
var acpOpenTimeout = 2 * time.Minute

// enqueue queues text as a new turn. It returns how many prompts had been
// sent before, and whether it has to wait for a running turn.
func (d *acpDriver) enqueue(text string) (before int, busy bool) {
	d.mu.Lock()
	busy = d.st.turn != "" || len(d.queue) > 0 || len(d.st.perms) > 0
	before = d.st.prompts + len(d.queue)
	d.queue = append(d.queue, text)
	d.signal()
	d.mu.Unlock()
	return before, busy
}

// prompt queues text as a new turn. When no turn runs it waits until the
// agent has taken it (its first message after the prompt).
func (d *acpDriver) prompt(ctx context.Context, text string) Delivery {
	before, busy := d.enqueue(text)
	d.publish()
	dl := Delivery{Via: "acp", Queued: busy}
	if busy {
		dl.Note = fmt.Sprintf("queued: a turn is running; it becomes the next prompt when this one ends (follow with `studiod logs %s -f`)", d.name)
		return dl
	}
	return d.confirm(ctx, before, dl)
}

// confirm waits until the prompt after the first before has been taken.
func (d *acpDriver) confirm(ctx context.Context, before int, dl Delivery) Delivery {
	wctx, cancel := context.WithTimeout(ctx, promptWait)
	defer cancel()
	if d.wait(wctx, func() bool { return d.st.confirmed > before || d.st.exited }) && !d.stExited() {
		dl.Confirmed = true
		return dl
	}
	dl.Note = fmt.Sprintf("sent as a prompt, but the agent has not reacted yet: see `studiod logs %s -f`", d.name)
	return dl
}

// open initializes the connection and opens the session: a new one, or,
// with resume, the recorded conversation through session/load (or
// session/resume), as the agent advertised.
func (d *acpDriver) open(ctx context.Context, resume string, progress Progress) error {
	d.mu.Lock()
	d.opening = true
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.opening = false
		d.signal()
		d.mu.Unlock()
		d.publish()
	}()
	progress("initializing (ACP)")
	// The file system of the session's worktree (acpfs.go); no terminal
	// capability: the agent runs its commands itself.
	init, err := d.conn.Initialize(ctx, acp.InitializeRequest{
		ProtocolVersion:    acp.ProtocolVersionNumber,
		ClientCapabilities: acp.ClientCapabilities{Fs: acpFileCaps},
		ClientInfo:         &acp.Implementation{Name: "studiod", Version: "1"},
	})
	if err != nil {
		return fmt.Errorf("initialize: %s", rpcErrText(err))
	}
	return d.openSession(ctx, init.AgentCapabilities, resume, progress)
}

func (d *acpDriver) openSession(ctx context.Context, caps acp.AgentCapabilities, resume string, progress Progress) error {
	var modes *acp.SessionModeState
	var err error
	switch {
	case resume != "" && caps.LoadSession:
		progress("loading conversation " + resume)
		var r acp.LoadSessionResponse
		r, err = d.conn.LoadSession(ctx, acp.LoadSessionRequest{SessionId: acp.SessionId(resume), Cwd: d.worktree, McpServers: []acp.McpServer{}})
		modes = r.Modes
	case resume != "" && caps.SessionCapabilities.Resume != nil:
		progress("resuming conversation " + resume)
		var r acp.ResumeSessionResponse
		r, err = d.conn.ResumeSession(ctx, acp.ResumeSessionRequest{SessionId: acp.SessionId(resume), Cwd: d.worktree, McpServers: []acp.McpServer{}})
		modes = r.Modes
	case resume != "":
		return fmt.Errorf("agent %q advertises neither session/load nor session/resume: its conversation cannot be continued; spawn a new session", d.agent)
	default:
		progress("opening an ACP session in " + d.worktree)
		var r acp.NewSessionResponse
		r, err = d.conn.NewSession(ctx, acp.NewSessionRequest{Cwd: d.worktree, McpServers: []acp.McpServer{}})
		modes = r.Modes
	}
	if err != nil {
		var re *acp.RequestError
		if errors.As(err, &re) && re.Code == acpAuthRequired {
			return nil // waiting for a sign-in; the state says so
		}
		return fmt.Errorf("open a session: %s", rpcErrText(err))
	}
	return d.setMode(ctx, modes)
}

// setMode switches the session to the profile's mode, when the agent
// offers it.
func (d *acpDriver) setMode(ctx context.Context, modes *acp.SessionModeState) error {
	want := d.profile.Mode
	if want == "" || modes == nil || string(modes.CurrentModeId) == want {
		return nil
	}
	offered := false
	for _, m := range modes.AvailableModes {
		offered = offered || string(m.Id) == want
	}
	d.mu.Lock()
	sid := d.st.sessionID
	d.mu.Unlock()
	if !offered {
		d.log.Warn("the agent does not offer the profile's mode", "mode", want)
		return nil
	}
	if _, err := d.conn.SetSessionMode(ctx, acp.SetSessionModeRequest{SessionId: acp.SessionId(sid), ModeId: acp.SessionModeId(want)}); err != nil {
		return fmt.Errorf("set mode %q: %s", want, rpcErrText(err))
	}
	return nil
}

// rpcErrText is an SDK error as a person reads it.
func rpcErrText(err error) string {
	var re *acp.RequestError
	if errors.As(err, &re) {
		e := rpcError{Code: re.Code, Message: re.Message}
		if re.Data != nil {
			e.Data, _ = json.Marshal(re.Data)
		}
		return e.String()
	}
	return err.Error()
}

// waiter is where the answer to a tool call's permission goes.
func (d *acpDriver) waiter(toolCall string) chan acp.RequestPermissionOutcome {
	d.mu.Lock()
	defer d.mu.Unlock()
	ch, ok := d.waiters[toolCall]
	if !ok {
		ch = make(chan acp.RequestPermissionOutcome, 1)
		d.waiters[toolCall] = ch
	}
	return ch
}

// answerWait bounds how long an answer waits to be on its way to the agent.
var answerWait = 10 * time.Second

// answer answers the open permission (or sign-in) with an option picked
// by answer: an answer kind or an option's id. It returns what was chosen.
func (d *acpDriver) answer(ctx context.Context, answer string) (string, Delivery, error) {
	d.mu.Lock()
	open := d.st.open()
	auth := d.st.authNeeded && len(open) == 0
	var p acpPerm
	if len(open) > 0 {
		p = open[0]
	}
	methods := d.st.authMethods()
	d.mu.Unlock()
	dl := Delivery{Via: "acp"}
	if auth {
		return d.authenticate(ctx, answer, methods)
	}
	if p.key == "" {
		return "", dl, invalidf("session %s has no open permission request", d.name)
	}
	var opt *acp.PermissionOption
	for i, o := range p.req.Options {
		if string(o.OptionId) == answer {
			opt = &p.req.Options[i]
			break
		}
	}
	if k, ok := permissionKinds[answer]; ok && opt == nil {
		for i, o := range p.req.Options {
			if o.Kind == k {
				opt = &p.req.Options[i]
				break
			}
		}
	}
	if opt == nil {
		var offered []string
		for _, o := range p.req.Options {
			offered = append(offered, fmt.Sprintf("%s (%s: %s)", o.OptionId, firstNonEmpty(answerOfKind(o.Kind), string(o.Kind)), o.Name))
		}
		return "", dl, invalidf("answer %q is not offered: the agent offers %s", answer, strings.Join(offered, ", "))
	}
	select {
	case d.waiter(string(p.req.ToolCall.ToolCallId)) <- acp.NewRequestPermissionOutcomeSelected(opt.OptionId):
	default:
		return "", dl, invalidf("session %s: this permission was answered already", d.name)
	}
	// Confirmed once the response is in the log: the shim wrote it to the
	// agent's stdin.
	wctx, cancel := context.WithTimeout(ctx, answerWait)
	defer cancel()
	key := p.key
	if d.wait(wctx, func() bool { return !d.st.hasPerm(key) || d.st.exited }) {
		dl.Confirmed = !d.stExited()
	}
	if !dl.Confirmed {
		dl.Note = fmt.Sprintf("the answer did not reach the agent (it may have exited): see `studiod logs %s`", d.name)
	}
	return string(opt.OptionId), dl, nil
}

func (d *acpDriver) stExited() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.exited
}

func (st *acpState) hasPerm(key string) bool {
	for _, p := range st.perms {
		if p.key == key {
			return true
		}
	}
	return false
}

// authenticate signs in with one of the methods the agent advertised,
// then opens the session the sign-in held up.
func (d *acpDriver) authenticate(ctx context.Context, answer string, methods []Option) (string, Delivery, error) {
	dl := Delivery{Via: "acp"}
	method := ""
	for _, o := range methods {
		if o.ID == answer {
			method = o.ID
		}
	}
	if method == "" && answer == AnswerAllow && len(methods) == 1 {
		method = methods[0].ID
	}
	if method == "" {
		var ids []string
		for _, o := range methods {
			ids = append(ids, o.ID)
		}
		return "", dl, invalidf("answer with one of the agent's sign-in methods: %s", strings.Join(ids, ", "))
	}
	if _, err := d.conn.Authenticate(ctx, acp.AuthenticateRequest{MethodId: method}); err != nil {
		return "", dl, fmt.Errorf("sign in with %s: %s", method, rpcErrText(err))
	}
	d.mu.Lock()
	caps := d.st.caps()
	d.mu.Unlock()
	if err := d.openSession(ctx, caps, "", func(string) {}); err != nil {
		return "", dl, err
	}
	dl.Confirmed = true
	return method, dl, nil
}

// cancel ends the running turn: session/cancel, and every open permission
// answered as cancelled, as the protocol asks; it waits a little for the
// turn to end.
func (d *acpDriver) cancel(ctx context.Context) {
	d.mu.Lock()
	turn, sid := d.st.turn != "", d.st.sessionID
	perms := append([]acpPerm(nil), d.st.perms...)
	d.queue = nil
	d.mu.Unlock()
	if !turn && len(perms) == 0 {
		return
	}
	if turn {
		if err := d.conn.Cancel(ctx, acp.CancelNotification{SessionId: acp.SessionId(sid)}); err != nil {
			d.log.Debug("cancel", "err", err)
		}
	}
	for _, p := range perms {
		select {
		case d.waiter(string(p.req.ToolCall.ToolCallId)) <- acp.NewRequestPermissionOutcomeCancelled():
		default:
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	d.wait(wctx, func() bool { return d.st.turn == "" || d.st.exited })
}

// opened reports whether a session was ever open on this connection.
func (d *acpDriver) opened() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.sessionID != ""
}

// exitNote says what the agent was doing when it exited, if that matters.
func (d *acpDriver) exitNote() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	note := ""
	switch {
	case d.st.turn != "":
		note = "the agent exited mid-turn"
	case d.st.fatal != "":
		note = d.st.fatal
	case d.st.initErr != "":
		note = "initialize: " + d.st.initErr
	}
	if note != "" && d.st.stderr != "" {
		note += ": " + clip(d.st.stderr, 200)
	}
	return note
}

// The SDK's Client: permission requests wait for the person; updates are
// read from the log instead; fs and terminal are not offered.

func (d *acpDriver) RequestPermission(ctx context.Context, p acp.RequestPermissionRequest) (acp.RequestPermissionResponse, error) {
	id := string(p.ToolCall.ToolCallId)
	d.mu.Lock()
	g := d.st.gate[id]
	d.mu.Unlock()
	if g.refuse {
		// Refused by the gate: the agent hears why as its next prompt.
		d.enqueue("Your edit was refused (gate mode deny). " + g.reason)
		return acp.RequestPermissionResponse{Outcome: acp.NewRequestPermissionOutcomeSelected(rejectOption(p.Options))}, nil
	}
	ch := d.waiter(id)
	defer func() {
		d.mu.Lock()
		if d.waiters[id] == ch {
			delete(d.waiters, id)
		}
		d.mu.Unlock()
	}()
	select {
	case o := <-ch:
		return acp.RequestPermissionResponse{Outcome: o}, nil
	case <-ctx.Done():
		// The connection ended (the agent exited, or the daemon is going
		// away): nothing is answered for the person.
		return acp.RequestPermissionResponse{}, ctx.Err()
	}
}

func (d *acpDriver) SessionUpdate(context.Context, acp.SessionNotification) error { return nil }

func (d *acpDriver) ReadTextFile(_ context.Context, req acp.ReadTextFileRequest) (acp.ReadTextFileResponse, error) {
	return readWorktreeFile(d.worktree, req)
}

func (d *acpDriver) WriteTextFile(_ context.Context, req acp.WriteTextFileRequest) (acp.WriteTextFileResponse, error) {
	return writeWorktreeFile(d.worktree, req)
}

func (d *acpDriver) CreateTerminal(context.Context, acp.CreateTerminalRequest) (acp.CreateTerminalResponse, error) {
	return acp.CreateTerminalResponse{}, acp.NewMethodNotFound(acp.ClientMethodTerminalCreate)
}

func (d *acpDriver) KillTerminal(context.Context, acp.KillTerminalRequest) (acp.KillTerminalResponse, error) {
	return acp.KillTerminalResponse{}, acp.NewMethodNotFound(acp.ClientMethodTerminalKill)
}

func (d *acpDriver) TerminalOutput(context.Context, acp.TerminalOutputRequest) (acp.TerminalOutputResponse, error) {
	return acp.TerminalOutputResponse{}, acp.NewMethodNotFound(acp.ClientMethodTerminalOutput)
}

func (d *acpDriver) ReleaseTerminal(context.Context, acp.ReleaseTerminalRequest) (acp.ReleaseTerminalResponse, error) {
	return acp.ReleaseTerminalResponse{}, acp.NewMethodNotFound(acp.ClientMethodTerminalRelease)
}

func (d *acpDriver) WaitForTerminalExit(context.Context, acp.WaitForTerminalExitRequest) (acp.WaitForTerminalExitResponse, error) {
	return acp.WaitForTerminalExitResponse{}, acp.NewMethodNotFound(acp.ClientMethodTerminalWaitForExit)
}

var errWriterClosed = errors.New("the ACP connection is closed")

// shimWriter takes the SDK's messages to the shim's input op, whole lines
// at a time.
type shimWriter struct {
	ctx    context.Context
	socket string

	// mu guards buf and closed.
	mu     sync.Mutex
	buf    []byte
	closed bool
}

func (w *shimWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, errWriterClosed
	}
	w.buf = append(w.buf, p...)
	i := bytes.LastIndexByte(w.buf, '\n')
	if i < 0 {
		return len(p), nil
	}
	msg := w.buf[:i+1]
	w.buf = append([]byte(nil), w.buf[i+1:]...)
	if err := shim.Input(w.ctx, w.socket, msg); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *shimWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// runACP follows an ACP session: it rebuilds the state from the log when
// the daemon picks up a running agent, then reads the shim's stream,
// records each message's effect and passes the agent's messages to the SDK,
// until the agent exits.
func (sv *supervisor) runACP(ctx context.Context) {
	d := sv.acp
	offset := sv.from
	if offset < 0 {
		st, err := shim.Stat(ctx, sv.socket)
		if err == nil {
			s, _ := sv.m.Lookup(Ref{Session: sv.id})
			if err := d.replay(s.Log(), st.Size); err != nil {
				d.log.Warn("replay the session log", "err", err)
			}
			offset = st.Size
			d.reopen(ctx, s)
		} else {
			offset = 0
		}
	}
	defer d.close()
	d.publish()
	sv.m.wg.Go(d.resumeOpen)
	sv.m.wg.Go(func() { d.runTurns(ctx) })
	sv.follow(ctx, offset, func(r io.Reader) (read int64) {
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			// A line cut short is read again from its start next time.
			line, err := br.ReadBytes('\n')
			if len(line) > 0 && line[len(line)-1] == '\n' {
				read += int64(len(line))
				d.record(line, true)
				sv.touch()
			}
			if err != nil {
				return read
			}
		}
	}, func() {
		d.close()
		sv.finish(ctx)
	})
}

// touch schedules a refresh of the session's change stats.
func (sv *supervisor) touch() {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if sv.changes == nil {
		sv.changes = time.AfterFunc(700*time.Millisecond, func() { sv.m.refreshChanges(sv.m.ctx, sv.id) })
	} else {
		sv.changes.Reset(700 * time.Millisecond)
	}
}

// reopen finishes what a daemon that stopped in the middle of a spawn left
// undone, once the log is replayed: a live agent with no session open gets
// one, and the spawn's prompt is sent when its first process never got a
// prompt. An agent whose session cannot be opened is ended, saying why.
func (d *acpDriver) reopen(ctx context.Context, s Session) {
	d.mu.Lock()
	open := d.st.sessionID == "" && d.st.fatal == "" && !d.st.authNeeded && !d.st.exited
	resend := d.st.prompts == 0 && d.st.starts == 1 && s.Prompt != ""
	d.mu.Unlock()
	if resend {
		d.enqueue(s.Prompt)
	}
	if !open {
		return
	}
	d.log.Info("the daemon stopped before the ACP session was open: opening it")
	d.m.wg.Go(func() {
		octx, cancel := context.WithTimeout(ctx, acpOpenTimeout)
		defer cancel()
		err := d.open(octx, "", func(string) {})
		if err == nil || ctx.Err() != nil {
			return
		}
		d.mu.Lock()
		authNeeded := d.st.authNeeded
		if !authNeeded {
			d.st.fatal = "the daemon stopped while the agent was starting, and its ACP session could not be opened again: " + err.Error()
		}
		d.mu.Unlock()
		if !authNeeded {
			d.log.Warn("open the ACP session after a restart", "err", err)
			shim.Signal(ctx, s.Socket, syscall.SIGTERM)
		}
	})
}

// readACPState rebuilds a session's ACP state from its whole log.
func readACPState(s Session) *acpState {
	d := &acpDriver{st: newACPState(s.Worktree), changed: make(chan struct{}), log: slog.New(slog.DiscardHandler)}
	d.replay(s.Log(), math.MaxInt64)
	return d.st
}

// sendACP sends text as a new prompt turn, queued behind a running one;
// to an exited agent that can load its conversation, it starts the agent
// again on it first.
func (m *Manager) sendACP(ctx context.Context, s Session, text string, submit bool) (Session, Delivery, error) {
	if !submit {
		return s, Delivery{}, invalidf("session %s speaks ACP: text goes as a whole prompt, drop --no-enter", s.Name)
	}
	if strings.TrimSpace(text) == "" {
		return s, Delivery{}, invalidf("empty prompt")
	}
	if !live(s.State) {
		d, err := m.resumeACP(ctx, s, text)
		if err != nil {
			return s, d, err
		}
		s, err = m.Lookup(Ref{Session: s.ID})
		return s, d, err
	}
	sv := m.supervisorOf(s.ID)
	if sv == nil || sv.acp == nil {
		return s, Delivery{}, fmt.Errorf("session %s: no ACP connection to its agent yet: try again in a moment", s.Name)
	}
	d := sv.acp.prompt(ctx, text)
	s, err := m.Lookup(Ref{Session: s.ID})
	return s, d, err
}

// resumeACP starts an exited ACP agent again, loads the session's
// conversation (session/load, or session/resume, whichever the agent
// advertised) and sends text as its next prompt.
func (m *Manager) resumeACP(ctx context.Context, s Session, text string) (Delivery, error) {
	if !active(s.State) {
		return Delivery{}, invalidf("session %s is %s: there is no agent to continue", s.Name, s.State)
	}
	if _, err := os.Stat(s.Worktree); err != nil {
		return Delivery{}, invalidf("session %s has no worktree any more", s.Name)
	}
	caps := readACPState(s).caps()
	if !caps.LoadSession && caps.SessionCapabilities.Resume == nil {
		return Delivery{}, invalidf("session %s has exited, and agent %q advertised neither session/load nor session/resume: its conversation cannot be continued; spawn a new session", s.Name, s.Agent)
	}
	if s.Conversation == "" {
		return Delivery{}, invalidf("session %s has no ACP session id recorded: spawn a new session", s.Name)
	}
	cfg, rc, err := m.effectiveConfig(ctx, s.Repo)
	if err != nil {
		return Delivery{}, err
	}
	if !rc.Trusted {
		return Delivery{}, &Problem{Kind: ErrUntrusted, What: rc.Path + " changed since it was trusted", Repo: s.Repo, Path: rc.Path, Fix: FixTrust}
	}
	p := cfg.Agents[s.Agent]
	if s.LogLimit, err = ParseSize(cfg.Defaults.LogLimit); err != nil {
		return Delivery{}, invalidf("log_limit: %v", err)
	}
	var from int64
	if r, err := shim.OpenLog(s.Log()); err == nil {
		from = r.End()
		r.Close()
	}
	os.Remove(s.exitFile())
	pid, err := m.host.Start(ctx, &s, m.agentEnv(&s, p), 0, 0)
	if err != nil {
		return Delivery{}, fmt.Errorf("resume %s: %w", s.Name, err)
	}
	started, err := m.update(s.ID, func(r *Session) bool {
		r.PID, r.State, r.Detail, r.ExitCode = pid, Starting, "", nil
		return true
	})
	if err != nil {
		return Delivery{}, err
	}
	sv := m.superviseFrom(started, p, false, from)
	m.conf.track(ctx, started)
	before, _ := sv.acp.enqueue(text)
	octx, cancel := context.WithTimeout(ctx, acpOpenTimeout)
	err = sv.acp.open(octx, s.Conversation, func(string) {})
	cancel()
	if err != nil {
		shim.Signal(ctx, s.Socket, syscall.SIGKILL)
		return Delivery{}, fmt.Errorf("resume %s: %w", s.Name, err)
	}
	return sv.acp.confirm(ctx, before, Delivery{Via: "resume"}), nil
}
