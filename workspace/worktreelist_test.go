package workspace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
)

// halfMade leaves what a `git worktree add` killed between its gitdir and
// its commondir leaves: an entry every git fails to list.
func halfMade(t *testing.T, root, name string) (admin, tree string) {
	t.Helper()
	admin = filepath.Join(root, ".git", "worktrees", name)
	tree = filepath.Join(t.TempDir(), name)
	gittest.Write(t, admin, map[string]string{"locked": "initializing", "gitdir": tree + "/.git\n", "commondir": ""})
	gittest.Write(t, tree, map[string]string{".git": "gitdir: " + admin + "\n"})
	if _, err := gittest.Try(root, "worktree", "list"); err == nil {
		t.Fatal("git lists worktrees despite the half-made entry: the test makes the wrong state")
	}
	return admin, tree
}

// TestWorktreesHalfMadePoolTree: a pool tree's entry left half-made by a
// killed git is removed, its empty tree too, and listing works again, for
// the person's own git as well.
func TestWorktreesHalfMadePoolTree(t *testing.T) {
	ctx := t.Context()
	root := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	admin, tree := halfMade(t, root, "pool.dead")
	repo, err := Open(ctx, testGit(), root)
	if err != nil {
		t.Fatal(err)
	}
	list, err := repo.Worktrees(ctx)
	if err != nil || len(list) != 1 || list[0].Path != root {
		t.Fatalf("worktrees: %+v, %v", list, err)
	}
	for _, p := range []string{admin, tree} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", p, err)
		}
	}
	gittest.Git(t, root, "worktree", "list")
}

// TestWorktreesHalfMadeOther: an entry studiod did not make is left alone,
// and the error says which directory to remove.
func TestWorktreesHalfMadeOther(t *testing.T) {
	ctx := t.Context()
	root := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	repo, err := Open(ctx, testGit(), root)
	if err != nil {
		t.Fatal(err)
	}
	admin, tree := halfMade(t, root, "mine")
	_, err = repo.Worktrees(ctx)
	if err == nil || !strings.Contains(err.Error(), "remove "+admin) {
		t.Fatalf("error %v, want one that says to remove %s", err, admin)
	}
	for _, p := range []string{admin, tree} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was touched: %v", p, err)
		}
	}
}
