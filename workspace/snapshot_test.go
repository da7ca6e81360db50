package workspace

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
)

func TestSnapshotLeavesWorktreeAlone(t *testing.T) {
	ctx := t.Context()
	g := testGit()
	dir := gittest.NewRepo(t, map[string]string{"a.txt": "a\n", "b.txt": "b\n"})
	index := filepath.Join(t.TempDir(), "index")

	gittest.Write(t, dir, map[string]string{"a.txt": "changed\n", "new/c.txt": "c\n"})
	os.Remove(filepath.Join(dir, "b.txt"))
	before := gittest.Git(t, dir, "status", "--porcelain")

	s, err := g.TakeSnapshot(ctx, dir, index, nil)
	if err != nil {
		t.Fatal(err)
	}
	if after := gittest.Git(t, dir, "status", "--porcelain"); after != before {
		t.Errorf("status changed by snapshot:\n%s\nwant\n%s", after, before)
	}
	if got := gittest.Git(t, dir, "show", s.Commit+":a.txt"); got != "changed" {
		t.Errorf("a.txt in snapshot: got %q", got)
	}
	if got := gittest.Git(t, dir, "show", s.Commit+":new/c.txt"); got != "c" {
		t.Errorf("untracked file in snapshot: got %q", got)
	}
	if _, err := gittest.Try(dir, "cat-file", "-e", s.Commit+":b.txt"); err == nil {
		t.Error("deleted file still in snapshot")
	}

	// Incremental: only the named path is re-read.
	gittest.Write(t, dir, map[string]string{"new/c.txt": "c2\n"})
	s2, err := g.TakeSnapshot(ctx, dir, index, []string{"new/c.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, dir, "show", s2.Commit+":new/c.txt"); got != "c2" {
		t.Errorf("incremental snapshot: got %q", got)
	}
	if got := gittest.Git(t, dir, "show", s2.Commit+":a.txt"); got != "changed" {
		t.Errorf("incremental snapshot lost a.txt: got %q", got)
	}
	// The same content gives the same commit.
	s3, err := g.TakeSnapshot(ctx, dir, index, []string{})
	if err != nil {
		t.Fatal(err)
	}
	if s3.Commit != s2.Commit {
		t.Errorf("unchanged snapshot: got %s, want %s", s3.Commit, s2.Commit)
	}
}

// The private index starts as a copy of the worktree's dated like it: git
// compares the content of entries not older than the index file, and a copy
// dated now would hide a file rewritten (same size) within the second of its
// last staging.
func TestSeedIndexKeepsModTime(t *testing.T) {
	dir := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	own := filepath.Join(dir, ".git", "index")
	past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(own, past, past); err != nil {
		t.Fatal(err)
	}
	index := filepath.Join(t.TempDir(), "index")
	if err := testGit().seedIndex(t.Context(), dir, index); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(index)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(past) {
		t.Errorf("private index dated %v, want %v", fi.ModTime(), past)
	}
}

// TestSnapshotPathsGone: the paths of a change may be gone when it is
// read — an agent's temporary file renamed over the file it writes, a
// tracked file deleted after its last snapshot, a directory removed — and
// the snapshot still takes what is there.
func TestSnapshotPathsGone(t *testing.T) {
	ctx := t.Context()
	g := testGit()
	dir := gittest.NewRepo(t, map[string]string{"a.txt": "a\n", "b.txt": "b\n", "d/e.txt": "e\n"})
	index := filepath.Join(t.TempDir(), "index")
	gittest.Write(t, dir, map[string]string{"b.txt": "b2\n"})
	if _, err := g.TakeSnapshot(ctx, dir, index, nil); err != nil {
		t.Fatal(err)
	}
	// hello.py written as hello.py.tmp, then renamed; b.txt (changed in the
	// last snapshot) and d/ deleted.
	gittest.Write(t, dir, map[string]string{"hello.py": "print('hello')\n"})
	os.Remove(filepath.Join(dir, "b.txt"))
	os.RemoveAll(filepath.Join(dir, "d"))
	s, err := g.TakeSnapshot(ctx, dir, index, []string{"hello.py", "hello.py.tmp.1234", "b.txt", "d", "d/e.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, dir, "show", s.Commit+":hello.py"); got != "print('hello')" {
		t.Errorf("hello.py in the snapshot: %q", got)
	}
	for _, gone := range []string{"b.txt", "d/e.txt", "hello.py.tmp.1234"} {
		if _, err := gittest.Try(dir, "cat-file", "-e", s.Commit+":"+gone); err == nil {
			t.Errorf("%s, gone, is in the snapshot", gone)
		}
	}
	if got := gittest.Git(t, dir, "show", s.Commit+":a.txt"); got != "a" {
		t.Errorf("a.txt in the snapshot: %q", got)
	}
}
