package workspace

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
)

func TestFileAt(t *testing.T) {
	ctx := t.Context()
	g := testGit()
	dir := gittest.NewRepo(t, map[string]string{"a.txt": "hello\n", "bin/x": "\x00\x01", "dir/f": "f\n"})
	head := gittest.Git(t, dir, "rev-parse", "HEAD")
	tree := gittest.Git(t, dir, "rev-parse", "HEAD^{tree}")
	for _, tc := range []struct {
		name, rev, path string
		want            FileVersion
		err             error
	}{
		{"text", head, "a.txt", FileVersion{Content: []byte("hello\n")}, nil},
		{"by branch", "main", "a.txt", FileVersion{Content: []byte("hello\n")}, nil},
		{"tree", tree, "a.txt", FileVersion{Content: []byte("hello\n")}, nil},
		{"binary", head, "bin/x", FileVersion{Content: []byte("\x00\x01"), Binary: true}, nil},
		{"missing", head, "nope.txt", FileVersion{Missing: true}, nil},
		{"directory", head, "dir", FileVersion{}, ErrNotFile},
		{"bad rev", "nosuch", "a.txt", FileVersion{}, ErrBadRef},
		{"option rev", "-p", "a.txt", FileVersion{}, ErrBadRef},
		{"escaping path", head, "../a.txt", FileVersion{}, ErrBadPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := g.FileAt(ctx, dir, tc.rev, tc.path)
			if !errors.Is(err, tc.err) {
				t.Fatalf("got error %v, want %v", err, tc.err)
			}
			if string(got.Content) != string(tc.want.Content) || got.Missing != tc.want.Missing || got.Binary != tc.want.Binary {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestReadWorktreeFile(t *testing.T) {
	dir := gittest.NewRepo(t, map[string]string{"a.txt": "hello\n", "sub/b.txt": "b\n"})
	outside := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(outside, []byte("secret\n"), 0o644)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(outside, filepath.Join(dir, "abs-link")))
	must(os.Symlink("../../secret", filepath.Join(dir, "sub", "rel-link")))
	must(os.Symlink("../a.txt", filepath.Join(dir, "sub", "in-link")))
	must(os.Symlink(filepath.Dir(outside), filepath.Join(dir, "dir-link")))
	os.WriteFile(filepath.Join(dir, "latin1.txt"), []byte("caf\xe9\n"), 0o644)

	for _, tc := range []struct {
		name, path string
		want       FileVersion
		err        error
	}{
		{"file", "a.txt", FileVersion{Content: []byte("hello\n")}, nil},
		{"nested", "sub/b.txt", FileVersion{Content: []byte("b\n")}, nil},
		{"link inside", "sub/in-link", FileVersion{Content: []byte("hello\n")}, nil},
		{"not utf-8", "latin1.txt", FileVersion{Content: []byte("caf\xe9\n"), Binary: true}, nil},
		{"missing", "nope", FileVersion{Missing: true}, nil},
		{"directory", "sub", FileVersion{}, ErrNotFile},
		{"absolute link out", "abs-link", FileVersion{}, ErrBadPath},
		{"relative link out", "sub/rel-link", FileVersion{}, ErrBadPath},
		{"through dir link", "dir-link/secret", FileVersion{}, ErrBadPath},
		{"dotdot", "sub/../../x", FileVersion{}, ErrBadPath},
		{"absolute", outside, FileVersion{}, ErrBadPath},
		{"git dir", ".git/HEAD", FileVersion{}, ErrBadPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadWorktreeFile(dir, tc.path)
			if !errors.Is(err, tc.err) {
				t.Fatalf("got error %v, want %v", err, tc.err)
			}
			if string(got.Content) != string(tc.want.Content) || got.Missing != tc.want.Missing || got.Binary != tc.want.Binary {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
