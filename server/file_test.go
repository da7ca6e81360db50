package server

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// TestFileMaxSize: studio/file sends a file over maxSize without its
// content, and refuses a negative size.
func TestFileMaxSize(t *testing.T) {
	gittest.Setenv(t)
	home := t.TempDir()
	rt := host.NewFake()
	rt.StateDir = filepath.Join(home, "state")
	m, err := agents.New(t.Context(), agents.Options{
		StateDir: rt.StateDir, RuntimeDir: filepath.Join(home, "run"), WorktreeDir: filepath.Join(home, "wt"),
		UserConfig: filepath.Join(home, "config.toml"), Self: "/nonexistent/studiod", Runtime: rt,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "0123456789\n"})
	s, err := m.Spawn(t.Context(), agents.SpawnRequest{Repo: repo, Name: "one", Command: []string{"agent"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(s.Worktree, "a.txt"), []byte("0123456789 and more\n"), 0o644)
	a := &core{m: m}
	ref := protocol.SessionRef{Session: "one", Repo: repo}
	for _, tc := range []struct {
		name     string
		version  protocol.FileVersion
		max      int64
		content  string
		tooLarge bool
	}{
		{"no cap", protocol.FileWorktree, 0, "0123456789 and more\n", false},
		{"under the cap", protocol.FileWorktree, 100, "0123456789 and more\n", false},
		{"over the cap", protocol.FileWorktree, 11, "", true},
		{"the base fits", protocol.FileBase, 11, "0123456789\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := a.File(t.Context(), protocol.FileParams{SessionRef: ref, Path: "a.txt", Version: tc.version, MaxSize: tc.max})
			if err != nil {
				t.Fatal(err)
			}
			if r.Content != tc.content || r.TooLarge != tc.tooLarge {
				t.Errorf("got %q, tooLarge %v; want %q, %v", r.Content, r.TooLarge, tc.content, tc.tooLarge)
			}
		})
	}
	if _, err := a.File(t.Context(), protocol.FileParams{SessionRef: ref, Path: "a.txt", Version: protocol.FileWorktree, MaxSize: -1}); err == nil {
		t.Errorf("a negative maxSize: no error")
	}
}
