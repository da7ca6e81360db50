package protocol

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestHunkHeaderLine(t *testing.T) {
	for _, tc := range []struct {
		h    Hunk
		want string
	}{
		{Hunk{OldStart: 7, OldLines: 7, NewStart: 7, NewLines: 8, Header: "func f()"}, "@@ -7,7 +7,8 @@ func f()"},
		{Hunk{OldStart: 0, OldLines: 0, NewStart: 1, NewLines: 2}, "@@ -0,0 +1,2 @@"},
	} {
		if got := tc.h.HeaderLine(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// TestUnifiedDiffApplies checks the text against git itself: the diff of
// every kind of change applies to the old tree and gives the new one.
func TestUnifiedDiffApplies(t *testing.T) {
	dir := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	write := func(name, content string) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q", "-b", "main")
	write("keep.txt", "1\n2\n3\n4\n5\n6\n7\n8\n9\n")
	write("gone.txt", "bye\n")
	write("old.txt", "a\nb\nc\nd\ne\nf\ng\nh\n")
	write("crlf.txt", "a\r\nb\r\n")
	write("run.sh", "echo hi\n")
	git("add", "-A")
	git("commit", "-q", "-m", "base")

	files := []FileDiff{
		{Path: "keep.txt", Status: "modified", OldMode: "100644", NewMode: "100644", Hunks: []Hunk{{OldStart: 2, OldLines: 3, NewStart: 2, NewLines: 3, Header: "1", Lines: []string{" 2", "-3", "+three", " 4"}}}},
		{Path: "gone.txt", Status: "deleted", OldMode: "100644", Hunks: []Hunk{{OldStart: 1, OldLines: 1, NewStart: 0, NewLines: 0, Lines: []string{"-bye"}}}},
		{Path: "new/file.txt", Status: "added", NewMode: "100644", Hunks: []Hunk{{OldStart: 0, OldLines: 0, NewStart: 1, NewLines: 2, Lines: []string{"+x", "+y"}}}},
		{Path: "moved.txt", OldPath: "old.txt", Status: "renamed", OldMode: "100644", NewMode: "100644", Hunks: []Hunk{{OldStart: 1, OldLines: 2, NewStart: 1, NewLines: 2, Lines: []string{"-a", "+A", " b"}}}},
		{Path: "crlf.txt", Status: "modified", OldMode: "100644", NewMode: "100644", Hunks: []Hunk{{OldStart: 1, OldLines: 2, NewStart: 1, NewLines: 2, Lines: []string{" a\r", "-b\r", "+B\r"}}}},
		{Path: "added.sh", Status: "added", NewMode: "100755", Hunks: []Hunk{{OldStart: 0, OldLines: 0, NewStart: 1, NewLines: 1, Lines: []string{"+exit 0"}}}},
		{Path: "run.sh", Status: "modified", OldMode: "100644", NewMode: "100755"},
		{Path: "stat.txt", Status: "modified", OldMode: "100644", NewMode: "100644"}, // nothing to say: left out
	}
	text := UnifiedDiff(files)
	if strings.Contains(text, "stat.txt") {
		t.Errorf("a file with nothing to patch is in the diff:\n%s", text)
	}
	if !strings.HasPrefix(text, "diff --git a/keep.txt b/keep.txt\n--- a/keep.txt\n+++ b/keep.txt\n@@ -2,3 +2,3 @@ 1\n") {
		t.Errorf("diff starts:\n%s", text)
	}
	patch := filepath.Join(t.TempDir(), "p.diff")
	os.WriteFile(patch, []byte(text), 0o644)
	git("apply", "--check", patch)
	git("apply", patch)
	for name, want := range map[string]string{
		"keep.txt":     "1\n2\nthree\n4\n5\n6\n7\n8\n9\n",
		"new/file.txt": "x\ny\n",
		"moved.txt":    "A\nb\nc\nd\ne\nf\ng\nh\n",
		"crlf.txt":     "a\r\nB\r\n",
	} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Errorf("%s after git apply: %q, %v; want %q", name, got, err, want)
		}
	}
	for _, exe := range []string{"run.sh", "added.sh"} {
		if fi, err := os.Stat(filepath.Join(dir, exe)); err != nil || fi.Mode().Perm()&0o100 == 0 {
			t.Errorf("%s after git apply: %v, %v; want it executable", exe, fi.Mode(), err)
		}
	}
	for _, gone := range []string{"gone.txt", "old.txt"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); err == nil {
			t.Errorf("%s is still there after git apply", gone)
		}
	}
	// Binary files and pure renames are stated, not patched.
	text = UnifiedDiff([]FileDiff{{Path: "img.bin", Status: "modified", Binary: true}, {Path: "b", OldPath: "a", Status: "renamed"}})
	want := "diff --git a/img.bin b/img.bin\nBinary files a/img.bin and b/img.bin differ\ndiff --git a/a b/b\nrename from a\nrename to b\n"
	if text != want {
		t.Errorf("got %q, want %q", text, want)
	}
}
