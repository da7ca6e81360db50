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
	"github.com/studiod/studiod/workspace"
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

// BenchmarkSpawnDeps times a spawn whose worktree needs a dependency
// directory the main checkout has and git ignores: a generated
// node_modules of STUDIOD_BENCH_DEPS files (default 50000), named in
// .worktreeinclude, with a ready pool tree. It reports the CLI's wall time
// until the agent runs (the files copied by then: the session can run its
// tests), the disk the session's copy takes, and as floors `cp -a` of the
// directory and `git worktree add` of the repository, in the same run.
func BenchmarkSpawnDeps(b *testing.B) {
	files := envInt("STUDIOD_BENCH_FILES", 10000)
	deps := envInt("STUDIOD_BENCH_DEPS", 50000)
	repo := poolRepo(b, files, map[string]string{
		".gitignore":       "node_modules/\n",
		".worktreeinclude": "node_modules/\n",
		".studio.toml":     "[pool]\nsize = 1\n",
	})
	batch := map[string]string{}
	for i := range deps {
		batch[fmt.Sprintf("node_modules/pkg%03d/lib/f%05d.js", i%500, i)] = fmt.Sprintf("module.exports = %d\n", i)
		if len(batch) == 5000 {
			gittest.Write(b, repo, batch)
			clear(batch)
		}
	}
	gittest.Write(b, repo, batch)
	c, home := benchDaemonHome(b, nil)
	if _, err := c.Trust(b.Context(), protocol.TrustParams{Repo: repo}); err != nil {
		b.Fatal(err)
	}
	scratch := b.TempDir()
	var cli, cp, gitAdd []time.Duration
	var disk int64
	n := 0
	for b.Loop() {
		n++
		t0 := time.Now()
		if out, err := exec.Command("cp", "-a", filepath.Join(repo, "node_modules"), filepath.Join(scratch, fmt.Sprint("cp", n))).CombinedOutput(); err != nil {
			b.Fatalf("cp: %v: %s", err, out)
		}
		cp = append(cp, time.Since(t0))
		gitAdd = append(gitAdd, timeGit(b, repo, "worktree", "add", "-q", "-b", fmt.Sprintf("plain/%d", n), filepath.Join(scratch, fmt.Sprint("wt", n)), "main"))
		awaitPool(b, c, repo, 1)
		cmd := exec.Command("studiod", "spawn", "--name", fmt.Sprintf("deps%d", n), "--", "sleep", "100")
		cmd.Dir = repo
		cmd.Env = append(append(os.Environ(), "STUDIOD_HOME="+home), gittest.Env...)
		t0 = time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("studiod spawn: %v: %s", err, out)
		}
		cli = append(cli, time.Since(t0))
		s, err := c.Session(b.Context(), protocol.SessionRef{Session: fmt.Sprintf("deps%d", n), Repo: repo})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(s.Worktree, fmt.Sprintf("node_modules/pkg%03d/lib/f%05d.js", (deps-1)%500, deps-1))); err != nil {
			b.Fatalf("the session has no node_modules: %v", err)
		}
		if disk, err = workspace.DiskUsage(b.Context(), filepath.Join(s.Worktree, "node_modules")); err != nil {
			b.Fatal(err)
		}
	}
	s, f, g := ms(median(cli)), ms(median(cp)), ms(median(gitAdd))
	b.ReportMetric(s, "spawn-ms")
	b.ReportMetric(f, "floor-cp-ms")
	b.ReportMetric(g, "git-add-ms")
	b.ReportMetric(float64(disk)/(1<<20), "disk-MiB")
	b.ReportMetric(s/f, "spawn/cp")
	b.ReportMetric(s/g, "spawn/git")
	b.Logf("%d files and %d in node_modules: studiod spawn until the agent runs %.0f ms, node_modules taking %.1f MiB; cp -a of node_modules %.0f ms, git worktree add %.0f ms (ratios %.2f, %.2f)",
		files, deps, s, float64(disk)/(1<<20), f, g, s/f, s/g)
}
