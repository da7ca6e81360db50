package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/workspace"
)

// Config is what the daemon needs to run.
type Config struct {
	Socket      string
	Lock        string
	RuntimeDir  string
	StateDir    string
	WorktreeDir string
	UserConfig  string
	LogFile     string
	Self        string // studiod's executable
	Version     string
	Log         *slog.Logger
	Git         *workspace.Git
	// Ready, if set, is called once the socket accepts connections.
	Ready func()
	// Watch tunes the file watcher (MaxWatches caps inotify watches below
	// the kernel's limit).
	Watch workspace.WatcherOptions
	// PoolSettle is how long the worktree pool waits after a spawn before
	// refilling (0: its default).
	PoolSettle time.Duration
	// SpawnGrace is how soon after starting an agent that exits with an
	// error counts as a failed spawn (0: its default).
	SpawnGrace time.Duration
	// Faces are served from inside the daemon once it accepts
	// connections (MCP over HTTP), as clients of its API.
	Faces []Face
	// IdleTimeout closes a socket connection that sends nothing for this
	// long while it has no request in flight and no subscription;
	// MessageTimeout one that takes longer than this to send one message
	// once it has started. Zero means the defaults (DefaultIdleTimeout,
	// DefaultMessageTimeout), negative no limit.
	IdleTimeout    time.Duration
	MessageTimeout time.Duration
}

// Default connection timeouts (Config.IdleTimeout, MessageTimeout).
const (
	DefaultIdleTimeout    = time.Minute
	DefaultMessageTimeout = 30 * time.Second
)

func timeout(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// A Face serves another protocol from inside the daemon, as a client of
// the daemon's API: connect returns a new in-process connection to the
// daemon, as a socket client would have. It returns how to stop it.
type Face func(ctx context.Context, connect func() net.Conn) (stop func(), err error)

// AlreadyRunningError reports that another daemon holds the lock.
type AlreadyRunningError struct {
	PID    int
	Socket string
}

func (e *AlreadyRunningError) Error() string {
	return fmt.Sprintf("studiod is already running (pid %d, socket %s)", e.PID, e.Socket)
}

// Run runs the daemon until ctx ends or a client asks it to shut down.
// Agents keep running after it returns; the next daemon reattaches to them.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	// Unix socket paths are short (108 bytes with the NUL); the shims'
	// sockets are the longest studiod makes.
	if longest := filepath.Join(cfg.RuntimeDir, "shims", "0123456789ab.sock"); len(longest) > 107 || len(cfg.Socket) > 107 {
		return fmt.Errorf("socket paths under %s would be %d bytes, over the 107 unix sockets allow: use a shorter STUDIOD_HOME (or XDG_RUNTIME_DIR)", cfg.RuntimeDir, max(len(longest), len(cfg.Socket)))
	}
	unlock, err := lock(cfg.Lock, cfg.Socket)
	if err != nil {
		return err
	}
	defer unlock()

	// We hold the lock, so a socket file left behind is a crashed
	// daemon's: replace it.
	if err := os.Remove(cfg.Socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", cfg.Socket, err)
	}
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", cfg.Socket)
	syscall.Umask(old)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Socket, err)
	}
	defer os.Remove(cfg.Socket)
	if err := os.Chmod(cfg.Socket, 0o600); err != nil {
		ln.Close()
		return err
	}

	// The reports socket: ssh forwards it to the hosts, whose agents report
	// on it (and may do nothing else).
	reports := filepath.Join(filepath.Dir(cfg.Socket), "hosts.sock")
	os.Remove(reports)
	old = syscall.Umask(0o177)
	rln, err := net.Listen("unix", reports)
	syscall.Umask(old)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listen on %s: %w", reports, err)
	}
	defer os.Remove(reports)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m, err := agents.New(ctx, agents.Options{
		StateDir: cfg.StateDir, RuntimeDir: cfg.RuntimeDir, WorktreeDir: cfg.WorktreeDir,
		UserConfig: cfg.UserConfig, Self: cfg.Self, Socket: cfg.Socket, ReportSocket: reports, Git: cfg.Git, Log: cfg.Log, Watch: cfg.Watch,
		PoolSettle: cfg.PoolSettle, SpawnGrace: cfg.SpawnGrace,
	})
	if err != nil {
		ln.Close()
		rln.Close()
		return err
	}
	stopNotify := startNotifier(ctx, m, cfg.UserConfig, cfg.Log, time.Now)
	defer stopNotify()
	srv := New(m, cfg.Log, cfg.Version, Info{Socket: cfg.Socket, Log: cfg.LogFile, State: cfg.StateDir}, cancel)
	srv.idleTimeout = timeout(cfg.IdleTimeout, DefaultIdleTimeout)
	srv.messageTimeout = timeout(cfg.MessageTimeout, DefaultMessageTimeout)
	cfg.Log.Info("studiod started", "pid", os.Getpid(), "socket", cfg.Socket, "version", cfg.Version)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	go srv.ServeReports(ctx, rln)
	connect := func() net.Conn {
		a, b := net.Pipe()
		srv.ServeConn(ctx, a)
		return b
	}
	var stops []func()
	stopFaces := func() {
		for _, stop := range stops {
			stop()
		}
	}
	for _, face := range cfg.Faces {
		stop, ferr := face(ctx, connect)
		if ferr != nil {
			stopFaces()
			cancel()
			ln.Close()
			rln.Close()
			<-served
			srv.Close()
			m.Close()
			return ferr
		}
		stops = append(stops, stop)
	}
	if cfg.Ready != nil {
		cfg.Ready()
	}
	select {
	case <-ctx.Done():
	case err = <-served:
	}
	stopFaces()
	ln.Close()
	rln.Close()
	srv.Close()
	cerr := m.Close()
	cfg.Log.Info("studiod stopped")
	if err != nil {
		return err
	}
	return cerr
}

// lock takes the single-instance lock, a flock on the lock file, which the
// kernel releases if the daemon dies however it dies.
func lock(path, socket string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &AlreadyRunningError{PID: pid, Socket: socket}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		f.Truncate(0)
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// WaitStopped waits until no daemon holds the lock, for shutdown commands.
func WaitStopped(path string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return true
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			f.Close()
			return true
		}
		f.Close()
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
