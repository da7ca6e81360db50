package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// BenchmarkManySessions is the scale scenario as a person lives it:
// STUDIOD_BENCH_SESSIONS live sessions (default 50) on one repository of
// STUDIOD_BENCH_FILES files (default 10000), with inotify watches for only
// the first 18 worktrees, as the kernel's default limit leaves them for a
// 100,000-file repository of 10,000 directories (STUDIOD_BENCH_WATCHED
// changes that number; 0 leaves the machine's own limit). Two of the
// unwatched sessions change the same file; it measures, at a subscriber of
// conflicts:
//   - a write an agent's tool reports (its PostToolUse hook, run as Claude
//     Code runs it) to the conflict notice (goal p50 ≤ 100 ms);
//   - a file replaced by a shell command nothing reports (`sed -i`: a new
//     file renamed over the old) and a file rewritten in place (goal: every
//     change within 2 s);
//
// and the daemon's CPU while nothing changes (goal ≤ 2 % of one core) and
// its resident memory (goal ≤ 200 MB), against one plain `git status` of
// the repository measured in the same run.
func BenchmarkManySessions(b *testing.B) {
	files := envInt("STUDIOD_BENCH_FILES", 10000)
	n := max(envInt("STUDIOD_BENCH_SESSIONS", 50), 3)
	watched := 18
	if v, ok := os.LookupEnv("STUDIOD_BENCH_WATCHED"); ok {
		fmt.Sscan(v, &watched)
	}
	writes := envInt("STUDIOD_BENCH_WRITES", 40)
	repo := genRepo(b, files)
	gittest.Write(b, repo, map[string]string{"hot.txt": gittest.Lines(40)})
	gittest.Commit(b, repo, "hot file")

	// A worktree of genRepo has 1,000 directories (and .git); the pool's
	// ready tree is watched too.
	var env []string
	if watched > 0 {
		env = append(env, fmt.Sprintf("STUDIOD_MAX_WATCHES=%d", watched*1002))
	}
	deltas := make(chan time.Time, 4096)
	c, _ := benchDaemonHome(b, func(method string, params json.RawMessage) {
		if method == protocol.NotifyConflictsChanged {
			deltas <- time.Now()
		}
	}, env...)
	if _, err := c.Subscribe(b.Context(), protocol.SubscribeParams{Conflicts: true}); err != nil {
		b.Fatal(err)
	}
	var ss []protocol.Session
	for i := range n {
		s, err := c.Spawn(b.Context(), protocol.SpawnParams{Repo: repo, Name: fmt.Sprintf("s%02d", i), Command: []string{"fakeagent", "-hang"}})
		if err != nil {
			b.Fatalf("spawn %d: %v", i, err)
		}
		ss = append(ss, *s)
	}
	if _, err := c.Pool(b.Context(), protocol.PoolParams{Repo: repo, Wait: true}); err != nil {
		b.Fatal(err)
	}
	drain := func(quiet time.Duration) {
		for {
			select {
			case <-deltas:
			case <-time.After(quiet):
				return
			}
		}
	}
	st, err := c.Status(b.Context(), protocol.Empty{})
	if err != nil {
		b.Fatal(err)
	}
	// The last two sessions are among the unwatched ones when any are.
	one, other := ss[n-2], ss[n-1]
	lines := func(at int, tag string) string {
		l := strings.SplitAfter(gittest.Lines(40), "\n")
		for j := at; j < at+3; j++ {
			l[j] = fmt.Sprintf("%s %d\n", tag, j)
		}
		return strings.Join(l, "")
	}
	hot := func(s protocol.Session) string { return filepath.Join(s.Worktree, "hot.txt") }
	inPlace := func(s protocol.Session, text string) {
		f, err := os.OpenFile(hot(s), os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.WriteString(text); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	replace := func(s protocol.Session, text string) {
		tmp := filepath.Join(s.Worktree, ".sedXXXX")
		if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(tmp, hot(s)); err != nil {
			b.Fatal(err)
		}
	}
	inPlace(one, lines(10, "one"))
	claudeHook(b, one, sessionEnv(b, one), "PostToolUse", "Edit", "e0", map[string]any{"file_path": hot(one), "old_string": "x", "new_string": "y"})
	drain(3 * time.Second)

	await := func(what string, t0 time.Time) time.Duration {
		select {
		case t := <-deltas:
			return t.Sub(t0)
		case <-time.After(60 * time.Second):
			b.Fatalf("%s: no conflict notice in 60 s", what)
		}
		return 0
	}
	// Each change flips the other session between colliding with one
	// (lines 10-12) and not (lines 30-32), so each is a notice.
	at := func(i int) int {
		if i%2 == 0 {
			return 10
		}
		return 30
	}
	otherEnv := sessionEnv(b, other)
	var reported, replaced, rewritten []time.Duration
	b.ResetTimer()
	for i := range writes {
		t0 := time.Now()
		inPlace(other, lines(at(i), fmt.Sprintf("r%d", i)))
		claudeHook(b, other, otherEnv, "PostToolUse", "Edit", fmt.Sprintf("e%d", i+1), map[string]any{"file_path": hot(other), "old_string": "x", "new_string": "y"})
		reported = append(reported, await("reported write", t0))
		drain(20 * time.Millisecond)
	}
	for i := range 10 {
		t0 := time.Now()
		replace(other, lines(at(i), fmt.Sprintf("sed%d", i)))
		replaced = append(replaced, await("replaced file", t0))
		drain(20 * time.Millisecond)
	}
	for i := range 6 {
		t0 := time.Now()
		inPlace(other, lines(at(i), fmt.Sprintf("w%d", i)))
		rewritten = append(rewritten, await("file rewritten in place", t0))
		drain(20 * time.Millisecond)
	}
	b.StopTimer()

	drain(2 * time.Second)
	cpu0 := procCPU(st.PID)
	time.Sleep(10 * time.Second)
	idleCPU := float64(procCPU(st.PID)-cpu0) / 10 / 100 // clock ticks (100/s) → fraction of a core
	rss := procRSS(st.PID)
	if st, err = c.Status(b.Context(), protocol.Empty{}); err != nil {
		b.Fatal(err)
	}
	degraded := len(st.Watch.Degraded)

	cmd := exec.Command("git", "status", "--porcelain")
	cmd.Dir = repo
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatal(err)
	}
	status := time.Since(t0)

	b.ReportMetric(float64(n), "sessions")
	b.ReportMetric(float64(degraded), "unwatched")
	b.ReportMetric(ms(pct(reported, 50)), "reported-p50-ms")
	b.ReportMetric(ms(pct(reported, 99)), "reported-p99-ms")
	b.ReportMetric(ms(pct(replaced, 50)), "replaced-p50-ms")
	b.ReportMetric(ms(pct(replaced, 100)), "replaced-max-ms")
	b.ReportMetric(ms(pct(rewritten, 100)), "in-place-max-ms")
	b.ReportMetric(idleCPU*100, "idle-cpu-%")
	b.ReportMetric(float64(rss)/1024, "rss-MiB")
	b.ReportMetric(ms(status), "git-status-ms")
	b.ReportMetric(ms(pct(reported, 50))/ms(status), "reported-p50/git-status")
	b.Logf("%d files, %d sessions (%d unwatched): reported write p50 %.1f ms p99 %.1f ms; replaced p50 %.0f ms max %.0f ms; in place max %.0f ms; idle CPU %.2f%%; RSS %d MiB; git status %.0f ms",
		files, n, degraded, ms(pct(reported, 50)), ms(pct(reported, 99)), ms(pct(replaced, 50)), ms(pct(replaced, 100)), ms(pct(rewritten, 100)), idleCPU*100, rss/1024, ms(status))
}
