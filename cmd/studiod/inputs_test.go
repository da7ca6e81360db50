package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// TestSpawnInputLimits: a terminal size no terminal has, a prompt over the
// limit, and a prompt too long to pass as an argument are refused at once
// as invalid, leaving no session and no branch; a negative output limit
// is invalid too.
func TestSpawnInputLimits(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	home := newHome(t)
	writeConfig(t, home, "[agents.argy]\ncommand = [\"fakeagent\", \"-hang\", \"{prompt}\"]\n")
	d := startDaemon(t, home)
	c := d.client(nil)
	for _, tc := range []struct {
		name string
		p    protocol.SpawnParams
		want string
	}{
		{"rows", protocol.SpawnParams{Rows: 100000, Cols: 80, Command: []string{"fakeagent", "-hang"}}, "rows and cols must be 1 to 1000"},
		{"cols", protocol.SpawnParams{Rows: 24, Cols: -1, Command: []string{"fakeagent", "-hang"}}, "rows and cols must be 1 to 1000"},
		{"prompt", protocol.SpawnParams{Prompt: strings.Repeat("p", 15<<20), Command: []string{"fakeagent", "-hang"}}, "keep it under 1.0 MiB"},
		{"argument", protocol.SpawnParams{Prompt: strings.Repeat("p", 200<<10), Agent: "argy"}, "over the 128.0 KiB the system allows"},
	} {
		tc.p.Repo, tc.p.Name = repo, "x"+tc.name
		_, err := c.Spawn(t.Context(), tc.p)
		if protocol.CodeOf(err) != protocol.CodeInvalid || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want invalid, saying %q", tc.name, err, tc.want)
		}
	}
	if list, err := c.Sessions(t.Context(), protocol.SessionsParams{}); err != nil || len(list.Sessions) != 0 {
		var names []string
		if list != nil {
			for _, s := range list.Sessions {
				names = append(names, s.Name)
			}
		}
		t.Errorf("sessions after refused spawns: %q, %v", names, err)
	}
	if b := gittest.Git(t, repo, "branch", "--list", "studio/*"); b != "" {
		t.Errorf("branches after refused spawns: %s", b)
	}
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "ok", Rows: 1000, Cols: 1000, Prompt: strings.Repeat("p", 100<<10), Agent: "argy"})
	if err != nil {
		t.Fatalf("the largest terminal and a 100 KiB prompt: %v", err)
	}
	_, err = c.Output(t.Context(), protocol.OutputParams{SessionRef: protocol.SessionRef{Session: s.ID}, Limit: -1})
	if protocol.CodeOf(err) != protocol.CodeInvalid {
		t.Errorf("output with limit -1: %v, want invalid", err)
	}
}

// TestRelativeWorktreeDir: a relative worktree_dir is relative to the file
// that sets it (the user's config, the repository's .studio.toml), not to
// the daemon's working directory.
func TestRelativeWorktreeDir(t *testing.T) {
	t.Parallel()
	plain := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	own := gittest.NewRepo(t, map[string]string{"a.txt": "a\n", ".studio.toml": "[defaults]\nworktree_dir = \"../wts\"\n"})
	home := newHome(t)
	writeConfig(t, home, "[defaults]\nworktree_dir = \"trees\"\n")
	d := startDaemon(t, home)
	c := d.client(nil)
	if _, err := c.Trust(t.Context(), protocol.TrustParams{Repo: own}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ repo, want string }{
		{plain, filepath.Join(home, "config", "trees") + "/"},
		{own, filepath.Join(filepath.Dir(own), "wts") + "/"},
	} {
		s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: tc.repo, Name: "rel", Command: []string{"fakeagent", "-hang"}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(s.Worktree, tc.want) {
			t.Errorf("worktree %s, want it under %s", s.Worktree, tc.want)
		}
	}
}
