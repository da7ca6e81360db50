package lsp

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	lsp "go.lsp.dev/protocol"

	"github.com/studiod/studiod/protocol"
)

func lines(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }

const base = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n"

func TestMapRanges(t *testing.T) {
	for _, tc := range []struct {
		name       string
		side, user string
		ranges     []protocol.Range
		want       []protocol.Range
	}{
		{"user has the base: a rewrite maps to the lines it replaced",
			"1\n2\nthree\nfour\nfour and a half\n5\n6\n7\n8\n9\n10\n", base,
			[]protocol.Range{{Start: 3, End: 5}}, []protocol.Range{{Start: 3, End: 4}}},
		{"the user added lines above: the marks move down",
			"1\n2\nTHREE\n4\n5\n6\n7\n8\n9\n10\n", "0a\n0b\n" + base,
			[]protocol.Range{{Start: 3, End: 3}}, []protocol.Range{{Start: 5, End: 5}}},
		{"a deletion maps to the lines it deleted",
			"1\n2\n5\n6\n7\n8\n9\n10\n", base,
			[]protocol.Range{{Start: 3, End: 2}}, []protocol.Range{{Start: 3, End: 4}}},
		{"an insertion maps to an insertion point",
			"1\n2\nnew\nnewer\n3\n4\n5\n6\n7\n8\n9\n10\n", base,
			[]protocol.Range{{Start: 3, End: 4}}, []protocol.Range{{Start: 3, End: 2}}},
		{"unchanged lines in a range map one to one",
			base, "0\n" + base,
			[]protocol.Range{{Start: 2, End: 4}}, []protocol.Range{{Start: 3, End: 5}}},
		{"the user already has the side's change",
			"1\n2\nX\n4\n5\n6\n7\n8\n9\n10\n", "1\n2\nX\n4\n5\n6\n7\n8\n9\n10\n",
			[]protocol.Range{{Start: 3, End: 3}}, []protocol.Range{{Start: 3, End: 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mergeRanges(mapRanges(lines(tc.side), lines(tc.user), tc.ranges))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestMergeRanges(t *testing.T) {
	got := mergeRanges([]protocol.Range{{Start: 7, End: 9}, {Start: 3, End: 4}, {Start: 5, End: 5}, {Start: 10, End: 9}, {Start: 20, End: 19}})
	want := []protocol.Range{{Start: 3, End: 5}, {Start: 7, End: 9}, {Start: 20, End: 19}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestUserCopyDiagnostics: a conflict between two sessions marks the
// contested lines of the user's own checkout, with related information to
// both sides; a conflict with the target branch does not (its target side
// is that file already).
func TestUserCopyDiagnostics(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) string {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The user has edited the top of the file since the sessions started.
	user := write("repo/app/config.txt", "# mine\n"+base)
	a := write("wt/a/app/config.txt", "1\n2\nA3\nA4\nA5\n6\n7\n8\n9\n10\n")
	b := write("wt/b/app/config.txt", "1\n2\n3\nB4\n5\n6\n7\n8\n9\n10\n")
	repo := filepath.Join(dir, "repo")
	cf := protocol.Conflict{ID: "c1", Repo: repo, Path: "app/config.txt", Kind: protocol.KindContent, Severity: protocol.SeverityConflict,
		A: protocol.Side{Session: "a", Path: "app/config.txt", File: a, Ranges: []protocol.Range{{Start: 3, End: 5}}},
		B: protocol.Side{Session: "b", Path: "app/config.txt", File: b, Ranges: []protocol.Range{{Start: 4, End: 4}}},
	}
	target := cf
	target.ID, target.B = "c2", protocol.Side{Session: protocol.TargetSide, Path: "app/config.txt", File: user, Ranges: []protocol.Range{{Start: 5, End: 5}}}
	s := &server{state: newState()}
	s.state.conflicts[cf.ID] = cf
	s.state.conflicts[target.ID] = target

	files := s.state.files()
	if !files[user] || !files[a] || !files[b] {
		t.Fatalf("diagnosed files %v: want both sides and the user's copy", files)
	}
	if userCopy(target) != "" {
		t.Errorf("a conflict with the target has a user's copy %q", userCopy(target))
	}

	got := s.fileDiagnostics(user).Diagnostics
	var mine []lsp.Diagnostic
	for _, d := range got {
		if strings.HasPrefix(string(d.Message.(lsp.String)), "sessions ") {
			mine = append(mine, d)
		}
	}
	if len(mine) != 1 {
		t.Fatalf("got %d user-copy diagnostics, want 1: %+v", len(mine), got)
	}
	d := mine[0]
	if msg := string(d.Message.(lsp.String)); msg != "sessions a and b both change lines 4–6: a conflict when both land" {
		t.Errorf("message %q", msg)
	}
	// Lines 4–6 of the user's copy (base lines 3–5 under the user's new
	// first line), to the end of the last one.
	if d.Range.Start.Line != 3 || d.Range.End.Line != 5 || d.Range.End.Character != 1 {
		t.Errorf("range %+v", d.Range)
	}
	if d.Severity != lsp.DiagnosticSeverityWarning {
		t.Errorf("severity %v", d.Severity)
	}
	if len(d.RelatedInformation) != 2 || string(d.RelatedInformation[0].Location.URI) != "file://"+a ||
		string(d.RelatedInformation[1].Location.URI) != "file://"+b || d.RelatedInformation[0].Message != "session a: lines 3–5 of app/config.txt" {
		t.Errorf("related information %+v", d.RelatedInformation)
	}

	// Whichever side the daemon calls A, the sessions are named in order.
	swapped := cf
	swapped.A, swapped.B = cf.B, cf.A
	s.state.conflicts[cf.ID] = swapped
	if got := s.userDiagnostics(&fileLines{}, user); len(got) != 1 || string(got[0].Message.(lsp.String)) != string(d.Message.(lsp.String)) ||
		got[0].RelatedInformation[0].Location.URI != d.RelatedInformation[0].Location.URI {
		t.Errorf("swapped sides: %+v", got)
	}

	// Both add lines at the same place: an insertion point.
	write("wt/a/app/config.txt", "1\n2\nnew a\n"+strings.TrimPrefix(base, "1\n2\n"))
	write("wt/b/app/config.txt", "1\n2\nnew b\n"+strings.TrimPrefix(base, "1\n2\n"))
	cf.A.Ranges, cf.B.Ranges = []protocol.Range{{Start: 3, End: 3}}, []protocol.Range{{Start: 3, End: 3}}
	s.state.conflicts[cf.ID] = cf
	got = s.userDiagnostics(&fileLines{}, user)
	if len(got) != 1 || string(got[0].Message.(lsp.String)) != "sessions a and b both add lines before line 4: a conflict when both land" || got[0].Range.Start.Line != 3 {
		t.Errorf("insertion point: %+v", got)
	}

	// Without a copy in the user's checkout there is nothing to mark.
	os.Remove(user)
	if got := s.userDiagnostics(&fileLines{}, user); len(got) != 0 {
		t.Errorf("diagnostics on a missing file: %+v", got)
	}
}
