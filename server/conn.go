package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/sourcegraph/jsonrpc2"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/protocol"
)

// queueSize bounds a connection's pending notifications; a client that
// falls this far behind is disconnected rather than slowing the daemon.
const queueSize = 4096

// notification is one queued notification, or a hold: the writer waits
// until hold is closed before it writes what follows.
type notification struct {
	method string
	params any
	hold   chan struct{}
}

type conn struct {
	s      *Server
	rpc    *jsonrpc2.Conn
	stream *protocol.Stream
	out    chan notification
	ctx    context.Context
	end    context.CancelFunc
	wg     sync.WaitGroup

	// mu guards the fields below.
	mu       sync.Mutex
	subs     protocol.SubscribeParams
	outputs  map[string]context.CancelFunc // session ID → output stream
	inflight map[string]context.CancelFunc // request ID → cancel
	client   string                        // who the client said it is (studio/hello)
	secret   string                        // the session secret it presented (callers.go)
	// peerSecret is the session secret in the client process's
	// environment, found when it connected (callers.go).
	peerSecret string
	// reportsOnly marks a connection from a host's agents (the reports
	// socket, forwarded to the host over ssh): it may only say hello and
	// report for a session whose secret it holds.
	reportsOnly bool
	// closing is set once close has begun: no request starts after it.
	closing bool
}

// name is who the client said it is, for the records (who answered).
func (c *conn) name() string {
	if c == nil {
		return "in-process"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == "" {
		return "unnamed client"
	}
	return c.client
}

// connKey carries the connection a request arrived on in its context.
type connKey struct{}

// connOf returns the connection a request arrived on, or nil for a call
// made in process.
func connOf(ctx context.Context) *conn {
	c, _ := ctx.Value(connKey{}).(*conn)
	return c
}

func newConn(s *Server) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		s: s, out: make(chan notification, queueSize), ctx: ctx, end: cancel,
		outputs: map[string]context.CancelFunc{}, inflight: map[string]context.CancelFunc{},
	}
	c.wg.Go(c.writer)
	return c
}

func (c *conn) close() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.end()
	c.wg.Wait()
}

// writer sends queued notifications in order.
func (c *conn) writer() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case n := <-c.out:
			if n.hold != nil {
				select {
				case <-n.hold:
				case <-c.ctx.Done():
					return
				}
				continue
			}
			if err := c.rpc.Notify(c.ctx, n.method, n.params); err != nil {
				return
			}
		}
	}
}

// notify queues a notification; a full queue disconnects the client.
func (c *conn) notify(method string, params any) {
	c.queue(notification{method: method, params: params})
}

func (c *conn) queue(n notification) {
	select {
	case c.out <- n:
	case <-c.ctx.Done():
	default:
		c.s.log.Warn("client too slow: disconnecting", "queued", queueSize)
		go c.rpc.Close()
	}
}

// handle runs each request in its own goroutine so a slow one (spawn, stop,
// merge) does not hold up the connection.
func (c *conn) Handle(ctx context.Context, rpc *jsonrpc2.Conn, req *jsonrpc2.Request) {
	if req.Method == "$/cancelRequest" {
		var p struct {
			ID jsonrpc2.ID `json:"id"`
		}
		if req.Params != nil && json.Unmarshal(*req.Params, &p) == nil {
			c.mu.Lock()
			if cancel, ok := c.inflight[p.ID.String()]; ok {
				cancel()
			}
			c.mu.Unlock()
		}
		return
	}
	h, ok := c.s.routes[req.Method]
	if ok && c.reportsOnly && req.Method != protocol.MethodHello && req.Method != protocol.MethodHook {
		if !req.Notif {
			rpc.ReplyWithError(ctx, req.ID, &jsonrpc2.Error{Code: protocol.CodeForbidden,
				Message: fmt.Sprintf("%s: the reports socket takes only the agents' reports (%s); other requests go to the daemon's own socket", req.Method, protocol.MethodHook)})
		}
		return
	}
	if !ok {
		if !req.Notif {
			rpc.ReplyWithError(ctx, req.ID, &jsonrpc2.Error{Code: protocol.CodeMethodNotFound, Message: fmt.Sprintf("method not found: %s", req.Method)})
		}
		return
	}
	var params json.RawMessage
	if req.Params != nil {
		params = *req.Params
	}
	after := &replied{}
	rctx, cancel := context.WithCancel(context.WithValue(context.WithValue(c.ctx, connKey{}, c), repliedKey{}, after))
	key := req.ID.String()
	c.mu.Lock()
	if c.closing {
		// The connection is ending: close waits for the requests it has.
		c.mu.Unlock()
		cancel()
		return
	}
	if !req.Notif {
		c.inflight[key] = cancel
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		defer cancel()
		defer after.run()
		res, err := h(rctx, params)
		if !req.Notif {
			c.mu.Lock()
			delete(c.inflight, key)
			c.mu.Unlock()
			// The connection may have become idle (see idleFor).
			c.stream.Rearm()
		}
		if req.Notif {
			return
		}
		if err != nil {
			we := wireError(err)
			if we.Code == protocol.CodeInternal {
				c.s.log.Error("request failed", "method", req.Method, "err", err)
			}
			rpc.ReplyWithError(ctx, req.ID, protocol.ToRPC(we))
			return
		}
		if err := rpc.Reply(ctx, req.ID, res); err != nil && !errors.Is(err, jsonrpc2.ErrClosed) {
			c.s.log.Warn("reply", "method", req.Method, "err", err)
		}
		if req.Method == protocol.MethodShutdown {
			// Only now: stopping closes this connection.
			go c.s.shutdown()
		}
	}()
}

// replied holds, in a request's context, what to do once the request's
// reply has been written (or, for a notification, once it has been
// handled). Only the request's own goroutine touches it.
type replied struct{ fns []func() }

type repliedKey struct{}

// afterReply runs fn once the reply to ctx's request has been written. It
// reports false, and never runs fn, for a call made in process.
func afterReply(ctx context.Context, fn func()) bool {
	r, ok := ctx.Value(repliedKey{}).(*replied)
	if ok {
		r.fns = append(r.fns, fn)
	}
	return ok
}

func (r *replied) run() {
	for _, fn := range r.fns {
		fn()
	}
}

// idleFor is how long the client may send nothing before it is
// disconnected: a connection with a request in flight or a subscription
// waits for the daemon and is never idle; any other is closed after the
// server's idle timeout, so that connections opened and left do not pile up.
func (c *conn) idleFor() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs.Sessions || c.subs.Conflicts || len(c.outputs) > 0 || len(c.inflight) > 0 {
		return 0
	}
	return c.s.idleTimeout
}

// progress reports the steps of a slow request as $/progress
// notifications on c, when the client gave a token. A progress on a nil
// connection or without a token reports nothing.
func (c *conn) progress(token any, title string) *progress {
	if c == nil || token == nil {
		return nil
	}
	p := &progress{c: c, token: token}
	p.send(protocol.WorkDone{Kind: "begin", Title: title})
	return p
}

// progress is one request's work-done progress.
type progress struct {
	c     *conn
	token any
}

// send writes at once rather than queueing, so that the end reaches the
// client before the request's reply does.
func (p *progress) send(v protocol.WorkDone) {
	if err := p.c.rpc.Notify(p.c.ctx, protocol.NotifyProgress, protocol.ProgressParams{Token: p.token, Value: v}); err != nil {
		p.c.s.log.Debug("progress", "err", err)
	}
}

// report is an agents.Progress; a nil *progress's is a no-op.
func (p *progress) report(msg string) {
	if p != nil {
		p.send(protocol.WorkDone{Kind: "report", Message: msg})
	}
}

// end closes the progress.
func (p *progress) end() {
	if p != nil {
		p.send(protocol.WorkDone{Kind: "end"})
	}
}

// setOutputs starts and stops output streams to match subs.
func (c *conn) setOutputs(subs []protocol.OutputSubscription) error {
	want := map[string]protocol.OutputSubscription{}
	for _, o := range subs {
		s, err := c.s.agents.Lookup(agents.Ref{Session: o.Session})
		if err != nil {
			return err
		}
		o.Session = s.ID
		want[s.ID] = o
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, cancel := range c.outputs {
		if _, ok := want[id]; !ok {
			cancel()
			delete(c.outputs, id)
		}
	}
	for id, o := range want {
		if _, ok := c.outputs[id]; ok {
			continue
		}
		ctx, cancel := context.WithCancel(c.ctx)
		c.outputs[id] = cancel
		c.wg.Go(func() { c.streamOutput(ctx, id, o.Offset) })
	}
	return nil
}

// streamOutput sends a session's output from offset as notifications: the
// shim replays its log from there and follows live output, so nothing is
// skipped; once the agent has gone, the rest of the log is read directly.
func (c *conn) streamOutput(ctx context.Context, id string, offset int64) {
	buf := make([]byte, 32<<10)
	for ctx.Err() == nil {
		s, err := c.s.agents.Lookup(agents.Ref{Session: id})
		if err != nil {
			return
		}
		st, err := c.s.agents.Attach(ctx, agents.Ref{Session: id}, offset)
		if errors.Is(err, host.ErrUnreachable) {
			// The session's host is out of reach: its output follows
			// once it answers again.
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		if err != nil {
			if !host.IsGone(err) {
				c.s.log.Warn("attach for output", "session", s.Name, "err", err)
			}
			c.sendLogTail(s, offset)
			return
		}
		stop := context.AfterFunc(ctx, func() { st.Close() })
		offset = st.Offset()
		for {
			n, err := st.Read(buf)
			if n > 0 {
				c.notify(protocol.NotifyOutput, protocol.OutputNotification{Session: id, Offset: offset, Data: append([]byte(nil), buf[:n]...)})
				offset += int64(n)
			}
			if err != nil {
				break
			}
		}
		stop()
		st.Close()
	}
}

func (c *conn) sendLogTail(s agents.Session, offset int64) {
	from := offset
	if from < 0 {
		from = math.MaxInt64 // from the end: ReadOutput stops there
	}
	for {
		// A read from before the first byte kept starts there: older
		// output was rotated out.
		o, err := c.s.agents.ReadOutput(agents.Ref{Session: s.ID}, from, 32<<10)
		if err != nil {
			break
		}
		offset = o.Offset
		if len(o.Data) == 0 {
			break
		}
		c.notify(protocol.NotifyOutput, protocol.OutputNotification{Session: s.ID, Offset: o.Offset, Data: o.Data})
		offset += int64(len(o.Data))
		from = offset
	}
	c.notify(protocol.NotifyOutput, protocol.OutputNotification{Session: s.ID, Offset: max(offset, 0), Done: true})
}
