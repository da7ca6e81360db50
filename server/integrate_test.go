package server

import (
	"strings"
	"testing"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/workspace"
)

// TestPreviewReason: every reason a session is left out reads as a
// sentence, with lines written as every face writes them.
func TestPreviewReason(t *testing.T) {
	pv := agents.Preview{Target: "main"}
	side := func(left string, with []string, files ...workspace.FileConflict) agents.PreviewSession {
		return agents.PreviewSession{Session: agents.Session{Name: "beta"}, Left: left, With: with, Files: files}
	}
	lines := workspace.FileConflict{Path: "app/config.txt", A: workspace.FileSide{Ranges: []workspace.Range{{Start: 3, End: 5}}}}
	for _, tc := range []struct {
		ps   agents.PreviewSession
		want string
	}{
		{side("", nil), ""},
		{side(workspace.LeftEmpty, nil), "nothing to merge: main has all of it"},
		{side(workspace.LeftTarget, []string{"target"}, lines), "conflicts with main in app/config.txt (lines 3–5)"},
		{side(workspace.LeftSession, []string{"alpha"}, lines), "conflicts with alpha in app/config.txt (lines 3–5); it can be synced once they have landed"},
		{side(workspace.LeftCombination, []string{"a", "b"}, workspace.FileConflict{Path: "e/new.txt"}), "conflicts with the combination of a, b in e/new.txt"},
		{side(agents.LeftCheck, []string{"rename"}), "the check fails when it is combined with rename"},
		{side(agents.LeftCheck, nil), "the check fails with it on main"},
	} {
		if got := previewReason(pv, tc.ps); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.ps.Left, got, tc.want)
		}
	}
	if got := previewReason(pv, agents.PreviewSession{Left: workspace.LeftError, Err: "bad ref"}); !strings.HasPrefix(got, "cannot be merged: bad ref") {
		t.Errorf("error reason: %q", got)
	}
}
