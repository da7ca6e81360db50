// Package plan reads plan files and checks them before anything runs. A
// plan is a TOML file of tasks (each a future session: its prompt, agent,
// scope, and what it waits for, is stacked on or reviews); Parse refuses a
// plan with structural errors (cycles, unknown or invalid names, scopes that
// leave the repository), and Check analyses a valid plan against the
// repository: scopes that overlap, files the history changes together across
// scopes (co-change, from one streamed `git log`), tasks with no scope, and
// an order (what runs in parallel, what should wait, and why).
//
// It imports only workspace, for the git runner. Plans and reports are
// values owned by the caller; nothing here keeps state or goroutines beyond
// a call.
package plan
