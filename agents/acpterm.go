package agents

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	acp "github.com/coder/acp-go-sdk"
	"golang.org/x/sys/unix"

	"github.com/studiod/studiod/agents/host"
)

// The ACP client's terminals (terminal/create, terminal/output,
// terminal/wait_for_exit, terminal/kill, terminal/release): an agent that
// asks its client to run a command gets it run by the daemon, in the
// session's worktree (a cwd outside it, or through a symbolic link out of
// it, is refused with a reason the agent can tell its model), with the
// environment the agent itself runs with plus the request's env and, when
// the session is sandboxed, under the same bubblewrap sandbox as the agent:
// the same file system, in a pid namespace and a /tmp of its own.
//
// A command with no args is a shell line (sh -c COMMAND, as an editor's
// terminal would run it); with args it is a program and its arguments,
// found on the session's PATH. Its standard output and error are one
// stream, of which the last outputByteLimit bytes are kept (at most
// maxTermOutput; defaultTermOutput when the agent gives no limit).
//
// Nothing a terminal runs outlives it: the command leads a process group,
// and every process it starts carries the terminal's mark in its
// environment, so that kill ends the group and then whatever left it
// (setsid, double fork). Release, the end of the ACP connection (the agent
// exited, the session stopped, the daemon going away) and a daemon
// following the session again after a crash end them the same way.

const (
	// defaultTermOutput is how much output a terminal keeps when the agent
	// sets no outputByteLimit.
	defaultTermOutput = 1 << 20
	// maxTermOutput caps what a terminal keeps, whatever the agent asks.
	maxTermOutput = 16 << 20
	// termMarkEnv is the environment variable that marks a terminal's
	// processes: SESSION/TERMINAL for one terminal, SESSION for all of
	// a session's (in termSessionEnv).
	termMarkEnv    = "STUDIO_ACP_TERMINAL"
	termSessionEnv = "STUDIO_ACP_TERMINALS"
)

// termSessionMark is the environment entry every terminal process of
// session id carries.
func termSessionMark(id string) string { return termSessionEnv + "=" + id }

// acpTerminals are the terminals of one ACP connection. The zero value is
// ready to use.
type acpTerminals struct {
	// wg counts the terminals' goroutines (a reader and a waiter each).
	wg sync.WaitGroup

	// mu guards the fields below; it is never held with a terminal's
	// mu, nor while a command starts or is killed.
	mu     sync.Mutex
	byID   map[string]*acpTerminal
	closed bool // the connection ended: no new terminal
}

// acpTerminal is one command an agent asked for.
type acpTerminal struct {
	session string // the ACP session's id
	mark    string // the environment entry of its processes
	pgid    int
	limit   int
	out     *os.File      // the read end of the command's output
	reaped  chan struct{} // closed once the command's process is reaped
	exited  chan struct{} // closed once, besides, what it wrote before is read

	// mu guards the fields below.
	mu     sync.Mutex
	buf    []byte // the output's tail: at least its last limit bytes
	total  int64  // bytes of output in all
	status acp.TerminalExitStatus
}

// terminalDir is the directory a terminal's command starts in: the
// worktree, or cwd when it is in it.
func terminalDir(worktree string, cwd *string) (string, error) {
	if cwd == nil || *cwd == "" {
		return worktree, nil
	}
	dir := filepath.Clean(*cwd)
	if !filepath.IsAbs(dir) {
		return "", acp.NewInvalidParams(fmt.Sprintf("cwd %q is not absolute", *cwd))
	}
	if !within(dir, worktree) {
		return "", acp.NewInvalidParams(fmt.Sprintf("cwd %s is outside the session's worktree %s", dir, worktree))
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", acp.NewInvalidParams(fmt.Sprintf("cwd %s: no such directory", dir))
	}
	if root, err := filepath.EvalSymlinks(worktree); err != nil || !within(real, root) {
		return "", acp.NewInvalidParams(fmt.Sprintf("cwd %s leads outside the session's worktree (a symbolic link)", dir))
	}
	if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
		return "", acp.NewInvalidParams(fmt.Sprintf("cwd %s is not a directory", dir))
	}
	return dir, nil
}

// terminalArgv is how a request's command runs: a shell line without
// args, a program with them (looked up by the shell on the session's PATH).
func terminalArgv(req acp.CreateTerminalRequest) []string {
	if len(req.Args) == 0 {
		return []string{"/bin/sh", "-c", req.Command}
	}
	return append([]string{"/bin/sh", "-c", `exec "$0" "$@"`, req.Command}, req.Args...)
}

// outputLimit is how much output a terminal keeps.
func outputLimit(req acp.CreateTerminalRequest) (int, error) {
	if req.OutputByteLimit == nil {
		return defaultTermOutput, nil
	}
	if *req.OutputByteLimit < 0 {
		return 0, acp.NewInvalidParams(fmt.Sprintf("outputByteLimit %d: give 0 or more bytes", *req.OutputByteLimit))
	}
	return min(*req.OutputByteLimit, maxTermOutput), nil
}

// start runs argv in dir with env as a new terminal of the ACP session
// sid, for the studiod session whose id is session.
func (ts *acpTerminals) start(session, sid string, argv, env []string, dir string, limit int) (string, error) {
	var b [6]byte
	rand.Read(b[:])
	id := "term-" + hex.EncodeToString(b[:])
	r, w, err := os.Pipe()
	if err != nil {
		return "", acp.NewInternalError(err.Error())
	}
	t := &acpTerminal{session: sid, mark: termMarkEnv + "=" + session + "/" + id, limit: limit, out: r,
		reaped: make(chan struct{}), exited: make(chan struct{})}
	cmd := exec.Command(argv[0], argv[1:]...)
	// The marks come last: the agent's env cannot take them off.
	cmd.Dir, cmd.Env = dir, append(env, host.Mark(session), termSessionMark(session), t.mark)
	cmd.Stdout, cmd.Stderr = w, w
	// A daemon killed with SIGKILL takes the command along; what it
	// started is swept when the daemon follows the session again.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return "", acp.NewInternalError(fmt.Sprintf("run %s: %v", argv[0], err))
	}
	t.pgid = cmd.Process.Pid
	ts.mu.Lock()
	if ts.closed {
		ts.mu.Unlock()
		syscall.Kill(-t.pgid, syscall.SIGKILL)
		cmd.Wait()
		r.Close()
		host.SweepMarked(t.mark)
		return "", acp.NewInternalError("the session's ACP connection is closing")
	}
	if ts.byID == nil {
		ts.byID = map[string]*acpTerminal{}
	}
	ts.byID[id] = t
	// Under ts.mu, not closed: closeAll's Wait comes after.
	ts.wg.Go(func() { t.wait(cmd) })
	ts.wg.Go(t.readOutput)
	ts.mu.Unlock()
	return id, nil
}

// wait reaps the command and records how it ended; the reader then reads
// what the command wrote before it exited.
func (t *acpTerminal) wait(cmd *exec.Cmd) {
	cmd.Wait()
	var st acp.TerminalExitStatus
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		sig := unix.SignalName(ws.Signal())
		st.Signal = &sig
	} else {
		code := cmd.ProcessState.ExitCode()
		st.ExitCode = &code
	}
	t.mu.Lock()
	t.status = st
	t.mu.Unlock()
	close(t.reaped)
	t.out.SetReadDeadline(time.Now().Add(drainPoll))
}

// drainPoll is how often the reader looks whether the output of a command
// that has exited is all read.
const drainPoll = 10 * time.Millisecond

// readOutput reads the command's output until nothing holds its pipe open
// any more or the terminal is released. Once the command has exited and
// the pipe is empty, everything it wrote is read and the exit is
// announced; what a process it left behind writes later is still read.
func (t *acpTerminal) readOutput() {
	buf := make([]byte, 32<<10)
	for {
		n, err := t.out.Read(buf)
		if n > 0 {
			t.write(buf[:n])
		}
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			if pending(t.out) > 0 {
				t.out.SetReadDeadline(time.Now().Add(drainPoll))
				continue
			}
			t.finish()
			t.out.SetReadDeadline(time.Time{})
		default:
			<-t.reaped
			t.finish()
			return
		}
	}
}

// pending is how many bytes wait in the pipe f (FIONREAD, which Linux
// names TIOCINQ).
func pending(f *os.File) int {
	n := 0
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.TIOCINQ) })
	}
	return n
}

func (t *acpTerminal) finish() {
	select {
	case <-t.exited:
	default:
		close(t.exited)
	}
}

// write keeps p in the output's tail; the buffer is cut back to limit
// bytes only once it holds twice as much, so that a long output is not
// copied at every read.
func (t *acpTerminal) write(p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total += int64(len(p))
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.limit+utf8.UTFMax {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.limit-utf8.UTFMax:]...)
	}
}

// outputTail is the last limit bytes of b at most, starting at a character's
// start.
func outputTail(b []byte, limit int) []byte {
	if len(b) <= limit {
		return b
	}
	cut := len(b) - limit
	for i := 0; i < utf8.UTFMax-1 && cut < len(b) && !utf8.RuneStart(b[cut]); i++ {
		cut++
	}
	return b[cut:]
}

// output is what the terminal keeps of the output, and its exit status
// once the command has exited.
func (t *acpTerminal) output() acp.TerminalOutputResponse {
	done := false
	select {
	case <-t.exited:
		done = true
	default:
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := outputTail(t.buf, t.limit)
	r := acp.TerminalOutputResponse{Output: string(out), Truncated: int64(len(out)) < t.total}
	if done {
		st := t.status
		r.ExitStatus = &st
	}
	return r
}

// kill ends the command's process group and whatever of it left the
// group, and waits until the command's exit is recorded.
func (t *acpTerminal) kill(ctx context.Context) error {
	select {
	case <-t.reaped:
	default:
		syscall.Kill(-t.pgid, syscall.SIGKILL)
	}
	host.SweepMarked(t.mark)
	select {
	case <-t.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// get returns the terminal id of ACP session sid, or an error the agent
// can read.
func (ts *acpTerminals) get(sid acp.SessionId, id string) (*acpTerminal, error) {
	ts.mu.Lock()
	t := ts.byID[id]
	ts.mu.Unlock()
	if t == nil || t.session != string(sid) {
		return nil, acp.NewInvalidParams(fmt.Sprintf("terminal %q: no such terminal in this session (never created, or released)", id))
	}
	return t, nil
}

// release kills the terminal's command if it still runs and forgets it.
func (ts *acpTerminals) release(ctx context.Context, sid acp.SessionId, id string) error {
	t, err := ts.get(sid, id)
	if err != nil {
		return err
	}
	ts.mu.Lock()
	delete(ts.byID, id)
	ts.mu.Unlock()
	err = t.kill(ctx)
	t.out.Close()
	return err
}

// closeAll ends every terminal of the connection, and refuses new ones:
// the agent has gone, or the daemon is going away.
func (ts *acpTerminals) closeAll(session string) {
	ts.mu.Lock()
	ts.closed = true
	all := ts.byID
	ts.byID = nil
	ts.mu.Unlock()
	if len(all) == 0 {
		return
	}
	for _, t := range all {
		select {
		case <-t.reaped:
		default:
			syscall.Kill(-t.pgid, syscall.SIGKILL)
		}
	}
	host.SweepMarked(termSessionMark(session))
	for _, t := range all {
		t.out.Close()
	}
	ts.wg.Wait()
}

// The SDK's Client, for terminals.

func (d *acpConn) CreateTerminal(ctx context.Context, req acp.CreateTerminalRequest) (acp.CreateTerminalResponse, error) {
	dir, err := terminalDir(d.worktree, req.Cwd)
	if err != nil {
		return acp.CreateTerminalResponse{}, err
	}
	limit, err := outputLimit(req)
	if err != nil {
		return acp.CreateTerminalResponse{}, err
	}
	s, err := d.m.Lookup(Ref{Session: d.id})
	if err != nil {
		return acp.CreateTerminalResponse{}, acp.NewInternalError(err.Error())
	}
	// The agent's own sandbox, when it has one.
	prefix, err := d.m.sandboxArgv(ctx, s, dir)
	if err != nil {
		return acp.CreateTerminalResponse{}, acp.NewInternalError(err.Error())
	}
	env := d.m.agentEnv(&s, d.profile)
	for _, e := range req.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	id, err := d.terms.start(d.id, string(req.SessionId), append(prefix, terminalArgv(req)...), env, dir, limit)
	if err != nil {
		return acp.CreateTerminalResponse{}, err
	}
	d.log.Debug("terminal created", "terminal", id, "command", req.Command, "args", req.Args, "cwd", dir)
	return acp.CreateTerminalResponse{TerminalId: id}, nil
}

func (d *acpConn) TerminalOutput(_ context.Context, req acp.TerminalOutputRequest) (acp.TerminalOutputResponse, error) {
	t, err := d.terms.get(req.SessionId, req.TerminalId)
	if err != nil {
		return acp.TerminalOutputResponse{}, err
	}
	return t.output(), nil
}

func (d *acpConn) WaitForTerminalExit(ctx context.Context, req acp.WaitForTerminalExitRequest) (acp.WaitForTerminalExitResponse, error) {
	t, err := d.terms.get(req.SessionId, req.TerminalId)
	if err != nil {
		return acp.WaitForTerminalExitResponse{}, err
	}
	select {
	case <-t.exited:
	case <-ctx.Done():
		return acp.WaitForTerminalExitResponse{}, ctx.Err()
	}
	st := t.output().ExitStatus
	return acp.WaitForTerminalExitResponse{ExitCode: st.ExitCode, Signal: st.Signal}, nil
}

func (d *acpConn) KillTerminal(ctx context.Context, req acp.KillTerminalRequest) (acp.KillTerminalResponse, error) {
	t, err := d.terms.get(req.SessionId, req.TerminalId)
	if err != nil {
		return acp.KillTerminalResponse{}, err
	}
	return acp.KillTerminalResponse{}, t.kill(ctx)
}

func (d *acpConn) ReleaseTerminal(ctx context.Context, req acp.ReleaseTerminalRequest) (acp.ReleaseTerminalResponse, error) {
	return acp.ReleaseTerminalResponse{}, d.terms.release(ctx, req.SessionId, req.TerminalId)
}
