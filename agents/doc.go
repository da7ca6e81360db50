// Package agents owns studiod's sessions: one agent working in its own git
// worktree on its own branch. It runs the session state machine, gets each
// session's workspace and agent process through a session runtime
// (agents/host: a local worktree, from the warm pool of ready worktrees
// when it has one, and a detached shim today), answers git's fsmonitor
// hook from the file watcher, supervises the agents and detects their status, loads agent profiles and
// repo config, tracks the sessions' predicted conflicts, keeps review
// comments, orchestrates merges and undos (and recovers ones a crash cut
// short), integrates sessions (the live preview of their fold onto the
// target, check runs in a scratch worktree, the journaled land queue, sync,
// and each session's Behind and WouldConflict), and persists everything in
// SQLite (land queues in JSON journals) before announcing it.
//
// A session is driven by its driver (driver.go): terminalDriver types into
// the agent's terminal and reads its hooks and screen, acpDriver speaks ACP
// on its pipes; nothing else tells the two apart. The parts that run on
// their own (the pool, the conflict tracker, the integrator, the land
// queue, the plans runner, merges, reviews, comments, salvages, secrets)
// see the rest through small interfaces (poolEnv, conflictsEnv, integEnv,
// landEnv, plansEnv, mergeEnv, reviewsEnv, commentsEnv, salvageEnv,
// secretsEnv), not the Manager; each kind of listener is a fanout held by
// the part that sends it. A session's files (snapshots, diffs, file
// versions, what changed, a watch, its status) are read through its
// runtime's host.Workspace (sessionfiles.go), never from a path on disk.
//
// It imports workspace, agents/host and vocab and nothing else of studiod:
// no shim socket, log file or /proc is named here (seam_test.go). The wire types live in
// protocol and are mapped by server.
//
// Concurrency: a Manager is safe for concurrent use. A per-repository lock
// serializes what moves a repository's refs (reserving a spawn, merge,
// undo, remove) and is never held across a checkout, setup commands or an
// agent start; the pool's own lock comes after it and is never held with
// Manager.mu. Manager.writeMu serializes state changes: it is held across
// the database write and the (non-blocking) fan-out, so listeners see
// transitions in the order they were stored. Manager.mu guards the
// in-memory session table. Lock order: repo lock, then writeMu, then mu.
// The integrator's mu guards previews, check slots and timers; it is a leaf
// (taken under writeMu by its session listener, never held while git or a
// check runs or listeners are called). The conflict tracker's mu and each
// ACP connection's locks (pubMu, then mu) are leaves too, as are its
// terminals' (the set's, then a terminal's; never held while a command
// starts or is killed) and each fanout's lock (listeners are called
// outside it). See
// docs/architecture.md.
package agents
