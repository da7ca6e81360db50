package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// poolRepo makes a repository of n small files in nested directories, with
// extra files (a .studio.toml, say).
func poolRepo(b *testing.B, n int, extra map[string]string) string {
	b.Helper()
	gittest.Setenv(b)
	dir := filepath.Join(b.TempDir(), "repo")
	gittest.Git(b, "", "init", "-q", "-b", "main", dir)
	batch := map[string]string{}
	for i := 0; i < n; i++ {
		batch[fmt.Sprintf("d%02d/e%02d/f%06d.txt", i%50, (i/50)%40, i)] = fmt.Sprintf("file %d\n%s", i, gittest.Lines(5))
		if len(batch) == 5000 {
			gittest.Write(b, dir, batch)
			clear(batch)
		}
	}
	for k, v := range extra {
		batch[k] = v
	}
	gittest.Write(b, dir, batch)
	gittest.Commit(b, dir, "initial")
	real, _ := filepath.EvalSymlinks(dir)
	return real
}

// awaitPool waits until repo's pool has n ready trees at its tip.
func awaitPool(b *testing.B, c *protocol.Client, repo string, n int) {
	b.Helper()
	for {
		res, err := c.Pool(b.Context(), protocol.PoolParams{Repo: repo, Wait: true})
		if err != nil {
			b.Fatal(err)
		}
		ready := 0
		for _, t := range res.Repos[0].Trees {
			if t.State == protocol.PoolReady && t.Commit == res.Repos[0].Tip {
				ready++
			}
		}
		if ready >= n {
			return
		}
		// Wait answered while the refill was still settling after a spawn.
		time.Sleep(100 * time.Millisecond)
	}
}

func timeGit(b *testing.B, dir string, args ...string) time.Duration {
	b.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	t0 := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("git %v: %v: %s", args, err, out)
	}
	return time.Since(t0)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkPoolSpawn compares, on one repository in one run, a spawn over
// the socket that takes a ready tree from the warm pool (branch made,
// agent started) with plain `git worktree add -b`, one at a time and five
// at once. STUDIOD_BENCH_FILES sets the repository size (default 10000),
// STUDIOD_BENCH_ROUNDS the spawns one at a time (default 5). Run it as
//
//	go test -run XXX -bench PoolSpawn -benchtime 1x ./cmd/studiod/
func BenchmarkPoolSpawn(b *testing.B) {
	files := envInt("STUDIOD_BENCH_FILES", 10000)
	rounds := envInt("STUDIOD_BENCH_ROUNDS", 5)
	repo := poolRepo(b, files, map[string]string{".studio.toml": "[pool]\nsize = 5\n"})
	c := benchDaemon(b, nil)
	wtDir := b.TempDir()
	var gitOne, poolOne []time.Duration
	n := 0
	for b.Loop() {
		for i := 0; i < rounds; i++ {
			n++
			// Both measured with the pool full and idle: no refill
			// competes for the disk.
			awaitPool(b, c, repo, 5)
			path := filepath.Join(wtDir, fmt.Sprint(n))
			gitOne = append(gitOne, timeGit(b, repo, "worktree", "add", "-q", "-b", fmt.Sprintf("plain/%d", n), path, "main"))
			t0 := time.Now()
			s, err := c.Spawn(b.Context(), protocol.SpawnParams{Repo: repo, Name: fmt.Sprintf("p%d", n), Command: []string{"fakeagent", "-hang"}})
			if err != nil {
				b.Fatal(err)
			}
			poolOne = append(poolOne, time.Since(t0))
			if !strings.Contains(filepath.Base(s.Worktree), "pool.") {
				b.Fatalf("spawn %d did not take a pool tree: %s", n, s.Worktree)
			}
		}
		// Five at once, against five `git worktree add -b` at once.
		awaitPool(b, c, repo, 5)
		var wg sync.WaitGroup
		t0 := time.Now()
		for i := 0; i < 5; i++ {
			n++
			path, branch := filepath.Join(wtDir, fmt.Sprint(n)), fmt.Sprintf("plain/%d", n)
			wg.Go(func() { timeGit(b, repo, "worktree", "add", "-q", "-b", branch, path, "main") })
		}
		wg.Wait()
		git5 := time.Since(t0)
		t0 = time.Now()
		for i := 0; i < 5; i++ {
			n++
			name := fmt.Sprintf("p%d", n)
			wg.Go(func() {
				if _, err := c.Spawn(b.Context(), protocol.SpawnParams{Repo: repo, Name: name, Command: []string{"fakeagent", "-hang"}}); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		pool5 := time.Since(t0)
		b.ReportMetric(ms(median(gitOne)), "git-add-ms")
		b.ReportMetric(ms(median(poolOne)), "pool-spawn-ms")
		b.ReportMetric(ms(median(poolOne))/ms(median(gitOne)), "spawn/git")
		b.ReportMetric(ms(git5), "git-add-x5-ms")
		b.ReportMetric(ms(pool5), "pool-spawn-x5-ms")
		b.ReportMetric(ms(pool5)/ms(git5), "x5-spawn/git")
		b.Logf("%d files: one at a time (median of %d) pool spawn %.0f ms, git worktree add -b %.0f ms (ratio %.3f); five at once: pool %.0f ms, git %.0f ms (ratio %.3f)",
			files, len(poolOne), ms(median(poolOne)), ms(median(gitOne)), ms(median(poolOne))/ms(median(gitOne)), ms(pool5), ms(git5), ms(pool5)/ms(git5))
	}
}

// BenchmarkFsmonitorStatus compares `git status` in a session worktree with
// the daemon's fsmonitor hook (and the untracked cache) and without, after
// a few files changed, in one run. STUDIOD_BENCH_FILES sets the size.
func BenchmarkFsmonitorStatus(b *testing.B) {
	files := envInt("STUDIOD_BENCH_FILES", 10000)
	repo := poolRepo(b, files, nil)
	c := benchDaemon(b, nil)
	s, err := c.Spawn(b.Context(), protocol.SpawnParams{Repo: repo, Name: "st", Command: []string{"fakeagent", "-hang"}})
	if err != nil {
		b.Fatal(err)
	}
	// The hook as installed: the small studiod-fsmonitor next to studiod
	// (here the daemon is the test binary, whose start is far slower).
	hookBin := filepath.Join(b.TempDir(), "studiod-fsmonitor")
	if out, err := exec.Command("go", "build", "-o", hookBin, "github.com/studiod/studiod/cmd/studiod-fsmonitor").CombinedOutput(); err != nil {
		b.Fatalf("build the hook: %v: %s", err, out)
	}
	st, err := c.Status(b.Context(), protocol.Empty{})
	if err != nil {
		b.Fatal(err)
	}
	gittest.Git(b, s.Worktree, "config", "--worktree", "core.fsmonitor", shellQuoted(hookBin)+" --socket "+shellQuoted(st.Socket))
	// The same checkout without the hook, changed the same way: git
	// status there is plain git's.
	plainWT := filepath.Join(b.TempDir(), "plain")
	gittest.Git(b, repo, "worktree", "add", "-q", "--detach", plainWT, "main")
	status := func(dir string) time.Duration { return timeGit(b, dir, "status", "--porcelain") }
	// Warm both up: the first run with the hook scans everything and
	// records the token and the untracked cache in the index.
	for range 2 {
		status(s.Worktree)
		status(plainWT)
	}
	var with, plain []time.Duration
	for b.Loop() {
		for i := 0; i < 10; i++ {
			change := map[string]string{
				fmt.Sprintf("d%02d/e00/f%06d.txt", i, i): fmt.Sprintf("changed %d\n", i),
				fmt.Sprintf("new%d.txt", i):              "new\n",
			}
			gittest.Write(b, s.Worktree, change)
			gittest.Write(b, plainWT, change)
			with = append(with, status(s.Worktree))
			plain = append(plain, status(plainWT))
		}
	}
	b.ReportMetric(ms(median(plain)), "status-ms")
	b.ReportMetric(ms(median(with)), "status-fsmonitor-ms")
	b.ReportMetric(ms(median(with))/ms(median(plain)), "fsmonitor/plain")
	b.Logf("%d files: git status %.1f ms without fsmonitor, %.1f ms with the daemon's (ratio %.2f)",
		files, ms(median(plain)), ms(median(with)), ms(median(with))/ms(median(plain)))
}

// BenchmarkPoolMemory reports the daemon's memory with 20 live sessions and
// a pool of 3 ready trees, and its CPU while nothing changes.
func BenchmarkPoolMemory(b *testing.B) {
	repo := poolRepo(b, envInt("STUDIOD_BENCH_FILES", 1000), map[string]string{".studio.toml": "[pool]\nsize = 3\n"})
	c := benchDaemon(b, nil)
	for i := 0; i < 20; i++ {
		if _, err := c.Spawn(b.Context(), protocol.SpawnParams{Repo: repo, Name: fmt.Sprintf("m%d", i), Command: []string{"fakeagent", "-hang"}}); err != nil {
			b.Fatal(err)
		}
	}
	awaitPool(b, c, repo, 3)
	st, err := c.Status(b.Context(), protocol.Empty{})
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(2 * time.Second) // let the last snapshots finish
	cpu0 := procCPU(st.PID)
	time.Sleep(10 * time.Second)
	idle := float64(procCPU(st.PID)-cpu0) / 10 / 100
	for b.Loop() {
		c.Sessions(b.Context(), protocol.SessionsParams{})
	}
	st, _ = c.Status(b.Context(), protocol.Empty{})
	b.ReportMetric(float64(procRSS(st.PID))/1024, "rss-MiB")
	b.ReportMetric(idle*100, "idle-cpu-%")
	b.ReportMetric(float64(st.Watch.Watches), "watches")
	b.Logf("20 sessions and a pool of 3: RSS %.1f MiB, idle CPU %.2f%%, %d watches", float64(procRSS(st.PID))/1024, idle*100, st.Watch.Watches)
}

func shellQuoted(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
