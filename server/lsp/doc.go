// Package lsp is studiod's Language Server Protocol face: `studiod lsp`
// serves it on an editor's stdio, as a client of the daemon's typed API
// (protocol.API) over the daemon's socket. It turns the daemon's predicted
// conflicts into diagnostics on both sides' files, its sessions into code
// lenses (studio/who), prompts for waiting sessions and work-done progress,
// and editor commands into the studio/* requests they name. studio/*
// requests the editor sends are relayed to the daemon as they are, on the
// face's one daemon connection: the editor's studio/subscribe joins the
// face's own (a snapshot plus the changes after it, protocol.Feed), and the
// notifications it chose go back unchanged.
//
// It imports protocol only, with go.lsp.dev/protocol and jsonrpc2 for the
// editor side; the daemon core never imports it.
//
// Concurrency: the editor connection's read loop handles lifecycle and
// text-synchronization notifications in order and starts a goroutine per
// request. The daemon connection's read goroutine only updates the state
// (server.mu) and queues work. One worker runs queued jobs in order
// (diagnostics, lens refreshes), one writer sends queued notifications to
// the editor, and a connect loop keeps the daemon connection, dialling it
// again when the daemon restarts. Nothing holds server.mu while calling the
// daemon, the editor or the file system. See docs/architecture.md.
package lsp
