// Package workspace is studiod's interface to git and the file system: the one
// git runner, repositories, worktrees and branches (pool trees: detached and
// locked, a branch without a checkout, moves, resets), snapshots of uncommitted
// work (through a private index, or incrementally without one: Snapshotter),
// diffs and file versions, merge-tree predictions with their line ranges
// (Predictor) kept live across worktrees (Tracker), the fold of several lines
// of work onto a target in memory (Folder), the file watcher and its change
// log that answers git's fsmonitor hook (Changes), copy-on-write file clones
// (CloneFile), the merge transaction (Merge, Undo, and Recover from its
// journal), and Sync, which brings a target into a session branch.
//
// It imports nothing else of studiod. Functions take a context and run git
// through Git.Run; they hold no locks while git runs, except the ones that
// serialize the use of one long-lived process. Values returned are owned by
// the caller. Watcher, Tracker, Predictor and Snapshotter own goroutines or
// long-lived git processes: each has a Close that stops and waits for them.
package workspace
