// Package agents owns studiod's sessions: one agent working in its own git
// worktree on its own branch. It runs the session state machine, starts and
// supervises the shims that hold the agents' terminals, detects each agent's
// status, loads agent profiles and repo config, tracks the sessions' predicted
// conflicts, keeps review comments, orchestrates merges and undos (and
// recovers ones a crash cut short), and persists everything in SQLite before
// announcing it.
//
// It imports workspace and nothing else of studiod; the wire types live in
// protocol and are mapped by server.
//
// Concurrency: a Manager is safe for concurrent use. Manager.mu guards the
// in-memory session table; state changes are serialized by Manager.writeMu,
// which is held across the database write and the (non-blocking) event
// fan-out so that listeners see transitions in the order they were stored.
// Lock order: writeMu, then mu. No lock is held while git, a shim or any
// other process runs.
package agents
