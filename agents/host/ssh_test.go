package host

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/workspace"
)

// writeChanges takes a checkout of one commit to another's files: changed,
// added (in new directories), deleted, made executable, made a link.
func TestWriteChanges(t *testing.T) {
	gittest.Setenv(t)
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "one\n", "gone.txt": "x\n", "run.sh": "#!/bin/sh\n", "dir/b.txt": "b\n"})
	from := gittest.Git(t, repo, "rev-parse", "HEAD")
	gittest.Write(t, repo, map[string]string{"a.txt": "two\n", "new/deep/c.txt": "c\n"})
	os.Remove(filepath.Join(repo, "gone.txt"))
	os.Chmod(filepath.Join(repo, "run.sh"), 0o755)
	os.Remove(filepath.Join(repo, "dir/b.txt"))
	os.Symlink("../a.txt", filepath.Join(repo, "dir/b.txt"))
	gittest.Git(t, repo, "add", "-A")
	gittest.Git(t, repo, "commit", "-q", "-m", "next")
	to := gittest.Git(t, repo, "rev-parse", "HEAD")

	wt := filepath.Join(t.TempDir(), "wt")
	gittest.Git(t, repo, "worktree", "add", "-q", "--detach", wt, from)
	if err := writeChanges(t.Context(), workspace.DefaultGit, wt, from, to); err != nil {
		t.Fatal(err)
	}
	// With the index at the new commit, the files match it exactly.
	gittest.Git(t, wt, "read-tree", "--reset", to)
	if d := gittest.Git(t, wt, "diff", "--name-status"); d != "" {
		t.Errorf("the files differ from the new commit:\n%s", d)
	}
	if o := gittest.Git(t, wt, "ls-files", "--others"); o != "" {
		t.Errorf("files the new commit does not have:\n%s", o)
	}
	if err := writeChanges(t.Context(), workspace.DefaultGit, wt, to, to); err != nil {
		t.Errorf("no change: %v", err)
	}
}

func TestGoosUname(t *testing.T) {
	for in, want := range map[string][2]string{
		"Linux x86_64":  {"linux", "amd64"},
		"Linux aarch64": {"linux", "arm64"},
		"Darwin arm64":  {"darwin", "arm64"},
		"":              {"", ""},
	} {
		if os, arch := goosUname(in); os != want[0] || arch != want[1] {
			t.Errorf("goosUname(%q) = %s/%s, want %s/%s", in, os, arch, want[0], want[1])
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain/path-1.2": "plain/path-1.2",
		"a b":            "'a b'",
		"it's":           `'it'\''s'`,
		"":               "''",
		"$HOME":          "'$HOME'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
