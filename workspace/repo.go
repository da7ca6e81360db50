package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Repo is a non-bare repository, identified by its main worktree.
type Repo struct {
	Git *Git
	// Root is the main worktree's top directory.
	Root string
	// CommonDir is the repository's git directory, shared by all worktrees.
	CommonDir string
}

// Errors returned by Open for directories studiod cannot work in.
var (
	ErrNotRepo   = errors.New("not a git repository")
	ErrBare      = errors.New("bare repository: studiod needs a repository with a working tree")
	ErrNoCommits = errors.New("repository has no commits yet: make a first commit, then spawn")
)

// Open finds the repository containing dir (any worktree of it) and returns
// it named by its main worktree.
func Open(ctx context.Context, g *Git, dir string) (*Repo, error) {
	if _, err := g.Version(ctx); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(abs); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w: no such directory", abs, ErrNotRepo)
	} else if err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s: %w: not a directory", abs, ErrNotRepo)
	}
	out, err := g.Run(ctx, abs, "rev-parse", "--is-bare-repository", "--git-common-dir")
	if err != nil {
		if ExitCode(err) == 128 {
			return nil, fmt.Errorf("%s: %w", abs, ErrNotRepo)
		}
		return nil, err
	}
	lines := strings.Split(trim(out), "\n")
	if len(lines) < 2 {
		return nil, fmt.Errorf("unexpected rev-parse output %q", out)
	}
	if lines[0] == "true" {
		return nil, fmt.Errorf("%s: %w", abs, ErrBare)
	}
	common := lines[1]
	if !filepath.IsAbs(common) {
		common = filepath.Join(abs, common)
	}
	common, err = filepath.EvalSymlinks(common)
	if err != nil {
		return nil, err
	}
	// The main worktree is the first entry of `worktree list`.
	out, err = listWorktrees(ctx, g, abs)
	if err != nil {
		return nil, err
	}
	var root string
	for _, f := range strings.Split(string(out), "\x00") {
		if p, ok := strings.CutPrefix(f, "worktree "); ok {
			root = p
			break
		}
	}
	if root == "" {
		return nil, fmt.Errorf("%s: %w", abs, ErrBare)
	}
	if _, err := g.Run(ctx, root, "rev-parse", "--verify", "-q", "HEAD^{commit}"); err != nil {
		return nil, fmt.Errorf("%s: %w", root, ErrNoCommits)
	}
	return &Repo{Git: g, Root: root, CommonDir: common}, nil
}

// Run runs git in the main worktree.
func (r *Repo) Run(ctx context.Context, args ...string) ([]byte, error) {
	return r.Git.Run(ctx, r.Root, args...)
}

// ErrBadRef reports a ref that does not exist or is not acceptable.
var ErrBadRef = errors.New("bad ref")

var refSafe = regexp.MustCompile(`^[A-Za-z0-9._/@{}^~:+-]+$`)

// ValidateRefArg rejects values that git could take for an option or that
// hold characters no ref needs.
func ValidateRefArg(ref string) error {
	switch {
	case ref == "":
		return fmt.Errorf("%w: empty ref", ErrBadRef)
	case strings.HasPrefix(ref, "-"):
		return fmt.Errorf("%w: %q looks like an option", ErrBadRef, ref)
	case !refSafe.MatchString(ref):
		return fmt.Errorf("%w: %q has characters a ref cannot have", ErrBadRef, ref)
	}
	return nil
}

// ResolveCommit returns the commit id that ref names.
func (r *Repo) ResolveCommit(ctx context.Context, ref string) (string, error) {
	if err := ValidateRefArg(ref); err != nil {
		return "", err
	}
	out, err := r.Run(ctx, "rev-parse", "--verify", "--end-of-options", ref+"^{commit}")
	if err != nil {
		if ExitCode(err) == 128 || ExitCode(err) == 1 {
			return "", fmt.Errorf("%w: %q is not a commit in %s", ErrBadRef, ref, r.Root)
		}
		return "", err
	}
	return trim(out), nil
}

// CheckBranchName validates a full branch name with git check-ref-format.
func (r *Repo) CheckBranchName(ctx context.Context, branch string) error {
	if err := ValidateRefArg(branch); err != nil {
		return err
	}
	if _, err := r.Run(ctx, "check-ref-format", "--branch", branch); err != nil {
		return fmt.Errorf("%w: %q is not a valid branch name", ErrBadRef, branch)
	}
	return nil
}

// BranchExists reports whether refs/heads/branch exists.
func (r *Repo) BranchExists(ctx context.Context, branch string) (bool, error) {
	_, err := r.Run(ctx, "show-ref", "--verify", "-q", "refs/heads/"+branch)
	if err == nil {
		return true, nil
	}
	if ExitCode(err) == 1 {
		return false, nil
	}
	return false, err
}

// CurrentBranch returns the branch checked out in the main worktree, or "" on
// a detached HEAD.
func (r *Repo) CurrentBranch(ctx context.Context) (string, error) {
	out, err := r.Run(ctx, "symbolic-ref", "-q", "--short", "HEAD")
	if err != nil {
		if ExitCode(err) == 1 {
			return "", nil
		}
		return "", err
	}
	return trim(out), nil
}
