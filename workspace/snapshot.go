package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Snapshot is a worktree's content at one moment, uncommitted and untracked
// (not ignored) files included, stored as a commit whose parent is the
// worktree's HEAD. Nothing in the worktree changes: no file, no index entry.
type Snapshot struct {
	Commit string
	Tree   string
	Head   string
}

// TakeSnapshot records the worktree at dir through the private index at
// index. With paths == nil every path is examined; otherwise only those
// (relative to dir) are brought up to date, so the cost follows what changed.
// The private index starts as a copy of the worktree's own, which makes the
// first full pass cheap: git trusts its stat data.
func (g *Git) TakeSnapshot(ctx context.Context, dir, index string, paths []string) (Snapshot, error) {
	env := []string{"GIT_INDEX_FILE=" + index}
	head, err := g.Run(ctx, dir, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	s := Snapshot{Head: trim(head)}
	if _, err := os.Stat(index); errors.Is(err, os.ErrNotExist) {
		if err := g.seedIndex(ctx, dir, index); err != nil {
			return Snapshot{}, fmt.Errorf("snapshot %s: seed index: %w", dir, err)
		}
		paths = nil
	}
	if err := g.stagePaths(ctx, dir, env, paths); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	tree, err := g.RunCmd(ctx, Cmd{Dir: dir, Env: env}, "write-tree")
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	s.Tree = trim(tree)
	commit, err := g.RunCmd(ctx, Cmd{Dir: dir, Env: snapshotIdentity}, "commit-tree", "--no-gpg-sign", s.Tree, "-p", s.Head, "-m", "studiod snapshot")
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	s.Commit = trim(commit)
	return s, nil
}

// stagePaths brings the changed paths (nil: every path) into the index
// env names. A path that is gone is taken out of the index: `git add` of a
// path neither on disk nor in the index fails the whole command, and an
// editor's or an agent's temporary file (written, then renamed over the
// file) is gone by the time its change is read.
func (g *Git) stagePaths(ctx context.Context, dir string, env []string, paths []string) error {
	add := func(c Cmd, args ...string) error {
		_, err := g.RunCmd(ctx, c, append([]string{"add", "-A", "--ignore-errors"}, args...)...)
		if err != nil && ExitCode(err) == 1 {
			// Exit 1 with --ignore-errors: some file vanished while being
			// read; the next event brings it up to date.
			return nil
		}
		return err
	}
	if paths == nil {
		return add(Cmd{Dir: dir, Env: env}, "--", ".")
	}
	fromStdin := []string{"--pathspec-from-file=-", "--pathspec-file-nul", "--"}
	for range 3 {
		var present, gone []string
		for _, p := range paths {
			if _, err := os.Lstat(filepath.Join(dir, p)); err == nil {
				present = append(present, p)
			} else {
				gone = append(gone, p)
			}
		}
		if len(gone) > 0 {
			c := Cmd{Dir: dir, Env: env, Stdin: strings.NewReader(strings.Join(gone, "\x00"))}
			if _, err := g.RunCmd(ctx, c, append([]string{"rm", "--cached", "-r", "-q", "--ignore-unmatch"}, fromStdin...)...); err != nil {
				return err
			}
		}
		if len(present) == 0 {
			return nil
		}
		err := add(Cmd{Dir: dir, Env: env, Stdin: strings.NewReader(strings.Join(present, "\x00"))}, fromStdin...)
		if err == nil || !strings.Contains(err.Error(), "did not match any files") {
			return err
		}
		// A path went between looking and adding: look again.
	}
	return add(Cmd{Dir: dir, Env: env}, "--", ".")
}

// snapshotIdentity makes snapshot commits of the same tree and parent
// identical, so they dedupe and need no user identity.
var snapshotIdentity = []string{
	"GIT_AUTHOR_NAME=studiod", "GIT_AUTHOR_EMAIL=studiod@localhost", "GIT_AUTHOR_DATE=1700000000 +0000",
	"GIT_COMMITTER_NAME=studiod", "GIT_COMMITTER_EMAIL=studiod@localhost", "GIT_COMMITTER_DATE=1700000000 +0000",
}

func (g *Git) seedIndex(ctx context.Context, dir, index string) error {
	out, err := g.Run(ctx, dir, "rev-parse", "--path-format=absolute", "--git-path", "index")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(index), 0o700); err != nil {
		return err
	}
	src, err := os.Open(trim(out))
	if errors.Is(err, os.ErrNotExist) {
		_, err := g.RunCmd(ctx, Cmd{Dir: dir, Env: []string{"GIT_INDEX_FILE=" + index}}, "read-tree", "HEAD")
		return err
	}
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := index + ".tmp"
	dst, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	// The copy keeps the index's modification time: git takes entries not
	// older than the index file for "racily clean" and compares their
	// content. A copy dated now would make git trust the stat data of a file
	// rewritten within the same second, keeping its old content.
	if fi, err := src.Stat(); err == nil {
		if err := os.Chtimes(tmp, fi.ModTime(), fi.ModTime()); err != nil {
			return err
		}
	}
	return os.Rename(tmp, index)
}
