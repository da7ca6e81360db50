package shim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// ModePipes runs the agent on pipes instead of a terminal: agents that
// speak a line-delimited protocol on their stdio (ACP) are held this way.
// The log is then a sequence of Records, one JSON object per line, in the
// order the shim saw them: what the agent wrote on stdout and stderr, and
// every message written to its stdin. A restarted daemon reads the log to
// know where the conversation stands.
//
// The log is capped like a terminal's (Spec.LogLimit). What a reader needs
// to make sense of the rest, the records of the running process from its
// start to its first prompt (the handshake: capabilities, the session
// opened), is also kept whole in HeadFile, rewritten at each start.
const ModePipes = "pipes"

// HeadFile is where a pipes-mode log keeps its running process's handshake.
func HeadFile(log string) string { return log + ".head" }

// maxHead bounds the handshake kept; a longer one is not kept at all.
const maxHead = 1 << 20

// Who wrote a Record.
const (
	FromAgent  = "agent"   // a line on the agent's stdout
	FromClient = "studiod" // a message written to the agent's stdin
	FromStderr = "stderr"  // a line on the agent's stderr
	FromShim   = "shim"    // the shim's own note: the agent started or exited
)

// Record is one line of a pipes-mode log.
type Record struct {
	T    time.Time `json:"t"`
	From string    `json:"from"`
	// Msg is the line when it is a JSON value (a protocol message).
	Msg json.RawMessage `json:"msg,omitempty"`
	// Text is the line otherwise: stderr, or a malformed message.
	Text string `json:"text,omitempty"`
}

// maxLine bounds one line of the agent's output; a longer one is cut.
const maxLine = 64 << 20

// pipeServer holds an agent on pipes. The attach stream is the log; the
// input op writes one message per line to the agent's stdin.
type pipeServer struct {
	spec  Spec
	cmd   *exec.Cmd
	stdin io.WriteCloser
	log   *logWriter
	ln    net.Listener

	// inMu serializes writes to stdin, so that the log's order of client
	// messages is the order the agent reads them. Lock order: inMu, mu.
	inMu sync.Mutex

	// mu guards size, head, clients, exited and killed.
	mu      sync.Mutex
	size    int64
	head    []byte // the running process's records up to its first prompt
	inHead  bool   // head is still being gathered
	clients map[chan []byte]struct{}
	exited  bool
	killed  bool // SIGKILL was asked for: what is left gets no grace

	wg sync.WaitGroup
}

func runPipes(spec Spec, ready io.WriteCloser, sigterm <-chan os.Signal) error {
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
	s := &pipeServer{spec: spec, log: logf, ln: ln, size: logf.end(), clients: map[chan []byte]struct{}{}}
	// As on a terminal (see run and proc.go): whatever the agent starts
	// and detaches (claude-agent-acp runs Claude Code in a session of its
	// own) is the shim's, as subreaper, to end with the agent.
	subreaper := sigterm != nil

	cmd := exec.Command(path, spec.Argv[1:]...)
	cmd.Args[0] = spec.Argv[0]
	cmd.Dir = spec.Dir
	cmd.Env = spec.Env
	// Its own session and process group, as on a terminal: signals reach
	// the agent and everything it started. It dies with the shim, even by
	// SIGKILL; the signal comes when the starting thread ends, so keep it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		ln.Close()
		os.Remove(spec.Socket)
		return fmt.Errorf("start agent %q: %w", spec.Argv[0], err)
	}
	s.cmd, s.stdin = cmd, stdin
	// Each start of an agent opens a new conversation on the wire: a
	// reader of the log starts over from here.
	s.append(Record{T: time.Now().UTC(), From: FromShim, Text: fmt.Sprintf("started pid %d", cmd.Process.Pid)})
	if ready != nil {
		fmt.Fprintf(ready, "ok %d\n", cmd.Process.Pid)
		ready.Close()
	}

	s.wg.Go(func() { acceptRequests(s.ln, &s.wg, s.serve) })
	var readers sync.WaitGroup
	readers.Go(func() { s.pump(stdout, FromAgent) })
	readers.Go(func() { s.pump(stderr, FromStderr) })
	agentDone := make(chan struct{})
	watchAgent(&s.wg, cmd.Process.Pid, subreaper, sigterm, s.signal, agentDone)
	ps, err := cmd.Process.Wait()
	close(agentDone)
	if err != nil {
		return fmt.Errorf("wait for the agent: %w", err)
	}
	// The agent is gone: end what it left behind, which may hold its
	// pipes open, then collect its last lines.
	if subreaper {
		s.mu.Lock()
		grace := treeGrace
		if s.killed {
			grace = 0
		}
		s.mu.Unlock()
		endTree(0, grace)
	}
	drained := make(chan struct{})
	go func() { readers.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(2 * time.Second):
		stdout.Close()
		stderr.Close()
		<-drained
	}
	stdin.Close()

	ex := Exit{Code: ps.ExitCode(), At: time.Now().UTC()}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		ex.Signal = ws.Signal().String()
	}
	note := fmt.Sprintf("exited with code %d", ex.Code)
	if ex.Signal != "" {
		note = "killed by " + ex.Signal
	}
	s.append(Record{T: ex.At, From: FromShim, Text: note})
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

// pump reads lines from one of the agent's pipes into the log.
func (s *pipeServer) pump(r io.Reader, from string) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := readLine(br)
		if len(line) > 0 {
			rec := Record{T: time.Now().UTC(), From: from}
			if from != FromStderr && json.Valid(line) {
				rec.Msg = line
			} else {
				rec.Text = string(line)
			}
			s.append(rec)
		}
		if err != nil {
			return
		}
	}
}

// readLine returns the next line without its end, at most maxLine bytes
// of it (the rest of a longer line is dropped).
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) <= maxLine {
			line = append(line, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimRight(line, "\r\n"), err
	}
}

// append writes a record to the log, then to attached clients: a record a
// client has seen is a record on disk.
func (s *pipeServer) append(rec Record) {
	b, _ := json.Marshal(rec)
	b = append(b, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gather(rec, b)
	if _, err := s.log.Write(b); err != nil {
		fmt.Fprintf(os.Stderr, "studiod shim: write log: %v\n", err)
	}
	s.size = s.log.end()
	for c := range s.clients {
		select {
		case c <- b:
		default:
			close(c)
			delete(s.clients, c)
		}
	}
}

// gather keeps the handshake: the records from the process's start to its
// first prompt, written to HeadFile once complete. s.mu is held.
func (s *pipeServer) gather(rec Record, b []byte) {
	if rec.From == FromShim && len(s.head) == 0 && !s.inHead {
		s.inHead = true // "started": the first record of a process
	}
	if !s.inHead {
		return
	}
	if rec.From == FromClient && bytes.Contains(rec.Msg, []byte(`"method":"session/prompt"`)) || rec.From == FromShim && len(s.head) > 0 {
		s.inHead = false
		if err := writeFileAtomic(HeadFile(s.spec.Log), s.head); err != nil {
			fmt.Fprintf(os.Stderr, "studiod shim: write the log's head: %v\n", err)
		}
		return
	}
	if len(s.head)+len(b) > maxHead {
		s.inHead, s.head = false, nil
		os.Remove(HeadFile(s.spec.Log))
		return
	}
	s.head = append(s.head, b...)
}

// input writes each line of data to the agent's stdin as one message,
// logging it first.
func (s *pipeServer) input(data []byte) error {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if !json.Valid(line) {
			return fmt.Errorf("input is not a JSON message: %.80q", line)
		}
		s.mu.Lock()
		exited := s.exited
		s.mu.Unlock()
		if exited {
			return errors.New("the agent has exited")
		}
		s.append(Record{T: time.Now().UTC(), From: FromClient, Msg: line})
		if _, err := s.stdin.Write(append(line, '\n')); err != nil {
			return fmt.Errorf("write to the agent's stdin: %w", err)
		}
	}
	return nil
}

// serve answers one request on c (br reads what follows it).
func (s *pipeServer) serve(c net.Conn, br *bufio.Reader, req request) {
	switch req.Op {
	case "attach":
		s.attach(c, req.Offset)
	case "input":
		c.Write(encode(result(s.input(req.Data))))
	case "resize":
		c.Write(encode(reply{OK: true})) // no terminal to size
	case "signal":
		c.Write(encode(result(s.signal(syscall.Signal(req.Signal)))))
	case "status":
		s.mu.Lock()
		st := Status{PID: s.cmd.Process.Pid, Size: s.size}
		s.mu.Unlock()
		c.Write(encode(reply{OK: true, Status: st}))
	default:
		c.Write(encode(reply{Error: fmt.Sprintf("unknown op %q", req.Op)}))
	}
}

// attach streams the log from offset: first what the file holds, then live
// records, until the agent exits or the client goes away. What the client
// writes is ignored: messages go through the input op.
func (s *pipeServer) attach(c net.Conn, offset int64) {
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
	go io.Copy(io.Discard, c)
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

// signal sends sig to the agent's process group.
func (s *pipeServer) signal(sig syscall.Signal) error {
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
