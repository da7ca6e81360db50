package host

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/studiod/studiod/workspace"
)

// Copy and Setup of the workspaces on this machine (Local's and Fake's).

func (w localWorkspace) Copy(globs []string) (copied, cloned int, err error) {
	return copyFiles(w.spec.Repo.Root, w.spec.Path, globs)
}

func (w localWorkspace) Setup(ctx context.Context, env []string, command, logPath string) error {
	return runSetup(ctx, w.spec.Path, env, command, logPath)
}

// copyFiles copies files matching globs from the main worktree into the new
// one, as copy-on-write clones where the file system has them. Globs must
// stay inside the repository. It returns how many files it copied and how
// many of them were cloned.
func copyFiles(from, to string, globs []string) (copied, cloned int, err error) {
	c := &copyCount{}
	for _, g := range globs {
		if filepath.IsAbs(g) || strings.HasPrefix(filepath.Clean(g), "..") {
			return c.copied, c.cloned, fmt.Errorf("copy glob %q leaves the repository", g)
		}
		matches, err := filepath.Glob(filepath.Join(from, g))
		if err != nil {
			return c.copied, c.cloned, fmt.Errorf("copy glob %q: %w", g, err)
		}
		for _, src := range matches {
			rel, _ := filepath.Rel(from, src)
			if strings.HasPrefix(rel, ".git") && (rel == ".git" || strings.HasPrefix(rel, ".git/")) {
				continue
			}
			if err := c.copyTree(src, filepath.Join(to, rel)); err != nil {
				return c.copied, c.cloned, err
			}
		}
	}
	return c.copied, c.cloned, nil
}

type copyCount struct{ copied, cloned int }

func (c *copyCount) copyTree(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return nil
	case fi.IsDir():
		entries, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := c.copyTree(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
				return err
			}
		}
		return nil
	}
	if _, err := os.Lstat(dst); err == nil {
		return nil // the checkout has it: never overwrite tracked content
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	cloned, err := workspace.CloneFile(src, dst, fi.Mode().Perm())
	if err != nil {
		return err
	}
	c.copied++
	if cloned {
		c.cloned++
	}
	return nil
}

// runSetup runs command with sh in dir, its output appended to logPath.
func runSetup(ctx context.Context, dir string, env []string, command, logPath string) error {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "$ %s\n", command)
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Dir, cmd.Env = dir, env
	var tail tailBuffer
	cmd.Stdout = io.MultiWriter(logf, &tail)
	cmd.Stderr = cmd.Stdout
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%q: %v: %s (full output in %s)", command, err, strings.TrimSpace(tail.String()), logPath)
	}
	return nil
}

// tailBuffer keeps the last 2 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 2048 {
		t.b = t.b[len(t.b)-2048:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
