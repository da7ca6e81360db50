package workspace

import (
	"context"
	"os"
	"strings"
	"syscall"
	"time"
)

// Rescans of degraded roots. A worktree whose directories could not all be
// watched (the inotify limit) is rescanned instead, and a rescan costs what
// changed, not the tree: `git status` lists the paths that differ from HEAD
// (it stats every file but reads only the changed ones), and of those the
// scan reports only the paths whose status or stat data changed since the
// previous scan, plus those that left the list (changed back, committed).
// A change that came and went between two scans of a path git status does
// not list is the one thing this misses: every so often a scan is a full
// rescan (WatcherOptions.FullRescanEvery). The cadence is bounded by cost: with n degraded roots each
// root waits at least n*scanShare times its last scan's duration, so the
// rescans together take at most about 1/scanShare of one core.

const scanShare = 5

// rootScan is a degraded root's rescan state, guarded by Watcher.mu.
type rootScan struct {
	busy bool                 // queued or running
	n    int                  // scans done
	seen map[string]scanStamp // the paths git status listed last time
}

// scanStamp is what a listed path looked like: its status code and stat data.
type scanStamp struct {
	xy                string
	size, mtime, ctim int64
	ino               uint64
	mode              uint32
}

// scanner runs the rescans the dispatcher queues, one at a time.
func (w *Watcher) scanner() {
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
	full := r.scan.n%w.opts.FullRescanEvery == 0 // the first, and every so often
	w.mu.Unlock()
	t0 := time.Now()
	seen, err := w.statusStamps(w.ctx, r.Dir)
	spent := time.Since(t0)
	if err != nil && w.ctx.Err() == nil {
		w.log.Warn("rescan", "root", r.Dir, "err", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	r.scan.busy = false
	if w.roots[r.Dir] != r {
		return
	}
	r.scan.n++
	degraded := 0
	for _, o := range w.roots {
		if o.degraded != "" {
			degraded++
		}
	}
	now := time.Now()
	r.nextRescan = now.Add(max(w.opts.Rescan, spent*time.Duration(degraded*scanShare)))
	wake(w.dispWake)
	var changed []string
	switch {
	case err != nil || full:
		r.rescan = true
	default:
		for p, st := range seen {
			if old, ok := r.scan.seen[p]; !ok || old != st {
				changed = append(changed, p)
			}
		}
		for p := range r.scan.seen {
			if _, ok := seen[p]; !ok {
				changed = append(changed, p)
			}
		}
	}
	if err == nil {
		r.scan.seen = seen
	} else {
		r.scan.seen = nil
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
		st := scanStamp{xy: e[:2]}
		if fi, err := os.Lstat(dir + "/" + p); err == nil {
			st.size, st.mtime, st.mode = fi.Size(), fi.ModTime().UnixNano(), uint32(fi.Mode())
			if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
				st.ino, st.ctim = sys.Ino, sys.Ctim.Nano()
			}
		}
		seen[p] = st
	}
	return seen, nil
}
