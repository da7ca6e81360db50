package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// BenchmarkSpawnCLI times what a person waits for: `studiod spawn --name x
// -- sleep 100` from start to exit (its reply printed, the agent running),
// with a ready pool tree, against `git worktree add -b` of the same
// repository in the same run. It also reports the daemon's reply to the
// spawn request alone, the CLI's start and connection taken out.
// STUDIOD_BENCH_FILES sets the size (default 10000), STUDIOD_BENCH_ROUNDS
// the spawns (default 5). Run it as
//
//	go test -run XXX -bench SpawnCLI -benchtime 1x ./cmd/studiod/
func BenchmarkSpawnCLI(b *testing.B) {
	files := envInt("STUDIOD_BENCH_FILES", 10000)
	rounds := envInt("STUDIOD_BENCH_ROUNDS", 5)
	repo := poolRepo(b, files, map[string]string{".studio.toml": "[pool]\nsize = 2\n"})
	c, home := benchDaemonHome(b, nil)
	wtDir := b.TempDir()
	var gitAdd, cli, exit, rpc []time.Duration
	var reply time.Duration
	n := 0
	for b.Loop() {
		for i := 0; i < rounds; i++ {
			n++
			awaitPool(b, c, repo, 2)
			gitAdd = append(gitAdd, timeGit(b, repo, "worktree", "add", "-q", "-b", fmt.Sprintf("plain/%d", n), filepath.Join(wtDir, fmt.Sprint(n)), "main"))
			cmd := exec.Command("studiod", "spawn", "--name", fmt.Sprintf("cli%d", n), "--", "sleep", "100")
			cmd.Dir = repo
			cmd.Env = append(append(os.Environ(), "STUDIOD_HOME="+home), gittest.Env...)
			var errb strings.Builder
			cmd.Stderr = &errb
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			out, err := io.ReadAll(&firstLines{r: stdout, until: "worktree", t0: t0, at: &reply})
			if err != nil {
				b.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				b.Fatalf("studiod spawn: %v: %s%s", err, out, errb.String())
			}
			exit = append(exit, time.Since(t0))
			cli = append(cli, reply)
			if !strings.Contains(string(out), "pool.") {
				b.Fatalf("spawn %d did not take a pool tree: %s", n, out)
			}
			awaitPool(b, c, repo, 2)
			t0 = time.Now()
			if _, err := c.Spawn(b.Context(), protocol.SpawnParams{Repo: repo, Name: fmt.Sprintf("rpc%d", n), Command: []string{"sleep", "100"}}); err != nil {
				b.Fatal(err)
			}
			rpc = append(rpc, time.Since(t0))
		}
	}
	g, s, r := ms(median(gitAdd)), ms(median(cli)), ms(median(rpc))
	b.ReportMetric(g, "git-add-ms")
	b.ReportMetric(s, "spawn-cli-ms")
	b.ReportMetric(r, "spawn-rpc-ms")
	e := ms(median(exit))
	b.ReportMetric(e, "spawn-cli-exit-ms")
	b.ReportMetric(s/g, "cli/git")
	b.Logf("%d files: studiod spawn (CLI, ready tree) replies in %.0f ms and exits in %.0f ms (the failure grace), its request alone %.0f ms; git worktree add -b %.0f ms (ratio %.3f)", files, s, e, r, g, s/g)
}

// firstLines reads everything from r and records in at when a line
// containing until has been read, timed from t0.
type firstLines struct {
	r     io.Reader
	until string
	t0    time.Time
	at    *time.Duration
	seen  strings.Builder
	done  bool
}

func (f *firstLines) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if !f.done && n > 0 {
		f.seen.Write(p[:n])
		if s := f.seen.String(); strings.Contains(s, f.until) && strings.Contains(s[strings.Index(s, f.until):], "\n") {
			*f.at, f.done = time.Since(f.t0), true
		}
	}
	return n, err
}
