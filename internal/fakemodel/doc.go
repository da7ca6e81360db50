// Package fakemodel is a scripted model server on loopback, for running the
// real agent CLIs (Claude Code, Codex, Gemini CLI, opencode) in tests without
// an account or a network.
//
// It speaks as much of each vendor's API as those CLIs need to run a turn:
//
//   - Anthropic Messages: POST /v1/messages (SSE streaming and plain JSON,
//     text and tool_use blocks) and /v1/messages/count_tokens.
//   - OpenAI Responses: POST /v1/responses and /responses (SSE), used by Codex.
//   - OpenAI Chat Completions: POST /v1/chat/completions and /chat/completions
//     (SSE and plain JSON), used by opencode with an OpenAI-compatible provider;
//     GET /v1/models lists the models.
//   - Gemini: POST /v1beta/models/{model}:streamGenerateContent (alt=sse),
//     :generateContent and :countTokens, used by Gemini CLI.
//
// Any other path gets a 404 with a JSON error and is still logged, so a test
// can see what a new CLI version asks for.
//
// A Script is a list of turns. Each request that offers tools (the agent's
// own loop, as opposed to side queries such as title generation) is answered
// by the first unused turn whose conditions hold; other requests, and requests
// no turn matches, get Script.Default. docs/agents.md says how to point each
// CLI at the server.
//
// Only tests and test helpers import this package; it imports nothing from
// the module. A Server is safe for concurrent use: handlers run on the
// net/http goroutines, and the request log and turn state are guarded by one
// mutex that is never held while writing to a client.
package fakemodel
