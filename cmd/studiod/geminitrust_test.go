package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/fakemodel"
	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// TestGeminiTrust: the real Gemini CLI in a worktree it does not trust,
// its model asking to write a file. The trust question comes first; allow
// answers it alone (the write waits for its own answer, nothing is
// written), Gemini CLI starts itself again trusted and goes on, and the
// repository's next session starts trusted, without the question.
func TestGeminiTrust(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "gemini")
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	first := filepath.Join(home, "data", "worktrees", filepath.Base(repo)+"-"+sha256Hex(repo)[:8], "first")
	fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
		// Gemini CLI sends the prompt before it is trusted and again once
		// it has started over: the write is asked for each time.
		{UserContains: "one.txt", Repeat: true, Match: func(r *fakemodel.Request) bool { return len(r.LastToolResults()) == 0 }, Text: "Writing it.", Tool: fakemodel.Call("write_file", map[string]string{"file_path": filepath.Join(first, "one.txt"), "content": "1\n"})},
		{UserContains: "say hi", Text: "Hi."},
		{AfterToolResult: true, Text: "Done."},
	}})
	defer fm.Close()
	geminiHome := t.TempDir()
	writeJSON(t, filepath.Join(geminiHome, ".gemini", "settings.json"), map[string]any{
		"security": map[string]any{"auth": map[string]any{"selectedType": "gemini-api-key"}}})
	d := startDaemonEnv(t, home, "PATH="+bin+":"+os.Getenv("PATH"), "HOME="+t.TempDir(), "GEMINI_CLI_HOME="+geminiHome,
		"GEMINI_API_KEY=fake-key", "GOOGLE_GEMINI_BASE_URL="+fm.URL(), "GEMINI_CLI_TRUST_WORKSPACE=")
	c, w := d.watch()
	answer := func(id string, a protocol.Answer) {
		t.Helper()
		if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: id}, Answer: a}); err != nil {
			t.Fatalf("answer %s: %v", a, err)
		}
	}
	waiting := func(id string, kind protocol.WaitKind) protocol.Session {
		t.Helper()
		var got protocol.Session
		w.Await(t, "waiting on a "+string(kind), func() bool {
			s, ok := w.Session(id)
			got = s
			return ok && (s.State == protocol.StateWaiting && s.Waiting != nil && s.Waiting.Kind == kind || !s.State.Live())
		}, func() string { return string(got.State) + " " + got.Detail })
		if got.State != protocol.StateWaiting {
			t.Fatalf("session is %s (%s), want waiting on a %s", got.State, got.Detail, kind)
		}
		return got
	}

	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "first", Agent: "gemini", Prompt: "Create one.txt"})
	if err != nil {
		t.Fatal(err)
	}
	waiting(s.ID, protocol.WaitTrust)
	answer(s.ID, protocol.AnswerAllow)
	perm := waiting(s.ID, protocol.WaitPermission)
	if _, err := os.Stat(filepath.Join(first, "one.txt")); err == nil {
		t.Fatalf("one.txt written though only trust was answered (waiting: %+v)", perm.Waiting)
	}
	answer(s.ID, protocol.AnswerAllow)
	w.AwaitState(t, s.ID, protocol.StateIdle)
	if b, err := os.ReadFile(filepath.Join(first, "one.txt")); err != nil || string(b) != "1\n" {
		t.Fatalf("one.txt: %q, %v", b, err)
	}

	second, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "second", Agent: "gemini", Prompt: "say hi"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if _, err := fm.Wait(ctx, func(r *fakemodel.Request) bool { return strings.Contains(r.LastUserText(), "say hi") }); err != nil {
		t.Fatalf("the second session's prompt never reached the model: %v", err)
	}
	w.AwaitState(t, second.ID, protocol.StateIdle)
	if slices.ContainsFunc(w.Events(second.ID), func(s protocol.Session) bool { return s.Waiting != nil && s.Waiting.Kind == protocol.WaitTrust }) {
		t.Error("the repository's second session was asked for trust again")
	}
}
