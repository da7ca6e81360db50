package workspace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
)

// TestPoolTreeLifecycle walks a tree through what the warm pool does with
// it: made detached and locked, taken by a branch without a checkout,
// detached again, moved, reset and cleaned, removed.
func TestPoolTreeLifecycle(t *testing.T) {
	ctx := t.Context()
	root := gittest.NewRepo(t, map[string]string{"a.txt": "a\n", ".gitignore": "deps/\n"})
	repo, err := Open(ctx, testGit(), root)
	if err != nil {
		t.Fatal(err)
	}
	tip := gittest.Git(t, root, "rev-parse", "main")
	dir := filepath.Join(t.TempDir(), "pool.1")
	if err := repo.AddDetachedWorktree(ctx, dir, tip, "studiod pool: test"); err != nil {
		t.Fatal(err)
	}
	list, _ := repo.Worktrees(ctx)
	if len(list) != 2 || !list[1].Locked || list[1].LockReason != "studiod pool: test" || list[1].Branch != "" {
		t.Fatalf("worktrees: %+v", list)
	}
	if out := gittest.Git(t, root, "branch", "--list"); out != "* main" {
		t.Errorf("git branch: %q", out)
	}

	if err := repo.CreateBranch(ctx, "studio/x", tip, "main"); err != nil {
		t.Fatal(err)
	}
	if err := repo.CreateBranch(ctx, "studio/x", tip, "main"); err == nil {
		t.Error("creating an existing branch succeeded")
	}
	if err := repo.Git.AttachHead(ctx, dir, "studio/x"); err != nil {
		t.Fatal(err)
	}
	if err := repo.UnlockWorktree(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if err := repo.UnlockWorktree(ctx, dir); err != nil {
		t.Errorf("unlocking an unlocked tree: %v", err)
	}
	if commit, branch, err := repo.Git.Head(ctx, dir); err != nil || commit != tip || branch != "studio/x" {
		t.Fatalf("head: %s %s %v", commit, branch, err)
	}
	if st, err := repo.Git.WorktreeStatus(ctx, dir); err != nil || st.Dirty() {
		t.Fatalf("taken tree not clean: %+v %v", st, err)
	}

	// Session work, then recycling.
	gittest.Write(t, dir, map[string]string{"a.txt": "changed\n", "untracked.txt": "u\n", "deps/lib.js": "dep\n"})
	if _, err := repo.Git.DetachHead(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if _, branch, _ := repo.Git.Head(ctx, dir); branch != "" {
		t.Fatalf("still on %s after detaching", branch)
	}
	if err := repo.DeleteBranch(ctx, "studio/x"); err != nil {
		t.Fatalf("delete the branch of a detached tree: %v", err)
	}
	moved := filepath.Join(filepath.Dir(dir), "pool.2")
	if err := repo.LockWorktree(ctx, dir, "studiod pool: recycled"); err != nil {
		t.Fatal(err)
	}
	if err := repo.MoveWorktree(ctx, dir, moved); err != nil {
		t.Fatal(err)
	}
	if err := repo.Git.ResetClean(ctx, moved, tip, false); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(moved, "a.txt")); string(b) != "a\n" {
		t.Errorf("a.txt after reset: %q", b)
	}
	if _, err := os.Stat(filepath.Join(moved, "untracked.txt")); err == nil {
		t.Error("untracked file survived the clean")
	}
	if _, err := os.Stat(filepath.Join(moved, "deps/lib.js")); err != nil {
		t.Error("an ignored file did not survive a clean that keeps them")
	}
	if err := repo.Git.ResetClean(ctx, moved, tip, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(moved, "deps")); err == nil {
		t.Error("ignored files survived a clean of ignored files")
	}
	list, _ = repo.Worktrees(ctx)
	if len(list) != 2 || list[1].Path != moved || !list[1].Locked {
		t.Fatalf("worktrees after the move: %+v", list)
	}

	// A half-made tree (a killed checkout leaves index.lock) is removed all
	// the same, lock and all.
	gitDir := strings.TrimSpace(gittest.Git(t, moved, "rev-parse", "--absolute-git-dir"))
	os.WriteFile(filepath.Join(gitDir, "index.lock"), nil, 0o644)
	if err := repo.ForceRemoveWorktree(ctx, moved); err != nil {
		t.Fatal(err)
	}
	list, _ = repo.Worktrees(ctx)
	if len(list) != 1 {
		t.Errorf("worktrees after removal: %+v", list)
	}
	if _, err := os.Stat(moved); err == nil {
		t.Error("directory left behind")
	}
}

func TestCloneFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("secret=1\n"), 0o600)
	dst := filepath.Join(dir, "dst")
	cloned, err := CloneFile(src, dst, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cloned: %v", cloned)
	if b, _ := os.ReadFile(dst); string(b) != "secret=1\n" {
		t.Errorf("copy: %q", b)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if _, err := CloneFile(src, dst, 0o600); err == nil {
		t.Error("copying over an existing file succeeded")
	}
}
