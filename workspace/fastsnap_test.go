package workspace

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
)

// snapEnv is a repository with a Snapshotter over its main worktree.
type snapEnv struct {
	t    testing.TB
	dir  string
	repo *Repo
	s    *Snapshotter
	n    int // fresh indexes made
}

func newSnapEnv(t testing.TB, files map[string]string) *snapEnv {
	t.Helper()
	dir := gittest.NewRepo(t, files)
	repo, err := Open(t.Context(), testGit(), dir)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSnapshotter(repo)
	t.Cleanup(func() { s.Close() })
	return &snapEnv{t: t, dir: dir, repo: repo, s: s}
}

// full is the reference: `git add -A` and `write-tree` on a fresh copy of
// the worktree's index.
func (e *snapEnv) full() Snapshot {
	e.t.Helper()
	e.n++
	index := filepath.Join(e.t.TempDir(), "index")
	s, err := e.repo.Git.TakeSnapshot(e.t.Context(), e.dir, index, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	os.Remove(index)
	return s
}

// check takes an incremental snapshot after changed and compares it with
// the reference. It returns the snapshot to go on from.
func (e *snapEnv) check(prev Snapshot, changed []string) Snapshot {
	e.t.Helper()
	want := e.full()
	got, err := e.s.Update(e.t.Context(), e.dir, prev, changed)
	if err != nil {
		e.t.Fatalf("update after %q: %v", changed, err)
	}
	if got != want {
		e.t.Fatalf("update after %q:\ngot  %+v\nwant %+v\n%s", changed, got, want, e.treeDiff(got.Tree, want.Tree))
	}
	if out, err := gittest.Try(e.dir, "fsck", "--connectivity-only", "--no-dangling", got.Commit); err != nil {
		e.t.Fatalf("fsck: %v\n%s", err, out)
	}
	return got
}

func (e *snapEnv) treeDiff(a, b string) string {
	out, _ := gittest.Try(e.dir, "diff-tree", "-r", "--raw", a, b)
	return out
}

func (e *snapEnv) write(files map[string]string) { gittest.Write(e.t, e.dir, files) }

func (e *snapEnv) rm(p string) {
	e.t.Helper()
	if err := os.RemoveAll(filepath.Join(e.dir, p)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *snapEnv) mv(from, to string) {
	e.t.Helper()
	os.MkdirAll(filepath.Dir(filepath.Join(e.dir, to)), 0o755)
	if err := os.Rename(filepath.Join(e.dir, from), filepath.Join(e.dir, to)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *snapEnv) symlink(target, p string) {
	e.t.Helper()
	if err := os.Symlink(target, filepath.Join(e.dir, p)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *snapEnv) chmod(p string, mode os.FileMode) {
	e.t.Helper()
	if err := os.Chmod(filepath.Join(e.dir, p), mode); err != nil {
		e.t.Fatal(err)
	}
}

// nested makes a repository with one commit at p.
func (e *snapEnv) nested(p string, commit bool) {
	e.t.Helper()
	d := filepath.Join(e.dir, p)
	gittest.Git(e.t, "", "init", "-q", "-b", "main", d)
	if commit {
		gittest.Write(e.t, d, map[string]string{"inner.txt": "inner\n"})
		gittest.Commit(e.t, d, "inner")
	}
}

func TestSnapshotterCases(t *testing.T) {
	base := map[string]string{
		"a.txt":          "a\n",
		"dir/b.txt":      "b\n",
		"dir/sub/c.txt":  "c\n",
		"other/d.txt":    "d\n",
		".gitignore":     "*.log\nbuild/\n!keep.log\n",
		"tracked.log":    "tracked although ignored\n",
		"script.sh":      "#!/bin/sh\n",
		"deep/x/y/z.txt": "z\n",
	}
	cases := []struct {
		name string
		// before runs before the previous snapshot.
		before func(e *snapEnv)
		// change runs after it and returns the changed paths, as the
		// watcher reports them.
		change func(e *snapEnv) []string
	}{
		{"modify", nil, func(e *snapEnv) []string {
			e.write(map[string]string{"dir/b.txt": "b2\n"})
			return []string{"dir/b.txt"}
		}},
		{"nothing changed", nil, func(e *snapEnv) []string { return nil }},
		{"spurious paths", nil, func(e *snapEnv) []string {
			return []string{"a.txt", "dir", "no/such/file", ".git/index", ".git"}
		}},
		{"new untracked file", nil, func(e *snapEnv) []string {
			e.write(map[string]string{"new.txt": "n\n"})
			return []string{"new.txt"}
		}},
		{"new nested directories reported by file", nil, func(e *snapEnv) []string {
			e.write(map[string]string{"n1/n2/n3/f.txt": "f\n", "n1/g.txt": "g\n"})
			return []string{"n1/n2/n3/f.txt", "n1/g.txt"}
		}},
		{"new nested directories reported by directory", nil, func(e *snapEnv) []string {
			e.write(map[string]string{"n1/n2/n3/f.txt": "f\n", "n1/g.txt": "g\n", "n1/x.log": "ignored\n"})
			return []string{"n1"}
		}},
		{"delete file", nil, func(e *snapEnv) []string {
			e.rm("a.txt")
			return []string{"a.txt"}
		}},
		{"delete last file of a directory", nil, func(e *snapEnv) []string {
			e.rm("other/d.txt")
			return []string{"other/d.txt"}
		}},
		{"delete directory", nil, func(e *snapEnv) []string {
			e.rm("dir")
			return []string{"dir"}
		}},
		{"delete directory reported by its files", nil, func(e *snapEnv) []string {
			e.rm("dir")
			return []string{"dir/b.txt", "dir/sub/c.txt"}
		}},
		{"file replaced by directory", nil, func(e *snapEnv) []string {
			e.rm("a.txt")
			e.write(map[string]string{"a.txt/inner.txt": "i\n"})
			return []string{"a.txt/inner.txt"}
		}},
		{"directory replaced by file", nil, func(e *snapEnv) []string {
			e.rm("dir")
			e.write(map[string]string{"dir": "now a file\n"})
			return []string{"dir/b.txt", "dir"}
		}},
		{"directory replaced by file reported below", nil, func(e *snapEnv) []string {
			e.rm("deep/x")
			e.write(map[string]string{"deep/x": "file\n"})
			return []string{"deep/x/y/z.txt"}
		}},
		{"rename file", nil, func(e *snapEnv) []string {
			e.mv("dir/b.txt", "other/b2.txt")
			return []string{"dir/b.txt", "other/b2.txt"}
		}},
		{"rename directory", nil, func(e *snapEnv) []string {
			e.mv("dir", "moved/dir")
			return []string{"dir", "moved"}
		}},
		{"odd names", nil, func(e *snapEnv) []string {
			names := []string{"with space.txt", "new\nline.txt", "ünïcødé/файл.txt", `quote"d.txt`, `back\slash.txt`, "tab\tx", "\"leading-quote", "cr\r"}
			files := map[string]string{}
			for _, n := range names {
				files[n] = n + "\n"
			}
			e.write(files)
			return names
		}},
		{"odd names modified", func(e *snapEnv) {
			e.write(map[string]string{"new\nline.txt": "1\n", "sp ace/f g.txt": "1\n"})
		}, func(e *snapEnv) []string {
			e.write(map[string]string{"new\nline.txt": "2\n", "sp ace/f g.txt": "2\n"})
			return []string{"new\nline.txt", "sp ace/f g.txt"}
		}},
		{"changed and changed back", nil, func(e *snapEnv) []string {
			e.write(map[string]string{"a.txt": "other\n"})
			e.write(map[string]string{"a.txt": "a\n"})
			return []string{"a.txt"}
		}},
		{"chmod", nil, func(e *snapEnv) []string {
			e.chmod("a.txt", 0o755)
			e.chmod("script.sh", 0o744)
			return []string{"a.txt", "script.sh"}
		}},
		{"chmod back", func(e *snapEnv) { e.chmod("script.sh", 0o755) }, func(e *snapEnv) []string {
			e.chmod("script.sh", 0o644)
			return []string{"script.sh"}
		}},
		{"group execute only", nil, func(e *snapEnv) []string {
			e.chmod("a.txt", 0o654)
			return []string{"a.txt"}
		}},
		{"symlinks", nil, func(e *snapEnv) []string {
			e.symlink("a.txt", "link")
			e.symlink("dir", "dirlink")
			e.symlink("../../nowhere", "dir/dangling")
			return []string{"link", "dirlink", "dir/dangling"}
		}},
		{"symlink retargeted and replaced", func(e *snapEnv) {
			e.symlink("a.txt", "link")
			e.symlink("dir", "dirlink")
		}, func(e *snapEnv) []string {
			e.rm("link")
			e.symlink("dir/b.txt", "link")
			e.rm("dirlink")
			e.write(map[string]string{"dirlink": "a file now\n"})
			e.rm("a.txt")
			e.symlink("other", "a.txt")
			return []string{"link", "dirlink", "a.txt"}
		}},
		{"path through a symlink", func(e *snapEnv) { e.symlink("dir", "dirlink") }, func(e *snapEnv) []string {
			e.write(map[string]string{"dir/new.txt": "n\n"})
			return []string{"dirlink/new.txt", "dir/new.txt"}
		}},
		{"ignored files", nil, func(e *snapEnv) []string {
			e.write(map[string]string{"x.log": "ignored\n", "dir/y.log": "ignored\n", "build/out.o": "ignored\n", "build/keep.log": "ignored: build/ is\n", "keep.log": "kept\n"})
			return []string{"x.log", "dir/y.log", "build/out.o", "build/keep.log", "keep.log"}
		}},
		{"ignored directory reported whole", nil, func(e *snapEnv) []string {
			e.write(map[string]string{"build/a/b.o": "o\n", "dir/build/c.o": "o\n"})
			return []string{"build", "dir/build"}
		}},
		{"tracked ignored file modified and deleted", func(e *snapEnv) {
			e.write(map[string]string{"dir/t.log": "t\n"})
			gittest.Git(e.t, e.dir, "add", "-f", "dir/t.log")
		}, func(e *snapEnv) []string {
			e.write(map[string]string{"tracked.log": "changed\n"})
			e.rm("dir/t.log")
			return []string{"tracked.log", "dir/t.log"}
		}},
		{"tracked ignored file in a rewalked directory", func(e *snapEnv) {
			e.write(map[string]string{"dir/t.log": "t\n"})
			gittest.Git(e.t, e.dir, "add", "-f", "dir/t.log")
		}, func(e *snapEnv) []string {
			e.write(map[string]string{"dir/t.log": "t2\n", "dir/u.log": "u\n", "dir/v.txt": "v\n"})
			return []string{"dir"}
		}},
		{"untracked file kept after being deleted and recreated", func(e *snapEnv) {
			e.write(map[string]string{"untracked.txt": "u\n"})
		}, func(e *snapEnv) []string {
			e.rm("untracked.txt")
			e.write(map[string]string{"untracked.txt": "u2\n"})
			return []string{"untracked.txt"}
		}},
		{"empty directories", nil, func(e *snapEnv) []string {
			os.MkdirAll(filepath.Join(e.dir, "empty/deeper"), 0o755)
			e.rm("dir/sub/c.txt")
			return []string{"empty", "dir/sub/c.txt"}
		}},
		{"fifo", nil, func(e *snapEnv) []string {
			if err := syscall.Mkfifo(filepath.Join(e.dir, "fifo"), 0o644); err != nil {
				e.t.Skip("no fifo:", err)
			}
			return []string{"fifo"}
		}},
		{"new nested repository", nil, func(e *snapEnv) []string {
			e.nested("dir/inner", true)
			return []string{"dir/inner", "dir/inner/inner.txt", "dir/inner/.git/HEAD"}
		}},
		{"nested repository reported by its files", nil, func(e *snapEnv) []string {
			e.nested("n/inner", true)
			return []string{"n/inner/inner.txt", "n/inner/.git/index"}
		}},
		{"nested repository without a commit", nil, func(e *snapEnv) []string {
			e.nested("inner", false)
			e.write(map[string]string{"inner/f.txt": "f\n"})
			return []string{"inner", "inner/f.txt"}
		}},
		{"nested repository moves", func(e *snapEnv) { e.nested("inner", true) }, func(e *snapEnv) []string {
			d := filepath.Join(e.dir, "inner")
			gittest.Write(e.t, d, map[string]string{"inner.txt": "changed\n"})
			gittest.Commit(e.t, d, "moves")
			return []string{"inner/inner.txt", "inner/.git/refs/heads/main", "inner/.git/logs/HEAD"}
		}},
		{"nested repository edited, not committed", func(e *snapEnv) { e.nested("inner", true) }, func(e *snapEnv) []string {
			e.write(map[string]string{"inner/inner.txt": "changed\n", "inner/more.txt": "more\n"})
			return []string{"inner/inner.txt", "inner/more.txt"}
		}},
		{"nested repository removed", func(e *snapEnv) { e.nested("inner", true) }, func(e *snapEnv) []string {
			e.rm("inner")
			return []string{"inner"}
		}},
		{"nested repository replaced by a file", func(e *snapEnv) { e.nested("inner", true) }, func(e *snapEnv) []string {
			e.rm("inner")
			e.write(map[string]string{"inner": "file\n"})
			return []string{"inner"}
		}},
		{"ignored nested repository", nil, func(e *snapEnv) []string {
			e.nested("build/inner", true)
			e.nested("x.log", true)
			return []string{"build", "x.log"}
		}},
		{"tracked submodule", func(e *snapEnv) {
			e.nested("sm", true)
			gittest.Git(e.t, e.dir, "add", "sm")
			gittest.Git(e.t, e.dir, "commit", "-q", "-m", "sm")
		}, func(e *snapEnv) []string {
			d := filepath.Join(e.dir, "sm")
			gittest.Write(e.t, d, map[string]string{"inner.txt": "changed\n"})
			gittest.Commit(e.t, d, "moves")
			return []string{"sm/.git/HEAD"}
		}},
		{"tracked submodule emptied", func(e *snapEnv) {
			e.nested("sm", true)
			gittest.Git(e.t, e.dir, "add", "sm")
			gittest.Git(e.t, e.dir, "commit", "-q", "-m", "sm")
		}, func(e *snapEnv) []string {
			e.rm("sm")
			os.Mkdir(filepath.Join(e.dir, "sm"), 0o755)
			e.write(map[string]string{"sm/stray.txt": "s\n"})
			return []string{"sm", "sm/stray.txt"}
		}},
		{"attributes apply", func(e *snapEnv) {
			e.write(map[string]string{".gitattributes": "*.crlf text\n"})
			gittest.Commit(e.t, e.dir, "attributes")
		}, func(e *snapEnv) []string {
			e.write(map[string]string{"x.crlf": "a\r\nb\r\n", "y.bin": "a\r\nb\r\n"})
			return []string{"x.crlf", "y.bin"}
		}},
		{"staged but not committed", func(e *snapEnv) {
			e.write(map[string]string{"staged.txt": "s\n"})
			gittest.Git(e.t, e.dir, "add", "staged.txt")
		}, func(e *snapEnv) []string {
			e.write(map[string]string{"staged.txt": "s2\n"})
			return []string{"staged.txt"}
		}},
		{"tracked ignored files deleted, then back", func(e *snapEnv) {
			e.write(map[string]string{"build/kept.txt": "k\n", "build/sub/deep.txt": "d\n", "x.log": "x\n"})
			gittest.Git(e.t, e.dir, "add", "-f", "build/kept.txt", "build/sub/deep.txt", "x.log")
			gittest.Commit(e.t, e.dir, "force-added")
			e.rm("build")
			e.rm("x.log")
		}, func(e *snapEnv) []string {
			// Back, with an untracked file beside them, which stays out.
			e.write(map[string]string{"build/kept.txt": "k2\n", "build/sub/deep.txt": "d\n", "build/new.txt": "n\n", "x.log": "x\n"})
			return []string{"build", "x.log"}
		}},
		{"everything at once", nil, func(e *snapEnv) []string {
			e.rm("dir/sub")
			e.write(map[string]string{"dir/sub": "file\n", "dir/new/x.txt": "x\n", "a.txt": "a2\n", "z.log": "z\n"})
			e.mv("other/d.txt", "deep/x/d.txt")
			return []string{"dir/sub", "dir/sub/c.txt", "dir/new", "a.txt", "z.log", "other/d.txt", "deep/x/d.txt"}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newSnapEnv(t, base)
			if tc.before != nil {
				tc.before(e)
			}
			prev := e.full()
			changed := tc.change(e)
			e.check(prev, changed)
		})
	}
}

func TestSnapshotterNeedsFull(t *testing.T) {
	cases := []struct {
		name   string
		change func(e *snapEnv) []string
		want   string
	}{
		{"HEAD moved by a commit", func(e *snapEnv) []string {
			e.write(map[string]string{"a.txt": "a2\n"})
			gittest.Commit(e.t, e.dir, "moves")
			return []string{"a.txt"}
		}, "HEAD moved"},
		{"HEAD moved by a checkout", func(e *snapEnv) []string {
			gittest.Git(e.t, e.dir, "checkout", "-q", "--detach", "HEAD")
			gittest.Git(e.t, e.dir, "commit", "-q", "--allow-empty", "-m", "detached")
			return nil
		}, "HEAD moved"},
		{"a .gitignore changed", func(e *snapEnv) []string {
			e.write(map[string]string{".gitignore": "*.txt\n"})
			return []string{".gitignore"}
		}, ".gitignore changed"},
		{"a nested .gitignore appears", func(e *snapEnv) []string {
			e.write(map[string]string{"dir/.gitignore": "*.txt\n"})
			return []string{"dir/.gitignore"}
		}, ".gitignore changed"},
		{"a .gitattributes changed", func(e *snapEnv) []string {
			e.write(map[string]string{"dir/.gitattributes": "*.txt text\n"})
			return []string{"dir/.gitattributes"}
		}, ".gitattributes changed"},
		{"the root changed", func(e *snapEnv) []string { return []string{"."} }, "changed path"},
		{"core.fileMode=false", func(e *snapEnv) []string {
			gittest.Git(e.t, e.dir, "config", "core.fileMode", "false")
			return []string{"a.txt"}
		}, "core.filemode=false"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newSnapEnv(t, map[string]string{"a.txt": "a\n", "dir/b.txt": "b\n"})
			prev := e.full()
			changed := tc.change(e)
			_, err := e.s.Update(t.Context(), e.dir, prev, changed)
			if !errors.Is(err, ErrFullSnapshot) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrFullSnapshot (%s)", err, tc.want)
			}
		})
	}
}

// A worktree of its own (a .git file, HEAD in refs of the common
// directory, packed refs) resolves its HEAD from files.
func TestSnapshotterLinkedWorktree(t *testing.T) {
	e := newSnapEnv(t, map[string]string{"a.txt": "a\n"})
	wt := filepath.Join(t.TempDir(), "wt")
	gittest.Git(t, e.dir, "worktree", "add", "-q", "-b", "studio/x", wt)
	gittest.Git(t, e.dir, "pack-refs", "--all")
	head := gittest.Git(t, wt, "rev-parse", "HEAD")
	if got, ok := readHead(wt); !ok || got != head {
		t.Errorf("readHead: got %q %v, want %q", got, ok, head)
	}
	prev, err := e.repo.Git.TakeSnapshot(t.Context(), wt, filepath.Join(t.TempDir(), "index"), nil)
	if err != nil {
		t.Fatal(err)
	}
	gittest.Write(t, wt, map[string]string{"b.txt": "b\n"})
	got, err := e.s.Update(t.Context(), wt, prev, []string{"b.txt"})
	if err != nil {
		t.Fatal(err)
	}
	want, err := e.repo.Git.TakeSnapshot(t.Context(), wt, filepath.Join(t.TempDir(), "index"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// The long-lived hash-object reads the attributes again after Forget,
// starts again after failing, and stops when idle.
func TestSnapshotterHasher(t *testing.T) {
	e := newSnapEnv(t, map[string]string{"a.txt": "a\n"})
	e.s.idle = 10 * time.Millisecond
	prev := e.full()
	e.write(map[string]string{"a.txt": "a2\n"})
	prev = e.check(prev, []string{"a.txt"})

	// New attributes: a full snapshot, after which the hasher reads them.
	e.write(map[string]string{".gitattributes": "*.crlf text\n", "x.crlf": "a\r\nb\r\n"})
	if _, err := e.s.Update(t.Context(), e.dir, prev, []string{".gitattributes", "x.crlf"}); !errors.Is(err, ErrFullSnapshot) {
		t.Fatalf("attributes changed: got %v, want ErrFullSnapshot", err)
	}
	e.s.Forget(e.dir)
	prev = e.full()
	e.write(map[string]string{"y.crlf": "a\r\nb\r\n"})
	prev = e.check(prev, []string{"y.crlf"})

	e.s.mu.Lock()
	_, err := e.s.hashObjects(t.Context(), e.dir, []string{"a.txt", "gone.txt"})
	stopped := e.s.hashers[e.dir] == nil
	e.s.mu.Unlock()
	if err == nil || !stopped {
		t.Errorf("hashing a vanished file: got error %v, hasher stopped %v; want an error and a stopped hasher", err, stopped)
	}
	e.write(map[string]string{"a.txt": "a3\n"})
	e.check(prev, []string{"a.txt"})

	deadline := time.Now().Add(60 * time.Second)
	for {
		e.s.mu.Lock()
		n := len(e.s.hashers)
		e.s.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("idle hasher never stopped")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
