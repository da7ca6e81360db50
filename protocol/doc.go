// Package protocol is studiod's wire contract: the names of every request,
// notification and command, their parameter and result types, the error codes,
// the LSP-framed message stream and the typed client used by the CLI, the MCP
// adapter and the tests.
//
// It imports nothing else of studiod. Every other package may import it except
// agents and workspace, which stay free of wire concerns.
//
// A Client is safe for concurrent use; notification callbacks run on the
// connection's read goroutine and must not block or call back into the client.
package protocol
