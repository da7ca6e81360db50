package host

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/studiod/studiod/agents/shim"
	"github.com/studiod/studiod/workspace"
)

// Local runs sessions on this machine: a git worktree each, and a detached
// `studiod shim` holding each agent's terminal (or pipes). A session's
// files live in StateDir/sessions/<id> (the shim's spec, the output log,
// the exit file, the shim's own log), its shim's socket in
// RuntimeDir/shims/<id>.sock.
type Local struct {
	// Self is studiod's executable, which runs the shim.
	Self       string
	StateDir   string
	RuntimeDir string
	// Watcher is the daemon's file watcher, shared (not owned): the
	// workspaces' Watch and Changes. Nil: they have none.
	Watcher *workspace.Watcher
}

// NewLocal makes the directories Local keeps its files in.
func NewLocal(self, stateDir, runtimeDir string) (*Local, error) {
	if err := os.MkdirAll(filepath.Join(runtimeDir, "shims"), 0o700); err != nil {
		return nil, err
	}
	return &Local{Self: self, StateDir: stateDir, RuntimeDir: runtimeDir}, nil
}

// Mark is the environment entry every process of session id carries (the
// agent, what it starts, setup commands): how what is left of a session
// whose shim is gone is found (see agents/shim/proc.go).
func Mark(id string) string { return "STUDIO_SESSION_ID=" + id }

// SweepMarked kills every process of this machine whose environment holds
// the entry mark, waits (a few seconds at most) until they are gone and
// returns how many it killed: how the daemon ends the commands it ran for
// a session itself, with what they detached (an ACP agent's terminals).
func SweepMarked(mark string) int { return shim.Sweep(mark) }

func (l *Local) Acquire(ctx context.Context, spec WorkspaceSpec) (Workspace, error) {
	if err := spec.Repo.AddWorktree(ctx, spec.Path, spec.Branch, spec.Base); err != nil {
		return nil, err
	}
	return l.Workspace(spec), nil
}

func (l *Local) Workspace(spec WorkspaceSpec) Workspace {
	return localWorkspace{spec: spec, index: indexIn(l.StateDir, spec.Session), w: l.Watcher}
}

func (l *Local) proc(id string) *localProc {
	dir := filepath.Join(l.StateDir, "sessions", id)
	return &localProc{id: id, dir: dir, socket: filepath.Join(l.RuntimeDir, "shims", id+".sock")}
}

func (l *Local) Reattach(ctx context.Context, id string) (Proc, error) { return l.proc(id), nil }

// Start writes the shim's spec to the session directory, starts the shim
// detached (its own session, so it outlives the daemon) and waits for it
// to report that the agent runs.
func (l *Local) Start(ctx context.Context, ps ProcSpec) (Proc, error) {
	p := l.proc(ps.ID)
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return nil, err
	}
	env := ps.Env
	if !slices.Contains(env, Mark(ps.ID)) {
		env = append(slices.Clip(env), Mark(ps.ID))
	}
	spec := shim.Spec{
		Argv: ps.Argv, Dir: ps.Dir, Env: env, Rows: ps.Rows, Cols: ps.Cols,
		Log: p.log(), LogLimit: ps.LogLimit, Socket: p.socket, Exit: p.exitFile(),
	}
	if ps.Mode == Pipes {
		spec.Mode = shim.ModePipes
	}
	b, _ := json.MarshalIndent(spec, "", "  ")
	specFile := filepath.Join(p.dir, "spec.json")
	if err := os.WriteFile(specFile, b, 0o600); err != nil {
		return nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	shimLog := filepath.Join(p.dir, "shim.log")
	errLog, err := os.OpenFile(shimLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		pw.Close()
		return nil, err
	}
	defer errLog.Close()
	cmd := exec.Command(l.Self, "shim", "--spec", specFile)
	cmd.Stdout, cmd.Stderr = errLog, errLog
	cmd.ExtraFiles = []*os.File{pw}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = ps.Dir
	if err := cmd.Start(); err != nil {
		pw.Close()
		return nil, fmt.Errorf("start shim: %w", err)
	}
	pw.Close()
	// The shim is not our child to wait for in the long run; reap it
	// whenever it exits so it leaves no zombie while the daemon lives.
	go cmd.Wait()

	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(io.LimitReader(pr, 4096)).ReadString('\n')
		ch <- result{strings.TrimSpace(line), err}
	}()
	select {
	case r := <-ch:
		if pid, ok := strings.CutPrefix(r.line, "ok "); ok {
			p.pid, _ = strconv.Atoi(pid)
			return p, nil
		}
		if msg, ok := strings.CutPrefix(r.line, "error: "); ok {
			return nil, errors.New(msg)
		}
		return nil, fmt.Errorf("shim exited without starting the agent (see %s)", shimLog)
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		return nil, errors.New("shim did not start the agent within 30s")
	case <-ctx.Done():
		cmd.Process.Kill()
		return nil, ctx.Err()
	}
}

// localProc is a session's shim, reached through its socket and files.
type localProc struct {
	id, dir, socket string
	pid             int
}

func (p *localProc) log() string      { return filepath.Join(p.dir, "output.log") }
func (p *localProc) exitFile() string { return filepath.Join(p.dir, "exit.json") }

func (p *localProc) ID() string { return p.id }
func (p *localProc) PID() int   { return p.pid }

func (p *localProc) Attach(ctx context.Context, offset int64) (Stream, error) {
	st, err := shim.Attach(ctx, p.socket, offset)
	if err != nil {
		return nil, err
	}
	return localStream{st}, nil
}

type localStream struct{ *shim.Stream }

func (s localStream) Offset() int64 { return s.Stream.Offset }

func (p *localProc) Input(ctx context.Context, data []byte) error {
	return shim.Input(ctx, p.socket, data)
}

func (p *localProc) Resize(ctx context.Context, rows, cols int) error {
	return shim.Resize(ctx, p.socket, rows, cols)
}

func (p *localProc) Signal(ctx context.Context, sig syscall.Signal) error {
	return shim.Signal(ctx, p.socket, sig)
}

func (p *localProc) Status(ctx context.Context) (Status, error) { return shim.Stat(ctx, p.socket) }

func (p *localProc) Screen(ctx context.Context) (Screen, error) { return shim.Screen(ctx, p.socket) }

// WaitGone waits for the shim's socket to go: the shim removes it last,
// once the agent's exit is recorded.
func (p *localProc) WaitGone(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(p.socket); errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *localProc) Exit() (*Exit, error) { return shim.ReadExit(p.exitFile()) }

func (p *localProc) ClearExit() error {
	if err := os.Remove(p.exitFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (p *localProc) OpenLog() (Log, error) { return shim.OpenLog(p.log()) }

func (p *localProc) Head() []byte {
	b, err := os.ReadFile(shim.HeadFile(p.log()))
	if err != nil {
		return nil
	}
	return b
}

func (p *localProc) RemoveLog() error {
	if err := shim.RemoveLog(p.log()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (p *localProc) Sweep() int { return shim.Sweep(Mark(p.id)) }

func (p *localProc) Endpoints() Endpoints { return Endpoints{Socket: p.socket, Log: p.log()} }

// EndGroup kills what remains of process group pgid, if its processes
// still work in dir: a setup command's helpers, left running when the
// command was cut short.
func EndGroup(pgid int, dir string) {
	if pgid <= 0 {
		return
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndex(s, ")")+1:])
		if len(f) < 3 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		cwd, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
		if cwd == dir || strings.HasPrefix(cwd, dir+"/") {
			syscall.Kill(-pgid, syscall.SIGKILL)
			return
		}
	}
}
