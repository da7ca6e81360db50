package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/studiod/studiod/internal/fakemodel"
	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// TestClaudeCodeReject: the real Claude Code asks to write a file and the
// person refuses. Claude Code is back at its input and sends no hook event
// (no Stop): the session must go idle from its screen, not stay working,
// and nothing is written.
func TestClaudeCodeReject(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "claude")
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	const name = "refused"
	wt := filepath.Join(home, "data", "worktrees", filepath.Base(repo)+"-"+sha256Hex(repo)[:8], name)
	fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
		{UserContains: "write secret.txt", Text: "Writing secret.txt.",
			Tool: fakemodel.Call("Write", map[string]string{"file_path": filepath.Join(wt, "secret.txt"), "content": "no\n"})},
		{AfterToolResult: true, Text: "Understood, I will not write it."},
	}})
	defer fm.Close()
	const key = "sk-ant-fake-0123456789abcdefghijklmnop"
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "config", "config.toml"),
		[]byte("[agents.claude]\ncommand = [\"claude\", \"--permission-mode\", \"manual\", \"{prompt}\"]\nidle_after = \"2s\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemonEnv(t, home,
		claudeEnv(t, bin, key, repo, fm.URL())...)
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: name, Agent: "claude", Prompt: "write secret.txt"})
	if err != nil {
		t.Fatal(err)
	}
	ref := protocol.SessionRef{Session: s.ID}
	got := w.AwaitState(t, s.ID, protocol.StateWaiting)
	if got.Waiting == nil || got.Waiting.Subject != "secret.txt" {
		t.Fatalf("waiting on %+v, want the write of secret.txt", got.Waiting)
	}
	if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: ref, Answer: protocol.AnswerReject}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	if _, err := os.Stat(filepath.Join(wt, "secret.txt")); err == nil {
		t.Error("secret.txt written though the write was refused")
	}
}
