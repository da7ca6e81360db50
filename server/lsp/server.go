package lsp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sourcegraph/jsonrpc2"
	lsp "go.lsp.dev/protocol"

	"github.com/studiod/studiod/protocol"
)

// Daemon is the face's view of a connection to the daemon: its typed API,
// and Call for requests the face relays without knowing them.
type Daemon interface {
	protocol.API
	Call(ctx context.Context, method string, params, result any) error
	Done() <-chan struct{}
	Close() error
}

// Config configures the face.
type Config struct {
	// Dial connects to the daemon (starting it if need be); notify
	// receives the connection's notifications on its read goroutine.
	Dial    func(ctx context.Context, notify protocol.NotifyFunc) (Daemon, error)
	Version string
	Log     *slog.Logger
	// Retry is how long to wait before dialling a daemon that went away
	// again (default 500ms).
	Retry time.Duration
}

// LSP method names the face serves or sends.
const (
	methodInitialize         = "initialize"
	methodInitialized        = "initialized"
	methodShutdown           = "shutdown"
	methodExit               = "exit"
	methodDidOpen            = "textDocument/didOpen"
	methodDidClose           = "textDocument/didClose"
	methodCodeLens           = "textDocument/codeLens"
	methodCodeAction         = "textDocument/codeAction"
	methodExecuteCommand     = "workspace/executeCommand"
	methodPublishDiagnostics = "textDocument/publishDiagnostics"
	methodShowMessageRequest = "window/showMessageRequest"
	methodShowMessage        = "window/showMessage"
	methodShowDocument       = "window/showDocument"
	methodProgressCreate     = "window/workDoneProgress/create"
	methodProgress           = "$/progress"
	methodCodeLensRefresh    = "workspace/codeLens/refresh"
	methodCancelRequest      = "$/cancelRequest"
)

// LSP's own error codes.
const (
	codeInvalidRequest       = -32600
	codeServerNotInitialized = -32002
)

// InitOptions are the initializationOptions a client may send.
type InitOptions struct {
	// Client names the editor ("vscode", "nvim").
	Client string `json:"client,omitempty"`
	// ShowsWaiting says the client tells the person itself when a session
	// waits for input (from studio/sessionChanged), so the server must not
	// also ask with window/showMessageRequest.
	ShowsWaiting bool `json:"showsWaiting,omitempty"`
}

// queueSize bounds the notifications waiting to be written to the editor.
const queueSize = 4096

// server is one editor's LSP session.
type server struct {
	cfg    Config
	log    *slog.Logger
	editor *jsonrpc2.Conn
	ctx    context.Context // ends when the editor goes away
	end    context.CancelFunc
	wg     sync.WaitGroup
	out    chan outgoing // notifications to the editor, in order
	jobs   chan func()   // run in order by the worker

	// mu guards the fields below. Lock order: mu, then nothing; nothing
	// calls out (the daemon, the editor, the file system) while holding it.
	mu          sync.Mutex
	initialized bool // initialize answered
	ready       bool // initialized received: the editor takes notifications and requests
	down        bool // shutdown received
	root        string
	// folders are the editor's workspace folders (or its root): only
	// their repositories' diagnostics reach it. None: every repository's.
	folders      []string
	opts         InitOptions
	caps         clientCaps
	open         map[string]bool // open documents by file path
	inflight     map[string]context.CancelFunc
	daemon       Daemon                    // nil while disconnected
	feed         *protocol.Feed            // daemon's notifications
	up           chan struct{}             // closed while daemon is set
	subscription *protocol.SubscribeParams // the editor's own studio/subscribe
	state        state
	asked        map[string]string // session ID → waiting question already asked
	tokens       map[string]progressSink

	refreshQueued atomic.Bool
	nextToken     atomic.Int64
}

// clientCaps are the client capabilities the face acts on.
type clientCaps struct {
	progress    bool // window/workDoneProgress/create
	showDoc     bool // window/showDocument
	lensRefresh bool // workspace/codeLens/refresh
}

type outgoing struct {
	method string
	params any
}

// Serve serves LSP to one editor on rwc (stdin and stdout) until the
// editor exits or closes its end, or ctx ends; then it closes rwc.
func Serve(ctx context.Context, cfg Config, rwc io.ReadWriteCloser) error {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Retry <= 0 {
		cfg.Retry = 500 * time.Millisecond
	}
	sctx, cancel := context.WithCancel(ctx)
	s := &server{
		cfg: cfg, log: cfg.Log, ctx: sctx, end: cancel,
		out: make(chan outgoing, queueSize), jobs: make(chan func(), 256),
		open: map[string]bool{}, inflight: map[string]context.CancelFunc{},
		asked: map[string]string{}, tokens: map[string]progressSink{},
		state: newState(), up: make(chan struct{}),
	}
	// jsonrpc2 reads (and hands requests to s) as soon as the connection
	// exists: requests wait until s.editor is set.
	ready := make(chan struct{})
	s.editor = jsonrpc2.NewConn(sctx, protocol.NewStream(rwc), afterReady{ready, s}, jsonrpc2.SetLogger(discard{}))
	close(ready)
	s.wg.Go(s.writer)
	s.wg.Go(s.worker)
	s.wg.Go(s.connectLoop)
	select {
	case <-s.editor.DisconnectNotify():
	case <-sctx.Done():
		s.editor.Close()
	}
	cancel()
	s.mu.Lock()
	d := s.daemon
	s.mu.Unlock()
	if d != nil {
		d.Close()
	}
	s.wg.Wait()
	return nil
}

// afterReady hands requests to h once ready is closed.
type afterReady struct {
	ready <-chan struct{}
	h     jsonrpc2.Handler
}

func (a afterReady) Handle(ctx context.Context, conn *jsonrpc2.Conn, req *jsonrpc2.Request) {
	<-a.ready
	a.h.Handle(ctx, conn, req)
}

type discard struct{}

func (discard) Printf(string, ...any) {}

// writer sends queued notifications to the editor in order.
func (s *server) writer() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case n := <-s.out:
			if err := s.editor.Notify(s.ctx, n.method, n.params); err != nil {
				return
			}
		}
	}
}

// notify queues a notification for the editor without blocking; an editor
// that falls this far behind loses it.
func (s *server) notify(method string, params any) {
	select {
	case s.out <- outgoing{method, params}:
	default:
		s.log.Warn("editor too slow: dropping a notification", "method", method)
	}
}

// notifyLSP queues an LSP notification, encoded by the LSP codec.
func (s *server) notifyLSP(method string, params any) {
	raw, err := encode(params)
	if err != nil {
		s.log.Error("encode", "method", method, "err", err)
		return
	}
	s.notify(method, raw)
}

// worker runs queued jobs in order: work that reads files or asks the
// editor, which must not run in either connection's read loop.
func (s *server) worker() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case job := <-s.jobs:
			job()
		}
	}
}

// queue hands a job to the worker without blocking.
func (s *server) queue(job func()) {
	select {
	case s.jobs <- job:
	default:
		s.log.Warn("lsp worker too far behind: dropping a job")
	}
}

// call sends the editor a request and decodes the answer into result
// (which may be nil). Never call it from the editor's read loop: the answer
// arrives there.
func (s *server) call(ctx context.Context, method string, params, result any) error {
	raw, err := encode(params)
	if err != nil {
		return err
	}
	var res json.RawMessage
	if err := s.editor.Call(ctx, method, raw, &res); err != nil {
		return err
	}
	if result == nil || len(res) == 0 || string(res) == "null" {
		return nil
	}
	return lsp.Unmarshal(res, result)
}

// encode and decode are the one codec for go.lsp.dev/protocol values: its
// union types are not encoding/json compatible, so they are encoded into
// raw JSON that jsonrpc2 passes through, and decoded with its Unmarshal.
func encode(v any) (json.RawMessage, error) {
	b, err := lsp.Marshal(v)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

func decode[T any](raw json.RawMessage) (T, error) {
	var v T
	if len(raw) == 0 || string(raw) == "null" {
		return v, nil
	}
	if err := lsp.Unmarshal(raw, &v); err != nil {
		return v, &protocol.Error{Code: protocol.CodeInvalidParams, Message: "invalid params: " + err.Error()}
	}
	return v, nil
}

// Handle is the editor connection's handler. It runs in the read loop:
// lifecycle and text-synchronization notifications are handled here, in
// order; requests run in their own goroutines.
func (s *server) Handle(ctx context.Context, conn *jsonrpc2.Conn, req *jsonrpc2.Request) {
	var params json.RawMessage
	if req.Params != nil {
		params = *req.Params
	}
	if req.Notif {
		s.notification(req.Method, params)
		return
	}
	h := s.handler(req.Method)
	rctx, cancel := context.WithCancel(s.ctx)
	key := req.ID.String()
	s.mu.Lock()
	s.inflight[key] = cancel
	s.mu.Unlock()
	s.wg.Go(func() {
		defer cancel()
		res, err := h(rctx, params)
		s.mu.Lock()
		delete(s.inflight, key)
		s.mu.Unlock()
		if err != nil {
			if errors.Is(err, context.Canceled) && rctx.Err() != nil {
				err = &protocol.Error{Code: protocol.CodeRequestCancelled, Message: "request cancelled"}
			}
			conn.ReplyWithError(ctx, req.ID, protocol.ToRPC(editorError(err)))
			return
		}
		if err := conn.Reply(ctx, req.ID, res); err != nil && !errors.Is(err, jsonrpc2.ErrClosed) {
			s.log.Warn("reply", "method", req.Method, "err", err)
		}
	})
}

type handler func(ctx context.Context, params json.RawMessage) (any, error)

// handler returns what serves method: an LSP request, or a studio/*
// request relayed to the daemon as it is.
func (s *server) handler(method string) handler {
	switch method {
	case methodInitialize:
		return s.initialize
	case methodShutdown:
		return s.shutdown
	case methodCodeLens:
		return s.afterInit(s.codeLens)
	case methodCodeAction:
		return s.afterInit(s.codeAction)
	case methodExecuteCommand:
		return s.afterInit(s.executeCommand)
	}
	if strings.HasPrefix(method, "studio/") {
		return func(ctx context.Context, params json.RawMessage) (any, error) {
			return s.relayCall(ctx, method, params)
		}
	}
	return func(context.Context, json.RawMessage) (any, error) {
		return nil, protocol.Errorf(protocol.CodeMethodNotFound, "method not found: %s", method)
	}
}

// afterInit refuses a request before initialize and after shutdown.
func (s *server) afterInit(h handler) handler {
	return func(ctx context.Context, params json.RawMessage) (any, error) {
		s.mu.Lock()
		init, down := s.initialized, s.down
		s.mu.Unlock()
		switch {
		case !init:
			return nil, &protocol.Error{Code: codeServerNotInitialized, Message: "initialize first"}
		case down:
			return nil, &protocol.Error{Code: codeInvalidRequest, Message: "the server is shut down"}
		}
		return h(ctx, params)
	}
}

func (s *server) notification(method string, params json.RawMessage) {
	switch method {
	case methodCancelRequest:
		var p struct {
			ID jsonrpc2.ID `json:"id"`
		}
		if json.Unmarshal(params, &p) == nil {
			s.mu.Lock()
			if cancel, ok := s.inflight[p.ID.String()]; ok {
				cancel()
			}
			s.mu.Unlock()
		}
	case methodInitialized:
		s.mu.Lock()
		s.ready = s.initialized && !s.down
		ready := s.ready
		s.mu.Unlock()
		if ready {
			s.queue(s.publishAll)
		}
	case methodExit:
		// The editor ends the session; `studiod lsp` exits with it.
		go s.editor.Close()
	case methodDidOpen:
		p, err := decode[lsp.DidOpenTextDocumentParams](params)
		if err != nil {
			return
		}
		file := docPath(p.TextDocument.URI)
		s.mu.Lock()
		s.open[file] = true
		s.mu.Unlock()
		// Send the file's diagnostics again, for clients that only keep
		// them for open documents.
		s.queue(func() { s.publishFile(file, false) })
	case methodDidClose:
		p, err := decode[lsp.DidCloseTextDocumentParams](params)
		if err != nil {
			return
		}
		s.mu.Lock()
		delete(s.open, docPath(p.TextDocument.URI))
		s.mu.Unlock()
	}
	// Everything else (didChange, didSave, configuration, …) is ignored:
	// contents come from the daemon's file watcher, not from the editor.
}

func (s *server) initialize(ctx context.Context, params json.RawMessage) (any, error) {
	p, err := decode[lsp.InitializeParams](params)
	if err != nil {
		return nil, err
	}
	root := ""
	var folders []string
	if wf, ok := p.WorkspaceFolders.Get(); ok && len(wf) > 0 {
		root = wf[0].URI.FsPath()
		for _, f := range wf {
			if f.URI.IsFile() {
				folders = append(folders, filepath.Clean(f.URI.FsPath()))
			}
		}
	} else if p.RootURI != nil && p.RootURI.IsFile() {
		root = p.RootURI.FsPath()
	} else if r, ok := p.RootPath.Get(); ok {
		root = r
	}
	var opts InitOptions
	if raw, err := json.Marshal(p.InitializationOptions); err == nil {
		json.Unmarshal(raw, &opts)
	}
	var caps clientCaps
	if w := p.Capabilities.Window; w != nil {
		caps.progress = w.WorkDoneProgress != nil && *w.WorkDoneProgress
		caps.showDoc = w.ShowDocument != nil && w.ShowDocument.Support
	}
	if w := p.Capabilities.Workspace; w != nil && w.CodeLens != nil && w.CodeLens.RefreshSupport != nil {
		caps.lensRefresh = *w.CodeLens.RefreshSupport
	}
	s.mu.Lock()
	if s.initialized {
		s.mu.Unlock()
		return nil, &protocol.Error{Code: codeInvalidRequest, Message: "initialize was already sent"}
	}
	if len(folders) == 0 && root != "" {
		folders = []string{filepath.Clean(root)}
	}
	s.initialized, s.root, s.folders, s.opts, s.caps = true, root, folders, opts, caps
	s.mu.Unlock()

	yes := true
	return encode(lsp.InitializeResult{
		Capabilities: lsp.ServerCapabilities{
			TextDocumentSync: &lsp.TextDocumentSyncOptions{
				OpenClose: &yes,
				Change:    new(lsp.TextDocumentSyncKindNone),
			},
			CodeLensProvider: &lsp.CodeLensOptions{},
			CodeActionProvider: &lsp.CodeActionOptions{
				CodeActionKinds: []lsp.CodeActionKind{lsp.CodeActionKindQuickFix},
			},
			ExecuteCommandProvider: lsp.ExecuteCommandOptions{
				WorkDoneProgressOptions: lsp.WorkDoneProgressOptions{WorkDoneProgress: &yes},
				Commands:                append(append([]string(nil), protocol.Commands...), protocol.CommandOpen),
			},
		},
		ServerInfo: lsp.ServerInfo{Name: "studiod", Version: lsp.NewOptional(s.cfg.Version)},
	})
}

func (s *server) shutdown(ctx context.Context, params json.RawMessage) (any, error) {
	s.mu.Lock()
	s.down, s.ready = true, false
	s.mu.Unlock()
	return nil, nil
}

// isReady reports whether the editor takes notifications and requests.
func (s *server) isReady() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready
}

// ---- the daemon ----------------------------------------------------------

// errNoDaemon is what requests get while the daemon is out of reach.
var errNoDaemon = errors.New("studiod daemon unreachable (reconnecting): see `studiod doctor`")

// connectLoop keeps the face's own connection to the daemon: dial,
// subscribe, load the sessions and conflicts, follow their changes; when
// the daemon goes away (restarted, upgraded), dial again.
func (s *server) connectLoop() {
	for s.ctx.Err() == nil {
		d, err := s.connect()
		if err != nil {
			s.log.Warn("connect to the daemon", "err", err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(s.cfg.Retry):
			}
			continue
		}
		select {
		case <-s.ctx.Done():
			return
		case <-d.Done():
		}
		s.mu.Lock()
		if s.daemon == d {
			s.daemon = nil
			s.up = make(chan struct{})
		}
		s.mu.Unlock()
		s.log.Info("daemon connection lost: reconnecting")
	}
}

// connect dials the daemon and subscribes with a snapshot, which replaces
// whatever the face knew. The one connection carries the face's traffic and
// the editor's own studio/* requests and notifications.
func (s *server) connect() (Daemon, error) {
	ev := &protocol.Events{
		SessionChanged:   s.sessionChanged,
		ConflictsChanged: s.conflictsChanged,
		Progress:         s.daemonProgress,
	}
	feed := protocol.NewFeed(func(method string, params json.RawMessage) {
		ev.Notify(method, params)
		s.forward(method, params)
	})
	d, err := s.cfg.Dial(s.ctx, feed.Notify)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	sub := s.subscription
	s.mu.Unlock()
	var files map[string]bool
	if _, err := feed.Subscribe(s.ctx, d, daemonSubscription(sub), func(r *protocol.SubscribeResult) {
		s.mu.Lock()
		files = s.state.reset(r.Sessions, r.Conflicts)
		s.mu.Unlock()
	}); err != nil {
		d.Close()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	s.mu.Lock()
	s.daemon, s.feed = d, feed
	close(s.up)
	s.mu.Unlock()
	s.queue(func() { s.publish(files) })
	return d, nil
}

// daemonSubscription is what the face subscribes to: sessions and
// conflicts for itself, and whatever the editor asked for.
func daemonSubscription(editor *protocol.SubscribeParams) protocol.SubscribeParams {
	p := protocol.SubscribeParams{}
	if editor != nil {
		p = *editor
	}
	p.Sessions, p.Conflicts, p.Snapshot = true, true, true
	return p
}

// forward passes a daemon notification on to the editor when the editor
// asked for it: the ones its studio/subscribe chose, and the progress of
// its own requests (a token the face did not make).
func (s *server) forward(method string, params json.RawMessage) {
	s.mu.Lock()
	sub := s.subscription
	_, ours := s.tokens[progressToken(method, params)]
	s.mu.Unlock()
	want := false
	switch method {
	case protocol.NotifyProgress:
		want = !ours
	case protocol.NotifySessionChanged:
		want = sub != nil && sub.Sessions
	case protocol.NotifyConflictsChanged:
		want = sub != nil && sub.Conflicts
	case protocol.NotifyPreviewChanged:
		want = sub != nil && sub.Preview
	case protocol.NotifySessionActivity:
		want = sub != nil && sub.Activity
	case protocol.NotifyOutput:
		want = sub != nil && len(sub.Output) > 0
	default:
		want = strings.HasPrefix(method, "studio/")
	}
	if want {
		s.notify(method, params)
	}
}

// progressToken is the token of a $/progress notification.
func progressToken(method string, params json.RawMessage) string {
	if method != protocol.NotifyProgress {
		return ""
	}
	var p protocol.ProgressParams
	if json.Unmarshal(params, &p) != nil {
		return ""
	}
	tok, _ := p.Token.(string)
	return tok
}

// daemonWait bounds how long a request waits for the daemon connection.
const daemonWait = 15 * time.Second

// daemonConn returns the face's daemon connection, waiting a while for it
// when it is being dialled.
func (s *server) daemonConn(ctx context.Context) (Daemon, error) {
	timeout := time.After(daemonWait)
	for {
		s.mu.Lock()
		d, up := s.daemon, s.up
		s.mu.Unlock()
		if d != nil {
			return d, nil
		}
		select {
		case <-up:
		case <-timeout:
			return nil, errNoDaemon
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// relayCall sends a studio/* request from the editor to the daemon as it
// is, on the face's connection. The editor's studio/subscribe joins the
// face's own subscription (and is repeated when the connection is dialled
// again); what it chose is forwarded to the editor.
func (s *server) relayCall(ctx context.Context, method string, params json.RawMessage) (any, error) {
	d, err := s.daemonConn(ctx)
	if err != nil {
		return nil, err
	}
	if method == protocol.MethodSubscribe {
		return s.editorSubscribe(ctx, d, params)
	}
	if len(params) == 0 {
		params = json.RawMessage("null")
	}
	var res json.RawMessage
	if err := d.Call(ctx, method, params, &res); err != nil {
		return nil, err
	}
	return res, nil
}

// editorSubscribe subscribes the face's connection to what the editor
// asks for on top of the face's own needs, and answers with the snapshot
// of what the editor chose, when it asked for one.
func (s *server) editorSubscribe(ctx context.Context, d Daemon, params json.RawMessage) (any, error) {
	p, err := protocol.Decode[protocol.SubscribeParams](params)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	prev, feed := s.subscription, s.feed
	s.subscription = &p
	s.mu.Unlock()
	var files map[string]bool
	res, err := feed.Subscribe(ctx, d, daemonSubscription(&p), func(r *protocol.SubscribeResult) {
		s.mu.Lock()
		files = s.state.reset(r.Sessions, r.Conflicts)
		s.mu.Unlock()
	})
	if err != nil {
		s.mu.Lock()
		if s.subscription == &p {
			s.subscription = prev
		}
		s.mu.Unlock()
		return nil, err
	}
	s.queue(func() { s.publish(files) })
	out := &protocol.SubscribeResult{Seq: res.Seq}
	if p.Snapshot {
		if p.Sessions {
			out.Sessions = res.Sessions
		}
		if p.Conflicts {
			out.Conflicts = res.Conflicts
		}
		out.Previews = res.Previews
	}
	return out, nil
}
