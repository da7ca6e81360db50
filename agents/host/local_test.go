package host

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/studiod/studiod/agents/shim"
	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/workspace"
)

// TestMain lets the test binary be the `studiod shim` Local starts.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "shim" && os.Args[2] == "--spec" {
		b, err := os.ReadFile(os.Args[3])
		if err != nil {
			os.Exit(2)
		}
		var spec shim.Spec
		if err := json.Unmarshal(b, &spec); err != nil {
			os.Exit(2)
		}
		syscall.CloseOnExec(3)
		if err := shim.Main(spec, os.NewFile(3, "ready")); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestLocal runs a workspace and a process through the local runtime: a
// real worktree, a real shim, a real shell as the agent.
func TestLocal(t *testing.T) {
	gittest.Setenv(t)
	repoDir := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	repo, err := workspace.Open(t.Context(), workspace.DefaultGit, repoDir)
	if err != nil {
		t.Fatal(err)
	}
	base := gittest.Git(t, repoDir, "rev-parse", "HEAD")
	home, err := os.MkdirTemp("", "rt") // unix socket paths are short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	l, err := NewLocal(os.Args[0], filepath.Join(home, "s"), filepath.Join(home, "r"))
	if err != nil {
		t.Fatal(err)
	}
	spec := WorkspaceSpec{Repo: repo, Session: "s1", Path: filepath.Join(home, "wt"), Branch: "work", Base: base, Target: "main"}
	ws, err := l.Acquire(t.Context(), spec)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	os.WriteFile(filepath.Join(repoDir, ".env"), []byte("K=1\n"), 0o600)
	if n, _, err := ws.Copy([]string{".env"}); err != nil || n != 1 {
		t.Errorf("Copy: %d, %v; want 1 file", n, err)
	}
	if _, _, err := ws.Copy([]string{"../x"}); err == nil {
		t.Errorf("Copy of a glob leaving the repository: no error")
	}
	if err := ws.Setup(t.Context(), os.Environ(), "echo made > made.txt", filepath.Join(home, "setup.log")); err != nil {
		t.Errorf("Setup: %v", err)
	}
	if err := ws.Setup(t.Context(), os.Environ(), "echo nope >&2; exit 3", filepath.Join(home, "setup.log")); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("failing Setup: got %v, want its output", err)
	}

	p, err := l.Start(t.Context(), ProcSpec{ID: "s1", Argv: []string{"sh", "-c", "echo ready; read line; echo got $line; sleep 60"},
		Dir: ws.Path(), Env: os.Environ(), Rows: 24, Cols: 80})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if p.PID() == 0 {
		t.Errorf("PID: 0")
	}
	st, err := p.Attach(t.Context(), 0)
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	defer st.Close()
	if err := p.Input(t.Context(), []byte("hello\r")); err != nil {
		t.Fatalf("Input: %v", err)
	}
	var seen strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(seen.String(), "got hello") {
		n, err := st.Read(buf)
		seen.Write(buf[:n])
		if err != nil {
			t.Fatalf("output ended before the echo: %q, %v", seen.String(), err)
		}
	}
	if err := p.Resize(t.Context(), 30, 100); err != nil {
		t.Errorf("Resize: %v", err)
	}
	again, err := l.Reattach(t.Context(), "s1")
	if err != nil {
		t.Fatalf("Reattach: %v", err)
	}
	if _, err := again.Status(t.Context()); err != nil {
		t.Errorf("Status of the running process: %v", err)
	}
	if e := again.Endpoints(); e.Socket == "" || e.Log == "" {
		t.Errorf("Endpoints: %+v, want a socket and a log", e)
	}
	if err := again.Signal(t.Context(), syscall.SIGTERM); err != nil {
		t.Fatalf("Signal: %v", err)
	}
	io.Copy(io.Discard, st) // the stream ends with the process
	again.WaitGone(10 * time.Second)
	if _, err := again.Status(t.Context()); !IsGone(err) {
		t.Errorf("Status after SIGTERM: %v, want gone", err)
	}
	ex, err := again.Exit()
	if err != nil || ex.Signal == "" {
		t.Errorf("Exit: %+v, %v; want killed by a signal", ex, err)
	}
	lg, err := again.OpenLog()
	if err != nil {
		t.Fatalf("OpenLog: %v", err)
	}
	b := make([]byte, lg.End()-lg.Start())
	lg.ReadAt(b, lg.Start())
	lg.Close()
	if !strings.Contains(string(b), "got hello") {
		t.Errorf("log: %q, want the echo", b)
	}
	if err := again.ClearExit(); err != nil {
		t.Errorf("ClearExit: %v", err)
	}
	if _, err := again.Exit(); err == nil {
		t.Errorf("Exit after ClearExit: still there")
	}
	if err := again.RemoveLog(); err != nil {
		t.Errorf("RemoveLog: %v", err)
	}
	if n := again.Sweep(); n != 0 {
		t.Errorf("Sweep after a clean stop: ended %d processes, want 0", n)
	}

	if err := ws.Release(t.Context(), Keep); err == nil {
		t.Errorf("Release of a worktree with untracked files, keeping them: no error")
	}
	if err := ws.Release(t.Context(), Force); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if _, err := os.Stat(ws.Path()); !os.IsNotExist(err) {
		t.Errorf("worktree after Release: %v", err)
	}
}
