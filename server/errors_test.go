package server

import (
	"errors"
	"fmt"
	"testing"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/workspace"
)

// TestFixVocabulary fails when a Fix of package agents has no namesake on
// the wire.
func TestFixVocabulary(t *testing.T) {
	wire := map[protocol.Fix]bool{}
	for _, f := range protocol.Fixes {
		wire[f] = true
	}
	for _, f := range []string{
		agents.FixListSessions, agents.FixOtherName, agents.FixStopFirst, agents.FixTrust, agents.FixAddComments,
		agents.FixCleanUp, agents.FixAnswerInTerminal, agents.FixCheckCommand, agents.FixLandID,
		agents.FixRestartDaemon, agents.FixRecordStop, agents.FixAnswerFirst, agents.FixAskPerson, agents.FixRaiseBudget,
	} {
		if !wire[protocol.Fix(f)] {
			t.Errorf("agents fix %q is not a protocol.Fix", f)
		}
	}
}

// TestWireErrorData: a domain error reaches the wire with its code, its
// message naming no command, and its data.
func TestWireErrorData(t *testing.T) {
	busy := &agents.Problem{Kind: agents.ErrBusy, What: "session a is working", Session: "a", Repo: "/r", Fix: agents.FixStopFirst}
	for _, tc := range []struct {
		name string
		err  error
		code int64
		want protocol.ErrorData
	}{
		{"problem, wrapped", fmt.Errorf("remove: %w", busy), protocol.CodeBusy,
			protocol.ErrorData{What: "remove: busy: session a is working", Session: "a", Repo: "/r", Fix: protocol.FixStopFirst}},
		{"sentinel alone", fmt.Errorf("%w: the agent is working", agents.ErrBusy), protocol.CodeBusy,
			protocol.ErrorData{What: "busy: the agent is working", Fix: protocol.FixWaitIdle}},
		{"target dirty", &workspace.TargetDirtyError{Worktree: "/w", Paths: []string{"x"}}, protocol.CodeTargetDirty,
			protocol.ErrorData{What: "target worktree /w has local changes in paths the merge changes: x", Path: "/w", Fix: protocol.FixCommitTarget}},
		{"internal", errors.New("boom"), protocol.CodeInternal, protocol.ErrorData{What: "boom"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			we := wireError(tc.err)
			got, ok := protocol.DataOf(we)
			if we.Code != tc.code || !ok || got != tc.want || we.Message != tc.want.What {
				t.Errorf("got code %d, message %q, data %+v (%v)\nwant code %d, data %+v", we.Code, we.Message, got, ok, tc.code, tc.want)
			}
		})
	}
}
