package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MinGitVersion is the oldest git studiod works with: merge-tree
// --write-tree arrived in 2.38.
var MinGitVersion = [2]int{2, 38}

// ErrGitMissing reports that no git executable was found.
var ErrGitMissing = errors.New("git not found on PATH: install git 2.38 or newer")

// ErrNoDir reports that the directory a git command was to run in does not
// exist: typically a worktree deleted behind studiod's back. It is not
// ErrGitMissing, although exec reports both as "no such file".
var ErrNoDir = errors.New("directory does not exist")

// GitVersionError reports a git older than MinGitVersion.
type GitVersionError struct{ Have string }

func (e *GitVersionError) Error() string {
	return fmt.Sprintf("git %s is too old: studiod needs git %d.%d or newer", e.Have, MinGitVersion[0], MinGitVersion[1])
}

// GitError is a git command that failed.
type GitError struct {
	Args   []string
	Code   int
	Stderr string
}

func (e *GitError) Error() string {
	if lock := e.lockFile(); lock != "" {
		// Not git's advice to remove the lock by hand: the git holding
		// it (an agent's, the person's) may be running.
		return fmt.Sprintf("git %s: %v: %s; try again once it is done", strings.Join(e.Args, " "), ErrLocked, lock)
	}
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = fmt.Sprintf("exit status %d", e.Code)
	}
	return fmt.Sprintf("git %s: %s", strings.Join(e.Args, " "), msg)
}

// Is makes a git that found another's lock file (index.lock, a ref's lock)
// in its way match ErrLocked.
func (e *GitError) Is(target error) bool { return target == ErrLocked && e.lockFile() != "" }

// lockFile is the lock file git found in its way, from its "Unable to
// create '….lock': File exists." message; "" if none.
func (e *GitError) lockFile() string {
	_, rest, ok := strings.Cut(e.Stderr, "Unable to create '")
	if !ok {
		return ""
	}
	path, rest, ok := strings.Cut(rest, "': File exists")
	if !ok || !strings.HasSuffix(path, ".lock") {
		return ""
	}
	return path
}

// ErrLocked reports a git command that found another git's lock file in
// its way (the index's, a branch's): that git is writing, and the command
// can be run again once it is done.
var ErrLocked = errors.New("another git is writing here (its lock file exists)")

// Git runs git. The zero value runs "git" from PATH with the environment of
// the process.
type Git struct {
	// Bin is the git executable; empty means "git".
	Bin string
	// Env is added to the environment of every command.
	Env []string

	once    sync.Once
	version string
	verErr  error
}

// DefaultGit is the runner used by the package-level functions.
var DefaultGit = &Git{}

func (g *Git) bin() string {
	if g.Bin != "" {
		return g.Bin
	}
	return "git"
}

// Cmd holds the optional parts of one git invocation.
type Cmd struct {
	Dir   string
	Stdin io.Reader
	Env   []string
	// Stdout, when set, receives output instead of the returned buffer.
	Stdout io.Writer
	// DieWithParent kills git when the daemon dies (however it dies), for
	// slow background work (checkouts, resets, cleans) whose half-done
	// result recovery removes: a git still running in a tree the next
	// daemon deletes would fight it.
	DieWithParent bool
	// TermWithParent, with DieWithParent, ends git with SIGTERM rather
	// than SIGKILL: for a git that removes what it half-made when
	// terminated (worktree add), where a killed one would leave an entry
	// that every later git, the person's own included, fails to read.
	TermWithParent bool
}

// Run runs git with args in dir and returns its standard output. A non-zero
// exit is a *GitError carrying stderr.
func (g *Git) Run(ctx context.Context, dir string, args ...string) ([]byte, error) {
	return g.RunCmd(ctx, Cmd{Dir: dir}, args...)
}

// RunCmd is Run with stdin, extra environment or a streaming stdout.
func (g *Git) RunCmd(ctx context.Context, c Cmd, args ...string) ([]byte, error) {
	cmd := g.command(ctx, c, args...)
	var stdout, stderr bytes.Buffer
	if c.Stdout != nil {
		cmd.Stdout = c.Stdout
	} else {
		cmd.Stdout = &stdout
	}
	cmd.Stderr = &stderr
	cmd.Stdin = c.Stdin
	err := cmd.Run()
	if err != nil {
		return stdout.Bytes(), g.wrap(c.Dir, args, err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// Command returns an *exec.Cmd for long-lived git processes (cat-file
// --batch, merge-tree --stdin, fast-import) set up like Run's.
func (g *Git) Command(ctx context.Context, c Cmd, args ...string) *exec.Cmd {
	return g.command(ctx, c, args...)
}

func (g *Git) command(ctx context.Context, c Cmd, args ...string) *exec.Cmd {
	// core.fsmonitor=false: session worktrees name a hook that asks this
	// daemon what changed; studiod's own git commands look for themselves
	// rather than ask themselves through a process. core.splitIndex=false:
	// whatever the person's config says, studiod's indexes (its private ones
	// and the worktrees' it writes) are one file, never split
	// (splitindex.go).
	full := append([]string{"--no-pager", "--no-optional-locks", "-c", "color.ui=false", "-c", "core.quotepath=false",
		"-c", "core.fsmonitor=false", "-c", "core.splitIndex=false"}, args...)
	cmd := exec.CommandContext(ctx, g.bin(), full...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0")
	cmd.Env = append(cmd.Env, g.Env...)
	cmd.Env = append(cmd.Env, c.Env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	if c.DieWithParent {
		sig := syscall.SIGKILL
		if c.TermWithParent {
			sig = syscall.SIGTERM
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: sig}
	}
	return cmd
}

func dirExists(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}

func (g *Git) wrap(dir string, args []string, err error, stderr string) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &GitError{Args: args, Code: ee.ExitCode(), Stderr: stderr}
	}
	if errors.Is(err, exec.ErrNotFound) {
		return ErrGitMissing
	}
	var pe *os.PathError
	if errors.As(err, &pe) && errors.Is(pe.Err, os.ErrNotExist) {
		// exec reports a missing working directory (chdir) and a missing
		// executable alike; only the latter is a missing git.
		if pe.Op == "chdir" || dir != "" && !dirExists(dir) {
			return fmt.Errorf("git %s: %w: %s (deleted? `git worktree prune` forgets a deleted worktree, `studiod rm` a deleted session)",
				strings.Join(args, " "), ErrNoDir, dir)
		}
		return ErrGitMissing
	}
	return fmt.Errorf("run git %s: %w", strings.Join(args, " "), err)
}

// Version returns git's version ("2.39.5"), checking it is new enough.
func (g *Git) Version(ctx context.Context) (string, error) {
	g.once.Do(func() {
		out, err := g.Run(ctx, "", "version")
		if err != nil {
			g.verErr = err
			return
		}
		// "git version 2.39.5" possibly followed by a vendor suffix.
		f := strings.Fields(string(out))
		if len(f) < 3 {
			g.verErr = fmt.Errorf("unexpected git version output %q", out)
			return
		}
		g.version = f[2]
		if !versionAtLeast(g.version, MinGitVersion) {
			g.verErr = &GitVersionError{Have: g.version}
		}
	})
	return g.version, g.verErr
}

func versionAtLeast(v string, min [2]int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return major > min[0] || major == min[0] && minor >= min[1]
}

// ExitCode returns the exit code of a *GitError, or -1.
func ExitCode(err error) int {
	var ge *GitError
	if errors.As(err, &ge) {
		return ge.Code
	}
	return -1
}

func trim(b []byte) string { return strings.TrimSpace(string(b)) }
