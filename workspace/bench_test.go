package workspace

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
)

// BenchmarkConflictLatency measures the time from a file write in one
// worktree to the delta callback, with 10 live worktrees (or
// STUDIOD_BENCH_SESSIONS: only the pairs of the changed worktree are
// predicted again, so the latency should not grow with them) on a generated
// repository, next to the floor measured in the same run: the plain git
// commands for one snapshot plus the merge-tree of the pair that collides.
// Run it as
//
//	go test -run XXX -bench ConflictLatency -benchtime 1x ./workspace/
//
// STUDIOD_BENCH_FILES sets the repository size (default 10000; 100000 is
// slow on small machines), STUDIOD_BENCH_WRITES the number of writes
// (default 200).
func BenchmarkConflictLatency(b *testing.B) {
	nfiles := envInt("STUDIOD_BENCH_FILES", 10000)
	writes := max(envInt("STUDIOD_BENCH_WRITES", 200), b.N)
	sessions := envInt("STUDIOD_BENCH_SESSIONS", 10)
	gittest.Setenv(b)

	root := filepath.Join(b.TempDir(), "repo")
	gittest.Git(b, "", "init", "-q", "-b", "main", root)
	var batch = map[string]string{}
	for i := range nfiles {
		batch[fmt.Sprintf("pkg%03d/file%05d.go", i%(nfiles/100), i)] = fmt.Sprintf("package p\n\n// file %d\nvar x%d = %d\n", i, i, i)
		if len(batch) == 2000 {
			gittest.Write(b, root, batch)
			clear(batch)
		}
	}
	batch["hot.txt"] = gittest.Lines(100)
	gittest.Write(b, root, batch)
	gittest.Commit(b, root, "initial")
	wts := make([]string, sessions)
	for i := range wts {
		wts[i] = filepath.Join(b.TempDir(), fmt.Sprintf("s%d", i))
		gittest.Git(b, root, "worktree", "add", "-q", "-b", fmt.Sprintf("studio/s%d", i), wts[i], "main")
	}
	repo, err := Open(b.Context(), &Git{}, root)
	if err != nil {
		b.Fatal(err)
	}
	w, err := NewWatcher(repo.Git, WatcherOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	deltas := make(chan Delta, 100)
	tr, err := NewTracker(b.Context(), repo, TrackerOptions{Watcher: w, OnDelta: func(d Delta) { deltas <- d }})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	ix := b.TempDir()
	for i, dir := range wts {
		if err := tr.Add(b.Context(), fmt.Sprintf("s%d", i), fmt.Sprintf("s%d", i), dir, filepath.Join(ix, fmt.Sprint(i)), "main"); err != nil {
			b.Fatal(err)
		}
	}
	// s1 holds a change that s0's writes collide with; the others work
	// elsewhere.
	gittest.Write(b, wts[1], map[string]string{"hot.txt": edit(100, map[int]string{50: "s1"})})
	for i := 2; i < sessions; i++ {
		gittest.Write(b, wts[i], map[string]string{fmt.Sprintf("pkg%03d/file%05d.go", i, i): "package p\n// edited\n"})
	}
	hot := func(d Delta) bool {
		for _, c := range slices.Concat(d.Added, d.Updated) {
			if c.Path == "hot.txt" && c.A.Name == "s0" && c.B.Name == "s1" {
				return true
			}
		}
		return false
	}
	settle := func() {
		deadline := time.Now().Add(5 * time.Minute)
		for !tr.Idle() {
			if time.Now().After(deadline) {
				b.Fatal("tracker never settled")
			}
			time.Sleep(5 * time.Millisecond)
		}
		for len(deltas) > 0 {
			<-deltas
		}
	}
	settle()

	hotFile := filepath.Join(wts[0], "hot.txt")
	content := func(i int) []byte {
		// Alternate between one and two changed lines, so every write
		// changes s0's range and yields an update.
		repl := map[int]string{50: fmt.Sprintf("s0 write %d", i)}
		if i%2 == 1 {
			repl[51] = "and one more"
		}
		return []byte(edit(100, repl))
	}
	b.ResetTimer()
	lat := make([]time.Duration, 0, writes)
	for i := range writes {
		start := time.Now()
		if err := os.WriteFile(hotFile, content(i), 0o644); err != nil {
			b.Fatal(err)
		}
		timeout := time.After(time.Minute)
	wait:
		for {
			select {
			case d := <-deltas:
				if hot(d) {
					break wait
				}
			case <-timeout:
				b.Fatalf("write %d: no delta", i)
			}
		}
		lat = append(lat, time.Since(start))
		settle()
	}
	b.StopTimer()
	stats := tr.Predictor().Stats()

	// The floor: the same snapshot as plain git commands on a private
	// index, plus one merge-tree of the colliding pair.
	floorIx := filepath.Join(ix, "floor")
	gitc := func(env []string, stdin string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = wts[0]
		cmd.Env = append(os.Environ(), env...)
		if stdin != "" {
			cmd.Stdin = strings.NewReader(stdin)
		}
		out, err := cmd.Output()
		if err != nil && !strings.Contains(strings.Join(args, " "), "merge-tree") {
			b.Fatalf("git %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	ixEnv := []string{"GIT_INDEX_FILE=" + floorIx}
	gitc(ixEnv, "", "read-tree", "HEAD")
	gitc(ixEnv, "", "add", "-A", "--", ".")
	tr.mu.Lock()
	s1 := tr.trees["s1"].snap.Commit // s1's snapshot, as the tracker merges it
	tr.mu.Unlock()
	floor := make([]time.Duration, 0, writes)
	for i := range writes {
		if err := os.WriteFile(hotFile, content(i+1), 0o644); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		head := gitc(nil, "", "rev-parse", "--verify", "HEAD^{commit}")
		gitc(ixEnv, "hot.txt", "add", "-A", "--ignore-errors", "--pathspec-from-file=-", "--")
		tree := gitc(ixEnv, "", "write-tree")
		commit := gitc(snapshotIdentity, "", "commit-tree", tree, "-p", head, "-m", "floor")
		gitc(nil, "", "merge-tree", "--write-tree", commit, s1)
		floor = append(floor, time.Since(start))
	}
	p50, p99 := percentile(lat, 50), percentile(lat, 99)
	f50 := percentile(floor, 50)
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(f50.Microseconds())/1000, "floor-p50-ms")
	b.ReportMetric(float64(p50)/float64(f50), "p50/floor")
	// The watcher's quiet window is part of the latency the floor has not.
	debounce := w.opts.Debounce
	b.ReportMetric(float64(p50-debounce)/float64(f50), "(p50-debounce)/floor")
	b.Logf("%d files, %d worktrees, %d writes: latency p50 %v p99 %v; floor p50 %v p99 %v; ratio p50 %.2f (%.2f without the %v quiet window); predictor %+v; watches %d",
		nfiles, sessions, writes, p50, p99, f50, percentile(floor, 99), float64(p50)/float64(f50), float64(p50-debounce)/float64(f50), debounce, stats, w.Status().Watches)
}

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
