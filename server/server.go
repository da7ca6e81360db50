package server

import (
	"context"
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

// Server serves the studio/* protocol over accepted connections: the
// daemon core's API through its route table, and the fan-out of session and
// conflict events to the connections subscribed to them.
type Server struct {
	agents  *agents.Manager
	log     *slog.Logger
	version string
	started time.Time
	info    Info
	// shutdown asks the daemon to stop.
	shutdown func()

	routes map[string]protocol.Handler

	// idleTimeout and messageTimeout bound socket clients (see
	// Config.IdleTimeout); set before Serve.
	idleTimeout, messageTimeout time.Duration

	// mu guards conns and bus. Lock order: mu, then a conn's mu.
	mu    sync.Mutex
	conns map[*conn]struct{}
	bus   bus

	unsub func()
	wg    sync.WaitGroup
}

// Info is what studio/status reports about the daemon's files.
type Info struct {
	Socket string
	Log    string
	State  string
}

// New returns a Server over the manager.
func New(m *agents.Manager, log *slog.Logger, version string, info Info, shutdown func()) *Server {
	s := &Server{
		agents: m, log: log, version: version, started: time.Now().UTC(), info: info,
		shutdown: shutdown, conns: map[*conn]struct{}{},
	}
	s.routes = protocol.Routes(&core{s: s, m: m})
	s.unsub = s.startBus(m)
	return s
}

// Serve accepts connections until ln is closed. Only processes of the
// daemon's own user may connect.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, false)
}

// ServeReports accepts connections on the reports socket until ln is
// closed: the socket that ssh forwards to the hosts, on which the agents
// there report (studio/hook, with their session's secret) and nothing
// else. Only processes of the daemon's own user may connect.
func (s *Server) ServeReports(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, true)
}

func (s *Server) serve(ctx context.Context, ln net.Listener, reportsOnly bool) error {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		pid, err := checkPeer(nc)
		if err != nil {
			s.log.Warn("refused connection", "err", err)
			nc.Close()
			continue
		}
		if reportsOnly {
			// The peer is the ssh client carrying a host's connection: its
			// environment is not the agent's.
			pid = 0
		}
		s.serveConn(ctx, nc, true, pid, reportsOnly)
	}
}

// checkPeer refuses unix-socket peers of another user, and returns the
// peer's process id (0 when unknown).
func checkPeer(nc net.Conn) (int, error) {
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		return 0, nil
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if cerr != nil {
		return 0, cerr
	}
	if int(cred.Uid) != os.Getuid() {
		return 0, fmt.Errorf("peer uid %d is not the daemon's uid %d", cred.Uid, os.Getuid())
	}
	return int(cred.Pid), nil
}

// ServeConn serves one connection made in process (a face inside the
// daemon, tests): no idle or message timeout applies to it.
func (s *Server) ServeConn(ctx context.Context, nc net.Conn) {
	s.serveConn(ctx, nc, false, 0, false)
}

func (s *Server) serveConn(ctx context.Context, nc net.Conn, timeouts bool, peer int, reportsOnly bool) {
	c := newConn(s)
	c.reportsOnly = reportsOnly
	if peer > 0 {
		c.peerSecret = peerSecret(peer)
	}
	c.stream = protocol.NewStream(nc)
	if timeouts {
		c.stream.SetReadTimeouts(nc, c.idleFor, s.messageTimeout)
	}
	// jsonrpc2 reads (and hands requests to c) as soon as the connection
	// exists: requests wait until c.rpc is set, or a request's progress
	// would find none.
	ready := make(chan struct{})
	c.rpc = jsonrpc2.NewConn(ctx, c.stream, afterReady{ready, c}, jsonrpc2.SetLogger(discardLogger{}))
	close(ready)
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

// afterReady hands requests to h once ready is closed.
type afterReady struct {
	ready <-chan struct{}
	h     jsonrpc2.Handler
}

func (a afterReady) Handle(ctx context.Context, rpc *jsonrpc2.Conn, req *jsonrpc2.Request) {
	<-a.ready
	a.h.Handle(ctx, rpc, req)
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
