package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// The operations below serve a warm pool of worktrees: trees checked out
// ahead of time on a detached HEAD, handed to a session by creating its
// branch there, and recycled when the session is removed. Everything that
// rewrites many files (checkouts, resets, cleans) dies with the daemon
// (Cmd.DieWithParent), so a daemon killed mid-way leaves a tree that the next
// one removes rather than a git still writing into it.

// AddDetachedWorktree checks commit out at path on a detached HEAD, locked
// with reason from the start, so that `git worktree prune` never takes it
// and `git worktree list` says whose it is. No branch is made.
func (r *Repo) AddDetachedWorktree(ctx context.Context, path, commit, reason string) error {
	if err := ValidateRefArg(commit); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("add worktree %s: %w", path, err)
	}
	_, err := r.Git.RunCmd(ctx, Cmd{Dir: r.Root, DieWithParent: true, TermWithParent: true},
		"worktree", "add", "--quiet", "--detach", "--lock", "--reason", reason, "--", path, commit)
	if err != nil {
		return fmt.Errorf("add worktree %s: %w", path, err)
	}
	return nil
}

// LockWorktree locks the worktree at path with reason.
func (r *Repo) LockWorktree(ctx context.Context, path, reason string) error {
	if _, err := r.Run(ctx, "worktree", "lock", "--reason", reason, "--", path); err != nil {
		return fmt.Errorf("lock worktree %s: %w", path, err)
	}
	return nil
}

// UnlockWorktree unlocks the worktree at path; one that is not locked is
// left as it is.
func (r *Repo) UnlockWorktree(ctx context.Context, path string) error {
	list, err := r.Worktrees(ctx)
	if err != nil {
		return err
	}
	for _, wt := range list {
		if wt.Path == path && wt.Locked {
			if _, err := r.Run(ctx, "worktree", "unlock", "--", path); err != nil {
				return fmt.Errorf("unlock worktree %s: %w", path, err)
			}
		}
	}
	return nil
}

// MoveWorktree renames the worktree at from to to, locked or not. The
// files keep their inodes and times, so the index stays valid and nothing
// is checked out again.
func (r *Repo) MoveWorktree(ctx context.Context, from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return fmt.Errorf("move worktree %s: %w", from, err)
	}
	if _, err := r.Run(ctx, "worktree", "move", "--force", "--force", "--", from, to); err != nil {
		return fmt.Errorf("move worktree %s to %s: %w", from, to, err)
	}
	return nil
}

// CreateBranch creates refs/heads/branch at commit, failing if it exists:
// the compare-and-swap of update-ref with an empty old value.
func (r *Repo) CreateBranch(ctx context.Context, branch, commit, from string) error {
	if err := r.CheckBranchName(ctx, branch); err != nil {
		return err
	}
	if err := ValidateRefArg(commit); err != nil {
		return err
	}
	if _, err := r.Run(ctx, "update-ref", "-m", "branch: Created from "+from, "refs/heads/"+branch, commit, ""); err != nil {
		return fmt.Errorf("create branch %s: %w", branch, err)
	}
	return nil
}

// AttachHead puts the worktree at dir on branch without touching its index
// or files: for a tree whose HEAD is detached at the branch's commit, this
// is what `git switch -c` does, minus reading and writing the index.
func (g *Git) AttachHead(ctx context.Context, dir, branch string) error {
	if err := ValidateRefArg(branch); err != nil {
		return err
	}
	if _, err := g.Run(ctx, dir, "symbolic-ref", "-m", "studiod: take "+branch, "HEAD", "refs/heads/"+branch); err != nil {
		return fmt.Errorf("switch %s to %s: %w", dir, branch, err)
	}
	return nil
}

// DetachHead detaches the worktree at dir at the commit it is on, leaving
// index and files alone, so its branch can be deleted.
func (g *Git) DetachHead(ctx context.Context, dir string) (string, error) {
	out, err := g.Run(ctx, dir, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return "", fmt.Errorf("detach %s: %w", dir, err)
	}
	head := trim(out)
	if _, err := g.Run(ctx, dir, "update-ref", "--no-deref", "-m", "studiod: recycle", "HEAD", head); err != nil {
		return "", fmt.Errorf("detach %s: %w", dir, err)
	}
	return head, nil
}

// Head returns the commit the worktree at dir is on and its branch ("" when
// detached).
func (g *Git) Head(ctx context.Context, dir string) (commit, branch string, err error) {
	out, err := g.Run(ctx, dir, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return "", "", err
	}
	commit = trim(out)
	out, err = g.Run(ctx, dir, "symbolic-ref", "-q", "HEAD")
	if err != nil {
		if ExitCode(err) == 1 {
			return commit, "", nil
		}
		return "", "", err
	}
	return commit, strings.TrimPrefix(trim(out), "refs/heads/"), nil
}

// ResetClean puts the worktree at dir on commit (detached) with no local
// change and no untracked file; with ignored it removes ignored files too,
// otherwise they stay (dependencies a setup made).
func (g *Git) ResetClean(ctx context.Context, dir, commit string, ignored bool) error {
	if err := ValidateRefArg(commit); err != nil {
		return err
	}
	c := Cmd{Dir: dir, DieWithParent: true}
	if _, err := g.RunCmd(ctx, c, "checkout", "--quiet", "--force", "--detach", commit); err != nil {
		return fmt.Errorf("reset %s: %w", dir, err)
	}
	args := []string{"clean", "-ffdq"}
	if ignored {
		args = append(args, "-x")
	}
	if _, err := g.RunCmd(ctx, c, args...); err != nil {
		return fmt.Errorf("clean %s: %w", dir, err)
	}
	return nil
}

// Checkout moves the clean worktree at dir to commit (detached), rewriting
// only the files that differ.
func (g *Git) Checkout(ctx context.Context, dir, commit string) error {
	if err := ValidateRefArg(commit); err != nil {
		return err
	}
	if _, err := g.RunCmd(ctx, Cmd{Dir: dir, DieWithParent: true}, "checkout", "--quiet", "--detach", commit); err != nil {
		return fmt.Errorf("check out %s in %s: %w", commit, dir, err)
	}
	return nil
}

// ForceRemoveWorktree removes the worktree at path whatever state it is in:
// locked, dirty, half checked out by a git that was killed. It falls back
// to deleting the directory and pruning when git refuses, which is only
// right for trees studiod made: callers pass no other.
func (r *Repo) ForceRemoveWorktree(ctx context.Context, path string) error {
	r.UnlockWorktree(ctx, path)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		_, err := r.Run(ctx, "worktree", "prune")
		return err
	}
	_, err := r.Git.RunCmd(ctx, Cmd{Dir: r.Root, DieWithParent: true}, "worktree", "remove", "--force", "--force", "--", path)
	if err == nil {
		return nil
	}
	if rerr := os.RemoveAll(path); rerr != nil {
		return fmt.Errorf("remove worktree %s: %w (and %v)", path, err, rerr)
	}
	if _, perr := r.Run(ctx, "worktree", "prune"); perr != nil {
		return perr
	}
	return nil
}

// DiskUsage returns the bytes the files under dir occupy on disk (blocks,
// not lengths), the worktree's own files and ignored ones alike.
func DiskUsage(ctx context.Context, dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return nil // vanished meanwhile
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		} else {
			total += fi.Size()
		}
		return nil
	})
	return total, err
}

// TreeBytes returns the size of the blobs of commit's tree: what a checkout
// of it writes, to estimate a new worktree before making it.
func (r *Repo) TreeBytes(ctx context.Context, commit string) (int64, error) {
	if err := ValidateRefArg(commit); err != nil {
		return 0, err
	}
	out, err := r.Run(ctx, "ls-tree", "-r", "-l", "-z", "--full-tree", commit)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, rec := range strings.Split(string(out), "\x00") {
		// "<mode> SP <type> SP <object> SP+ <size> TAB <path>"
		meta, _, ok := strings.Cut(rec, "\t")
		if !ok {
			continue
		}
		f := strings.Fields(meta)
		if len(f) == 4 && f[1] == "blob" {
			var n int64
			fmt.Sscan(f[3], &n)
			// A file takes at least one block.
			total += max((n+4095)/4096, 1) * 4096
		}
	}
	return total, nil
}
