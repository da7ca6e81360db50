package workspace

import (
	"context"
	"iter"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Rescans of degraded roots. A worktree whose directories could not all be
// watched (the inotify limit) is rescanned instead, and a rescan costs what
// changed, not the tree. The first rescan after a root degrades is a full
// one: git status, and a walk that records the directories left without a
// watch. The ones after it run no git process unless the index moved:
//
//   - each unwatched directory is stat'ed, and only one whose stamp moved
//     (an entry created, removed or renamed: a new file, a deletion, an
//     editor's or sed -i's atomic save) is read; of its entries, those new,
//     gone, or changed since the directory last moved are reported;
//   - the paths known to be changed (what git status listed, what was
//     reported since, what agents said they wrote: Watcher.Touch) are
//     stat'ed again, so a file rewritten in place is seen;
//   - the worktree's index file is stat'ed: when it moved (a commit, an
//     add, a checkout), git status lists what differs from HEAD now, and
//     the paths whose status changed are reported;
//   - a rescan is also a sweep as often as the budget allows: every file
//     of the unwatched directories is stat'ed, and those changed since the
//     last sweep are reported. That finds a file of an unchanged directory
//     rewritten in place by something that reports nothing, the one change
//     the rescans between sweeps miss.
//
// The cadence is bounded by cost: with n degraded roots each root waits at
// least n*scanShare times its last quick rescan's cost before the next
// rescan, and as long for its last sweep's cost before the next sweep, so
// each kind takes at most about 1/scanShare of one core and both together
// 2/scanShare; with nothing changing, no git process runs at all.

const scanShare = 100

// rootScan is a degraded root's rescan state. busy, n, dirty, adopt and
// nextSweep are guarded by Watcher.mu; the rest belongs to the scanner goroutine (a root
// is scanned by one rescan at a time: busy).
type rootScan struct {
	busy  bool                 // queued or running
	n     int                  // scans done
	dirty map[string]scanStamp // paths changed since the last full scan, stat'ed at each scan
	adopt []string             // directories (relative) that found no watch since the last walk

	seen      map[string]scanStamp // the paths git status listed last time
	dirs      map[string]*dirState // the unwatched directories (relative; "" the root)
	index     scanStamp            // the worktree's index file
	swept     time.Time            // when the last sweep (or full scan) started
	nextSweep time.Time            // when the next may start
}

// dirState is what an unwatched directory held at the last scan.
type dirState struct {
	stamp scanStamp
	// names are its entries' names, sorted, a directory's ending in "/",
	// packed in one string (NUL-separated): a degraded root of a large
	// repository keeps one for each of its thousands of directories.
	names string
}

// packNames packs sorted names for a dirState.
func packNames(names []string) string { return strings.Join(names, "\x00") }

// eachName yields the names packed in p.
func eachName(p string) iter.Seq[string] {
	return func(yield func(string) bool) {
		if p == "" {
			return
		}
		for n := range strings.SplitSeq(p, "\x00") {
			if !yield(n) {
				return
			}
		}
	}
}

// unpackNames is the names packed in p.
func unpackNames(p string) []string { return slices.Collect(eachName(p)) }

// scanStamp is what a path looked like: its status code and stat data.
type scanStamp struct {
	xy                string
	size, mtime, ctim int64
	ino               uint64
	mode              uint32
}

// unstamped marks a path an event reported: the next rescan stats it
// (the receive loop does no I/O) without reporting it again.
var unstamped = scanStamp{xy: "?"}

// stampOf stats p; the zero stamp when it does not exist.
func stampOf(p string) scanStamp {
	var st scanStamp
	if fi, err := os.Lstat(p); err == nil {
		st.size, st.mtime, st.mode = fi.Size(), fi.ModTime().UnixNano(), uint32(fi.Mode())
		if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
			st.ino, st.ctim = sys.Ino, sys.Ctim.Nano()
		}
	}
	return st
}

// scanner runs the rescans the dispatcher queues, one at a time, on a
// thread of its own so that their CPU time can be read (threadCPU).
func (w *Watcher) scanner() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for {
		select {
		case <-w.scanWake:
		case <-w.ctx.Done():
			return
		}
		for {
			w.mu.Lock()
			if len(w.scanQ) == 0 {
				w.mu.Unlock()
				break
			}
			r := w.scanQ[0]
			w.scanQ = w.scanQ[1:]
			w.mu.Unlock()
			w.rescan(r)
		}
	}
}

// rescan scans one degraded root and queues what changed as its pending
// paths, for the dispatcher to deliver.
func (w *Watcher) rescan(r *watchRoot) {
	w.mu.Lock()
	full := r.scan.n == 0
	sweep := !full && !time.Now().Before(r.scan.nextSweep)
	dirty := make(map[string]scanStamp, len(r.scan.dirty))
	for p, st := range r.scan.dirty {
		dirty[p] = st
	}
	adopt := r.scan.adopt
	r.scan.adopt = nil
	w.mu.Unlock()

	start, cpu0 := time.Now(), threadCPU()
	var changed []string
	var err error
	if full {
		err = w.fullScan(r)
	} else {
		changed, err = w.quickScan(r, dirty, adopt, sweep)
	}
	// The scan's own CPU time: a busy machine does not make it look
	// dearer, and the git processes a change runs are not counted (what
	// changes cost is not what watching costs while nothing does).
	spent := threadCPU() - cpu0
	if full || sweep {
		r.scan.swept = start
	}
	if err != nil && w.ctx.Err() == nil {
		w.log.Warn("rescan", "root", r.Dir, "err", err)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	r.scan.busy = false
	if w.roots[r.Dir] != r {
		return
	}
	if err != nil {
		r.scan.n = 0 // start over with a full one
	} else {
		r.scan.n++
	}
	if r.scan.dirty == nil {
		r.scan.dirty = map[string]scanStamp{}
	}
	if full {
		clear(r.scan.dirty)
		for p, st := range r.scan.seen {
			st.xy = ""
			r.scan.dirty[p] = st
		}
	} else {
		for p, st := range dirty {
			r.scan.dirty[p] = st
		}
	}
	degraded := 0
	for _, o := range w.roots {
		if o.degraded != "" {
			degraded++
		}
	}
	now := time.Now()
	wait := max(w.opts.Rescan, spent*time.Duration(degraded*scanShare))
	if full || sweep {
		r.scan.nextSweep = now.Add(wait)
		r.nextRescan = now.Add(w.opts.Rescan)
	} else {
		r.nextRescan = now.Add(wait)
		if !r.scan.nextSweep.After(now) {
			r.nextRescan = now // a sweep is due, or was asked for meanwhile
		}
	}
	wake(w.dispWake)
	if err != nil || full {
		r.rescan = true
	}
	if !r.rescan && len(changed) == 0 {
		return
	}
	for _, p := range changed {
		r.pending[p] = true
		w.logChange(r, p, false)
	}
	if r.first.IsZero() {
		r.first = now
	}
	r.last = now
}

// fullScan lists what git status reports and walks the tree for the
// directories without a watch.
func (w *Watcher) fullScan(r *watchRoot) error {
	r.scan.index = stampOf(w.indexFile(r))
	seen, err := w.statusStamps(w.ctx, r.Dir)
	r.scan.seen = seen
	if err != nil {
		return err
	}
	ignored, err := w.ignoredDirs(w.ctx, r.Dir)
	if err != nil {
		return err
	}
	r.scan.dirs = map[string]*dirState{}
	w.walkScan(r, "", ignored, nil)
	return nil
}

// sweepSlack covers the file system's coarse clock: a file changed just
// after a sweep started may carry a time just before it.
const sweepSlack = 50 * time.Millisecond

// quickScan reports what changed since the last scan: see the top of this
// file. dirty holds the paths to stat again; it is updated with the
// stamps of the paths reported.
func (w *Watcher) quickScan(r *watchRoot, dirty map[string]scanStamp, adopt []string, sweep bool) (_ []string, err error) {
	report := map[string]bool{}
	add := func(p string) { report[p] = true }
	if r.scan.dirs == nil {
		r.scan.dirs = map[string]*dirState{}
	}
	if idx := stampOf(w.indexFile(r)); idx != r.scan.index {
		r.scan.index = idx
		var seen map[string]scanStamp
		if seen, err = w.statusStamps(w.ctx, r.Dir); err == nil {
			for p, st := range seen {
				if old, ok := r.scan.seen[p]; !ok || old != st {
					add(p)
				}
			}
			// What left the list: of what it held, and of what was
			// reported since (events of watched directories included).
			for p := range r.scan.seen {
				if _, ok := seen[p]; !ok {
					add(p)
				}
			}
			for p := range dirty {
				if _, ok := seen[p]; !ok {
					add(p)
				}
			}
		}
		r.scan.seen = seen
	}
	for _, d := range adopt {
		if _, ok := r.scan.dirs[d]; !ok {
			w.walkScan(r, d, nil, nil)
		}
	}
	since := r.scan.swept.Add(-sweepSlack).UnixNano()
	for d, ds := range r.scan.dirs {
		st := stampOf(w.abs(r, d))
		if st == ds.stamp && !sweep {
			continue
		}
		if !os.FileMode(st.mode).IsDir() {
			// Gone (or no longer a directory): so are its entries.
			for n := range eachName(ds.names) {
				add(path.Join(d, strings.TrimSuffix(n, "/")))
			}
			delete(r.scan.dirs, d)
			continue
		}
		if st == ds.stamp {
			// A sweep of a directory that did not move: its files
			// changed since the last sweep.
			for n := range eachName(ds.names) {
				if strings.HasSuffix(n, "/") {
					continue
				}
				rel := path.Join(d, n)
				if fs := stampOf(w.abs(r, rel)); fs.ctim >= since {
					add(rel)
				}
			}
			continue
		}
		names, ok := readNames(w.abs(r, d))
		if !ok {
			continue
		}
		old := unpackNames(ds.names)
		// Files changed since the directory last moved, or, in a sweep,
		// since the last sweep.
		cut := ds.stamp.mtime
		if sweep {
			cut = min(cut, since)
		}
		for _, n := range names {
			rel := path.Join(d, strings.TrimSuffix(n, "/"))
			switch {
			case !hasName(old, n):
				// New: a file is reported; a directory is walked,
				// unless git ignores it.
				if !strings.HasSuffix(n, "/") {
					add(rel)
				} else if !r.skipped(rel) && !w.ignoredDir(r, rel) {
					w.walkScan(r, rel, nil, add)
				}
			case !strings.HasSuffix(n, "/"):
				if fs := stampOf(w.abs(r, rel)); fs.ctim >= cut {
					add(rel)
				}
			}
		}
		for _, n := range old {
			if !hasName(names, n) {
				add(path.Join(d, strings.TrimSuffix(n, "/")))
			}
		}
		ds.stamp, ds.names = st, packNames(names)
	}
	for p, old := range dirty {
		st := stampOf(w.abs(r, p))
		if st != old && old != unstamped {
			add(p)
		}
		dirty[p] = st
	}
	changed := make([]string, 0, len(report))
	for p := range report {
		dirty[p] = stampOf(w.abs(r, p))
		changed = append(changed, p)
	}
	return changed, err
}

// threadCPU is the CPU time of the calling thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(rusageThread, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rusageThread is Linux's RUSAGE_THREAD.
const rusageThread = 1

// walkScan records the unwatched directories at and below rel, skipping
// the ones skipped and, when ignored is given, those git ignores (the
// others were checked when found). With report, every file found is
// reported.
func (w *Watcher) walkScan(r *watchRoot, rel string, ignored map[string]bool, report func(string)) {
	dir := w.abs(r, rel)
	names, ok := readNames(dir)
	if !ok {
		return
	}
	w.mu.Lock()
	_, watched := w.watched[dir]
	w.mu.Unlock()
	if !watched {
		r.scan.dirs[rel] = &dirState{stamp: stampOf(dir), names: packNames(names)}
	}
	for _, n := range names {
		sub := path.Join(rel, strings.TrimSuffix(n, "/"))
		if !strings.HasSuffix(n, "/") {
			if report != nil {
				report(sub)
			}
			continue
		}
		if r.skipped(sub) || ignored[w.abs(r, sub)] {
			continue
		}
		w.walkScan(r, sub, ignored, report)
	}
}

// ignoredDir reports whether git ignores the directory rel of r.
func (w *Watcher) ignoredDir(r *watchRoot, rel string) bool {
	abs := w.abs(r, rel)
	ig, err := w.checkIgnore(w.ctx, r.Dir, []string{abs})
	return err == nil && ig[abs]
}

// abs is rel (slash-separated, under r) as a path.
func (w *Watcher) abs(r *watchRoot, rel string) string {
	if rel == "" {
		return r.Dir
	}
	return filepath.Join(r.Dir, filepath.FromSlash(rel))
}

// indexFile is the index of the worktree at r.
func (w *Watcher) indexFile(r *watchRoot) string {
	if gd := linkedGitDir(r.Dir); gd != "" {
		return filepath.Join(gd, "index")
	}
	return filepath.Join(r.Dir, ".git", "index")
}

// readNames lists dir's entries, sorted, a directory's name ending in "/".
func readNames(dir string) ([]string, bool) {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil, false
	}
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.Name()
		if e.IsDir() {
			names[i] += "/"
		}
	}
	slices.Sort(names)
	return names, true
}

func hasName(sorted []string, n string) bool {
	_, ok := slices.BinarySearch(sorted, n)
	return ok
}

// statusStamps runs git status in dir and stamps each path it lists.
func (w *Watcher) statusStamps(ctx context.Context, dir string) (map[string]scanStamp, error) {
	out, err := w.g.RunCmd(ctx, Cmd{Dir: dir}, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "--ignore-submodules=all")
	if err != nil {
		return nil, err
	}
	seen := map[string]scanStamp{}
	for _, e := range strings.Split(string(out), "\x00") {
		if len(e) < 4 {
			continue
		}
		p := e[3:]
		st := stampOf(dir + "/" + p)
		st.xy = e[:2]
		seen[p] = st
	}
	return seen, nil
}

// Touch reports paths under the root dir as changed, as its events would:
// what an agent says it wrote. A degraded root learns of a write at once
// instead of at its next rescan, and stats the path at each rescan after,
// so rewrites in place are seen too. paths are absolute or relative to
// dir; those outside it are ignored.
func (w *Watcher) Touch(dir string, paths []string) {
	dir = filepath.Clean(dir)
	var rels []string
	var stamps []scanStamp
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		rel, err := filepath.Rel(dir, filepath.Clean(p))
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
			continue
		}
		rels, stamps = append(rels, filepath.ToSlash(rel)), append(stamps, stampOf(p))
	}
	if len(rels) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.roots[dir]
	if r == nil {
		return
	}
	now := time.Now()
	for i, rel := range rels {
		if r.GitIgnore && (rel == ".git" || strings.HasPrefix(rel, ".git/")) {
			continue
		}
		r.pending[rel] = true
		w.logChange(r, rel, false)
		if r.degraded != "" {
			if r.scan.dirty == nil {
				r.scan.dirty = map[string]scanStamp{}
			}
			r.scan.dirty[rel] = stamps[i]
		}
	}
	if r.first.IsZero() {
		r.first = now
	}
	r.last = now
	wake(w.dispWake)
}

// Sweep asks for a sweep of the root at dir now, when it is degraded: a
// command ran there (an agent's shell tool, a formatter) that may have
// rewritten any file in place without saying which. What that costs
// follows the agent's activity; the idle budget is untouched.
func (w *Watcher) Sweep(dir string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.roots[filepath.Clean(dir)]
	if r == nil || r.degraded == "" || r.scan.n == 0 {
		return
	}
	now := time.Now()
	r.scan.nextSweep, r.nextRescan = now, now
	wake(w.dispWake)
}
