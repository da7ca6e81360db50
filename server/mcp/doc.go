// Package mcp is studiod's Model Context Protocol face: tools, resources
// and notifications that are thin adapters over protocol.API calls on a
// client of the daemon. `studiod mcp` serves it on stdio; the daemon serves
// it over Streamable HTTP on loopback (StartHTTP), behind a bearer token and
// Host and Origin checks, through in-process connections.
//
// It imports protocol only, with mcp-go for the assistant side; the daemon
// core never imports it.
//
// Concurrency: mcp-go runs tool calls concurrently. Server.mu guards the
// daemon connection and the resource subscriptions and is never held while
// calling the daemon or an MCP client; daemon notifications arrive on the
// connection's read goroutine and only queue MCP notifications.
package mcp
