package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Worktree is one entry of `git worktree list`.
type Worktree struct {
	Path   string
	Head   string
	Branch string // short name; "" when detached
	Bare   bool
	Locked bool
	// LockReason is the reason given to `git worktree lock`, if any.
	LockReason string
	// Prunable is set when git would prune the entry (its directory is gone).
	Prunable bool
}

// Worktrees lists the repository's worktrees, the main one first.
func (r *Repo) Worktrees(ctx context.Context) ([]Worktree, error) {
	out, err := listWorktrees(ctx, r.Git, r.Root)
	if err != nil {
		return nil, err
	}
	var list []Worktree
	var cur *Worktree
	for _, f := range strings.Split(string(out), "\x00") {
		switch {
		case strings.HasPrefix(f, "worktree "):
			list = append(list, Worktree{Path: f[len("worktree "):]})
			cur = &list[len(list)-1]
		case cur == nil:
		case strings.HasPrefix(f, "HEAD "):
			cur.Head = f[len("HEAD "):]
		case strings.HasPrefix(f, "branch "):
			cur.Branch = strings.TrimPrefix(f[len("branch "):], "refs/heads/")
		case f == "bare":
			cur.Bare = true
		case f == "locked" || strings.HasPrefix(f, "locked "):
			cur.Locked = true
			cur.LockReason = strings.TrimPrefix(strings.TrimPrefix(f, "locked"), " ")
		case f == "prunable" || strings.HasPrefix(f, "prunable "):
			cur.Prunable = true
		}
	}
	return list, nil
}

// WorktreeFor returns the worktree that has branch checked out, if any.
func (r *Repo) WorktreeFor(ctx context.Context, branch string) (*Worktree, error) {
	list, err := r.Worktrees(ctx)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].Branch == branch {
			return &list[i], nil
		}
	}
	return nil, nil
}

// AddWorktree creates branch at base and checks it out at path. It is the one
// place worktrees are acquired, so a warm pool can slot in here.
func (r *Repo) AddWorktree(ctx context.Context, path, branch, base string) error {
	if err := r.CheckBranchName(ctx, branch); err != nil {
		return err
	}
	if err := ValidateRefArg(base); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("add worktree %s: %w", path, err)
	}
	if _, err := r.Run(ctx, "worktree", "add", "--quiet", "-b", branch, "--", path, base); err != nil {
		return fmt.Errorf("add worktree %s: %w", path, err)
	}
	return nil
}

// RemoveWorktree removes the worktree at path. Without force git refuses
// when it has uncommitted changes or untracked files. A worktree whose
// directory is already gone is pruned.
func (r *Repo) RemoveWorktree(ctx context.Context, path string, force bool) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		_, err := r.Run(ctx, "worktree", "prune")
		return err
	}
	args := []string{"worktree", "remove"}
	if force {
		args = append(args, "--force", "--force")
	}
	args = append(args, "--", path)
	if _, err := r.Run(ctx, args...); err != nil {
		return fmt.Errorf("remove worktree %s: %w", path, err)
	}
	return nil
}

// DeleteBranch deletes refs/heads/branch whatever it holds.
func (r *Repo) DeleteBranch(ctx context.Context, branch string) error {
	if err := ValidateRefArg(branch); err != nil {
		return err
	}
	if _, err := r.Run(ctx, "branch", "-D", "--", branch); err != nil {
		return fmt.Errorf("delete branch %s: %w", branch, err)
	}
	return nil
}

// IsAncestor reports whether commit a is an ancestor of (or equal to) b.
func (r *Repo) IsAncestor(ctx context.Context, a, b string) (bool, error) {
	_, err := r.Run(ctx, "merge-base", "--is-ancestor", a, b)
	if err == nil {
		return true, nil
	}
	if ExitCode(err) == 1 {
		return false, nil
	}
	return false, err
}

// Status is the porcelain status of a worktree.
type Status struct {
	// Entries are `git status --porcelain=v1 -z` records: XY and path.
	Entries []StatusEntry
}

// StatusEntry is one changed path.
type StatusEntry struct {
	XY   string
	Path string
	Orig string // source of a rename or copy
}

// Dirty reports whether anything is modified, staged or untracked.
func (s Status) Dirty() bool { return len(s.Entries) > 0 }

// WorktreeStatus returns the status of the worktree at dir, untracked files
// included and ignored ones not.
func (g *Git) WorktreeStatus(ctx context.Context, dir string) (Status, error) {
	out, err := g.Run(ctx, dir, "status", "--porcelain=v1", "-z", "--untracked-files=all")
	if err != nil {
		return Status{}, err
	}
	var st Status
	fields := strings.Split(string(out), "\x00")
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if len(f) < 4 {
			continue
		}
		e := StatusEntry{XY: f[:2], Path: f[3:]}
		if e.XY[0] == 'R' || e.XY[0] == 'C' {
			if i+1 < len(fields) {
				e.Orig = fields[i+1]
				i++
			}
		}
		st.Entries = append(st.Entries, e)
	}
	return st, nil
}
