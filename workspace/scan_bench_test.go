package workspace

import (
	"fmt"
	"os"
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
// rescans, and reports: the time from a write to its path's batch (p50,
// p99) for a file replaced (an editor's save, sed -i), a file rewritten in
// place that nothing reports, and a write an agent reports; the CPU the
// rescans take while nothing changes (the watcher and its git processes,
// in % of one core); and as the floor one plain `git status` in one
// worktree, measured in the same run. STUDIOD_BENCH_FILES
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
	// Three kinds of writes, each to a file not written before: one
	// replacing the file (an editor's save, sed -i), one rewriting it in
	// place that nothing reports (a shell's >), one an agent reports (its
	// hook hands the path over: Watcher.Touch).
	const (
		atomic = iota
		inPlace
		reported
	)
	write := func(i, kind int) time.Duration {
		dir := wts[i%sessions]
		rel := fmt.Sprintf("pkg000/file%05d.go", i/sessions*max(1, nfiles/100)) // an existing file
		ch := make(chan struct{})
		mu.Lock()
		seen[dir+"/"+rel] = ch
		mu.Unlock()
		content := fmt.Sprintf("package p\n// write %d\n", i)
		t0 := time.Now()
		if kind == atomic {
			tmp := filepath.Join(dir, rel+".tmp")
			gittest.Write(b, dir, map[string]string{rel + ".tmp": content})
			if err := os.Rename(tmp, filepath.Join(dir, rel)); err != nil {
				b.Fatal(err)
			}
		} else {
			gittest.Write(b, dir, map[string]string{rel: content})
		}
		if kind == reported {
			w.Touch(dir, []string{rel})
		}
		select {
		case <-ch:
		case <-time.After(5 * time.Minute):
			b.Fatalf("write %d in %s never reported", i, dir)
		}
		return time.Since(t0)
	}
	lat := make([][]time.Duration, 3)
	for b.Loop() {
		for kind := range lat {
			for i := range writes {
				lat[kind] = append(lat[kind], write(kind*writes+i, kind))
			}
		}
	}
	p50 := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Microseconds()) / 1000
	}
	p99 := func(ds []time.Duration) float64 {
		return float64(ds[min(len(ds)-1, len(ds)*99/100)].Microseconds()) / 1000
	}
	slices.Sort(plain)
	floor := float64(plain[len(plain)/2].Microseconds()) / 1000
	b.ReportMetric(p50(lat[atomic]), "replaced-p50-ms")
	b.ReportMetric(p99(lat[atomic]), "replaced-p99-ms")
	b.ReportMetric(p50(lat[inPlace]), "in-place-p50-ms")
	b.ReportMetric(p99(lat[inPlace]), "in-place-p99-ms")
	b.ReportMetric(p50(lat[reported]), "reported-p50-ms")
	b.ReportMetric(idle*100, "idle-cpu-%")
	b.ReportMetric(floor, "git-status-ms")
	b.ReportMetric(p50(lat[atomic])/floor, "replaced-p50/git-status")
	b.Logf("%d files, %d degraded worktrees: write to report p50 (p99): file replaced %.0f (%.0f) ms, rewritten in place %.0f (%.0f) ms, reported by its agent %.0f ms; idle rescans %.2f%% of one core; git status %.0f ms",
		nfiles, sessions, p50(lat[atomic]), p99(lat[atomic]), p50(lat[inPlace]), p99(lat[inPlace]), p50(lat[reported]), idle*100, floor)
}

// cpuNow is the CPU time of this process and its finished children.
func cpuNow() time.Duration {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}
