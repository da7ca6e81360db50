package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// halfMadeRE finds, in git's complaint, the administrative directory of a
// linked worktree whose commondir or gitdir git could not read.
var halfMadeRE = regexp.MustCompile(`failed to read (\S*/worktrees/([^/\s]+))/(?:commondir|gitdir)`)

// halfMadeWait is how long a worktree entry another git is still creating
// is waited for before it is taken for one left half-made.
const halfMadeWait = 3 * time.Second

// listWorktrees runs `git worktree list --porcelain -z` in dir. A `git
// worktree add` writes its entry's files one after the other, and a list
// that runs between two of them fails: such an entry is waited for. One a
// killed git left half-made (every git then fails to list, the person's
// own too) is removed when it is one of studiod's pool trees, which
// nothing else uses; otherwise the error says which directory to remove.
func listWorktrees(ctx context.Context, g *Git, dir string) ([]byte, error) {
	deadline := time.Now().Add(halfMadeWait)
	pause := 10 * time.Millisecond
	for {
		out, err := g.Run(ctx, dir, "worktree", "list", "--porcelain", "-z")
		var ge *GitError
		if err == nil || !errors.As(err, &ge) {
			return out, err
		}
		m := halfMadeRE.FindStringSubmatch(ge.Stderr)
		if m == nil {
			return nil, err
		}
		if time.Now().Before(deadline) {
			select {
			case <-time.After(pause):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			pause = min(2*pause, 200*time.Millisecond)
			continue
		}
		admin, name := m[1], m[2]
		if !filepath.IsAbs(admin) {
			admin = filepath.Join(dir, admin)
		}
		if !strings.HasPrefix(name, "pool.") {
			return nil, fmt.Errorf("%w: a git that was creating the worktree %s was cut short; remove %s and list again", err, name, admin)
		}
		if err := removeHalfMade(admin); err != nil {
			return nil, err
		}
		deadline = time.Now().Add(halfMadeWait)
	}
}

// removeHalfMade removes a pool tree's half-made worktree entry and, when
// its gitdir file says where it is, the tree's directory, which holds
// nothing yet.
func removeHalfMade(admin string) error {
	if b, err := os.ReadFile(filepath.Join(admin, "gitdir")); err == nil {
		if gitfile := strings.TrimSpace(string(b)); filepath.Base(gitfile) == ".git" && filepath.Base(filepath.Dir(gitfile)) == filepath.Base(admin) {
			os.RemoveAll(filepath.Dir(gitfile))
		}
	}
	if err := os.RemoveAll(admin); err != nil {
		return fmt.Errorf("remove the half-made worktree entry %s: %w", admin, err)
	}
	return nil
}
