package workspace

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
)

// BenchmarkWatchDegraded runs STUDIOD_BENCH_SESSIONS worktrees (default 20)
// of a generated repository with no watches at all, every root degraded to
// rescans, and reports: the time from a write nothing reports to its
// path's batch (p50, p99), the same for a write an agent reports
// (reported-p50), the CPU the rescans take while nothing changes (the
// watcher and its git processes, in % of one core), and as the floor one
// plain `git status` in one worktree, measured in the same run. STUDIOD_BENCH_FILES
// sets the size (default 10000). Run it as
//
//	go test -run XXX -bench WatchDegraded -benchtime 1x ./workspace/
func BenchmarkWatchDegraded(b *testing.B) {
	nfiles := envInt("STUDIOD_BENCH_FILES", 10000)
	sessions := envInt("STUDIOD_BENCH_SESSIONS", 20)
	writes := envInt("STUDIOD_BENCH_WRITES", 40)
	gittest.Setenv(b)
	root := filepath.Join(b.TempDir(), "repo")
	gittest.Git(b, "", "init", "-q", "-b", "main", root)
	batch := map[string]string{}
	for i := range nfiles {
		batch[fmt.Sprintf("pkg%03d/file%05d.go", i%max(1, nfiles/100), i)] = fmt.Sprintf("package p\n\n// file %d\n", i)
		if len(batch) == 2000 {
			gittest.Write(b, root, batch)
			clear(batch)
		}
	}
	gittest.Write(b, root, batch)
	gittest.Commit(b, root, "initial")
	// One watch: the first root's top directory takes it, every root is
	// degraded.
	w, err := NewWatcher(&Git{}, WatcherOptions{MaxWatches: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	var mu sync.Mutex
	seen := map[string]chan struct{}{} // root/path → closed when reported
	wts := make([]string, sessions)
	for i := range wts {
		wts[i] = filepath.Join(b.TempDir(), fmt.Sprint("s", i))
		gittest.Git(b, root, "worktree", "add", "-q", "-b", fmt.Sprint("studio/s", i), wts[i], "main")
		dir := wts[i]
		if _, err := w.Add(b.Context(), WatchRoot{Dir: dir, GitIgnore: true, Notify: func(wb WatchBatch) {
			mu.Lock()
			defer mu.Unlock()
			if wb.Rescan { // every so often a full one: it covers every path
				for k, ch := range seen {
					if strings.HasPrefix(k, dir+"/") {
						close(ch)
						delete(seen, k)
					}
				}
			}
			for _, p := range wb.Paths {
				if ch, ok := seen[dir+"/"+p]; ok {
					close(ch)
					delete(seen, dir+"/"+p)
				}
			}
		}}); err != nil {
			b.Fatal(err)
		}
	}
	plain := make([]time.Duration, 0, 5)
	for range 5 {
		t0 := time.Now()
		cmd := exec.Command("git", "status", "--porcelain")
		cmd.Dir = wts[0]
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git status: %v: %s", err, out)
		}
		plain = append(plain, time.Since(t0))
	}
	time.Sleep(5 * time.Second) // the first (full) rescans
	cpu0 := cpuNow()
	t0 := time.Now()
	time.Sleep(10 * time.Second)
	idle := float64(cpuNow()-cpu0) / float64(time.Since(t0))
	// A write nothing reports (a shell's), then one an agent reports
	// (its hook hands the path over: Watcher.Touch), each to a file not
	// written before.
	var lat, touched []time.Duration
	write := func(i int, touch bool) time.Duration {
		dir := wts[i%sessions]
		rel := fmt.Sprintf("pkg000/file%05d.go", i/sessions*max(1, nfiles/100)) // an existing file, rewritten in place
		ch := make(chan struct{})
		mu.Lock()
		seen[dir+"/"+rel] = ch
		mu.Unlock()
		t0 := time.Now()
		gittest.Write(b, dir, map[string]string{rel: fmt.Sprintf("package p\n// write %d\n", i)})
		if touch {
			w.Touch(dir, []string{rel})
		}
		select {
		case <-ch:
		case <-time.After(5 * time.Minute):
			b.Fatalf("write %d in %s never reported", i, dir)
		}
		return time.Since(t0)
	}
	for b.Loop() {
		for i := range writes {
			lat = append(lat, write(i, false))
		}
		for i := range writes {
			touched = append(touched, write(writes+i, true))
		}
	}
	slices.Sort(touched)
	b.ReportMetric(float64(touched[len(touched)/2].Microseconds())/1000, "reported-p50-ms")
	slices.Sort(lat)
	slices.Sort(plain)
	p50, p99, floor := lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)], plain[len(plain)/2]
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(idle*100, "idle-cpu-%")
	b.ReportMetric(float64(floor.Microseconds())/1000, "git-status-ms")
	b.ReportMetric(float64(p50)/float64(floor), "p50/git-status")
	b.Logf("%d files, %d degraded worktrees: write to report p50 %.0f ms, p99 %.0f ms; idle rescans %.1f%% of one core; git status %.0f ms",
		nfiles, sessions, float64(p50.Microseconds())/1000, float64(p99.Microseconds())/1000, idle*100, float64(floor.Microseconds())/1000)
}

// cpuNow is the CPU time of this process and its finished children.
func cpuNow() time.Duration {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}
