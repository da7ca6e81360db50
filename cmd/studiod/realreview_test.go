package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/fakemodel"
	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// TestClaudeCodeReviewer: the real Claude Code, against the scripted model,
// reviews another session through review-by: its comment, made with
// studiod's MCP add_review_comment tool from inside the reviewer, lands on
// the reviewed session with the reviewer as author, and is forwarded to
// the reviewed agent when the reviewer's turn ends.
func TestClaudeCodeReviewer(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "claude")
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	const tool = "mcp__studiod__add_review_comment"
	fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
		{Match: func(r *fakemodel.Request) bool {
			return strings.Contains(strings.Join(r.UserTexts(), "\n"), "You review the work of session api") && len(r.LastToolResults()) == 0
		}, Text: "One finding.",
			Tool: fakemodel.Call(tool, map[string]any{"session": "api", "path": "api.txt", "start_line": 1, "body": "handle the empty case"})},
		{AfterToolResult: true, Text: "Reviewed: one comment."},
	}})
	defer fm.Close()

	const key = "sk-ant-fake-0123456789abcdefghijklmnop"
	mcpConfig := filepath.Join(t.TempDir(), "mcp.json")
	writeJSON(t, mcpConfig, map[string]any{"mcpServers": map[string]any{
		"studiod": map[string]any{"type": "stdio", "command": "studiod", "args": []string{"mcp"}},
	}})
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := `[agents.claude]
command = ["claude", "--permission-mode", "manual", "--strict-mcp-config", "--mcp-config", "` + mcpConfig + `", "--allowedTools", "` + tool + `", "--", "{prompt}"]
`
	if err := os.WriteFile(filepath.Join(home, "config", "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemonEnv(t, home,
		"PATH="+bin+":"+os.Getenv("PATH"), "HOME="+claudeHome(t, key, repo),
		"ANTHROPIC_BASE_URL="+fm.URL(), "ANTHROPIC_API_KEY="+key,
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_AUTOUPDATER=1",
		// MCP tools offered up front, not behind a tool search.
		"ENABLE_TOOL_SEARCH=false")
	c, w := d.watch()
	api, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "api",
		Command: []string{"sh", "-c", "echo one > api.txt && git add api.txt && git commit -qm api && exec fakeagent -echo"}})
	if err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, api.ID, protocol.StateIdle)

	rv, err := c.ReviewBy(t.Context(), protocol.ReviewByParams{SessionRef: protocol.SessionRef{Session: api.ID}, Agent: "claude", Forward: true})
	if err != nil {
		t.Fatal(err)
	}
	w.Follow(t, c, protocol.OutputSubscription{Session: api.ID})
	deadline := time.Now().Add(120 * time.Second)
	for {
		cs, err := c.Comments(t.Context(), protocol.SessionRef{Session: api.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs.Comments) == 1 {
			cm := cs.Comments[0]
			if cm.By != rv.Name || cm.Path != "api.txt" || cm.Body != "handle the empty case" {
				t.Fatalf("comment %s, want one on api.txt by %s", jsonString(cm), rv.Name)
			}
			break
		}
		if time.Now().After(deadline) {
			s, _ := w.Session(rv.ID)
			out, _ := c.Output(t.Context(), protocol.OutputParams{SessionRef: protocol.SessionRef{Session: rv.ID}})
			var seen []string
			for _, r := range fm.Requests() {
				seen = append(seen, fmt.Sprintf("turn %d, tools %v, last user %.80q, results %v", r.Turn, r.Tools, r.LastUserText(), r.LastToolResults()))
			}
			t.Fatalf("no comment from the reviewer (%s %s); the model saw:\n%s\nits output:\n%q", s.State, s.Detail, strings.Join(seen, "\n"), out.Data)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.Await(t, "the review forwarded to api's agent", func() bool {
		out, _ := w.Output(api.ID)
		return strings.Contains(string(out), "got: Review feedback on your changes: (1) api.txt:1: handle the empty case")
	})
	s, err := c.Session(t.Context(), protocol.SessionRef{Session: api.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.ReviewedBy) != 1 || !s.ReviewedBy[0].Done || s.ReviewedBy[0].Comments != 1 {
		t.Errorf("reviewedBy %s, want %s done with 1 comment", jsonString(s.ReviewedBy), rv.Name)
	}
}
