package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/workspace"
)

// TestWorkspaceFiles reads a session's files through each runtime on this
// machine: a real worktree, its snapshots, diffs, file versions, and the
// daemon's watcher on it.
func TestWorkspaceFiles(t *testing.T) {
	gittest.Setenv(t)
	for _, name := range []string{"local", "fake"} {
		t.Run(name, func(t *testing.T) {
			repoDir := gittest.NewRepo(t, map[string]string{"a.txt": "a\n", "b.txt": "b\n"})
			repo, err := workspace.Open(t.Context(), workspace.DefaultGit, repoDir)
			if err != nil {
				t.Fatal(err)
			}
			base := gittest.Git(t, repoDir, "rev-parse", "HEAD")
			home := t.TempDir()
			w, err := workspace.NewWatcher(workspace.DefaultGit, workspace.WatcherOptions{CookieDir: filepath.Join(home, "cookies")})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			state := filepath.Join(home, "state")
			var rt Runtime
			if name == "local" {
				l, err := NewLocal(os.Args[0], state, filepath.Join(home, "run"))
				if err != nil {
					t.Fatal(err)
				}
				l.Watcher = w
				rt = l
			} else {
				f := NewFake()
				f.StateDir, f.Watcher = state, w
				rt = f
			}
			os.MkdirAll(filepath.Join(state, "sessions", "s1"), 0o700)
			spec := WorkspaceSpec{Repo: repo, Session: "s1", Path: filepath.Join(home, "wt"), Branch: "work", Base: base, Target: "main"}
			ws, err := rt.Acquire(t.Context(), spec)
			if err != nil {
				t.Fatalf("Acquire: %v", err)
			}
			ctx := t.Context()
			if ok, err := ws.Exists(ctx); !ok || err != nil {
				t.Fatalf("Exists: %v, %v; want true", ok, err)
			}

			batches := make(chan workspace.WatchBatch, 64)
			stop, err := ws.Watch(ctx, func(b workspace.WatchBatch) { batches <- b })
			if err != nil {
				t.Fatalf("Watch: %v", err)
			}
			first, err := ws.Changes(ctx, "")
			if err != nil || !first.Full {
				t.Fatalf("Changes with no token: %+v, %v; want a full answer", first, err)
			}

			os.WriteFile(filepath.Join(ws.Path(), "a.txt"), []byte("a\nmore\n"), 0o644)
			os.WriteFile(filepath.Join(ws.Path(), "new.txt"), []byte("new\n"), 0o644)
			waitPaths(t, ctx, batches, "a.txt", "new.txt")
			ans, err := ws.Changes(ctx, first.Token)
			if err != nil || ans.Full || !slices.Contains(ans.Paths, "a.txt") || !slices.Contains(ans.Paths, "new.txt") {
				t.Errorf("Changes since the first token: %+v, %v; want a.txt and new.txt", ans, err)
			}
			stop()

			v, err := ws.ReadFile(ctx, "a.txt")
			if err != nil || string(v.Content) != "a\nmore\n" {
				t.Errorf("ReadFile: %q, %v; want the edit", v.Content, err)
			}
			if v, err := ws.ReadFile(ctx, "gone.txt"); err != nil || !v.Missing {
				t.Errorf("ReadFile of a file not there: %+v, %v; want Missing", v, err)
			}
			for _, bad := range []string{"../x", "/etc/passwd", ".git/config"} {
				if _, err := ws.ReadFile(ctx, bad); err == nil {
					t.Errorf("ReadFile(%q): no error", bad)
				}
			}

			status := gittest.Git(t, ws.Path(), "status", "--porcelain")
			snap, err := ws.Snapshot(ctx)
			if err != nil {
				t.Fatalf("Snapshot: %v", err)
			}
			if snap.Head != base {
				t.Errorf("snapshot's head: %s, want the base %s", snap.Head, base)
			}
			if after := gittest.Git(t, ws.Path(), "status", "--porcelain"); after != status {
				t.Errorf("status after Snapshot: %q, want it untouched: %q", after, status)
			}
			if _, err := os.Stat(filepath.Join(state, "sessions", "s1", "index")); err != nil {
				t.Errorf("private index: %v", err)
			}
			files, err := ws.Diff(ctx, base, snap.Commit, nil, true)
			if err != nil {
				t.Fatalf("Diff: %v", err)
			}
			var paths []string
			for _, f := range files {
				paths = append(paths, f.Path)
			}
			if !slices.Equal(paths, []string{"a.txt", "new.txt"}) {
				t.Errorf("Diff base..snapshot: %v, want [a.txt new.txt]", paths)
			}
			if files, err := ws.Diff(ctx, base, snap.Commit, []string{"new.txt"}, false); err != nil || len(files) != 1 || files[0].Path != "new.txt" {
				t.Errorf("Diff limited to new.txt: %+v, %v", files, err)
			}
			if v, err := ws.FileAt(ctx, snap.Commit, "new.txt"); err != nil || string(v.Content) != "new\n" {
				t.Errorf("FileAt snapshot: %q, %v", v.Content, err)
			}
			if v, err := ws.FileAt(ctx, base, "new.txt"); err != nil || !v.Missing {
				t.Errorf("FileAt base of a new file: %+v, %v; want Missing", v, err)
			}
			if _, err := ws.FileAt(ctx, "no-such-rev", "a.txt"); !errors.Is(err, workspace.ErrBadRef) {
				t.Errorf("FileAt of a rev that does not exist: %v, want ErrBadRef", err)
			}

			if err := ws.Release(ctx, Force); err != nil {
				t.Fatalf("Release: %v", err)
			}
			if ok, err := ws.Exists(ctx); ok || err != nil {
				t.Errorf("Exists after Release: %v, %v; want false", ok, err)
			}
			again := rt.Workspace(spec)
			if ok, _ := again.Exists(ctx); ok {
				t.Errorf("a new handle on a released workspace: exists")
			}
		})
	}
}

// TestWorkspaceNoWatcher: a runtime without a file watcher says so,
// rather than watching nothing.
func TestWorkspaceNoWatcher(t *testing.T) {
	ws := NewFake().Workspace(WorkspaceSpec{Session: "s1", Path: t.TempDir()})
	if _, err := ws.Watch(t.Context(), func(workspace.WatchBatch) {}); err == nil {
		t.Errorf("Watch with no watcher: no error")
	}
	if ans, err := ws.Changes(t.Context(), "x"); err != nil || !ans.Full {
		t.Errorf("Changes with no watcher: %+v, %v; want a full answer", ans, err)
	}
	if _, err := ws.Snapshot(t.Context()); err == nil {
		t.Errorf("Snapshot with no place for its index: no error")
	}
}

// waitPaths waits until the watcher has reported every path in want.
func waitPaths(t *testing.T, ctx context.Context, batches <-chan workspace.WatchBatch, want ...string) {
	t.Helper()
	seen := map[string]bool{}
	for {
		missing := false
		for _, p := range want {
			if !seen[p] {
				missing = true
			}
		}
		if !missing {
			return
		}
		select {
		case b := <-batches:
			for _, p := range b.Paths {
				seen[p] = true
			}
		case <-ctx.Done():
			t.Fatalf("watch: saw %v, want %s", seen, strings.Join(want, ", "))
		}
	}
}
