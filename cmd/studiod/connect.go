package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
)

var errNoDaemon = errors.New("studiod daemon unavailable")

// startWait bounds how long a client waits for a daemon it started.
const startWait = 10 * time.Second

// connect returns a client of the daemon, starting one if none runs.
func (a *app) connect(ctx context.Context, notify protocol.NotifyFunc) (*protocol.Client, error) {
	if err := a.dirs.Ensure(); err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		var start starting
		c, err := a.dial(ctx, notify, &start)
		if err != nil {
			return nil, err
		}
		_, err = c.Hello(ctx, protocol.HelloParams{Client: "studiod-cli", Version: protocol.Version, Token: os.Getenv(agents.TokenEnv)})
		if err == nil {
			return c, nil
		}
		c.Close()
		// A daemon this client started that cannot open its state takes
		// the connection and drops it as it exits: say why it exited.
		if cause := start.wait(ctx, a.dirs.Log()); cause != "" {
			return nil, fmt.Errorf("%w: it exited while starting: %s (daemon log: %s)", errNoDaemon, cause, a.dirs.Log())
		}
		// A daemon killed a moment ago can still take a connection and
		// then drop it (closed, a broken pipe, a reset): dial again,
		// which starts a new one. An answer that is an error stands.
		var answered *protocol.Error
		if try > 0 || errors.As(err, &answered) || ctx.Err() != nil {
			return nil, err
		}
	}
}

// dial connects to the daemon, starting one if none runs; start follows
// the daemon it starts.
func (a *app) dial(ctx context.Context, notify protocol.NotifyFunc, start *starting) (*protocol.Client, error) {
	// A daemon that exits while starting ends the wait at once.
	dctx, failed := context.WithCancel(ctx)
	defer failed()
	c, err := protocol.DialOrStart(dctx, a.dirs.Socket(), notify, func() error { return a.startDaemon(start, failed) }, startWait)
	if err != nil {
		if cause := start.failure(a.dirs.Log()); cause != "" {
			return nil, fmt.Errorf("%w: it exited while starting: %s (daemon log: %s)", errNoDaemon, cause, a.dirs.Log())
		}
		return nil, fmt.Errorf("%w: %v (daemon log: %s; run `studiod serve` to see it start in the foreground)", errNoDaemon, err, a.dirs.Log())
	}
	return c, nil
}

// starting follows a daemon this client started: where its output began
// in the log, and how it ended if it did.
type starting struct {
	logFrom int64
	// ended is closed when the daemon exits; nil if none was started.
	ended chan struct{}
	// mu guards exited and code.
	mu     sync.Mutex
	exited bool
	code   int
}

// failure is why the daemon exited with an error while starting, from
// what it wrote to the log: "" if it did not.
func (st *starting) failure(log string) string {
	st.mu.Lock()
	failed := st.exited && st.code != 0
	st.mu.Unlock()
	if !failed {
		return ""
	}
	f, err := os.Open(log)
	if err != nil {
		return fmt.Sprintf("exit status %d", st.code)
	}
	defer f.Close()
	b, _ := io.ReadAll(io.NewSectionReader(f, st.logFrom, 1<<20))
	var last, cause string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		last = l
		// main prints the error that ended the daemon as "studiod: …".
		if c, ok := strings.CutPrefix(l, "studiod: "); ok {
			cause = c
		}
	}
	return cmp.Or(cause, last, fmt.Sprintf("exit status %d", st.code))
}

// wait is, for a daemon this client started that dropped its connection,
// why it exited with an error: it waits for that daemon to exit (up to
// startWait; one that keeps running did not fail). "" if none was started
// or it did not fail.
func (st *starting) wait(ctx context.Context, log string) string {
	if st.ended == nil {
		return ""
	}
	t := time.NewTimer(startWait)
	defer t.Stop()
	select {
	case <-st.ended:
	case <-t.C:
	case <-ctx.Done():
	}
	return st.failure(log)
}

// startDaemon starts `studiod serve` detached from this process: its own
// session, no terminal, output to the daemon log. If it exits with an
// error, failed is called.
func (a *app) startDaemon(st *starting, failed func()) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(a.dirs.Log(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	if fi, err := logf.Stat(); err == nil {
		st.logFrom = fi.Size()
	}
	cmd := exec.Command(self, "serve", "--background")
	if a.orphanDaemon {
		// Some clients end the whole process tree of what they started
		// (acpx does): sh starts the daemon in the background and exits,
		// so that the daemon is adopted outside that tree. Its exit status
		// is then not ours to read; the log has it.
		cmd = exec.Command("/bin/sh", "-c", `"$0" serve --background &`, self)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		return err
	}
	a.started = true
	st.ended = make(chan struct{})
	// The daemon outlives this client; waiting for it only tells whether
	// it failed to start (another client's daemon winning the race exits
	// 0), and reaps it if it ends while this client lives.
	go func() {
		err := cmd.Wait()
		st.mu.Lock()
		st.exited, st.code = true, cmd.ProcessState.ExitCode()
		st.mu.Unlock()
		close(st.ended)
		if err != nil {
			failed()
		}
	}()
	return nil
}

// repoDir is the repository a verb acts on: --repo, else the working
// directory.
func (a *app) repoDir() string {
	if a.repo != "" {
		if abs, err := filepath.Abs(a.repo); err == nil {
			return abs
		}
		return a.repo
	}
	wd, _ := os.Getwd()
	return wd
}

// call connects, runs fn and closes.
func (a *app) call(ctx context.Context, fn func(c *protocol.Client) error) error {
	c, err := a.connect(ctx, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}
