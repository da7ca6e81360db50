package workspace

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
)

func testGit() *Git { return &Git{Env: gittest.Env} }

func TestOpen(t *testing.T) {
	ctx := t.Context()
	g := testGit()
	repo := gittest.NewRepo(t, nil)

	sub := filepath.Join(repo, "sub")
	os.MkdirAll(sub, 0o755)
	r, err := Open(ctx, g, sub)
	if err != nil {
		t.Fatal(err)
	}
	if r.Root != repo {
		t.Errorf("root: got %s, want %s", r.Root, repo)
	}

	notRepo := t.TempDir()
	if _, err := Open(ctx, g, notRepo); !errors.Is(err, ErrNotRepo) {
		t.Errorf("plain dir: got %v, want ErrNotRepo", err)
	}
	bare := filepath.Join(t.TempDir(), "bare.git")
	gittest.Git(t, t.TempDir(), "init", "-q", "--bare", bare)
	if _, err := Open(ctx, g, bare); !errors.Is(err, ErrBare) {
		t.Errorf("bare: got %v, want ErrBare", err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	gittest.Git(t, t.TempDir(), "init", "-q", empty)
	if _, err := Open(ctx, g, empty); !errors.Is(err, ErrNoCommits) {
		t.Errorf("no commits: got %v, want ErrNoCommits", err)
	}
}

func TestResolveCommitRejectsOptions(t *testing.T) {
	ctx := t.Context()
	r, err := Open(ctx, testGit(), gittest.NewRepo(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"--upload-pack=x", "-x", "", "main;rm", "nope"} {
		if _, err := r.ResolveCommit(ctx, ref); !errors.Is(err, ErrBadRef) {
			t.Errorf("ResolveCommit(%q): got %v, want ErrBadRef", ref, err)
		}
	}
	if _, err := r.ResolveCommit(ctx, "main"); err != nil {
		t.Errorf("ResolveCommit(main): %v", err)
	}
}

func TestWorktreeLifecycle(t *testing.T) {
	ctx := t.Context()
	r, err := Open(ctx, testGit(), gittest.NewRepo(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "wt")
	if err := r.AddWorktree(ctx, path, "studio/a", "main"); err != nil {
		t.Fatal(err)
	}
	wt, err := r.WorktreeFor(ctx, "studio/a")
	if err != nil || wt == nil || wt.Path != path {
		t.Fatalf("WorktreeFor: got %+v, %v", wt, err)
	}
	gittest.Write(t, path, map[string]string{"new.txt": "x\n"})
	st, err := r.Git.WorktreeStatus(ctx, path)
	if err != nil || !st.Dirty() {
		t.Fatalf("status: got %+v, %v; want dirty", st, err)
	}
	if err := r.RemoveWorktree(ctx, path, false); err == nil {
		t.Fatal("removing a dirty worktree without force succeeded")
	}
	if err := r.RemoveWorktree(ctx, path, true); err != nil {
		t.Fatal(err)
	}
	if ok, _ := r.BranchExists(ctx, "studio/a"); !ok {
		t.Fatal("worktree remove deleted the branch")
	}
	if err := r.DeleteBranch(ctx, "studio/a"); err != nil {
		t.Fatal(err)
	}
	if err := r.AddWorktree(ctx, path, "-bad", "main"); !errors.Is(err, ErrBadRef) {
		t.Errorf("bad branch: got %v", err)
	}
}

// TestMissingDirIsNotMissingGit: git run in a directory that no longer
// exists (a deleted worktree) must not be reported as a missing git, and a
// repository that does not exist is not a repository.
func TestMissingDirIsNotMissingGit(t *testing.T) {
	ctx := t.Context()
	g := testGit()
	gone := filepath.Join(t.TempDir(), "deleted-worktree")
	_, err := g.Run(ctx, gone, "status")
	if errors.Is(err, ErrGitMissing) || !errors.Is(err, ErrNoDir) {
		t.Fatalf("git in a missing directory: got %v, want ErrNoDir", err)
	}
	if _, err := Open(ctx, g, gone); !errors.Is(err, ErrNotRepo) {
		t.Errorf("open a missing directory: got %v, want ErrNotRepo", err)
	}
	missing := &Git{Bin: "studiod-no-such-git", Env: gittest.Env}
	if _, err := missing.Run(ctx, t.TempDir(), "status"); !errors.Is(err, ErrGitMissing) {
		t.Errorf("a missing git: got %v, want ErrGitMissing", err)
	}
}
