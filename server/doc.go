// Package server is studiod's daemon core: it listens on the unix socket,
// serves protocol.API (implemented in api.go over the agents manager)
// through the route table protocol.Routes makes, fans session, conflict and
// preview events out to subscribed connections, and maps domain errors to wire codes
// in one place (errors.go). It knows nothing of LSP or MCP: those faces are
// clients of the API (server/lsp, server/mcp), and the daemon hosts a face
// in process only through a Face, which gets connections as a socket client
// would.
//
// It may import agents, workspace and protocol.
//
// Concurrency: each connection has a read loop (owned by jsonrpc2), one
// goroutine per in-flight request, and one writer goroutine draining its
// notification queue. Server.mu guards the connection set; conn.mu guards a
// connection's subscriptions. Lock order: Server.mu, then conn.mu. No lock
// is held while a request runs. See docs/architecture.md.
package server
