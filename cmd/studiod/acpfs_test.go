package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/internal/studiotest"
	"github.com/studiod/studiod/protocol"
)

// TestACPFileSystem: an ACP agent that asks studiod, its client, to read
// and write files gets the session's worktree and only it: a path outside
// it, a symbolic link out of it and its .git are refused with a reason,
// and nothing outside changes.
func TestACPFileSystem(t *testing.T) {
	t.Parallel()
	home := acpHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	d := startDaemon(t, home)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "files", Agent: "fake", Prompt: "fswrite notes/a.txt written through ACP"})
	if err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	if b, err := os.ReadFile(filepath.Join(s.Worktree, "notes", "a.txt")); err != nil || string(b) != "written through ACP\n" {
		t.Fatalf("notes/a.txt in the worktree: %q, %v", b, err)
	}
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(s.Worktree, "out")); err != nil {
		t.Fatal(err)
	}
	prompts := []struct{ prompt, want string }{
		{"fsread notes/a.txt", `fsread notes/a.txt: "written through ACP\n" ok`},
		{"fsread README.md", `fsread README.md: "hello\n" ok`},
		{"fsread missing.txt", "fsread missing.txt: \"\" error -32002"},
		{"fswrite ../escape.txt no", "fswrite ../escape.txt: error -32602 Invalid params " + filepath.Dir(s.Worktree) + "/escape.txt is outside the session's worktree"},
		{"fsread /etc/passwd", "fsread /etc/passwd: \"\" error -32602 Invalid params /etc/passwd is outside the session's worktree"},
		{"fswrite out/x.txt no", "fswrite out/x.txt: error -32602 Invalid params " + s.Worktree + "/out/x.txt leads outside the session's worktree (a symbolic link)"},
		{"fsread out", "fsread out: \"\" error"},
		{"fswrite .git/config no", "fswrite .git/config: error -32602 Invalid params " + s.Worktree + "/.git/config is git's own"},
	}
	for _, p := range prompts {
		sendTurn(t, c, w, s.ID, p.prompt)
	}
	tr := logs(t, home, s.ID)
	for _, p := range prompts {
		if !strings.Contains(tr, p.want) {
			t.Errorf("%s: the agent did not hear %q:\n%s", p.prompt, p.want, tr)
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) > 0 {
		t.Errorf("written outside the worktree through a link: %v", ents)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(s.Worktree), "escape.txt")); err == nil {
		t.Error("escape.txt written next to the worktree")
	}
}

// sendTurn sends text to session id as a prompt and waits for the turn it
// starts to end: one more move to idle.
func sendTurn(t *testing.T, c *protocol.Client, w *studiotest.Watch, id, text string) {
	t.Helper()
	idles := func() int {
		n := 0
		prev := protocol.State("")
		for _, st := range w.States(id) {
			if st == protocol.StateIdle && prev != protocol.StateIdle {
				n++
			}
			prev = st
		}
		return n
	}
	before := idles()
	if _, err := c.Send(t.Context(), protocol.SendParams{SessionRef: ref(id), Text: text}); err != nil {
		t.Fatal(err)
	}
	w.Await(t, text+"'s turn to end", func() bool { return idles() > before })
}
