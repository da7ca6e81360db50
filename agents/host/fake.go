package host

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/studiod/studiod/workspace"
)

// Fake is a Runtime for tests: workspaces are real git worktrees (as
// Local's), processes run nothing. A test plays the agent through the
// FakeProc Start made: it writes output, reads what was typed, sets the
// screen and ends the process. Processes outlive a Manager closed and
// opened again over the same Fake, as shims outlive a daemon.
type Fake struct {
	// Started, when set, is called with each process Start starts,
	// before Start returns; it must not block.
	Started func(*FakeProc)
	// StateDir is where workspaces keep their private snapshot index, as
	// Local's do (<StateDir>/sessions/<id>/index).
	StateDir string
	// Watcher is the file watcher of the workspaces' Watch and Changes,
	// shared (not owned); nil: they have none.
	Watcher *workspace.Watcher

	// mu guards procs and pids.
	mu    sync.Mutex
	procs map[string]*FakeProc // by session ID
	pids  int
}

// NewFake makes an empty Fake.
func NewFake() *Fake { return &Fake{procs: map[string]*FakeProc{}} }

func (f *Fake) Acquire(ctx context.Context, spec WorkspaceSpec) (Workspace, error) {
	if err := spec.Repo.AddWorktree(ctx, spec.Path, spec.Branch, spec.Base); err != nil {
		return nil, err
	}
	return f.Workspace(spec), nil
}

func (f *Fake) Workspace(spec WorkspaceSpec) Workspace {
	return localWorkspace{spec: spec, index: indexIn(f.StateDir, spec.Session), w: f.Watcher}
}

func (f *Fake) Start(ctx context.Context, spec ProcSpec) (Proc, error) {
	f.mu.Lock()
	f.pids++
	p := &FakeProc{spec: spec, pid: 1000 + f.pids, running: true, changed: make(chan struct{})}
	if old := f.procs[spec.ID]; old != nil {
		// Started again (a resume): the log goes on.
		old.mu.Lock()
		p.out = old.out
		old.mu.Unlock()
	}
	f.procs[spec.ID] = p
	started := f.Started
	f.mu.Unlock()
	if started != nil {
		started(p)
	}
	return p, nil
}

func (f *Fake) Reattach(ctx context.Context, id string) (Proc, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.procs[id]; p != nil {
		return p, nil
	}
	// Never started: gone, with no exit and no log.
	return &FakeProc{spec: ProcSpec{ID: id}, changed: make(chan struct{}), noLog: true}, nil
}

// Proc is session id's process, nil when none was started.
func (f *Fake) Proc(id string) *FakeProc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.procs[id]
}

// FakeProc is a Fake's process: the test is its agent.
type FakeProc struct {
	spec ProcSpec
	pid  int

	// mu guards the fields below; changed is closed (and replaced) at
	// every change of them.
	mu      sync.Mutex
	out     []byte // the log
	noLog   bool   // never started, or its log removed
	running bool
	exit    *Exit
	input   []byte
	signals []syscall.Signal
	screen  Screen
	changed chan struct{}
	// onInput is told of each input, outside mu.
	onInput func([]byte)
}

// Spec is what the process was started with.
func (p *FakeProc) Spec() ProcSpec { return p.spec }

// changedLocked wakes everyone waiting on a change. p.mu must be held.
func (p *FakeProc) changedLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Write appends output, as the agent writing to its terminal.
func (p *FakeProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out = append(p.out, b...)
	p.changedLocked()
	return len(b), nil
}

// WriteRecord appends a Pipes record from who (FromAgent, FromStderr, …):
// msg when it is JSON, as text otherwise.
func (p *FakeProc) WriteRecord(from string, line []byte) {
	rec := Record{T: time.Now().UTC(), From: from}
	if json.Valid(line) {
		rec.Msg = append(json.RawMessage(nil), line...)
	} else {
		rec.Text = string(line)
	}
	b, _ := json.Marshal(rec)
	p.Write(append(b, '\n'))
}

// OnInput calls fn with each input from now on (a Pipes agent's messages,
// a terminal agent's keys). fn runs on the writer's goroutine and must
// not call Input.
func (p *FakeProc) OnInput(fn func([]byte)) {
	p.mu.Lock()
	p.onInput = fn
	p.mu.Unlock()
}

// SetScreen sets what the terminal shows.
func (p *FakeProc) SetScreen(rows ...string) {
	p.mu.Lock()
	p.screen = Screen{Rows: rows, Cols: 80, Offset: int64(len(p.out))}
	p.changedLocked()
	p.mu.Unlock()
}

// End ends the process with an exit code, as an agent exiting.
func (p *FakeProc) End(code int) { p.end(&Exit{Code: code}) }

// Kill ends the process leaving no exit status, as a shim killed with
// SIGKILL.
func (p *FakeProc) Kill() { p.end(nil) }

func (p *FakeProc) end(ex *Exit) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		return
	}
	p.running = false
	if ex != nil {
		ex.At, ex.Size = time.Now(), int64(len(p.out))
		if p.spec.Mode == Terminal {
			ex.Last = p.lastRowsLocked()
		}
		p.exit = ex
	}
	p.changedLocked()
}

// Typed is everything typed so far.
func (p *FakeProc) Typed() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.input)
}

// Signals are the signals sent so far.
func (p *FakeProc) Signals() []syscall.Signal {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]syscall.Signal(nil), p.signals...)
}

// Await waits until cond holds, checked under the process's lock at each
// change, or ctx ends.
func (p *FakeProc) Await(ctx context.Context, cond func(p *FakeProc) bool) error {
	for {
		p.mu.Lock()
		ok := cond(p)
		ch := p.changed
		p.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// HasTyped reports whether s was typed; for Await's cond, which runs
// with the lock held.
func (p *FakeProc) HasTyped(s string) bool { return bytes.Contains(p.input, []byte(s)) }

func (p *FakeProc) ID() string { return p.spec.ID }
func (p *FakeProc) PID() int   { return p.pid }

func (p *FakeProc) Attach(ctx context.Context, offset int64) (Stream, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		return nil, ErrGone
	}
	if offset < 0 || offset > int64(len(p.out)) {
		offset = int64(len(p.out))
	}
	return &fakeStream{p: p, off: offset, start: offset, done: make(chan struct{})}, nil
}

type fakeStream struct {
	p          *FakeProc
	off, start int64
	once       sync.Once
	done       chan struct{}
}

func (s *fakeStream) Offset() int64 { return s.start }

func (s *fakeStream) Read(b []byte) (int, error) {
	for {
		select {
		case <-s.done:
			return 0, net.ErrClosed
		default:
		}
		s.p.mu.Lock()
		if s.off < int64(len(s.p.out)) {
			n := copy(b, s.p.out[s.off:])
			s.off += int64(n)
			s.p.mu.Unlock()
			return n, nil
		}
		running, ch := s.p.running, s.p.changed
		s.p.mu.Unlock()
		if !running {
			return 0, io.EOF
		}
		select {
		case <-ch:
		case <-s.done:
		}
	}
}

func (s *fakeStream) Close() error {
	s.once.Do(func() { close(s.done) })
	return nil
}

func (p *FakeProc) Input(ctx context.Context, data []byte) error {
	p.mu.Lock()
	if !p.running {
		p.mu.Unlock()
		return ErrGone
	}
	p.input = append(p.input, data...)
	fn := p.onInput
	p.changedLocked()
	p.mu.Unlock()
	if p.spec.Mode == Pipes {
		// The shim logs a message before the agent reads it.
		p.WriteRecord(FromClient, bytes.TrimSuffix(data, []byte("\n")))
	}
	if fn != nil {
		fn(data)
	}
	return nil
}

func (p *FakeProc) Resize(ctx context.Context, rows, cols int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		return ErrGone
	}
	p.spec.Rows, p.spec.Cols = rows, cols
	return nil
}

// Signal records sig; SIGTERM, SIGINT and SIGKILL end the process as
// killed by the signal.
func (p *FakeProc) Signal(ctx context.Context, sig syscall.Signal) error {
	p.mu.Lock()
	if !p.running {
		p.mu.Unlock()
		return ErrGone
	}
	p.signals = append(p.signals, sig)
	p.changedLocked()
	p.mu.Unlock()
	switch sig {
	case syscall.SIGTERM, syscall.SIGINT, syscall.SIGKILL:
		p.end(&Exit{Code: -1, Signal: sig.String()})
	}
	return nil
}

func (p *FakeProc) Status(ctx context.Context) (Status, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		return Status{}, ErrGone
	}
	return Status{PID: p.pid, Size: int64(len(p.out))}, nil
}

func (p *FakeProc) Screen(ctx context.Context) (Screen, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		return Screen{}, ErrGone
	}
	scr := p.screen
	scr.Rows = append([]string(nil), scr.Rows...)
	return scr, nil
}

func (p *FakeProc) WaitGone(d time.Duration) {}

func (p *FakeProc) Exit() (*Exit, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exit == nil {
		return nil, fmt.Errorf("exit status of %s: %w", p.spec.ID, os.ErrNotExist)
	}
	ex := *p.exit
	return &ex, nil
}

func (p *FakeProc) ClearExit() error {
	p.mu.Lock()
	p.exit = nil
	p.mu.Unlock()
	return nil
}

func (p *FakeProc) OpenLog() (Log, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.noLog {
		return nil, fmt.Errorf("log of %s: %w", p.spec.ID, os.ErrNotExist)
	}
	return fakeLog{bytes.NewReader(bytes.Clone(p.out)), int64(len(p.out))}, nil
}

type fakeLog struct {
	*bytes.Reader
	end int64
}

func (l fakeLog) Start() int64 { return 0 }
func (l fakeLog) End() int64   { return l.end }
func (l fakeLog) Close() error { return nil }

func (p *FakeProc) Head() []byte { return nil }

func (p *FakeProc) RemoveLog() error {
	p.mu.Lock()
	p.noLog = true
	p.mu.Unlock()
	return nil
}

func (p *FakeProc) Sweep() int { return 0 }

func (p *FakeProc) Endpoints() Endpoints { return Endpoints{} }

// lastRowsLocked is what a shim leaves as the agent's last words: the last
// rows of its screen that say something; without a screen set, the last
// lines of its output, as a terminal would show them.
func (p *FakeProc) lastRowsLocked() []string {
	rows := p.screen.Rows
	if rows == nil {
		rows = strings.Split(string(p.out), "\n")
	}
	var last []string
	for i := len(rows) - 1; i >= 0 && len(last) < 10; i-- {
		if r := strings.TrimSpace(rows[i]); r != "" {
			last = append([]string{r}, last...)
		}
	}
	return last
}
