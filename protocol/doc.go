// Package protocol is studiod's wire contract: API, with one typed method
// per studio/* request, the names of every request, notification and
// command, their parameter and result types, the states and kinds as typed
// constants, the error codes, the LSP-framed message stream, the route
// table made from an API, and the typed client. The daemon core implements
// API; Client implements it over a connection, for the CLI, the LSP and MCP
// faces and tests. The editors' copies of these names are generated from
// this package (see gen_test.go).
//
// It imports nothing else of studiod. Every other package may import it
// except agents and workspace, which stay free of wire concerns.
//
// A Client is safe for concurrent use; notification callbacks run on the
// connection's read goroutine and must not block or call back into the
// client.
package protocol
