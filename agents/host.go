package agents

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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/studiod/studiod/agents/shim"
	"github.com/studiod/studiod/workspace"
)

// Host is where a session runs: it provides the session's workspace (its
// worktree, on its own branch) and starts the session's agent process. The
// Manager reaches workspaces and agent processes only through it, so that a
// warm pool of worktrees, agents spoken to over a protocol instead of a
// terminal, or a remote machine can slot in without touching anything else.
type Host interface {
	// Acquire makes s's workspace: s.Worktree checked out on the new
	// branch s.Branch at commit s.Base.
	Acquire(ctx context.Context, repo *workspace.Repo, s *Session) error
	// Release removes s's workspace; the branch stays. Without force it
	// refuses a worktree with uncommitted or untracked files.
	Release(ctx context.Context, repo *workspace.Repo, s *Session, force bool) error
	// Start starts s.Command in s's workspace with env under a detached
	// shim serving s.Socket, and returns the agent's pid once it runs.
	Start(ctx context.Context, s *Session, env []string, rows, cols int) (pid int, err error)
}

// localHost runs sessions on this machine: a git worktree, and a
// `studiod shim` process holding the agent's terminal.
type localHost struct {
	self string // studiod's executable, which runs the shim
}

func (h localHost) Acquire(ctx context.Context, repo *workspace.Repo, s *Session) error {
	return repo.AddWorktree(ctx, s.Worktree, s.Branch, s.Base)
}

func (h localHost) Release(ctx context.Context, repo *workspace.Repo, s *Session, force bool) error {
	return repo.RemoveWorktree(ctx, s.Worktree, force)
}

// Start writes the shim's spec to the session directory, starts the shim
// detached (its own session, so it outlives the daemon) and waits for it
// to report that the agent runs.
func (h localHost) Start(ctx context.Context, s *Session, env []string, rows, cols int) (int, error) {
	spec := shim.Spec{
		Argv: s.Command, Dir: s.Worktree, Env: env, Rows: rows, Cols: cols,
		Log: s.Log(), LogLimit: s.LogLimit, Socket: s.Socket, Exit: s.exitFile(),
	}
	if s.Protocol == ProtocolACP {
		spec.Mode = shim.ModePipes
	}
	b, _ := json.MarshalIndent(spec, "", "  ")
	if err := os.WriteFile(s.specFile(), b, 0o600); err != nil {
		return 0, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer pr.Close()
	errLog, err := os.OpenFile(filepath.Join(s.Dir, "shim.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		pw.Close()
		return 0, err
	}
	defer errLog.Close()
	cmd := exec.Command(h.self, "shim", "--spec", s.specFile())
	cmd.Stdout, cmd.Stderr = errLog, errLog
	cmd.ExtraFiles = []*os.File{pw}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = s.Worktree
	if err := cmd.Start(); err != nil {
		pw.Close()
		return 0, fmt.Errorf("start shim: %w", err)
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
			n, _ := strconv.Atoi(pid)
			return n, nil
		}
		if msg, ok := strings.CutPrefix(r.line, "error: "); ok {
			return 0, errors.New(msg)
		}
		return 0, fmt.Errorf("shim exited without starting the agent (see %s)", filepath.Join(s.Dir, "shim.log"))
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		return 0, errors.New("shim did not start the agent within 30s")
	case <-ctx.Done():
		cmd.Process.Kill()
		return 0, ctx.Err()
	}
}
