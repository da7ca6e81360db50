package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
	mcpface "github.com/studiod/studiod/server/mcp"
)

// BenchmarkSpawnCLI times what a person waits for: `studiod spawn --name x
// -- sleep 100` from start to exit (its reply printed, the agent running),
// with a ready pool tree, against `git worktree add -b` of the same
// repository in the same run. It also reports the daemon's reply to the
// spawn request alone (the CLI's start and connection taken out) and a
// spawn_session call through `studiod mcp` (an MCP client's wait, the
// server already running). STUDIOD_BENCH_FILES sets the size (default
// 10000), STUDIOD_BENCH_ROUNDS the spawns (default 5). Run it as
//
//	go test -run XXX -bench SpawnCLI -benchtime 1x ./cmd/studiod/
func BenchmarkSpawnCLI(b *testing.B) {
	files := envInt("STUDIOD_BENCH_FILES", 10000)
	rounds := envInt("STUDIOD_BENCH_ROUNDS", 5)
	repo := poolRepo(b, files, map[string]string{".studio.toml": "[pool]\nsize = 2\n"})
	c, home := benchDaemonHome(b, nil)
	// An agent profile for MCP, which never runs a bare command.
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "config", "config.toml"), []byte("[agents.sleeper]\ncommand = [\"sleep\", \"100\"]\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	mcpc := exec.Command("studiod", "mcp")
	mcpc.Dir = repo
	mcpc.Env = append(append(os.Environ(), "STUDIOD_HOME="+home), gittest.Env...)
	ms0, err := sdk.NewClient(&sdk.Implementation{Name: "bench", Version: "1"}, nil).Connect(b.Context(), &sdk.CommandTransport{Command: mcpc}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ms0.Close() })
	wtDir := b.TempDir()
	var gitAdd, cli, rpc, viaMCP []time.Duration
	n := 0
	for b.Loop() {
		for i := 0; i < rounds; i++ {
			n++
			awaitPool(b, c, repo, 2)
			gitAdd = append(gitAdd, timeGit(b, repo, "worktree", "add", "-q", "-b", fmt.Sprintf("plain/%d", n), filepath.Join(wtDir, fmt.Sprint(n)), "main"))
			cmd := exec.Command("studiod", "spawn", "--name", fmt.Sprintf("cli%d", n), "--", "sleep", "100")
			cmd.Dir = repo
			cmd.Env = append(append(os.Environ(), "STUDIOD_HOME="+home), gittest.Env...)
			t0 := time.Now()
			out, err := cmd.CombinedOutput()
			if err != nil {
				b.Fatalf("studiod spawn: %v: %s", err, out)
			}
			cli = append(cli, time.Since(t0))
			if !strings.Contains(string(out), "pool.") || !strings.Contains(string(out), "state     working") {
				b.Fatalf("spawn %d did not take a pool tree or its agent is not running: %s", n, out)
			}
			awaitPool(b, c, repo, 2)
			t0 = time.Now()
			if _, err := c.Spawn(b.Context(), protocol.SpawnParams{Repo: repo, Name: fmt.Sprintf("rpc%d", n), Command: []string{"sleep", "100"}}); err != nil {
				b.Fatal(err)
			}
			rpc = append(rpc, time.Since(t0))
			awaitPool(b, c, repo, 2)
			t0 = time.Now()
			res, err := ms0.CallTool(b.Context(), &sdk.CallToolParams{Name: mcpface.ToolSpawnSession, Arguments: map[string]any{"name": fmt.Sprintf("mcp%d", n), "agent": "sleeper"}})
			if err != nil {
				b.Fatal(err)
			}
			viaMCP = append(viaMCP, time.Since(t0))
			if res.IsError {
				b.Fatalf("spawn_session: %v", res.Content)
			}
		}
	}
	g, s, r, m := ms(median(gitAdd)), ms(median(cli)), ms(median(rpc)), ms(median(viaMCP))
	b.ReportMetric(g, "git-add-ms")
	b.ReportMetric(s, "spawn-cli-ms")
	b.ReportMetric(r, "spawn-rpc-ms")
	b.ReportMetric(m, "spawn-mcp-ms")
	b.ReportMetric(s/g, "cli/git")
	b.ReportMetric(m/g, "mcp/git")
	b.Logf("%d files: studiod spawn (CLI, ready tree, start to exit) %.0f ms, its request alone %.0f ms, through MCP %.0f ms; git worktree add -b %.0f ms (ratios %.3f, %.3f)", files, s, r, m, g, s/g, m/g)
}
