package server

import (
	"slices"
	"testing"

	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/vocab"
)

// TestOneVocabulary fails when the vocabulary (package vocab, which agents
// and workspace use) and the wire's typed constants disagree.
func TestOneVocabulary(t *testing.T) {
	same := func(what string, core, wire []string) {
		t.Helper()
		if !slices.Equal(core, wire) {
			t.Errorf("%s: vocab has %q, protocol %q", what, core, wire)
		}
	}
	same("states", strs(vocab.States), strs(protocol.States))
	same("wait kinds", strs(vocab.WaitKinds), strs([]protocol.WaitKind{protocol.WaitPermission, protocol.WaitQuestion, protocol.WaitTrust, protocol.WaitLogin, protocol.WaitBudget}))
	same("answers", strs(vocab.Answers), strs([]protocol.Answer{protocol.AnswerAllow, protocol.AnswerAlways, protocol.AnswerReject, protocol.AnswerNever}))
	same("conflict kinds", strs(vocab.Kinds), strs([]protocol.Kind{protocol.KindContent, protocol.KindModifyDelete, protocol.KindAddAdd,
		protocol.KindRename, protocol.KindBinary, protocol.KindMode, protocol.KindOverlap}))
	same("severities", strs(vocab.Severities), strs([]protocol.Severity{protocol.SeverityConflict, protocol.SeverityOverlap}))
	same("preview statuses", strs(vocab.PreviewStatuses), strs([]protocol.PreviewStatus{protocol.PreviewClean, protocol.PreviewConflict,
		protocol.PreviewBreaks, protocol.PreviewEmpty, protocol.PreviewError}))
	same("check statuses", strs(vocab.CheckStatuses), strs([]protocol.CheckStatus{protocol.CheckRunning, protocol.CheckPassed,
		protocol.CheckFailed, protocol.CheckTimeout, protocol.CheckCancelled, protocol.CheckError}))
	same("land statuses", strs(vocab.LandStatuses), strs([]protocol.LandStatus{protocol.LandRunning, protocol.LandDone,
		protocol.LandStopped, protocol.LandInterrupted, protocol.LandUndone}))
	same("land stop reasons", strs(vocab.StopReasons), strs([]protocol.StopReason{protocol.StopConflict, protocol.StopCheck,
		protocol.StopBusy, protocol.StopDirty, protocol.StopMoved, protocol.StopError}))
	same("target side", []string{vocab.TargetSide}, []string{protocol.TargetSide})
}

func strs[S ~string](l []S) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = string(s)
	}
	return out
}
