package server

import (
	"slices"
	"testing"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/workspace"
)

// TestOneVocabulary fails when a state, kind or severity of the domain
// packages has no namesake on the wire.
func TestOneVocabulary(t *testing.T) {
	for _, s := range []string{agents.Starting, agents.Working, agents.Waiting, agents.Idle, agents.Exited,
		agents.Failed, agents.Stopped, agents.Merged, agents.Removed} {
		if !slices.Contains(protocol.States, protocol.State(s)) {
			t.Errorf("agents state %q is not a protocol.State", s)
		}
	}
	kinds := []protocol.Kind{protocol.KindContent, protocol.KindModifyDelete, protocol.KindAddAdd, protocol.KindRename,
		protocol.KindBinary, protocol.KindMode, protocol.KindOverlap}
	for _, k := range []string{workspace.KindContent, workspace.KindModifyDelete, workspace.KindAddAdd, workspace.KindRename,
		workspace.KindBinary, workspace.KindMode, workspace.KindOverlap} {
		if !slices.Contains(kinds, protocol.Kind(k)) {
			t.Errorf("workspace kind %q is not a protocol.Kind", k)
		}
	}
	for _, s := range []string{workspace.SeverityConflict, workspace.SeverityOverlap} {
		if s != string(protocol.SeverityConflict) && s != string(protocol.SeverityOverlap) {
			t.Errorf("workspace severity %q is not a protocol.Severity", s)
		}
	}
	if workspace.TargetSide != protocol.TargetSide {
		t.Errorf("workspace.TargetSide %q, protocol.TargetSide %q", workspace.TargetSide, protocol.TargetSide)
	}
}
