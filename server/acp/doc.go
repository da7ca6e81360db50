// Package acp is the Agent Client Protocol face of the daemon: `studiod acp`
// speaks ACP on stdio as an agent, so that any ACP client (Zed, JetBrains,
// the Neovim plugins, acpx) drives studiod sessions from its own agent
// panel. It is a client of protocol.API only, like server/lsp and
// server/mcp: the daemon holds the sessions, so several clients can follow
// one session and sessions outlive the client.
//
// A thread of the client is a studiod session (its ACP session id is the
// session's id): session/new spawns one in the repository of the client's
// cwd, session/prompt sends a prompt to its agent, and what the agent does
// comes back as session/update notifications read from the session's log
// (for an ACP agent, the agent's own updates). Permission requests go to
// the client with the agent's options; the first answer from any face
// wins, and a pending request in the others is withdrawn. studiod's own
// knowledge (predicted conflicts down to lines, how far the branch is
// behind its target, its place in the integration preview) arrives as
// tool calls of kind "other".
//
// Only github.com/studiod/studiod/protocol of this module may be imported
// here; the ACP library (github.com/coder/acp-go-sdk) stays in this face
// and in the agents package that drives ACP agents.
//
// Concurrency: the SDK runs each request in its own goroutine. Everything
// the daemon sends (session changes, conflicts, output) is handled in
// order by one worker goroutine, which alone reads the threads' logs;
// Server.mu guards the threads and is never held while calling the
// daemon or writing to the client.
package acp
