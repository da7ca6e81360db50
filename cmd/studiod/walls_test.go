package main

import (
	"strings"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// TestMCPWaitingIsNotDone merges and lands, through MCP, a session whose
// agent waits for an answer: both are refused as busy and nothing moves,
// as for a working agent.
func TestMCPWaitingIsNotDone(t *testing.T) {
	e := newMCPEnv(t, "repo", false)
	c, w := e.daemon.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: e.repo, Name: "half",
		Command: []string{"fakeagent", "-edit", "half.txt", "-ask", "may I go on?"}})
	if err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateWaiting)
	main := gittest.Git(t, e.repo, "rev-parse", "main")
	branch := gittest.Git(t, e.repo, "rev-parse", s.Branch)

	r := e.call("merge_session", map[string]any{"session": "half"})
	if !r.IsError || !strings.Contains(resultText(r), "waiting for an answer") {
		t.Errorf("merge_session: got %v %q, want a tool error saying the agent waits", r.IsError, resultText(r))
	}
	r = e.call("land_sessions", map[string]any{"sessions": []string{"half"}})
	if text := resultText(r); !strings.Contains(text, "busy") || !strings.Contains(text, "waiting for an answer") {
		t.Errorf("land_sessions: got %q, want it stopped at half as busy", text)
	}
	if got := gittest.Git(t, e.repo, "rev-parse", "main"); got != main {
		t.Errorf("main moved to %s", got)
	}
	if got := gittest.Git(t, e.repo, "rev-parse", s.Branch); got != branch {
		t.Errorf("%s moved to %s: the waiting agent's work was checkpointed", s.Branch, got)
	}
	if got := sessionState(t, c, s.ID); got.State != protocol.StateWaiting {
		t.Errorf("after the refusals: got %s, want still waiting", got.State)
	}
}
