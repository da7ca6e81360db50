package agents

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
)

// TestSessionFiles reads a session's work through its runtime: diffs
// (uncommitted work included), each version of a file, comments checked
// against its lines, fsmonitor answers, and change stats that follow the
// worktree's watch.
func TestSessionFiles(t *testing.T) {
	r := newRig(t)
	s, _ := r.spawn("files")
	ref := Ref{Session: s.ID}
	ctx := t.Context()
	gittest.Write(t, s.Worktree, map[string]string{"a.txt": "a\nmore\n", "b.txt": "b\n"})

	// The tracker hears of the writes through the runtime's watch and
	// updates the change stats.
	s = r.await(s.ID, "change stats of two files", func(s Session) bool { return s.Changes.Files == 2 })
	if s.Changes.Additions != 2 {
		t.Errorf("change stats: %+v, want 2 additions", s.Changes)
	}

	from, to, files, err := r.m.Diff(ctx, ref, "", nil, false)
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	if from != s.Base || to == "" || to == s.Base {
		t.Errorf("Diff from %s to %s: want the base to a snapshot", from, to)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	if !slices.Equal(paths, []string{"a.txt", "b.txt"}) {
		t.Errorf("Diff: %v, want [a.txt b.txt]", paths)
	}
	if _, _, files, err := r.m.Diff(ctx, ref, "target", []string{"b.txt"}, true); err != nil || len(files) != 1 || files[0].Path != "b.txt" {
		t.Errorf("Diff against the target, of b.txt: %+v, %v", files, err)
	}
	for _, bad := range []struct{ against, path string }{{"sideways", ""}, {"", "../x"}} {
		var paths []string
		if bad.path != "" {
			paths = []string{bad.path}
		}
		if _, _, _, err := r.m.Diff(ctx, ref, bad.against, paths, false); !errors.Is(err, ErrInvalid) {
			t.Errorf("Diff against %q of %q: %v, want invalid", bad.against, bad.path, err)
		}
	}

	for _, tc := range []struct {
		version, want string
		missing       bool
	}{
		{"base", "a\n", false},
		{"target", "a\n", false},
		{"worktree", "a\nmore\n", false},
		{"", "a\nmore\n", false},
		{"snapshot", "a\nmore\n", false},
	} {
		v, err := r.m.File(ctx, ref, "a.txt", tc.version)
		if err != nil || string(v.Content) != tc.want || v.Missing != tc.missing {
			t.Errorf("File a.txt at %q: %q (missing %v), %v; want %q", tc.version, v.Content, v.Missing, err, tc.want)
		}
	}
	if v, err := r.m.File(ctx, ref, "b.txt", "base"); err != nil || !v.Missing {
		t.Errorf("File b.txt at base: %+v, %v; want missing", v, err)
	}
	if _, err := r.m.File(ctx, ref, "a.txt", "yesterday"); !errors.Is(err, ErrInvalid) {
		t.Errorf("File at an unknown version: %v, want invalid", err)
	}
	if _, err := r.m.File(ctx, ref, "../../etc/passwd", "worktree"); !errors.Is(err, ErrInvalid) {
		t.Errorf("File outside the worktree: %v, want invalid", err)
	}

	// Comments are checked against the lines of the session's copy.
	if _, err := r.m.AddComment(ctx, ref, "a.txt", 2, 2, "why more?"); err != nil {
		t.Errorf("comment on line 2 of 2: %v", err)
	}
	if _, err := r.m.AddComment(ctx, ref, "a.txt", 9, 9, "past the end"); err == nil {
		t.Errorf("comment past the end of the file: no error")
	}
	if _, err := r.m.AddComment(ctx, ref, "nowhere.txt", 1, 1, "?"); err == nil {
		t.Errorf("comment on a file on neither side: no error")
	}

	// git's fsmonitor hook in the session's worktree is answered by the
	// runtime; a relative directory is refused.
	first, err := r.m.Fsmonitor(ctx, s.Worktree, "")
	if err != nil || !first.Full {
		t.Fatalf("Fsmonitor with no token: %+v, %v; want a full answer", first, err)
	}
	gittest.Write(t, s.Worktree, map[string]string{"c.txt": "c\n"})
	ans, err := r.m.Fsmonitor(ctx, s.Worktree, first.Token)
	if err != nil || ans.Full || !slices.Contains(ans.Paths, "c.txt") {
		t.Errorf("Fsmonitor since the first token: %+v, %v; want c.txt", ans, err)
	}
	if _, err := r.m.Fsmonitor(ctx, "relative/dir", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("Fsmonitor of a relative directory: %v, want invalid", err)
	}
	if ans, err := r.m.Fsmonitor(ctx, t.TempDir(), "x"); err != nil || !ans.Full {
		t.Errorf("Fsmonitor of a directory nobody watches: %+v, %v; want a full answer", ans, err)
	}
}

// TestWorktreeDeletedBehindOurBack: a session whose worktree goes is told
// so, its changes are its branch's, and its files' worktree version is
// gone while its base and branch remain readable.
func TestWorktreeDeletedBehindOurBack(t *testing.T) {
	r := newRig(t)
	s, _ := r.spawn("gone")
	gittest.Write(t, s.Worktree, map[string]string{"kept.txt": "kept\n"})
	gittest.Commit(t, s.Worktree, "keep")
	gittest.Write(t, s.Worktree, map[string]string{"lost.txt": "lost\n"})
	r.await(s.ID, "two changed files", func(s Session) bool { return s.Changes.Files == 2 })
	if err := os.RemoveAll(s.Worktree); err != nil {
		t.Fatal(err)
	}
	s = r.await(s.ID, "the worktree reported gone", func(s Session) bool { return strings.Contains(s.Detail, "deleted outside studiod") })
	if s.Changes.Files != 1 {
		t.Errorf("changes after the worktree went: %+v, want the branch's one file", s.Changes)
	}
	ref := Ref{Session: s.ID}
	if _, err := r.m.File(t.Context(), ref, "kept.txt", "worktree"); !errors.Is(err, ErrNotFound) {
		t.Errorf("File at the worktree: %v, want not found", err)
	}
	if v, err := r.m.File(t.Context(), ref, "kept.txt", "snapshot"); err != nil || string(v.Content) != "kept\n" {
		t.Errorf("File at the snapshot (the branch, without a worktree): %q, %v", v.Content, err)
	}
	if _, to, files, err := r.m.Diff(t.Context(), ref, "base", nil, true); err != nil || len(files) != 1 || to == "" {
		t.Errorf("Diff without a worktree: %+v, %v; want the branch's one file", files, err)
	}
	if err := r.m.checkCommentLines(t.Context(), s, "kept.txt", 1, 1); err != nil {
		t.Errorf("comment on the branch's file without a worktree: %v", err)
	}
}

// TestRemoveKeepsSalvage: removing a session with uncommitted work keeps
// its last snapshot as a salvage ref, its changes counted from the
// snapshot read through the runtime.
func TestRemoveKeepsSalvage(t *testing.T) {
	r := newRig(t)
	s, p := r.spawn("salvaged")
	gittest.Write(t, s.Worktree, map[string]string{"wip.txt": "one\ntwo\n"})
	p.End(0)
	r.awaitState(s.ID, Exited)
	if _, err := r.m.Remove(t.Context(), Ref{Session: s.ID}, false, false); err == nil {
		t.Fatalf("Remove of a worktree with uncommitted work, not forced: no error")
	}
	res, err := r.m.Remove(t.Context(), Ref{Session: s.ID}, false, true)
	if err != nil {
		t.Fatalf("Remove --force: %v", err)
	}
	if res.Salvage.Ref == "" || res.Salvage.Changes.Files != 1 || res.Salvage.Changes.Additions != 2 || !res.Salvage.Uncommitted {
		t.Errorf("salvage: %+v, want one uncommitted file of two lines", res.Salvage)
	}
	if got := gittest.Git(t, r.repo, "show", res.Salvage.Ref+":wip.txt"); got != "one\ntwo" {
		t.Errorf("%s:wip.txt: %q", res.Salvage.Ref, got)
	}
	if _, err := os.Stat(s.Worktree); !os.IsNotExist(err) {
		t.Errorf("worktree after remove: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "index")); err == nil {
		t.Errorf("the snapshot index outlived the session")
	}
}
