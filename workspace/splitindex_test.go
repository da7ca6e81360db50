package workspace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
)

// TestRepairIndex: a worktree an earlier daemon left with a split index is
// merged back into one index, what was staged still staged, with no shared
// index file or core.splitIndex left; one whose index git aborts on (the
// fsmonitor's "BUG: fsmonitor_dirty has more entries than the index" of
// git 2.38–2.40, testdata/fsmonitor-bug.index) is rewritten from HEAD and
// git works in it again; a worktree never split is left alone.
func TestRepairIndex(t *testing.T) {
	ctx := t.Context()
	root := gittest.NewRepo(t, map[string]string{"a.txt": "a\n", "d/b.txt": "b\n"})
	r, err := Open(ctx, testGit(), root)
	if err != nil {
		t.Fatal(err)
	}
	add := func(name string) (string, string) {
		wt := filepath.Join(t.TempDir(), name)
		if err := r.AddWorktree(ctx, wt, "studio/"+name, "main"); err != nil {
			t.Fatal(err)
		}
		return wt, gittest.Git(t, wt, "rev-parse", "--absolute-git-dir")
	}
	shared := func(gd string) []string {
		m, _ := filepath.Glob(filepath.Join(gd, "sharedindex.*"))
		return m
	}

	// Never split: nothing to do.
	plain, _ := add("plain")
	if got, err := r.Git.RepairIndex(ctx, plain, false); err != nil || got != (IndexRepair{}) {
		t.Errorf("a worktree never split: %+v, %v; want nothing done", got, err)
	}
	if h, err := r.Git.CheckIndex(ctx, plain); err != nil || h != (IndexHealth{}) {
		t.Errorf("check of a worktree never split: %+v, %v; want nothing to say", h, err)
	}

	// Split, as earlier daemons configured session worktrees.
	split, gd := add("split")
	gittest.Git(t, root, "config", "extensions.worktreeConfig", "true")
	gittest.Git(t, split, "config", "--worktree", "core.splitIndex", "true")
	gittest.Write(t, split, map[string]string{"staged.txt": "s\n", "a.txt": "changed\n"})
	gittest.Git(t, split, "add", "staged.txt")
	gittest.Git(t, split, "update-index", "--split-index")
	if len(shared(gd)) == 0 {
		t.Fatal("no shared index file: the index did not split")
	}
	if h, err := r.Git.CheckIndex(ctx, split); err != nil || !strings.Contains(h.Trouble, "split") {
		t.Errorf("check of a split index: %+v, %v; want it said split", h, err)
	}
	before := gittest.Git(t, split, "status", "--porcelain")
	got, err := r.Git.RepairIndex(ctx, split, false)
	if err != nil || !got.Merged || got.Rewritten {
		t.Fatalf("split index: %+v, %v; want it merged", got, err)
	}
	if after := gittest.Git(t, split, "status", "--porcelain"); after != before {
		t.Errorf("status after merging the index:\n%s\nwant\n%s", after, before)
	}
	if m := shared(gd); len(m) > 0 {
		t.Errorf("shared index files left: %q", m)
	}
	if v, err := gittest.Try(split, "config", "core.splitIndex"); err == nil {
		t.Errorf("core.splitIndex still set: %q", v)
	}
	if got, err := r.Git.RepairIndex(ctx, split, false); err != nil || got != (IndexRepair{}) {
		t.Errorf("repaired again: %+v, %v; want nothing done", got, err)
	}

	// Unreadable.
	bad, gd := add("bad")
	gittest.Write(t, bad, map[string]string{"a.txt": "mine\n"})
	fixture, err := os.ReadFile("testdata/fsmonitor-bug.index")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(gd, "index"), fixture, 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(gd, "sharedindex.0123456789012345678901234567890123456789"), nil, 0o644)
	if out, err := gittest.Try(bad, "status", "--porcelain"); err == nil {
		t.Skipf("this git reads the index 2.38–2.40 abort on: %s", out)
	} else if !strings.Contains(err.Error(), "BUG: fsmonitor.c") {
		t.Fatalf("git status on the fixture: %v", err)
	}
	if h, err := r.Git.CheckIndex(ctx, bad); err != nil || !strings.Contains(h.Trouble, "git cannot read its index (BUG: fsmonitor.c") || h.Repaired != "" {
		t.Errorf("check of the unreadable index: %+v, %v; want it said unreadable, never repaired", h, err)
	}
	// git aborted holding index.lock: a second later it is stale.
	lock := filepath.Join(gd, "index.lock")
	old := time.Now().Add(-time.Minute)
	os.Chtimes(lock, old, old)
	got, err = r.Git.RepairIndex(ctx, bad, false)
	if err != nil || !got.Rewritten || !strings.Contains(got.String(), "BUG: fsmonitor.c") {
		t.Fatalf("unreadable index: %+v, %v; want it rewritten, saying why", got, err)
	}
	if h, err := r.Git.CheckIndex(ctx, bad); err != nil || h.Trouble != "" || !strings.Contains(h.Repaired, "rewritten from HEAD") {
		t.Errorf("check of the repaired index: %+v, %v; want it readable, said repaired", h, err)
	}
	if st := gittest.Git(t, bad, "status", "--porcelain"); st != "M a.txt" {
		t.Errorf("status after the rewrite: %q, want the edit of a.txt alone", st)
	}
	if m := shared(gd); len(m) > 0 {
		t.Errorf("shared index files left: %q", m)
	}
	if _, err := os.Stat(lock); err == nil {
		t.Error("index.lock left behind")
	}
	// Without a trace of a split index, git's word that it cannot read
	// the index is enough.
	os.WriteFile(filepath.Join(gd, "index"), fixture, 0o644)
	if got, err := r.Git.RepairIndex(ctx, bad, true); err != nil || !got.Rewritten {
		t.Errorf("unreadable index, no shared index file: %+v, %v; want it rewritten", got, err)
	}
}

// TestCleanTempObjects: temporary object files a failed write left behind
// go; one still open (a git writing it) and one just made stay.
func TestCleanTempObjects(t *testing.T) {
	root := gittest.NewRepo(t, nil)
	r, err := Open(t.Context(), testGit(), root)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(r.CommonDir, "objects", "ab")
	os.MkdirAll(dir, 0o755)
	old := time.Now().Add(-time.Hour)
	mk := func(name string, aged bool) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o444); err != nil {
			t.Fatal(err)
		}
		if aged {
			os.Chtimes(p, old, old)
		}
		return p
	}
	left, fresh, open := mk("tmp_obj_left", true), mk("tmp_obj_fresh", false), mk("tmp_obj_open", true)
	f, err := os.Open(open)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n := r.CleanTempObjects(time.Minute); n != 1 {
		t.Errorf("removed %d files, want 1", n)
	}
	if _, err := os.Stat(left); err == nil {
		t.Error("the file left behind is still there")
	}
	for _, p := range []string{fresh, open} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", filepath.Base(p), err)
		}
	}
}
