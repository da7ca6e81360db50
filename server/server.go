package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/sourcegraph/jsonrpc2"
	"golang.org/x/sys/unix"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
)

// Server serves the studio/* protocol over accepted connections.
type Server struct {
	agents  *agents.Manager
	log     *slog.Logger
	version string
	started time.Time
	info    Info
	// shutdown asks the daemon to stop.
	shutdown func()

	routes map[string]handler
	lsp    map[string]handler // LSP requests (lsp.go)
	diag   diagIndex          // files with conflict diagnostics
	lens   lensCache          // per-file change counts for code lenses

	// mu guards conns.
	mu    sync.Mutex
	conns map[*conn]struct{}

	unsub func()
	wg    sync.WaitGroup
}

// Info is what studio/status reports about the daemon's files.
type Info struct {
	Socket string
	Log    string
	State  string
}

type handler func(ctx context.Context, c *conn, params json.RawMessage) (any, error)

// New returns a Server over the manager.
func New(m *agents.Manager, log *slog.Logger, version string, info Info, shutdown func()) *Server {
	s := &Server{
		agents: m, log: log, version: version, started: time.Now().UTC(), info: info,
		shutdown: shutdown, conns: map[*conn]struct{}{},
	}
	s.routes = map[string]handler{
		protocol.MethodHello:     s.hello,
		protocol.MethodSpawn:     s.spawn,
		protocol.MethodSessions:  s.sessions,
		protocol.MethodSession:   s.session,
		protocol.MethodSend:      s.send,
		protocol.MethodOutput:    s.output,
		protocol.MethodResize:    s.resize,
		protocol.MethodStop:      s.stop,
		protocol.MethodRemove:    s.remove,
		protocol.MethodHook:      s.hook,
		protocol.MethodSubscribe: s.subscribe,
		protocol.MethodStatus:    s.status,
		protocol.MethodTrust:     s.trust,
		protocol.MethodShutdown:  s.shutdownReq,
		protocol.MethodConflicts: s.conflicts,
		protocol.MethodDiff:      s.diff,
		protocol.MethodFile:      s.file,
		protocol.MethodComment:   s.comment,
		protocol.MethodComments:  s.commentsReq,
		protocol.MethodFeedback:  s.feedback,
		protocol.MethodMerge:     s.merge,
		protocol.MethodUndo:      s.undo,
	}
	s.lsp = s.lspRoutes()
	unsubSessions := m.Subscribe(s.sessionChanged)
	unsubConflicts := m.SubscribeConflicts(s.conflictsChanged)
	unsubLSPSessions := m.Subscribe(s.lspSessionChanged)
	unsubLSPConflicts := m.SubscribeConflicts(s.lspConflictsChanged)
	s.seedDiagnostics()
	s.unsub = func() { unsubSessions(); unsubConflicts(); unsubLSPSessions(); unsubLSPConflicts() }
	return s
}

// Serve accepts connections until ln is closed. Only processes of the
// daemon's own user may connect.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if err := checkPeer(nc); err != nil {
			s.log.Warn("refused connection", "err", err)
			nc.Close()
			continue
		}
		s.ServeConn(ctx, nc)
	}
}

// checkPeer refuses unix-socket peers of another user.
func checkPeer(nc net.Conn) error {
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		return nil
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	if int(cred.Uid) != os.Getuid() {
		return fmt.Errorf("peer uid %d is not the daemon's uid %d", cred.Uid, os.Getuid())
	}
	return nil
}

// ServeConn serves one connection (a socket client, or stdio in tests).
func (s *Server) ServeConn(ctx context.Context, nc net.Conn) {
	c := newConn(s)
	c.rpc = jsonrpc2.NewConn(ctx, protocol.NewStream(nc), c, jsonrpc2.SetLogger(discardLogger{}))
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.wg.Go(func() {
		<-c.rpc.DisconnectNotify()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.close()
	})
}

// Close ends every connection and waits for their goroutines.
func (s *Server) Close() {
	s.unsub()
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.rpc.Close()
	}
	s.wg.Wait()
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

// decode unmarshals params strictly enough to report wrong types.
func decode[T any](params json.RawMessage) (T, error) {
	var v T
	if len(params) == 0 || string(params) == "null" {
		return v, nil
	}
	if err := json.Unmarshal(params, &v); err != nil {
		return v, &protocol.Error{Code: protocol.CodeInvalidParams, Message: "invalid params: " + err.Error()}
	}
	return v, nil
}
