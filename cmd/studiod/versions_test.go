package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/fakemodel"
	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// TestClaudeCodeTrustVersions: the real Claude Code in a folder it has not
// been told to trust, at the pinned version and at the one npm picks on
// Node 20, which lists the trust options the other way round. Either way
// the session waits on the trust question, naming the folder; allow picks
// "Yes, I trust this folder" (the prompt then reaches the model) and
// reject picks "No, exit" (the agent leaves).
func TestClaudeCodeTrustVersions(t *testing.T) {
	t.Parallel()
	const key = "sk-ant-fake-0123456789abcdefghijklmnop"
	for _, tc := range []struct {
		version, bin string
	}{
		{"pinned", fakemodel.AgentsBin(t, "claude")},
		{"node20", fakemodel.Node20Bin(t, "claude")},
	} {
		for _, answer := range []protocol.Answer{protocol.AnswerAllow, protocol.AnswerReject} {
			t.Run(tc.version+"/"+string(answer), func(t *testing.T) {
				home := newHome(t)
				repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
				fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{{UserContains: "say hi", Text: "Hi."}}})
				defer fm.Close()
				claudeHome := t.TempDir()
				writeJSON(t, filepath.Join(claudeHome, ".claude.json"), map[string]any{
					"hasCompletedOnboarding": true,
					"customApiKeyResponses":  map[string]any{"approved": []string{key[len(key)-20:]}},
				})
				d := startDaemonEnv(t, home, "PATH="+tc.bin+":"+os.Getenv("PATH"), "HOME="+claudeHome,
					"ANTHROPIC_BASE_URL="+fm.URL(), "ANTHROPIC_API_KEY="+key,
					"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_AUTOUPDATER=1")
				c, w := d.watch()
				s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "trust", Agent: "claude", Prompt: "say hi"})
				if err != nil {
					t.Fatal(err)
				}
				got := w.AwaitState(t, s.ID, protocol.StateWaiting)
				if got.Waiting == nil || got.Waiting.Kind != protocol.WaitTrust || !strings.Contains(got.Waiting.Question, s.Worktree) {
					t.Fatalf("waiting: %+v, want trust naming %s", got.Waiting, s.Worktree)
				}
				if _, err := c.Answer(t.Context(), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: s.ID}, Answer: answer}); err != nil {
					t.Fatalf("answer: %v", err)
				}
				if answer == protocol.AnswerReject {
					w.AwaitState(t, s.ID, protocol.StateExited)
					for _, r := range fm.Requests() {
						if strings.Contains(r.LastUserText(), "say hi") {
							t.Error("the prompt reached the model though trust was refused")
						}
					}
					return
				}
				ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
				defer cancel()
				if _, err := fm.Wait(ctx, func(r *fakemodel.Request) bool { return strings.Contains(r.LastUserText(), "say hi") }); err != nil {
					t.Fatalf("the prompt never reached the model after trust: %v", err)
				}
				w.AwaitState(t, s.ID, protocol.StateIdle)
			})
		}
	}
}
