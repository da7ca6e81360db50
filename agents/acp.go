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
	"sync"
	"time"

	acp "github.com/coder/acp-go-sdk"
	"github.com/studiod/studiod/agents/host"
)

// acpDriver speaks ACP to one session's agent through its shim: the shim's
// attach stream (the log: every message both ways) feeds the state and,
// for the agent's messages, the SDK's client connection; the SDK's writes
// go to the shim's input op, which logs them, then writes them to the
// agent's stdin. The state is derived from the log alone (acpState), so
// a restarted daemon rebuilds it by reading the log, and an open
// permission is handed to a new SDK connection to be answered.
type acpConn struct {
	m                         *Manager
	id, name, agent, worktree string
	proc                      host.Proc
	profile                   Profile
	log                       *slog.Logger
	// usageDB is the opencode database the session's usage is read from
	// (opencode.go); "" for other agents.
	usageDB string

	conn  *acp.ClientSideConnection
	feed  *io.PipeWriter // the agent's messages, to the SDK
	out   *shimWriter
	terms acpTerminals // the commands the agent asked studiod to run

	// pubMu serializes publish, so that the last state computed is the
	// last stored; it guards reported and fromDB. Lock order: pubMu, mu.
	pubMu sync.Mutex
	// reported is the usage the protocol said when usageDB was last read;
	// fromDB says that read had the usage.
	reported *Usage
	fromDB   bool
	// rollouts is the Codex home whose rollouts hold a codex-acp
	// session's usage (codex-acp reports none over ACP), "" for other
	// agents; rolloutTurn is the turn its rollout was last read after.
	rollouts    string
	rolloutTurn int

	// mu guards the fields below; changed is closed (and replaced) at
	// every change of them.
	mu       sync.Mutex
	inflight int // prompts taken from the queue and not answered yet
	st       *acpState
	waiters  map[string]chan acp.RequestPermissionOutcome // by tool call id
	elicitCh chan acp.UnstableCreateElicitationResponse   // answers to the agent's forms, in order
	queue    []string                                     // prompts waiting for their turn
	opening  bool                                         // a session is being opened
	changed  chan struct{}
}

func newACPConn(m *Manager, s Session, p Profile) *acpConn {
	return &acpConn{
		m: m, id: s.ID, name: s.Name, agent: s.Agent, proc: m.proc(s.ID), worktree: s.Worktree, profile: p,
		log: m.log.With("session", s.Name, "acp", true), usageDB: opencodeUsageDB(s, p), rollouts: codexRollouts(m, s, p),
		st: newACPState(s.Worktree), waiters: map[string]chan acp.RequestPermissionOutcome{},
		changed: make(chan struct{}),
	}
}

// signal wakes everyone waiting on a change. d.mu must be held.
func (d *acpConn) signal() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// wait returns true once cond holds (checked under d.mu), false when ctx
// ends first.
func (d *acpConn) wait(ctx context.Context, cond func() bool) bool {
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
func (d *acpConn) connect(ctx context.Context) {
	pr, pw := io.Pipe()
	d.feed = pw
	d.out = &shimWriter{ctx: ctx, proc: d.proc}
	d.conn = acp.NewClientSideConnection(d, d.out, pr)
	d.conn.SetLogger(d.log)
}

// close ends the SDK connection without a word to the agent: nothing is
// written once closed, so a daemon going away never answers for the person.
// The commands the agent had studiod run end with it.
func (d *acpConn) close() {
	if d.out != nil {
		d.out.close()
	}
	if d.feed != nil {
		d.feed.Close()
	}
	d.terms.closeAll(d.id)
	d.mu.Lock()
	d.st.exited = true
	d.signal()
	d.mu.Unlock()
}

// record applies one log line; live ones also go on to the SDK and to the
// session's record.
func (d *acpConn) record(line []byte, live bool) {
	var rec host.Record
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
		d.m.activity.send(Activity{Session: d.id, Tool: act.tool, Plan: act.plan})
	}
	if rec.From == host.FromAgent && rec.Msg != nil {
		if _, err := d.feed.Write(append(append([]byte(nil), rec.Msg...), '\n')); err != nil {
			d.log.Debug("feed the SDK", "err", err)
		}
	}
}

// publish moves the session's record to the state the protocol says.
func (d *acpConn) publish() {
	d.pubMu.Lock()
	defer d.pubMu.Unlock()
	d.mu.Lock()
	state, detail, ask, ok := d.st.status(d.agent)
	if ok && state == Idle && len(d.queue)+d.inflight > 0 && !d.st.exited {
		state, detail = Working, "" // the next prompt goes at once
	}
	conv := d.st.sessionID
	usage := d.st.used()
	turns := d.st.prompts
	d.mu.Unlock()
	if d.rollouts != "" {
		// Codex's rollout has the usage; read it as each turn ends.
		usage = nil
		if ok && state == Idle && conv != "" && turns != d.rolloutTurn {
			d.rolloutTurn = turns
			d.readRollout(conv)
		}
	}
	if d.usageDB != "" && usage != nil {
		// opencode's database has every answer's figures, where its
		// responses have the turn's last: read it when they report.
		if !usage.equal(d.reported) {
			d.reported = usage
			d.fromDB = d.m.readOpencode(d.m.ctx, d.id, d.usageDB)
		}
		if d.fromDB {
			usage = nil
		}
	}
	d.m.update(d.id, func(s *Session) bool {
		changed := false
		if conv != "" && s.Conversation != conv {
			s.Conversation, changed = conv, true
		}
		if usage != nil && !usage.equal(s.Usage) {
			s.Usage, changed = usage, true
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
func (d *acpConn) replay(p host.Proc, end int64) error {
	r, err := p.OpenLog()
	if err != nil {
		return err
	}
	defer r.Close()
	if r.Start() > 0 {
		if head := p.Head(); head != nil {
			d.replayFrom(bytes.NewReader(head))
		}
	}
	end = min(end, r.End())
	return d.replayFrom(io.NewSectionReader(r, r.Start(), max(end-r.Start(), 0)))
}

// replayFrom applies the whole records read from rd.
func (d *acpConn) replayFrom(rd io.Reader) error {
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
func (d *acpConn) resumeOpen() {
	d.mu.Lock()
	perms := append([]acpPerm(nil), d.st.perms...)
	var raws [][]byte
	for _, e := range d.st.elicits {
		raws = append(raws, append(append([]byte(nil), e.raw...), '\n'))
	}
	d.mu.Unlock()
	for _, p := range perms {
		d.gatePerm(d.m.ctx, p)
		raws = append(raws, append(append([]byte(nil), p.raw...), '\n'))
	}
	if len(raws) > 0 {
		d.publish()
	}
	for _, r := range raws {
		d.feed.Write(r)
	}
}

// runTurns sends queued prompts, one turn at a time: when a session is
// open, no turn runs and nothing waits for the person.
func (d *acpConn) runTurns(ctx context.Context) {
	for {
		ready := d.wait(ctx, func() bool {
			st := d.st
			return st.exited || len(d.queue) > 0 && !d.opening && st.sessionID != "" && st.turn == "" &&
				len(st.perms) == 0 && len(st.elicits) == 0 && !st.authNeeded
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
func (d *acpConn) enqueue(text string) (before int, busy bool) {
	d.mu.Lock()
	busy = d.st.turn != "" || len(d.queue) > 0 || len(d.st.perms) > 0 || len(d.st.elicits) > 0
	before = d.st.prompts + len(d.queue)
	d.queue = append(d.queue, text)
	d.signal()
	d.mu.Unlock()
	return before, busy
}

// prompt queues text as a new turn. When no turn runs it waits until the
// agent has taken it (its first message after the prompt).
func (d *acpConn) prompt(ctx context.Context, text string) Delivery {
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
func (d *acpConn) confirm(ctx context.Context, before int, dl Delivery) Delivery {
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
func (d *acpConn) open(ctx context.Context, resume string, progress Progress) error {
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
	// The file system of the session's worktree (acpfs.go), terminals
	// that run in it (acpterm.go) and forms asked of the person
	// (acpelicit.go).
	init, err := d.conn.Initialize(ctx, acp.InitializeRequest{
		ProtocolVersion:    acp.ProtocolVersionNumber,
		ClientCapabilities: acp.ClientCapabilities{Fs: acpFileCaps, Terminal: true, Elicitation: acpElicitCaps},
		ClientInfo:         &acp.Implementation{Name: "studiod", Version: "1"},
	})
	if err != nil {
		return fmt.Errorf("initialize: %s", rpcErrText(err))
	}
	return d.openSession(ctx, init.AgentCapabilities, resume, progress)
}

func (d *acpConn) openSession(ctx context.Context, caps acp.AgentCapabilities, resume string, progress Progress) error {
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
func (d *acpConn) setMode(ctx context.Context, modes *acp.SessionModeState) error {
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
