// Package workspace is studiod's interface to git and the file system: the one
// git runner, repositories, worktrees and branches, snapshots of uncommitted
// work, diffs, merge-tree predictions with their line ranges, and the file
// watcher.
//
// It imports nothing else of studiod. Functions take a context and run git
// through Git.Run; they hold no locks while git runs. Values returned are
// owned by the caller.
package workspace
