// Package server is studiod's daemon: it listens on the unix socket, speaks
// JSON-RPC 2.0 with LSP framing to the CLI, editors and the MCP adapter, and
// maps each request onto agents (and workspace) calls. It owns the event
// fan-out to subscribed connections and the one place where domain errors
// become wire codes.
//
// It may import agents, workspace and protocol. Third-party protocol
// libraries (jsonrpc2, go.lsp.dev/protocol, mcp-go) stay in this package.
//
// Concurrency: each connection has a read loop (owned by jsonrpc2), one
// goroutine per in-flight request, and one writer goroutine draining its
// notification queue. Server.mu guards the connection set; conn.mu guards
// a connection's subscriptions. Lock order: Server.mu, then conn.mu. No
// lock is held while a request runs.
//
// LSP (lsp*.go) runs on the same connections: a connection that sends
// initialize gets an LSP worker goroutine for requests to the client
// (prompts, code lens refreshes), which are never sent from the read loop.
// Text-sync and lifecycle notifications are handled in the read loop, in
// order. Lock order with LSP: Server.diag.mu, Server.mu, conn.lsp.mu.
package server
