package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// genRepo makes a repository of n small files in nested directories.
func genRepo(b *testing.B, n int) string {
	b.Helper()
	files := make(map[string]string, n)
	for i := 0; i < n; i++ {
		files[fmt.Sprintf("d%02d/e%02d/f%05d.txt", i%50, (i/50)%20, i)] = fmt.Sprintf("file %d\n%s", i, gittest.Lines(5))
	}
	return gittest.NewRepo(b, files)
}

// BenchmarkSpawn compares a spawn over the socket (worktree ready, agent
// started) with plain `git worktree add -b` on the same repo, same run.
func BenchmarkSpawn(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			repo := genRepo(b, n)
			home, err := os.MkdirTemp("", "sd")
			if err != nil {
				b.Fatal(err)
			}
			defer os.RemoveAll(home)
			defer cleanupHome(home)
			d := startDaemonB(b, home)
			c, err := protocol.Dial(b.Context(), d, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			wtDir := b.TempDir()
			var gitTotal, spawnTotal time.Duration
			for i := 0; b.Loop(); i++ {
				path := filepath.Join(wtDir, fmt.Sprint(i))
				t0 := time.Now()
				if out, err := exec.Command("git", "-C", repo, "worktree", "add", "-q", "-b", fmt.Sprintf("plain/%d", i), path, "main").CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, out)
				}
				gitTotal += time.Since(t0)

				t0 = time.Now()
				s, err := c.Spawn(b.Context(), protocol.SpawnParams{Repo: repo, Name: fmt.Sprintf("b%d", i), Command: []string{"fakeagent", "-hang"}})
				if err != nil {
					b.Fatal(err)
				}
				spawnTotal += time.Since(t0)

				b.StopTimer()
				exec.Command("git", "-C", repo, "worktree", "remove", "--force", path).Run()
				c.Remove(b.Context(), protocol.RemoveParams{SessionRef: protocol.SessionRef{Session: s.ID}, Force: true})
				b.StartTimer()
			}
			b.ReportMetric(float64(gitTotal.Microseconds())/float64(b.N)/1000, "git-ms/op")
			b.ReportMetric(float64(spawnTotal.Microseconds())/float64(b.N)/1000, "spawn-ms/op")
			b.ReportMetric(float64(spawnTotal)/float64(gitTotal), "spawn/git")
		})
	}
}

// BenchmarkSessionsRoundTrip measures one studio/sessions request over the
// socket, next to a plain `git rev-parse` process for scale.
func BenchmarkSessionsRoundTrip(b *testing.B) {
	home, err := os.MkdirTemp("", "sd")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(home)
	defer cleanupHome(home)
	sock := startDaemonB(b, home)
	c, err := protocol.Dial(b.Context(), sock, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	repo := gittest.NewRepo(b, nil)
	for i := 0; i < 10; i++ {
		if _, err := c.Spawn(b.Context(), protocol.SpawnParams{Repo: repo, Name: fmt.Sprintf("s%d", i), Command: []string{"fakeagent", "-hang"}}); err != nil {
			b.Fatal(err)
		}
	}
	t0 := time.Now()
	for i := 0; i < 20; i++ {
		exec.Command("git", "-C", repo, "rev-parse", "HEAD").Run()
	}
	gitOne := time.Since(t0) / 20
	var total time.Duration
	for b.Loop() {
		t := time.Now()
		if _, err := c.Sessions(b.Context(), protocol.SessionsParams{}); err != nil {
			b.Fatal(err)
		}
		total += time.Since(t)
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/roundtrip")
	b.ReportMetric(float64(gitOne.Microseconds()), "µs/git-process")
}

func startDaemonB(b *testing.B, home string) string {
	b.Helper()
	cmd := exec.Command("studiod", "serve")
	cmd.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	cmd.Env = append(cmd.Env, gittest.Env...)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go cmd.Wait()
	sock := filepath.Join(home, "run", "studiod.sock")
	for i := 0; i < 1000; i++ {
		if c, err := protocol.Dial(b.Context(), sock, nil); err == nil {
			c.Close()
			return sock
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatal("daemon did not start")
	return ""
}
