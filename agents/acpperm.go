package agents

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	acp "github.com/coder/acp-go-sdk"
)

// waiter is where the answer to a tool call's permission goes.
func (d *acpConn) waiter(toolCall string) chan acp.RequestPermissionOutcome {
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
func (d *acpConn) answer(ctx context.Context, answer string) (string, Delivery, error) {
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

func (d *acpConn) stExited() bool {
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
func (d *acpConn) authenticate(ctx context.Context, answer string, methods []Option) (string, Delivery, error) {
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
func (d *acpConn) cancel(ctx context.Context) {
	d.mu.Lock()
	turn, sid := d.st.turn != "", d.st.sessionID
	perms := append([]acpPerm(nil), d.st.perms...)
	forms := len(d.st.elicits)
	d.queue = nil
	d.mu.Unlock()
	if !turn && len(perms) == 0 && forms == 0 {
		return
	}
	d.cancelElicits(forms)
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
func (d *acpConn) opened() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.sessionID != ""
}

// exitNote says what the agent was doing when it exited, if that matters.
func (d *acpConn) exitNote() string {
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
// read from the log instead; the file system is the worktree's (acpfs.go),
// terminals run in it (acpterm.go).

func (d *acpConn) RequestPermission(ctx context.Context, p acp.RequestPermissionRequest) (acp.RequestPermissionResponse, error) {
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

func (d *acpConn) SessionUpdate(context.Context, acp.SessionNotification) error { return nil }

func (d *acpConn) ReadTextFile(_ context.Context, req acp.ReadTextFileRequest) (acp.ReadTextFileResponse, error) {
	return readWorktreeFile(d.worktree, req)
}

func (d *acpConn) WriteTextFile(_ context.Context, req acp.WriteTextFileRequest) (acp.WriteTextFileResponse, error) {
	res, err := writeWorktreeFile(d.worktree, req)
	if err == nil && d.m != nil {
		d.m.conf.touched(Session{ID: d.id, Worktree: d.worktree}, d.worktree, req.Path)
	}
	return res, err
}

var errWriterClosed = errors.New("the ACP connection is closed")
