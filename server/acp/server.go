package acp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	sdk "github.com/coder/acp-go-sdk"

	"github.com/studiod/studiod/protocol"
)

// Config configures the face.
type Config struct {
	// Dial connects to the daemon (starting it when none runs).
	Dial func(ctx context.Context, notify protocol.NotifyFunc) (*protocol.Client, error)
	// Agent is the profile a new thread runs, over [acp] agent
	// (`studiod acp --agent`).
	Agent   string
	Version string
	Log     *slog.Logger
}

// Server serves one ACP client.
type Server struct {
	cfg  Config
	conn *sdk.AgentSideConnection
	ctx  context.Context // ends with the client's connection

	// qmu guards queue, the worker's jobs (daemon events, replays) in
	// order; wake has a token when queue is not empty.
	qmu   sync.Mutex
	queue []func()
	wake  chan struct{}

	// mu guards the fields below and every thread's fields.
	mu      sync.Mutex
	api     *protocol.Client          // the daemon, dialed again when it goes away
	redial  chan struct{}             // closed (and replaced) when api is replaced
	name    string                    // who answers, for the daemon's records
	threads map[sdk.SessionId]*thread // by the client's session id
	byID    map[string]*thread        // by studiod session id
	// conflicts are the daemon's predicted conflicts, by id, as
	// conflictsChanged reports them.
	conflicts map[string]protocol.Conflict
	// outputs are the logs the daemon streams here: session id → offset
	// to start from; resubscribe sends the set when it changes.
	outputs map[string]int64
	// changed is closed (and replaced) at every session change.
	changed chan struct{}
}

// New returns a face; Serve runs it.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	return &Server{cfg: cfg, threads: map[sdk.SessionId]*thread{}, byID: map[string]*thread{}, conflicts: map[string]protocol.Conflict{},
		outputs: map[string]int64{}, wake: make(chan struct{}, 1), changed: make(chan struct{}), redial: make(chan struct{})}
}

// Serve speaks ACP on r and w (stdin and stdout) until the client closes
// its end or ctx ends. Sessions go on after it returns.
func (s *Server) Serve(ctx context.Context, r io.Reader, w io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.ctx = ctx
	api, err := s.cfg.Dial(ctx, s.notify)
	if err != nil {
		return fmt.Errorf("connect to the daemon: %w", err)
	}
	s.mu.Lock()
	s.api = api
	s.mu.Unlock()
	defer func() { s.daemon().Close() }()
	if _, err := api.Subscribe(ctx, protocol.SubscribeParams{Sessions: true, Conflicts: true, Preview: true}); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if res, err := api.Conflicts(ctx, protocol.ConflictsParams{}); err == nil {
		for _, c := range res.Conflicts {
			s.conflicts[c.ID] = c
		}
	}

	out := &lockedWriter{w: w}
	pr, pw := io.Pipe()
	// The connection exists before anything that sends on it runs.
	s.conn = sdk.NewAgentSideConnection(s, out, pr)
	s.conn.SetLogger(s.cfg.Log)
	var wg sync.WaitGroup
	wg.Go(func() { s.work(ctx) })
	wg.Go(func() {
		// Malformed lines are answered here: the SDK would drop them
		// without a word.
		pw.CloseWithError(filterMalformed(r, pw, out))
	})
loop:
	for {
		select {
		case <-s.conn.Done():
			break loop
		case <-ctx.Done():
			break loop
		case <-api.Done():
			// The daemon restarted (or was upgraded): its sessions live on;
			// so does this client's view of them.
			if api, err = s.reconnect(ctx); err != nil {
				break loop
			}
		}
	}
	cancel()
	pr.Close()
	wg.Wait()
	return err
}

// daemon is the current connection to the daemon.
func (s *Server) daemon() *protocol.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.api
}

// again calls f with the daemon, and once more with the next connection
// when the one it used closed under it (the daemon restarted).
func (s *Server) again(ctx context.Context, f func(*protocol.Client) error) error {
	s.mu.Lock()
	api, next := s.api, s.redial
	s.mu.Unlock()
	err := f(api)
	if !errors.Is(err, protocol.ErrClosed) {
		return err
	}
	select {
	case <-next:
		return f(s.daemon())
	case <-ctx.Done():
	case <-time.After(redialWait):
	}
	return err
}

// redialWait bounds how long a lost daemon is dialed again.
const redialWait = 30 * time.Second

// reconnect connects to the daemon again (starting one if none runs), says
// who it is, and subscribes again: each followed log from where it was
// read, conflicts and sessions anew.
func (s *Server) reconnect(ctx context.Context) (*protocol.Client, error) {
	deadline := time.Now().Add(redialWait)
	var api *protocol.Client
	for delay := 50 * time.Millisecond; ; delay = min(delay*2, time.Second) {
		var err error
		if api, err = s.cfg.Dial(ctx, s.notify); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the daemon went away and could not be reached again: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
	}
	s.mu.Lock()
	old, name := s.api, s.name
	s.api = api
	close(s.redial)
	s.redial = make(chan struct{})
	s.mu.Unlock()
	old.Close()
	if name != "" {
		api.Hello(ctx, protocol.HelloParams{Client: name, Version: protocol.Version})
	}
	err := s.run(ctx, func() {
		s.mu.Lock()
		clear(s.outputs)
		var ths []*thread
		for _, th := range s.byID {
			ths = append(ths, th)
			if th.acp && th.streaming {
				s.outputs[th.id] = th.offset
			}
		}
		s.mu.Unlock()
		if err := s.resubscribe(ctx); err != nil {
			s.cfg.Log.Warn("subscribe again", "err", err)
		}
		if res, err := api.Conflicts(ctx, protocol.ConflictsParams{}); err == nil {
			s.mu.Lock()
			clear(s.conflicts)
			for _, c := range res.Conflicts {
				s.conflicts[c.ID] = c
			}
			s.mu.Unlock()
		}
		for _, th := range ths {
			if sess, err := api.Session(ctx, protocol.SessionRef{Session: th.id}); err == nil {
				s.sessionChanged(*sess)
			}
			s.noteConflicts(th)
		}
	})
	return api, err
}

// lockedWriter keeps whole lines whole between the SDK and the
// malformed-line answers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// maxLine bounds one message from the client.
const maxLine = 64 << 20

// filterMalformed copies r's lines to w, answering a line that is not a
// JSON object with JSON-RPC's parse error (or invalid request) on out.
func filterMalformed(r io.Reader, w io.Writer, out io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		line := sc.Bytes()
		var msg map[string]json.RawMessage
		err := json.Unmarshal(line, &msg)
		switch {
		case len(line) == 0 || isBlank(line):
			continue
		case err != nil:
			var v any
			code, text := -32700, "Parse error: "+err.Error()
			if json.Unmarshal(line, &v) == nil {
				code, text = -32600, "Invalid request: a message is a JSON object"
			}
			writeError(out, nil, code, text)
			continue
		case msg["method"] == nil && msg["id"] == nil:
			writeError(out, nil, -32600, "Invalid request: neither method nor id")
			continue
		}
		if _, err := w.Write(append(append([]byte(nil), line...), '\n')); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		writeError(out, nil, -32600, "Invalid request: "+err.Error())
		return err
	}
	return io.EOF
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

func writeError(out io.Writer, id json.RawMessage, code int, message string) {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "error": map[string]any{"code": code, "message": message}})
	out.Write(append(b, '\n'))
}

// notify takes the daemon's notifications off its read loop, in order.
func (s *Server) notify(method string, params json.RawMessage) {
	ev := &protocol.Events{
		SessionChanged:   func(n protocol.SessionChanged) { s.enqueue(func() { s.sessionChanged(n.Session) }) },
		ConflictsChanged: func(n protocol.ConflictsChanged) { s.enqueue(func() { s.conflictsChanged(n) }) },
		Output:           func(n protocol.OutputNotification) { s.enqueue(func() { s.output(n) }) },
		PreviewChanged:   func(n protocol.PreviewChanged) { s.enqueue(func() { s.previewChanged(n.Preview) }) },
	}
	ev.Notify(method, params)
}

// enqueue hands f to the worker without blocking: the daemon's read
// loop calls it, and no event may be lost (a log's lines are read once).
func (s *Server) enqueue(f func()) {
	s.qmu.Lock()
	s.queue = append(s.queue, f)
	s.qmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run runs f on the worker, after the events queued before it, and waits
// for it.
func (s *Server) run(ctx context.Context, f func()) error {
	done := make(chan struct{})
	s.enqueue(func() { defer close(done); f() })
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) work(ctx context.Context) {
	for {
		select {
		case <-s.wake:
		case <-ctx.Done():
			return
		}
		for {
			s.qmu.Lock()
			if len(s.queue) == 0 {
				s.qmu.Unlock()
				break
			}
			f := s.queue[0]
			s.queue = s.queue[1:]
			s.qmu.Unlock()
			f()
		}
	}
}

// resubscribe tells the daemon which sessions' output to stream: the
// streams already running go on, new ones start at their offset.
func (s *Server) resubscribe(ctx context.Context) error {
	s.mu.Lock()
	var outs []protocol.OutputSubscription
	for id, off := range s.outputs {
		outs = append(outs, protocol.OutputSubscription{Session: id, Offset: off})
	}
	s.mu.Unlock()
	_, err := s.daemon().Subscribe(ctx, protocol.SubscribeParams{Sessions: true, Conflicts: true, Preview: true, Output: outs})
	return err
}

// The ACP methods studiod does not serve.

func (s *Server) Authenticate(ctx context.Context, p sdk.AuthenticateRequest) (sdk.AuthenticateResponse, error) {
	return sdk.AuthenticateResponse{}, invalid("studiod needs no sign-in: it advertises no authentication methods")
}

func (s *Server) SetSessionMode(ctx context.Context, p sdk.SetSessionModeRequest) (sdk.SetSessionModeResponse, error) {
	return sdk.SetSessionModeResponse{}, sdk.NewMethodNotFound(sdk.AgentMethodSessionSetMode)
}

func (s *Server) ResumeSession(ctx context.Context, p sdk.ResumeSessionRequest) (sdk.ResumeSessionResponse, error) {
	return sdk.ResumeSessionResponse{}, sdk.NewMethodNotFound(sdk.AgentMethodSessionResume)
}

func (s *Server) CloseSession(ctx context.Context, p sdk.CloseSessionRequest) (sdk.CloseSessionResponse, error) {
	return sdk.CloseSessionResponse{}, sdk.NewMethodNotFound(sdk.AgentMethodSessionClose)
}

// Initialize negotiates: studiod speaks the SDK's protocol version (the
// current stable one) and says so whatever the client asked for, as the
// protocol wants; it advertises what works: loading and listing sessions,
// prompts of text and resource links. It offers no sign-in: the agents
// underneath sign in on their own.
func (s *Server) Initialize(ctx context.Context, p sdk.InitializeRequest) (sdk.InitializeResponse, error) {
	name := "acp"
	if p.ClientInfo != nil && p.ClientInfo.Name != "" {
		name = "acp:" + p.ClientInfo.Name
	}
	// Answers given through this face are recorded with the client's name.
	s.mu.Lock()
	s.name = name
	s.mu.Unlock()
	if _, err := s.daemon().Hello(ctx, protocol.HelloParams{Client: name, Version: protocol.Version}); err != nil {
		return sdk.InitializeResponse{}, toACP(err)
	}
	return sdk.InitializeResponse{
		ProtocolVersion: sdk.ProtocolVersionNumber,
		AgentCapabilities: sdk.AgentCapabilities{
			LoadSession:         true,
			SessionCapabilities: sdk.SessionCapabilities{List: &sdk.SessionListCapabilities{}},
		},
		AgentInfo:   &sdk.Implementation{Name: "studiod", Title: ptr("studiod"), Version: s.cfg.Version},
		AuthMethods: []sdk.AuthMethod{},
	}, nil
}

// ACP's error codes beyond JSON-RPC's.
const codeResourceNotFound = -32002

// toACP turns a daemon error into an ACP error the client shows, its
// message the daemon's: invalid params for bad input, resource not found
// for an unknown session, internal error otherwise.
func toACP(err error) error {
	if err == nil {
		return nil
	}
	var re *sdk.RequestError
	if errors.As(err, &re) {
		return re
	}
	switch protocol.CodeOf(err) {
	case protocol.CodeNotFound:
		return &sdk.RequestError{Code: codeResourceNotFound, Message: err.Error()}
	case protocol.CodeInvalid, protocol.CodeInvalidParams, protocol.CodeUntrusted, protocol.CodeBusy:
		return &sdk.RequestError{Code: -32602, Message: err.Error()}
	}
	return &sdk.RequestError{Code: -32603, Message: err.Error()}
}

// invalid is an invalid-params error saying what was wrong.
func invalid(format string, args ...any) error {
	return &sdk.RequestError{Code: -32602, Message: fmt.Sprintf(format, args...)}
}

func ptr[T any](v T) *T { return &v }
