package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/studiod/studiod/protocol"
)

// Config configures the MCP adapter.
type Config struct {
	// Dial connects to the daemon. The adapter keeps one connection and
	// dials again when it drops (the daemon restarted).
	Dial func(ctx context.Context, notify protocol.NotifyFunc) (*protocol.Client, error)
	// Dir is the repository used when neither a tool's repo argument nor
	// the client's roots name one: the working directory of `studiod mcp`.
	// Empty over HTTP, where the daemon's working directory means nothing.
	Dir string
	// Session is the session this face runs inside (STUDIO_SESSION_ID of
	// `studiod mcp` started by an agent), "" for none: its comments and
	// reviewers record it.
	Session string
	Version string
	Log     *slog.Logger
}

// Server is the Model Context Protocol face of the daemon: tools,
// resources and notifications that are thin adapters over protocol.API
// calls on a client of the daemon. One Server serves any number of MCP
// sessions (one over stdio, many over HTTP).
type Server struct {
	cfg Config

	// mu guards the fields below. It is never held while calling the
	// daemon or an MCP client.
	mu     sync.Mutex
	client *protocol.Client
	// subs maps an MCP client session to the resource URIs it subscribed
	// to, each with the subscriptions/listen stream ID (nil for
	// resources/subscribe).
	subs map[mcpserver.ClientSession]map[string]any
}

// New returns the adapter. It dials the daemon on first use.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	return &Server{cfg: cfg, subs: map[mcpserver.ClientSession]map[string]any{}}
}

const mcpInstructions = `studiod runs several AI coding agents in parallel, each in its own git worktree on branch studio/<name>, predicts where their work will collide, and merges it safely.
Typical flow: spawn_session (pick an agent profile the user configured) → get_session / read_output to follow it → session_diff to review → check_conflicts before merging → add_review_comment + send_feedback to request changes → merge_session (dry_run first) → remove_session.
With several sessions: preview_integration (check: true to test the combination) → land_sessions (send_failures: true sends what breaks to its agent) → sync_session for the sessions left behind.
Sessions are named within a repository; pass repo (an absolute path) when working outside the client's workspace root.`

// Options are the server options the adapter needs: capabilities and the
// hooks that track resource subscriptions, both the resources/subscribe
// requests of protocol versions up to 2025-11-25 and the
// subscriptions/listen streams of 2026-07-28.
func (m *Server) Options() []mcpserver.ServerOption {
	hooks := &mcpserver.Hooks{}
	hooks.AddAfterSubscribe(func(ctx context.Context, id any, req *mcp.SubscribeRequest, _ *mcp.EmptyResult) {
		m.subscribe(ctx, nil, []string{req.Params.URI}, true)
	})
	hooks.AddAfterUnsubscribe(func(ctx context.Context, id any, req *mcp.UnsubscribeRequest, _ *mcp.EmptyResult) {
		m.subscribe(ctx, nil, []string{req.Params.URI}, false)
	})
	hooks.AddBeforeSubscriptionsListen(func(ctx context.Context, id any, req *mcp.SubscriptionsListenRequest) {
		uris := req.Params.Notifications.ResourceSubscriptions
		if len(uris) == 0 || id == nil {
			return
		}
		m.subscribe(ctx, id, uris, true)
		// The stream lasts as long as the request.
		context.AfterFunc(ctx, func() { m.subscribe(ctx, id, uris, false) })
	})
	hooks.AddOnUnregisterSession(func(ctx context.Context, s mcpserver.ClientSession) {
		m.mu.Lock()
		delete(m.subs, s)
		m.mu.Unlock()
	})
	return []mcpserver.ServerOption{
		mcpserver.WithToolCapabilities(false),
		// Every tool declares an output schema made from its result type;
		// a result that broke it would be a bug, reported as a tool error
		// rather than sent.
		mcpserver.WithOutputSchemaValidation(),
		mcpserver.WithResourceCapabilities(true, false),
		mcpserver.WithInstructions(mcpInstructions),
		mcpserver.WithHooks(hooks),
		mcpserver.WithRecovery(),
	}
}

// Server returns a complete MCP server with every tool and resource.
func (m *Server) Server() *mcpserver.MCPServer {
	s := mcpserver.NewMCPServer("studiod", m.cfg.Version, m.Options()...)
	s.AddTools(m.Tools()...)
	s.AddResources(m.Resources()...)
	s.AddResourceTemplates(m.ResourceTemplates()...)
	return s
}

// ServeStdio serves one MCP client on r and w (stdin and stdout) until ctx
// ends or the client closes its end. A message (a line) over LineLimit is
// answered with an error, never held in memory.
func (m *Server) ServeStdio(ctx context.Context, r io.Reader, w io.Writer, errLog io.Writer) error {
	s := mcpserver.NewStdioServer(m.Server())
	if errLog != nil {
		s.SetErrorLogger(logLogger(errLog))
	}
	lw := &lockedWriter{w: w}
	err := s.Listen(ctx, limitLines(r, lw, LineLimit), lw)
	if errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// Close closes the daemon connection.
func (m *Server) Close() error {
	m.mu.Lock()
	c := m.client
	m.client = nil
	m.mu.Unlock()
	if c != nil {
		return c.Close()
	}
	return nil
}

// daemon returns the connection to the daemon, dialling it when there is
// none or the last one dropped. Each new connection subscribes to session
// changes, which drive resource update notifications.
func (m *Server) daemon(ctx context.Context) (*protocol.Client, error) {
	m.mu.Lock()
	c := m.client
	m.mu.Unlock()
	if c != nil {
		select {
		case <-c.Done():
		default:
			return c, nil
		}
	}
	c, err := m.cfg.Dial(ctx, m.notified)
	if err != nil {
		return nil, err
	}
	if _, err := c.Subscribe(ctx, protocol.SubscribeParams{Sessions: true, Preview: true}); err != nil {
		c.Close()
		return nil, fmt.Errorf("subscribe to session changes: %w", err)
	}
	m.mu.Lock()
	if m.client != nil && m.client != c {
		select {
		case <-m.client.Done():
		default:
			// Another request dialled first: use its connection.
			old := m.client
			m.mu.Unlock()
			c.Close()
			return old, nil
		}
	}
	m.client = c
	m.mu.Unlock()
	return c, nil
}

// notified runs on the daemon connection's read goroutine: it must not
// block or call the daemon. Sending an MCP notification only queues it.
func (m *Server) notified(method string, params json.RawMessage) {
	var changed map[string]bool
	switch method {
	case protocol.NotifyPreviewChanged:
		changed = map[string]bool{previewURI: true}
	case protocol.NotifySessionChanged:
		var n protocol.SessionChanged
		if json.Unmarshal(params, &n) != nil {
			return
		}
		changed = map[string]bool{
			sessionsURI:                          true,
			planURI:                              true,
			sessionURI(n.Session.Name, "diff"):   true,
			sessionURI(n.Session.Name, "output"): true,
			sessionURI(n.Session.ID, "diff"):     true,
			sessionURI(n.Session.ID, "output"):   true,
		}
	default:
		return
	}
	type send struct {
		session mcpserver.ClientSession
		uri     string
		stream  any
	}
	var sends []send
	m.mu.Lock()
	for cs, uris := range m.subs {
		for uri, stream := range uris {
			if changed[uri] {
				sends = append(sends, send{cs, uri, stream})
			}
		}
	}
	m.mu.Unlock()
	for _, s := range sends {
		n := mcp.JSONRPCNotification{JSONRPC: mcp.JSONRPC_VERSION, Notification: mcp.Notification{
			Method: string(mcp.MethodNotificationResourceUpdated),
			Params: mcp.NotificationParams{AdditionalFields: map[string]any{"uri": s.uri}},
		}}
		if s.stream != nil {
			n.Params.Meta = map[string]any{mcp.MetaKeySubscriptionID: s.stream}
		}
		// Queue without blocking: a client that does not read its
		// notifications misses updates rather than stalling the daemon
		// connection.
		select {
		case s.session.NotificationChannel() <- n:
		default:
			m.cfg.Log.Debug("resource update dropped: client queue full", "uri", s.uri)
		}
	}
}

// subscribe records (or forgets) the calling session's interest in uris.
// stream is the subscriptions/listen request ID, nil for resources/subscribe.
func (m *Server) subscribe(ctx context.Context, stream any, uris []string, on bool) {
	cs := mcpserver.ClientSessionFromContext(ctx)
	if cs == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, uri := range uris {
		if !on {
			delete(m.subs[cs], uri)
			continue
		}
		if m.subs[cs] == nil {
			m.subs[cs] = map[string]any{}
		}
		m.subs[cs][uri] = stream
	}
	if len(m.subs[cs]) == 0 {
		delete(m.subs, cs)
	}
}

// repo resolves the repository a call acts on: the explicit argument, else
// the client's first file root, else the adapter's working directory.
func (m *Server) repo(ctx context.Context, explicit string) (string, error) {
	if explicit != "" {
		if filepath.IsAbs(explicit) {
			return filepath.Clean(explicit), nil
		}
		if m.cfg.Dir == "" {
			return "", fmt.Errorf("repo %q is relative: pass an absolute path", explicit)
		}
		return filepath.Join(m.cfg.Dir, explicit), nil
	}
	// Implicit choices count only inside a git work tree: an assistant
	// started in / or in a home directory must name the repository.
	if dir := m.rootDir(ctx); dir != "" && inWorkTree(dir) {
		return dir, nil
	}
	if m.cfg.Dir != "" && inWorkTree(m.cfg.Dir) {
		return m.cfg.Dir, nil
	}
	return "", errors.New("no repository: pass repo (the absolute path of a git repository); this client shares no workspace roots")
}

// inWorkTree reports whether dir is inside a git work tree (a .git entry
// in it or above it).
func inWorkTree(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return true
		}
		if d == filepath.Dir(d) {
			return false
		}
	}
}

// rootDir asks the client for its roots when it declared the capability.
func (m *Server) rootDir(ctx context.Context) string {
	srv := mcpserver.ServerFromContext(ctx)
	cs := mcpserver.ClientSessionFromContext(ctx)
	if srv == nil || cs == nil {
		return ""
	}
	if ci, ok := cs.(mcpserver.SessionWithClientInfo); ok && ci.GetClientCapabilities().Roots == nil {
		return ""
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := srv.RequestRoots(rctx, mcp.ListRootsRequest{})
	if err != nil {
		m.cfg.Log.Debug("roots/list", "err", err)
		return ""
	}
	for _, r := range res.Roots {
		u, err := url.Parse(r.URI)
		if err == nil && u.Scheme == "file" && filepath.IsAbs(u.Path) {
			return filepath.Clean(u.Path)
		}
	}
	return ""
}

// plainText turns terminal output into text a model can read: escape
// sequences removed (by x/ansi's ECMA-48 parser, which knows where each
// kind of sequence ends), CRLF and lone CR made newlines, other control
// characters dropped.
func plainText(b []byte) string {
	s := ansi.Strip(string(b))
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || r >= 0x20 && r != 0x7f && (r < 0x80 || r > 0x9f) {
			return r
		}
		return -1
	}, s)
}

func logLogger(w io.Writer) *log.Logger { return log.New(w, "studiod mcp: ", 0) }
