package server

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/sourcegraph/jsonrpc2"
	lsp "go.lsp.dev/protocol"
	"go.lsp.dev/uri"

	"github.com/studiod/studiod/protocol"
)

// The LSP adapter. Editors reach the daemon through `studiod lsp`, which
// relays their stream onto an ordinary daemon connection: LSP requests are
// served here, next to the studio/* ones, on the same conn. A connection
// becomes an LSP connection when it sends initialize, and receives
// diagnostics, prompts and progress once it has sent initialized.
//
// Lock order: Server.diag.mu, then Server.mu, then conn.lsp.mu (and conn.mu).
// Nothing calls out (git, the client) while holding any of them.

// LSP method names we serve or send.
const (
	lspInitialize         = "initialize"
	lspInitialized        = "initialized"
	lspShutdown           = "shutdown"
	lspExit               = "exit"
	lspDidOpen            = "textDocument/didOpen"
	lspDidClose           = "textDocument/didClose"
	lspCodeLens           = "textDocument/codeLens"
	lspCodeAction         = "textDocument/codeAction"
	lspExecuteCommand     = "workspace/executeCommand"
	lspPublishDiagnostics = "textDocument/publishDiagnostics"
	lspShowMessageRequest = "window/showMessageRequest"
	lspShowMessage        = "window/showMessage"
	lspShowDocument       = "window/showDocument"
	lspProgressCreate     = "window/workDoneProgress/create"
	lspProgress           = "$/progress"
	lspCodeLensRefresh    = "workspace/codeLens/refresh"
)

// lspCodeRequestCancelled and friends are LSP's own error codes.
const (
	lspCodeInvalidRequest       = -32600
	lspCodeServerNotInitialized = -32002
)

// lspEncode and lspDecode are the one codec for go.lsp.dev/protocol values:
// its union types are not encoding/json compatible, so LSP values are
// encoded with its Marshal into raw JSON that jsonrpc2 passes through, and
// decoded with its Unmarshal.
func lspEncode(v any) (json.RawMessage, error) {
	b, err := lsp.Marshal(v)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

func lspDecode[T any](raw json.RawMessage) (T, error) {
	var v T
	if len(raw) == 0 || string(raw) == "null" {
		return v, nil
	}
	if err := lsp.Unmarshal(raw, &v); err != nil {
		return v, &protocol.Error{Code: protocol.CodeInvalidParams, Message: "invalid params: " + err.Error()}
	}
	return v, nil
}

// lspState is a connection's LSP session.
type lspState struct {
	// mu guards the fields below.
	mu          sync.Mutex
	initialized bool // initialize answered
	ready       bool // initialized received: the client takes notifications and requests
	shutdown    bool
	root        string            // first workspace folder or root URI, as a path
	open        map[string]bool   // open documents, by file path
	progress    bool              // client supports window/workDoneProgress/create
	showDoc     bool              // client supports window/showDocument
	lensRefresh bool              // client supports workspace/codeLens/refresh
	asked       map[string]string // session ID → waiting text already prompted
	jobs        chan func()       // run in order by the connection's LSP worker

	refreshQueued atomic.Bool
	tokens        atomic.Int64
}

// lspRoutes lists the LSP requests served on any connection.
func (s *Server) lspRoutes() map[string]handler {
	return map[string]handler{
		lspInitialize:     s.lspInitialize,
		lspShutdown:       s.lspShutdown,
		lspCodeLens:       s.lspAfterInit(s.codeLens),
		lspCodeAction:     s.lspAfterInit(s.codeAction),
		lspExecuteCommand: s.lspAfterInit(s.executeCommand),
	}
}

// lspAfterInit refuses a request before initialize and after shutdown.
func (s *Server) lspAfterInit(h handler) handler {
	return func(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
		c.lsp.mu.Lock()
		init, down := c.lsp.initialized, c.lsp.shutdown
		c.lsp.mu.Unlock()
		switch {
		case !init:
			return nil, &protocol.Error{Code: lspCodeServerNotInitialized, Message: "initialize first"}
		case down:
			return nil, &protocol.Error{Code: lspCodeInvalidRequest, Message: "the server is shut down"}
		}
		return h(ctx, c, params)
	}
}

func (s *Server) lspInitialize(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := lspDecode[lsp.InitializeParams](params)
	if err != nil {
		return nil, err
	}
	root := ""
	if folders, ok := p.WorkspaceFolders.Get(); ok && len(folders) > 0 {
		root = folders[0].URI.FsPath()
	} else if p.RootURI != nil && p.RootURI.IsFile() {
		root = p.RootURI.FsPath()
	} else if r, ok := p.RootPath.Get(); ok {
		root = r
	}
	caps := p.Capabilities
	c.lsp.mu.Lock()
	if c.lsp.initialized {
		c.lsp.mu.Unlock()
		return nil, &protocol.Error{Code: lspCodeInvalidRequest, Message: "initialize was already sent"}
	}
	c.lsp.initialized = true
	c.lsp.root = root
	c.lsp.open = map[string]bool{}
	c.lsp.asked = map[string]string{}
	if w := caps.Window; w != nil {
		c.lsp.progress = w.WorkDoneProgress != nil && *w.WorkDoneProgress
		c.lsp.showDoc = w.ShowDocument != nil && w.ShowDocument.Support
	}
	if w := caps.Workspace; w != nil && w.CodeLens != nil && w.CodeLens.RefreshSupport != nil {
		c.lsp.lensRefresh = *w.CodeLens.RefreshSupport
	}
	c.lsp.jobs = make(chan func(), 256)
	c.lsp.mu.Unlock()
	// This handler runs in a goroutine the connection's WaitGroup counts, so
	// adding the worker to it here cannot race with the final Wait.
	c.wg.Go(c.lspWorker)

	yes := true
	res := lsp.InitializeResult{
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
		ServerInfo: lsp.ServerInfo{Name: "studiod", Version: lsp.NewOptional(s.version)},
	}
	return lspEncode(res)
}

func (s *Server) lspShutdown(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	c.lsp.mu.Lock()
	c.lsp.shutdown = true
	c.lsp.ready = false
	c.lsp.mu.Unlock()
	return nil, nil
}

// lspNotification handles the LSP notifications that must keep their order
// (lifecycle and text synchronization) in the read loop. They only update
// state and queue work, so they never hold up the connection. It reports
// whether req was one of them.
func (c *conn) lspNotification(req *jsonrpc2.Request) bool {
	if !req.Notif {
		return false
	}
	var params json.RawMessage
	if req.Params != nil {
		params = *req.Params
	}
	switch req.Method {
	case lspInitialized:
		c.lsp.mu.Lock()
		ok := c.lsp.initialized && !c.lsp.shutdown
		c.lsp.ready = ok
		c.lsp.mu.Unlock()
		if ok {
			c.s.publishAll(c)
		}
	case lspExit:
		// The editor ends the session; closing the connection ends the
		// relaying `studiod lsp` too.
		go c.rpc.Close()
	case lspDidOpen:
		p, err := lspDecode[lsp.DidOpenTextDocumentParams](params)
		if err != nil {
			return true
		}
		file := docPath(p.TextDocument.URI)
		c.lsp.mu.Lock()
		if c.lsp.open != nil {
			c.lsp.open[file] = true
		}
		c.lsp.mu.Unlock()
		// Send the file's diagnostics again, for clients that only keep
		// them for open documents.
		c.s.publishFile(file, c)
	case lspDidClose:
		p, err := lspDecode[lsp.DidCloseTextDocumentParams](params)
		if err != nil {
			return true
		}
		c.lsp.mu.Lock()
		delete(c.lsp.open, docPath(p.TextDocument.URI))
		c.lsp.mu.Unlock()
	case "textDocument/didChange", "textDocument/didSave", "$/setTrace", "workspace/didChangeConfiguration",
		"window/workDoneProgress/cancel":
		// Contents come from the file watcher, not the editor.
	default:
		return false
	}
	return true
}

// lspReady reports whether the connection takes LSP notifications.
func (c *conn) lspReady() bool {
	c.lsp.mu.Lock()
	defer c.lsp.mu.Unlock()
	return c.lsp.ready
}

// lspWorker runs the connection's queued LSP jobs in order until the
// connection ends.
func (c *conn) lspWorker() {
	c.lsp.mu.Lock()
	jobs := c.lsp.jobs
	c.lsp.mu.Unlock()
	for {
		select {
		case <-c.ctx.Done():
			return
		case job := <-jobs:
			job()
		}
	}
}

// lspQueue queues job for the connection's LSP worker without blocking; a
// client so far behind that the queue is full loses the job.
func (c *conn) lspQueue(job func()) {
	c.lsp.mu.Lock()
	jobs := c.lsp.jobs
	c.lsp.mu.Unlock()
	if jobs == nil {
		return
	}
	select {
	case jobs <- job:
	default:
		c.s.log.Warn("lsp client too slow: dropping a job")
	}
}

// lspNotify sends an LSP notification, encoded by the LSP codec.
func (c *conn) lspNotify(method string, params any) {
	raw, err := lspEncode(params)
	if err != nil {
		c.s.log.Error("encode lsp notification", "method", method, "err", err)
		return
	}
	c.notify(method, raw)
}

// lspCall sends the client a request and decodes its answer into result
// (which may be nil). Never call it from the read loop: jsonrpc2 delivers
// the answer there.
func (c *conn) lspCall(ctx context.Context, method string, params, result any) error {
	raw, err := lspEncode(params)
	if err != nil {
		return err
	}
	var res json.RawMessage
	if err := c.rpc.Call(ctx, method, raw, &res); err != nil {
		return err
	}
	if result == nil || len(res) == 0 || string(res) == "null" {
		return nil
	}
	return lsp.Unmarshal(res, result)
}

// lspConns returns the connections that take LSP notifications.
func (s *Server) lspConns() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*conn
	for c := range s.conns {
		if c.lspReady() {
			out = append(out, c)
		}
	}
	return out
}

// docPath turns a document URI into a clean file path ("" if not a file).
func docPath(u uri.URI) string {
	if !u.IsFile() {
		return ""
	}
	p := filepath.Clean(u.FsPath())
	if real, err := filepath.EvalSymlinks(p); err == nil {
		p = real
	}
	return p
}

func fileURI(path string) uri.URI { return uri.File(path) }
