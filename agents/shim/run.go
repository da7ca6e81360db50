package shim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// clientBuffer is how many output chunks an attached client may lag behind
// before the shim drops it; it can reattach from its last offset.
const clientBuffer = 256

type server struct {
	spec Spec
	ptmx *os.File
	cmd  *exec.Cmd
	log  *logWriter
	ln   net.Listener
	term *term
	// subreaper: this process is the shim process, the subreaper of the
	// agent's tree, which it ends with the agent (see proc.go).
	subreaper bool

	// mu guards size, clients, exited and killed. Lock order: mu, then
	// term's own.
	mu      sync.Mutex
	size    int64
	clients map[chan []byte]struct{}
	exited  bool
	killed  bool // SIGKILL was asked for: what is left gets no grace

	wg sync.WaitGroup
}

// treeGrace is how long the agent's leftover processes get between SIGTERM
// and SIGKILL once the agent has exited (none after a SIGKILL stop); and
// how long an agent gets after the shim itself is sent SIGTERM.
const treeGrace = 2 * time.Second

// Run starts the agent described by spec and serves it until it exits. ready
// receives "ok <pid>\n" once the agent runs, or "error: <reason>\n" when it
// could not start; Run closes it either way.
//
// Run is for running a shim inside another process (tests): it neither
// adopts the agent's detached descendants nor handles signals. The shim
// process runs Main.
func Run(spec Spec, ready io.WriteCloser) error {
	return start(spec, ready, nil)
}

// Main is the shim process's main. The shim becomes the child subreaper of
// everything the agent starts, so that all of it ends with the agent: when
// the agent exits or is stopped, every descendant left is ended too; SIGTERM
// to the shim stops the agent (SIGTERM, then SIGKILL) and so the session;
// SIGHUP, SIGINT and SIGPIPE are ignored (the shim outlives the terminal and
// the daemon that started it). A shim killed with SIGKILL takes the agent
// with it (its parent-death signal); the daemon ends the rest (Sweep).
func Main(spec Spec, ready io.WriteCloser) error {
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGPIPE)
	sigterm := make(chan os.Signal, 1)
	signal.Notify(sigterm, syscall.SIGTERM)
	if err := becomeSubreaper(); err != nil {
		fmt.Fprintf(os.Stderr, "studiod shim: cannot adopt the agent's detached processes: %v\n", err)
	}
	return start(spec, ready, sigterm)
}

func start(spec Spec, ready io.WriteCloser, sigterm <-chan os.Signal) error {
	err := run(spec, ready, sigterm)
	if err != nil && ready != nil {
		fmt.Fprintf(ready, "error: %v\n", err)
		ready.Close()
	}
	return err
}

func run(spec Spec, ready io.WriteCloser, sigterm <-chan os.Signal) error {
	if spec.Mode == ModePipes {
		return runPipes(spec, ready, sigterm)
	}
	if len(spec.Argv) == 0 {
		return errors.New("no command")
	}
	path, err := exec.LookPath(spec.Argv[0])
	if err != nil {
		return fmt.Errorf("agent command %q not found: %w", spec.Argv[0], err)
	}
	logf, err := openLogWriter(spec.Log, spec.LogLimit)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	os.Remove(spec.Socket)
	ln, err := net.Listen("unix", spec.Socket)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", spec.Socket, err)
	}
	if err := os.Chmod(spec.Socket, 0o600); err != nil {
		return err
	}
	s := &server{spec: spec, log: logf, ln: ln, size: logf.end(), clients: map[chan []byte]struct{}{}, subreaper: sigterm != nil}
	cmd := exec.Command(path, spec.Argv[1:]...)
	cmd.Args[0] = spec.Argv[0]
	cmd.Dir = spec.Dir
	cmd.Env = spec.Env
	// The agent dies with the shim, even by SIGKILL. The signal is sent
	// when the thread that started the agent ends, so keep that thread
	// until the agent is gone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rows, cols := spec.Rows, spec.Cols
	if rows <= 0 || cols <= 0 {
		rows, cols = 40, 120
	}
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: uint16(rows), Cols: uint16(cols)})
	if err != nil {
		ln.Close()
		os.Remove(spec.Socket)
		return fmt.Errorf("start agent %q: %w", spec.Argv[0], err)
	}
	if pt, err := pollable(ptmx); err != nil {
		fmt.Fprintf(os.Stderr, "studiod shim: the terminal stays on a blocking descriptor: %v\n", err)
	} else {
		ptmx = pt
	}
	s.ptmx, s.cmd = ptmx, cmd
	s.term = newTerm(rows, cols, ptmx, s.size)
	if ready != nil {
		fmt.Fprintf(ready, "ok %d\n", cmd.Process.Pid)
		ready.Close()
	}

	s.wg.Go(func() { acceptRequests(s.ln, &s.wg, s.serve) })
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		s.pump()
	}()
	agentDone := make(chan struct{})
	watchAgent(&s.wg, cmd.Process.Pid, s.subreaper, sigterm, s.signal, agentDone)
	werr := cmd.Wait()
	close(agentDone)
	if s.subreaper {
		// Nothing of the session outlives its agent: end what it left
		// behind (detached helpers too; the shim adopted them).
		s.mu.Lock()
		grace := treeGrace
		if s.killed {
			grace = 0
		}
		s.mu.Unlock()
		endTree(0, grace)
	}
	// The agent is gone; collect what it wrote last. Children it left
	// behind may keep the terminal open, so drain only briefly.
	select {
	case <-readDone:
	case <-time.After(500 * time.Millisecond):
	}
	ptmx.Close()
	<-readDone
	s.term.close()

	ex := Exit{Code: cmd.ProcessState.ExitCode(), At: time.Now().UTC(), Last: s.term.lastRows(lastWords)}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		ex.Signal = ws.Signal().String()
	}
	_ = werr
	s.mu.Lock()
	s.exited = true
	ex.Size = s.size
	for c := range s.clients {
		close(c)
		delete(s.clients, c)
	}
	s.mu.Unlock()
	logf.Sync()
	if err := writeExit(spec.Exit, ex); err != nil {
		fmt.Fprintf(os.Stderr, "studiod shim: %v\n", err)
	}
	ln.Close()
	os.Remove(spec.Socket)
	s.wg.Wait()
	logf.Close()
	return nil
}

// pollable returns the terminal's master side on a non-blocking descriptor
// served by the runtime's poller, so that closing it ends a read in
// progress. pty leaves the descriptor blocking, and a blocking read of the
// master can outlast the agent and every holder of its terminal: the shim
// then waited for it for good and never reported the agent's end.
func pollable(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f.Close()
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// setsize sets the terminal's size without taking its descriptor out of
// non-blocking mode (as (*os.File).Fd would).
func setsize(f *os.File, rows, cols int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(rows), Col: uint16(cols)})
	}); err != nil {
		return err
	}
	return ierr
}

func writeExit(path string, ex Exit) error {
	b, err := json.Marshal(ex)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}

// writeFileAtomic replaces path with b, synced: a reader sees the old file
// or the new one, even across a crash.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadExit reads an exit file written by a shim.
func ReadExit(path string) (*Exit, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ex Exit
	if err := json.Unmarshal(b, &ex); err != nil {
		return nil, fmt.Errorf("read exit file %s: %w", path, err)
	}
	return &ex, nil
}

// pump copies the PTY to the log and to attached clients. The log write
// comes first: a byte a client has seen is a byte on disk, and offsets
// mean the same to both. What cannot be written (a full disk) is dropped
// for clients too, and said once in the shim's own log.
func (s *server) pump() {
	buf := make([]byte, 32<<10)
	failing := false
	for {
		n, err := s.ptmx.Read(buf)
		if n > 0 {
			s.mu.Lock()
			w, werr := s.log.Write(buf[:n])
			if werr != nil && !failing {
				fmt.Fprintf(os.Stderr, "studiod shim: write log: %v: agent output is dropped until it can be written\n", werr)
			}
			failing = werr != nil
			chunk := append([]byte(nil), buf[:w]...)
			s.size += int64(w)
			s.term.Write(chunk) // before any client sees it: their next Screen shows it
			for c := range s.clients {
				if len(chunk) == 0 {
					break // nothing on disk: nothing to show
				}
				select {
				case c <- chunk:
				default:
					close(c)
					delete(s.clients, c)
				}
			}
			s.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// acceptRequests serves each connection to ln on wg: it reads the one
// request line a client sends and hands it to serve, then closes the
// connection.
func acceptRequests(ln net.Listener, wg *sync.WaitGroup, serve func(c net.Conn, br *bufio.Reader, req request)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		wg.Go(func() {
			defer c.Close()
			br := bufio.NewReader(c)
			line, err := br.ReadBytes('\n')
			if err != nil {
				return
			}
			var req request
			if err := json.Unmarshal(line, &req); err != nil {
				c.Write(encode(reply{Error: "bad request: " + err.Error()}))
				return
			}
			serve(c, br, req)
		})
	}
}

// serve answers one request on c (br reads what follows it).
func (s *server) serve(c net.Conn, br *bufio.Reader, req request) {
	switch req.Op {
	case "attach":
		s.attach(c, br, req.Offset)
	case "input":
		_, err := s.ptmx.Write(stripAnswers(req.Data))
		c.Write(encode(result(err)))
	case "resize":
		err := setsize(s.ptmx, req.Rows, req.Cols)
		if err == nil {
			s.term.resize(req.Rows, req.Cols)
		}
		c.Write(encode(result(err)))
	case "signal":
		c.Write(encode(result(s.signal(syscall.Signal(req.Signal)))))
	case "status":
		s.mu.Lock()
		st := Status{PID: s.cmd.Process.Pid, Size: s.size}
		s.mu.Unlock()
		c.Write(encode(reply{OK: true, Status: st}))
	case "screen":
		sc := s.term.screen()
		c.Write(encode(reply{OK: true, Screen: &sc}))
	default:
		c.Write(encode(reply{Error: fmt.Sprintf("unknown op %q", req.Op)}))
	}
}

// signal sends sig to the agent's process group: the agent leads its own
// (it has its own session). Whatever else of the session runs is ended
// once the agent has exited, at once after a SIGKILL.
func (s *server) signal(sig syscall.Signal) error {
	if sig == syscall.SIGKILL {
		s.mu.Lock()
		s.killed = true
		s.mu.Unlock()
	}
	err := syscall.Kill(-s.cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		err = nil
	}
	return err
}

func result(err error) reply {
	if err != nil {
		return reply{Error: err.Error()}
	}
	return reply{OK: true}
}

// attach streams output from offset: first what the log holds, then live
// chunks, until the agent exits or the client goes away. Bytes the client
// writes are typed into the PTY.
func (s *server) attach(c net.Conn, br *bufio.Reader, offset int64) {
	ch := make(chan []byte, clientBuffer)
	s.mu.Lock()
	end := s.size
	exited := s.exited
	if !exited {
		s.clients[ch] = struct{}{}
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if _, ok := s.clients[ch]; ok {
			delete(s.clients, ch)
			close(ch)
		}
		s.mu.Unlock()
	}()
	lr, offset, ok := openAttach(c, s.spec.Log, offset, end)
	if !ok {
		return
	}
	defer lr.Close()
	// Input from the client; ends when the client closes its side.
	go relayInput(c, br, s.ptmx)
	if offset < end {
		if _, err := io.Copy(c, io.NewSectionReader(lr, offset, end-offset)); err != nil {
			return
		}
	}
	if exited {
		return
	}
	for chunk := range ch {
		if _, err := c.Write(chunk); err != nil {
			return
		}
	}
}
