package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// TestDegradedAgentWrites: with one watch for the whole daemon and
// rescans an hour apart after each worktree's first, what an agent's hook
// reports as written is what tells the daemon. Two sessions rewrite the
// same line of a file in place (their directory does not change) and
// report it; the conflict follows. A file a shell command rewrites in
// place is seen once the hook says the command ran.
func TestDegradedAgentWrites(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"shared.txt": "one\ntwo\nthree\n", "README.md": "hi\n"})
	d := startDaemonEnv(t, home, "STUDIOD_MAX_WATCHES=1", "STUDIOD_RESCAN=1h")
	c, w := d.watch()
	var ss []protocol.Session
	for _, name := range []string{"wa", "wb"} {
		s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: name, Command: []string{"fakeagent", "-echo"}})
		if err != nil {
			t.Fatal(err)
		}
		ss = append(ss, w.AwaitState(t, s.ID, protocol.StateIdle))
	}
	st, err := c.Status(t.Context(), protocol.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Watch.Degraded) < 2 {
		t.Fatalf("got %v degraded, want both worktrees", st.Watch.Degraded)
	}
	for i, s := range ss {
		file := filepath.Join(s.Worktree, "shared.txt")
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "one\ntwo by %d\nthree\n", i)
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		claudeHook(t, s, sessionEnv(t, s), "PostToolUse", "Edit", "e1", map[string]any{"file_path": file, "old_string": "two", "new_string": "two by"})
	}
	w.AwaitConflict(t, "shared.txt", func(c protocol.Conflict) bool { return c.Path == "shared.txt" && c.Kind == protocol.KindContent })

	// A shell command names no file: once it ran, the worktree is swept,
	// and a file it rewrote in place is seen.
	s := ss[0]
	f, err := os.OpenFile(filepath.Join(s.Worktree, "README.md"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "formatted\n")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	claudeHook(t, s, sessionEnv(t, s), "PostToolUse", "Bash", "b1", map[string]any{"command": "fmt README.md"})
	w.Await(t, "the change to README.md", func() bool {
		s, _ := w.Session(s.ID)
		return s.Changes.Files == 2
	})
}
