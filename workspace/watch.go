package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatcherOptions tune a Watcher. Zero values pick the defaults.
type WatcherOptions struct {
	// MaxWatches caps the directories watched (0: only the kernel's limit,
	// fs.inotify.max_user_watches). Reaching it degrades the root.
	MaxWatches int
	// Debounce is the quiet time after an event before a root's batch goes
	// out (default 15ms: a save's truncate, write and rename land within
	// it, and the tracker gathers what arrives while it works); MaxDelay
	// bounds how long a busy root waits (default 300ms).
	Debounce, MaxDelay time.Duration
	// Rescan is the shortest period between rescans of a degraded root
	// (default 2s). The period grows with the rescans' cost and the number
	// of degraded roots: together they take at most about 2% of one core
	// (scan.go).
	Rescan time.Duration
	// CookieDir is a private directory, outside every root, where Sync
	// (and so the fsmonitor answers, Changes) creates its cookie files.
	// Without it Changes always answers "everything may have changed".
	CookieDir string
	Logger    *slog.Logger
}

// WatchRoot is a directory tree to watch.
type WatchRoot struct {
	Dir string
	// GitIgnore skips `.git` and the directories git ignores (a worktree).
	GitIgnore bool
	// Skip, if set, names more directories not to watch, by slash-separated
	// path relative to Dir.
	Skip func(rel string) bool
	// Notify receives the root's debounced batches, one at a time, from the
	// watcher's dispatch goroutine: it must not block or call the Watcher.
	Notify func(WatchBatch)
}

// WatchBatch reports what changed under a root.
type WatchBatch struct {
	Root string
	// Paths changed, relative to Root, slash-separated, sorted. They may
	// name directories (created or removed whole) and vanished files.
	Paths []string
	// Rescan means the paths are not known (overflow, watch limit, the root
	// itself moved or vanished): look at everything.
	Rescan bool
}

// WatchStatus is the watcher's health, for `studiod doctor`.
type WatchStatus struct {
	Watches    int
	MaxWatches int // 0: the kernel's limit
	// Unwatched counts the directories of degraded roots left without a
	// watch: raising the limit by that many would watch every root.
	Unwatched int
	Roots     int
	Overflows int
	Degraded  []DegradedRoot
}

// DegradedRoot is a root rescanned periodically because events cannot be
// trusted to cover it.
type DegradedRoot struct {
	Root   string
	Reason string
	Since  time.Time
}

// Watcher is the process's one fsnotify watcher (inotify instances are
// scarce), recursive over many roots. Its receive loop only drains events;
// a second goroutine adds watches for new directories; a third debounces
// and delivers batches. With nothing changing it is idle: it polls only
// degraded roots.
type Watcher struct {
	g    *Git
	opts WatcherOptions
	log  *slog.Logger
	fsw  *fsnotify.Watcher

	stop context.CancelFunc
	ctx  context.Context
	wg   sync.WaitGroup

	addWake  chan struct{}
	dispWake chan struct{}
	scanWake chan struct{}

	epoch      string    // names this watcher in fsmonitor tokens
	cookieOnce sync.Once // makes and watches the cookie directory
	cookieErr  error

	// mu guards the fields below. Never held while calling git, the file
	// system (beyond bookkeeping) or Notify.
	mu        sync.Mutex
	roots     map[string]*watchRoot
	watched   map[string]*watchRoot // watched directory → its root
	addQ      []string              // created paths to examine
	scanQ     []*watchRoot          // degraded roots due for a rescan
	overflows int
	subs      int // last subscription id
	// seq numbers the changes logged for fsmonitor (fsmonitor.go).
	seq        uint64
	cookieDir  string
	cookieN    uint64
	cookieWait map[string]chan struct{} // cookie file → its waiter
}

type watchRoot struct {
	WatchRoot
	notify      map[int]func(WatchBatch) // subscribers
	pending     map[string]bool
	rescan      bool
	first, last time.Time // of the pending events
	degraded    string
	since       time.Time
	nextRescan  time.Time
	real        string          // Dir with symbolic links resolved
	log         *changeLog      // changed paths for fsmonitor; GitIgnore roots only
	ignoredDirs map[string]bool // directories not watched because git ignores them
	unwatched   int             // directories left without a watch (degraded)
	scan        rootScan        // degraded rescans (scan.go)
}

// NewWatcher starts a watcher. Close stops it.
func NewWatcher(g *Git, opts WatcherOptions) (*Watcher, error) {
	if opts.Debounce <= 0 {
		opts.Debounce = 15 * time.Millisecond
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 300 * time.Millisecond
	}
	if opts.Rescan <= 0 {
		opts.Rescan = 2 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fsw, err := fsnotify.NewBufferedWatcher(1024)
	if err != nil {
		return nil, fmt.Errorf("start file watcher: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{
		g: g, opts: opts, log: log, fsw: fsw, ctx: ctx, stop: cancel,
		addWake: make(chan struct{}, 1), dispWake: make(chan struct{}, 1), scanWake: make(chan struct{}, 1),
		roots: map[string]*watchRoot{}, watched: map[string]*watchRoot{},
		epoch: newEpoch(), cookieWait: map[string]chan struct{}{},
	}
	w.wg.Go(w.receive)
	w.wg.Go(w.adder)
	w.wg.Go(w.dispatch)
	w.wg.Go(w.scanner)
	return w, nil
}

// Close stops the watcher and waits for its goroutines.
func (w *Watcher) Close() error {
	w.stop()
	err := w.fsw.Close()
	w.wg.Wait()
	return err
}

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Add starts watching a root: every directory under it not skipped. It
// returns once the initial watches are in place; a root that could not be
// covered is degraded, not an error. Watching a root again adds a
// subscriber (its GitIgnore and Skip are those of the first). The returned
// func ends this subscription; the last one stops watching the root.
func (w *Watcher) Add(ctx context.Context, r WatchRoot) (stop func(), err error) {
	dir := filepath.Clean(r.Dir)
	r.Dir = dir
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("watch %s: not a directory", dir)
	}
	w.mu.Lock()
	w.subs++
	sub := w.subs
	if wr, ok := w.roots[dir]; ok {
		wr.notify[sub] = r.Notify
		w.mu.Unlock()
		return func() { w.unsubscribe(wr, sub) }, nil
	}
	wr := &watchRoot{WatchRoot: r, pending: map[string]bool{}, notify: map[int]func(WatchBatch){sub: r.Notify}, ignoredDirs: map[string]bool{}}
	wr.real, _ = filepath.EvalSymlinks(dir)
	if r.GitIgnore {
		wr.log = &changeLog{}
	}
	w.roots[dir] = wr
	w.logReset(wr)
	w.mu.Unlock()
	var ignored map[string]bool
	if r.GitIgnore {
		var err error
		if ignored, err = w.ignoredDirs(ctx, dir); err != nil {
			w.log.Warn("list ignored directories", "root", dir, "err", err)
		}
	}
	w.addTree(ctx, wr, dir, ignored, nil)
	// Changes made while the walk had not reached their directory sent no
	// event: tokens from before the watch was complete get a full answer.
	w.mu.Lock()
	w.logReset(wr)
	w.mu.Unlock()
	return func() { w.unsubscribe(wr, sub) }, nil
}

func (w *Watcher) unsubscribe(wr *watchRoot, sub int) {
	w.mu.Lock()
	delete(wr.notify, sub)
	if len(wr.notify) > 0 || w.roots[wr.Dir] != wr {
		w.mu.Unlock()
		return
	}
	delete(w.roots, wr.Dir)
	var dirs []string
	for d, r := range w.watched {
		if r == wr {
			dirs = append(dirs, d)
			delete(w.watched, d)
		}
	}
	w.mu.Unlock()
	for _, d := range dirs {
		w.fsw.Remove(d) // gone already if the directory is
	}
}

// Status reports the watch count and degraded roots.
func (w *Watcher) Status() WatchStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := WatchStatus{Watches: len(w.watched), MaxWatches: w.opts.MaxWatches, Roots: len(w.roots), Overflows: w.overflows}
	for _, r := range w.roots {
		if r.degraded != "" {
			s.Degraded = append(s.Degraded, DegradedRoot{Root: r.Dir, Reason: r.degraded, Since: r.since})
			s.Unwatched += r.unwatched
		}
	}
	slices.SortFunc(s.Degraded, func(a, b DegradedRoot) int { return strings.Compare(a.Root, b.Root) })
	return s
}

// rootOf returns the root holding path and path relative to it. Caller holds mu.
func (w *Watcher) rootOf(path string) (*watchRoot, string) {
	for d := path; ; {
		if r, ok := w.roots[d]; ok {
			rel, _ := filepath.Rel(d, path)
			if rel == "." {
				rel = ""
			}
			return r, filepath.ToSlash(rel)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return nil, ""
		}
		d = parent
	}
}

// skipped reports whether rel (a directory under r) is not to be watched.
func (r *watchRoot) skipped(rel string) bool {
	if r.GitIgnore && (rel == ".git" || strings.HasPrefix(rel, ".git/")) {
		return true
	}
	return rel != "" && r.Skip != nil && r.Skip(rel)
}

// receive drains fsnotify: bookkeeping only, no I/O.
func (w *Watcher) receive() {
	for {
		select {
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			w.event(ev)
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.fsError(err)
		case <-w.ctx.Done():
			return
		}
	}
}

func (w *Watcher) event(ev fsnotify.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cookieDir != "" && filepath.Dir(ev.Name) == w.cookieDir {
		if ch, ok := w.cookieWait[ev.Name]; ok {
			close(ch)
			delete(w.cookieWait, ev.Name)
		}
		return
	}
	r, rel := w.rootOf(ev.Name)
	if r == nil {
		return
	}
	if r.GitIgnore && (rel == ".git" || strings.HasPrefix(rel, ".git/")) {
		return
	}
	now := time.Now()
	if rel == "" {
		w.logReset(r)
	} else {
		_, wasDir := w.watched[ev.Name]
		w.logChange(r, rel, wasDir || r.ignoredDirs[rel])
	}
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		for d, dr := range w.watched {
			if dr == r && (d == ev.Name || strings.HasPrefix(d, ev.Name+string(filepath.Separator))) {
				delete(w.watched, d)
			}
		}
	}
	if ev.Has(fsnotify.Create) {
		w.addQ = append(w.addQ, ev.Name)
		wake(w.addWake)
	}
	if rel == "" {
		r.rescan = true // the root itself moved or vanished
	} else {
		r.pending[rel] = true
		if r.degraded != "" {
			if _, ok := r.scan.dirty[rel]; !ok && r.scan.dirty != nil {
				r.scan.dirty[rel] = unstamped
			}
		}
	}
	if r.first.IsZero() {
		r.first = now
	}
	r.last = now
	wake(w.dispWake)
}

func (w *Watcher) fsError(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		// Events were lost, for any root: rescan them all once.
		w.overflows++
		now := time.Now()
		for _, r := range w.roots {
			w.logReset(r)
			r.rescan = true
			if r.first.IsZero() {
				r.first = now
			}
			r.last = now
		}
		wake(w.dispWake)
		return
	}
	w.log.Warn("file watcher", "err", err)
}

// adder adds watches for created directories.
func (w *Watcher) adder() {
	for {
		select {
		case <-w.addWake:
		case <-w.ctx.Done():
			return
		}
		w.mu.Lock()
		q := w.addQ
		w.addQ = nil
		w.mu.Unlock()
		// Group new directories by root, so one check-ignore serves many.
		byRoot := map[*watchRoot][]string{}
		for _, p := range q {
			fi, err := os.Lstat(p)
			if err != nil || !fi.IsDir() {
				continue
			}
			w.mu.Lock()
			r, rel := w.rootOf(p)
			_, done := w.watched[p]
			w.mu.Unlock()
			if r == nil || done || r.skipped(rel) {
				continue
			}
			byRoot[r] = append(byRoot[r], p)
		}
		for r, dirs := range byRoot {
			var ignored map[string]bool
			if r.GitIgnore {
				var err error
				if ignored, err = w.checkIgnore(w.ctx, r.Dir, dirs); err != nil {
					w.log.Warn("check ignored directories", "root", r.Dir, "err", err)
				}
			}
			for _, d := range dirs {
				if !ignored[d] {
					// Files made before the watch was in place sent no
					// events: report everything found.
					var found []string
					w.addTree(w.ctx, r, d, ignored, &found)
					w.note(r, found)
				}
			}
		}
	}
}

// note records paths found by a walk as changed.
func (w *Watcher) note(r *watchRoot, paths []string) {
	if len(paths) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.roots[r.Dir] != r {
		return
	}
	now := time.Now()
	for _, p := range paths {
		r.pending[p] = true
		w.logChange(r, p, false)
	}
	if r.first.IsZero() {
		r.first = now
	}
	r.last = now
	wake(w.dispWake)
}

// addTree watches dir and the directories below it that are neither
// skipped nor ignored (absolute paths in ignored). With found, it collects
// the paths (relative to the root) of the files below.
func (w *Watcher) addTree(ctx context.Context, r *watchRoot, dir string, ignored map[string]bool, found *[]string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || ctx.Err() != nil {
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(r.Dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			rel = ""
		}
		if !d.IsDir() {
			if found != nil {
				*found = append(*found, rel)
			}
			return nil
		}
		if r.skipped(rel) || ignored[p] {
			if ignored[p] && rel != "" {
				w.mu.Lock()
				r.ignoredDirs[rel] = true
				w.mu.Unlock()
			}
			return fs.SkipDir
		}
		if err := w.watch(r, p); err != nil {
			if !errors.Is(err, errNoWatches) {
				return fs.SkipAll
			}
			// Out of watches: the walk goes on, counting what is left
			// unwatched, so doctor can say what a higher limit would give.
			w.mu.Lock()
			r.unwatched++
			r.scan.adopt = append(r.scan.adopt, rel)
			w.mu.Unlock()
		}
		return nil
	})
}

// errNoWatches reports that the watch limit is reached.
var errNoWatches = errors.New("watch limit reached")

// watch adds one directory, degrading the root when out of watches.
func (w *Watcher) watch(r *watchRoot, dir string) error {
	w.mu.Lock()
	if w.roots[r.Dir] != r {
		w.mu.Unlock()
		return errors.New("root removed")
	}
	if _, ok := w.watched[dir]; ok {
		w.mu.Unlock()
		return nil
	}
	if max := w.opts.MaxWatches; max > 0 && len(w.watched) >= max {
		w.degrade(r, fmt.Sprintf("watch limit reached (%d watches)", max))
		w.mu.Unlock()
		return errNoWatches
	}
	w.watched[dir] = r
	w.mu.Unlock()
	err := w.fsw.Add(dir)
	if err == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.watched, dir)
	if errors.Is(err, syscall.ENOSPC) {
		w.degrade(r, "inotify watch limit reached (raise fs.inotify.max_user_watches)")
		return errNoWatches
	}
	return nil // vanished meanwhile: nothing to watch
}

// degrade marks r for periodic rescans. Caller holds mu.
func (w *Watcher) degrade(r *watchRoot, reason string) {
	if r.degraded != "" {
		return
	}
	w.log.Warn("file watching degraded to rescans", "root", r.Dir, "reason", reason)
	w.logReset(r)
	now := time.Now()
	r.degraded, r.since = reason, now
	r.nextRescan = now // one right away
	wake(w.dispWake)
}

// subscribers returns r's Notify funcs. Caller holds mu.
func (r *watchRoot) subscribers() []func(WatchBatch) {
	var fs []func(WatchBatch)
	for _, f := range r.notify {
		if f != nil {
			fs = append(fs, f)
		}
	}
	return fs
}

// dispatch delivers debounced batches and the rescans of degraded roots.
func (w *Watcher) dispatch() {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var due []WatchBatch
		var notify [][]func(WatchBatch)
		var next time.Time
		w.mu.Lock()
		now := time.Now()
		for _, r := range w.roots {
			if len(r.pending) > 0 || r.rescan {
				deadline := r.last.Add(w.opts.Debounce)
				if max := r.first.Add(w.opts.MaxDelay); max.Before(deadline) {
					deadline = max
				}
				if !now.Before(deadline) {
					b := WatchBatch{Root: r.Dir, Rescan: r.rescan}
					if !r.rescan {
						for p := range r.pending {
							b.Paths = append(b.Paths, p)
						}
						slices.Sort(b.Paths)
					}
					clear(r.pending)
					r.rescan, r.first, r.last = false, time.Time{}, time.Time{}
					due, notify = append(due, b), append(notify, r.subscribers())
				} else if next.IsZero() || deadline.Before(next) {
					next = deadline
				}
			}
			if r.degraded != "" && !r.scan.busy {
				switch {
				case now.Before(r.nextRescan):
				case r.GitIgnore:
					// A worktree: git status says what changed (scan.go).
					r.scan.busy = true
					w.scanQ = append(w.scanQ, r)
					wake(w.scanWake)
				default:
					r.nextRescan = now.Add(w.opts.Rescan)
					due, notify = append(due, WatchBatch{Root: r.Dir, Rescan: true}), append(notify, r.subscribers())
				}
				if !r.scan.busy && (next.IsZero() || r.nextRescan.Before(next)) {
					next = r.nextRescan
				}
			}
		}
		w.mu.Unlock()
		for i, b := range due {
			for _, f := range notify[i] {
				f(b)
			}
		}
		if !next.IsZero() {
			timer.Reset(time.Until(next))
		}
		select {
		case <-timer.C:
		case <-w.dispWake:
			timer.Stop()
		case <-w.ctx.Done():
			timer.Stop()
			return
		}
	}
}

// ignoredDirs lists the directories git ignores under root, as absolute
// paths.
func (w *Watcher) ignoredDirs(ctx context.Context, root string) (map[string]bool, error) {
	out, err := w.g.Run(ctx, root, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory")
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, p := range strings.Split(string(out), "\x00") {
		if d, ok := strings.CutSuffix(p, "/"); ok {
			m[filepath.Join(root, filepath.FromSlash(d))] = true
		}
	}
	return m, nil
}

// checkIgnore returns which of dirs (absolute, under root) git ignores.
func (w *Watcher) checkIgnore(ctx context.Context, root string, dirs []string) (map[string]bool, error) {
	var in strings.Builder
	for _, d := range dirs {
		rel, err := filepath.Rel(root, d)
		if err != nil {
			continue
		}
		in.WriteString(filepath.ToSlash(rel) + "/\x00")
	}
	out, err := w.g.RunCmd(ctx, Cmd{Dir: root, Stdin: strings.NewReader(in.String())}, "check-ignore", "-z", "--stdin")
	if err != nil && ExitCode(err) != 1 { // 1: none ignored
		return nil, err
	}
	m := map[string]bool{}
	for _, p := range strings.Split(string(out), "\x00") {
		if p != "" {
			m[filepath.Join(root, filepath.FromSlash(strings.TrimSuffix(p, "/")))] = true
		}
	}
	return m, nil
}
