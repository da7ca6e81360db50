// Package host is where sessions run: the session runtime. It is the only
// way the rest of studiod reaches a session's workspace (its worktree) and
// its agent process, so that sessions on another machine, or in a test's
// memory, need a new Runtime and nothing else.
//
// A Runtime acquires workspaces and starts processes. A Workspace is a
// session's worktree as the core reads it: snapshots, diffs, file versions,
// what changed since a token and a watch, by repository-relative paths and
// commits, so that a worktree elsewhere reads the same. A Proc is one
// session's agent process, reached by the session's ID whether it was
// started by this daemon or an earlier one: its output as a stream from
// any offset, input, resize, signals, status, the rendered screen, the exit
// status, and the log that keeps its output.
//
// Local is today's runtime: git worktrees on this machine and a detached
// `studiod shim` per agent (agents/shim), which outlives the daemon. Fake
// runs nothing: an in-process runtime for tests, whose processes are driven
// by the test.
//
// host imports workspace and agents/shim, nothing else of studiod; only
// agents imports it (and server, for the types of what it streams).
//
// Concurrency: Runtimes and Procs are safe for concurrent use. A Proc is a
// handle, cheap to make and hold; it keeps no connection open between calls.
package host
