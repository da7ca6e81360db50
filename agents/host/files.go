package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/studiod/studiod/workspace"
)

// The files of the workspaces on this machine (Local's and Fake's): git in
// the worktree, the daemon's file watcher on it.

// localWorkspace is a worktree on this machine. index is its private
// snapshot index; w the daemon's file watcher, nil when it has none.
type localWorkspace struct {
	spec  WorkspaceSpec
	index string
	w     *workspace.Watcher
}

func (w localWorkspace) Path() string { return w.spec.Path }

func (w localWorkspace) Release(ctx context.Context, how Release) error {
	return w.spec.Repo.RemoveWorktree(ctx, w.spec.Path, how != Keep)
}

func (w localWorkspace) Exists(ctx context.Context) (bool, error) {
	if w.spec.Path == "" {
		return false, nil
	}
	_, err := os.Stat(w.spec.Path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (w localWorkspace) Snapshot(ctx context.Context) (workspace.Snapshot, error) {
	if w.index == "" {
		return workspace.Snapshot{}, errors.New("snapshot " + w.spec.Path + ": no place for its index")
	}
	return w.spec.Repo.Git.TakeSnapshot(ctx, w.spec.Path, w.index, nil)
}

func (w localWorkspace) Diff(ctx context.Context, from, to string, paths []string, stat bool) ([]workspace.FileDiff, error) {
	return w.spec.Repo.Git.Diff(ctx, w.spec.Repo.Root, from, to, paths, stat)
}

func (w localWorkspace) ReadFile(ctx context.Context, path string) (workspace.FileVersion, error) {
	return workspace.ReadWorktreeFile(w.spec.Path, path)
}

func (w localWorkspace) FileAt(ctx context.Context, rev, path string) (workspace.FileVersion, error) {
	return w.spec.Repo.Git.FileAt(ctx, w.spec.Repo.Root, rev, path)
}

func (w localWorkspace) Changes(ctx context.Context, token string) (workspace.FsmonitorAnswer, error) {
	if w.w == nil {
		return workspace.FsmonitorAnswer{Token: "studiod:none:0", Full: true, Why: "no file watcher"}, nil
	}
	return w.w.Changes(ctx, w.spec.Path, token), nil
}

// errNoWatcher reports a Watch on a runtime without a file watcher.
var errNoWatcher = errors.New("no file watcher")

func (w localWorkspace) Watch(ctx context.Context, fn func(workspace.WatchBatch)) (stop func(), err error) {
	if w.w == nil {
		return nil, errNoWatcher
	}
	return w.w.Add(ctx, workspace.WatchRoot{Dir: w.spec.Path, GitIgnore: true, Notify: fn})
}

// indexIn is where a workspace of session id keeps its private snapshot
// index, under a runtime's state directory stateDir: beside the session's
// other files.
func indexIn(stateDir, id string) string {
	if stateDir == "" || id == "" {
		return ""
	}
	return filepath.Join(stateDir, "sessions", id, "index")
}
