package workspace

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/studiod/studiod/vocab"
)

// TargetSide is the side name of a target branch tip in a Conflict.
const TargetSide = vocab.TargetSide

// Conflict is one predicted collision between two sides on one path; it
// maps 1:1 to the wire's Conflict.
type Conflict struct {
	ID       string // stable while the conflict lasts
	Repo     string // main worktree
	Path     string // path in the merged tree
	Kind     string
	Severity string // SeverityConflict or SeverityOverlap
	A, B     Side
}

// Side is one party to a Conflict: a worktree's name or TargetSide, with the
// lines it changed in its own copy of the file.
type Side struct {
	Name   string
	Path   string // path on this side (differs after a rename)
	File   string // absolute path of this side's copy
	Ranges []Range
}

// Delta is a change of the conflict set, never the whole set again.
type Delta struct {
	Added    []Conflict
	Updated  []Conflict
	Resolved []string // IDs
	// Gone lists worktrees found deleted; their conflicts are resolved.
	Gone []string
}

func (d Delta) empty() bool {
	return len(d.Added) == 0 && len(d.Updated) == 0 && len(d.Resolved) == 0 && len(d.Gone) == 0
}

// TrackerOptions configure a Tracker.
type TrackerOptions struct {
	// Watcher is the process's file watcher; it is shared, not owned.
	Watcher *Watcher
	// OnDelta receives each change of the conflict set, one at a time, from
	// the tracker's goroutine.
	OnDelta func(Delta)
	// OnSnapshot, if set, receives each new snapshot of a worktree (by id),
	// from the tracker's goroutine: it must not block.
	OnSnapshot func(id string, s Snapshot)
	// OnTargets, if set, hears that target branches moved (after their
	// pairs are predicted again), from the tracker's goroutine: it must
	// not block.
	OnTargets func(moved []string)
	Logger    *slog.Logger
}

// Tracker predicts, live, the conflicts between a repository's worktrees
// (their uncommitted work included) and between each worktree and the tip
// of its target branch. A change in one worktree re-snapshots it and
// re-predicts only the pairs involving it; a target branch moving
// re-predicts the pairs with that target.
//
// Snapshots follow the watcher's changed paths (Snapshotter.Update): the
// first one, rescans after an overflow, and the cases Update refuses (HEAD
// moved, ignore rules changed) go through the worktree's private index,
// copied afresh from the worktree's own each time.
//
// All the work happens in one goroutine; the methods only record what to do
// and are safe for concurrent use.
type Tracker struct {
	repo  *Repo
	pred  *Predictor
	snaps *Snapshotter
	w     *Watcher
	opts  TrackerOptions
	log   *slog.Logger

	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	wakeC       chan struct{}
	unwatchRefs func()

	// mu guards the fields below. Never held while git runs or OnDelta is
	// called.
	mu           sync.Mutex
	trees        map[string]*tracked
	dirty        map[string]*dirtyPaths
	refsDirty    bool
	removed      []string
	tips         map[string]string // target branch → commit
	results      map[pairKey]map[string]Conflict
	busy         bool // the worker is processing
	gen, doneGen int  // requests made, requests fully processed
	// indexOnly turns incremental snapshots off (tests compare both ways).
	indexOnly bool
	// fullSnaps and incSnaps count snapshots taken each way.
	fullSnaps, incSnaps int
}

type tracked struct {
	id, name, dir, index, target string
	snap                         Snapshot
	haveSnap                     bool
	gone                         bool
	unwatch                      func() // guarded by Tracker.mu
}

type dirtyPaths struct {
	all   bool
	paths map[string]bool
}

// pairKey names two sides: worktree ids, or "target:" + branch for B.
type pairKey struct{ a, b string }

// NewTracker starts tracking repo's worktrees. Close stops it.
func NewTracker(ctx context.Context, repo *Repo, opts TrackerOptions) (*Tracker, error) {
	if opts.Watcher == nil {
		return nil, errors.New("new tracker: no watcher")
	}
	pred, err := NewPredictor(ctx, repo.Git, repo.Root)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t := &Tracker{
		repo: repo, pred: pred, snaps: NewSnapshotter(repo), w: opts.Watcher, opts: opts, log: log.With("repo", repo.Root),
		ctx: tctx, cancel: cancel, wakeC: make(chan struct{}, 1),
		trees: map[string]*tracked{}, dirty: map[string]*dirtyPaths{},
		tips: map[string]string{}, results: map[pairKey]map[string]Conflict{},
	}
	// Refs, HEAD and packed-refs of the common git directory: target tips
	// move there, and so do the worktrees' HEADs.
	t.unwatchRefs, err = t.w.Add(ctx, WatchRoot{
		Dir:    repo.CommonDir,
		Skip:   func(rel string) bool { return rel != "refs" && !strings.HasPrefix(rel, "refs/") },
		Notify: func(WatchBatch) { t.markRefs() },
	})
	if err != nil {
		cancel()
		pred.Close()
		t.snaps.Close()
		return nil, err
	}
	t.wg.Go(t.run)
	return t, nil
}

// Close stops the tracker and waits for it.
func (t *Tracker) Close() error {
	t.cancel()
	t.wg.Wait()
	t.unwatchRefs()
	t.mu.Lock()
	var stops []func()
	for _, tr := range t.trees {
		stops = append(stops, tr.unwatch)
		tr.unwatch = nil
	}
	t.mu.Unlock()
	for _, stop := range stops {
		if stop != nil {
			stop()
		}
	}
	t.snaps.Close()
	return t.pred.Close()
}

// Predictor returns the tracker's predictor (for its statistics).
func (t *Tracker) Predictor() *Predictor { return t.pred }

// WatchFunc subscribes fn to a worktree's changed paths until stop is
// called: how a Tracker hears of a worktree's changes when something else
// than its Watcher watches it.
type WatchFunc func(ctx context.Context, fn func(WatchBatch)) (stop func(), err error)

// Add tracks the worktree dir under id, snapshotting it through the private
// index at index, against the tip of branch target. The tracker's Watcher
// watches dir.
func (t *Tracker) Add(ctx context.Context, id, name, dir, index, target string) error {
	return t.AddWatched(ctx, id, name, dir, index, target, nil)
}

// AddWatched is Add with the worktree's changes heard through watch (nil:
// the tracker's Watcher watches dir).
func (t *Tracker) AddWatched(ctx context.Context, id, name, dir, index, target string, watch WatchFunc) error {
	dir = filepath.Clean(dir)
	t.mu.Lock()
	if _, ok := t.trees[id]; ok {
		t.mu.Unlock()
		return errors.New("track " + id + ": already tracked")
	}
	tr := &tracked{id: id, name: name, dir: dir, index: index, target: target}
	t.trees[id] = tr
	t.mu.Unlock()
	if watch == nil {
		watch = func(ctx context.Context, fn func(WatchBatch)) (func(), error) {
			return t.w.Add(ctx, WatchRoot{Dir: dir, GitIgnore: true, Notify: fn})
		}
	}
	stop, err := watch(ctx, func(b WatchBatch) { t.markPaths(id, b) })
	t.mu.Lock()
	if err != nil {
		delete(t.trees, id)
	} else {
		tr.unwatch = stop
	}
	t.mu.Unlock()
	if err != nil {
		return err
	}
	t.markPaths(id, WatchBatch{Rescan: true})
	t.markRefs()
	return nil
}

// Remove stops tracking a worktree; its conflicts are resolved.
func (t *Tracker) Remove(id string) {
	t.mu.Lock()
	tr := t.trees[id]
	delete(t.trees, id)
	delete(t.dirty, id)
	t.removed = append(t.removed, id)
	t.gen++
	var stop func()
	if tr != nil {
		stop, tr.unwatch = tr.unwatch, nil
	}
	t.mu.Unlock()
	if stop != nil {
		stop()
	}
	if tr != nil {
		t.snaps.Forget(tr.dir)
	}
	t.wake()
}

// Conflicts returns the current conflict set, sorted by ID.
func (t *Tracker) Conflicts() []Conflict {
	t.mu.Lock()
	defer t.mu.Unlock()
	var list []Conflict
	for _, m := range t.results {
		for _, c := range m {
			list = append(list, c)
		}
	}
	slices.SortFunc(list, func(a, b Conflict) int { return strings.Compare(a.ID, b.ID) })
	return list
}

// Snapshot returns the newest snapshot of worktree id, if one was taken.
func (t *Tracker) Snapshot(id string) (Snapshot, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr := t.trees[id]
	if tr == nil || !tr.haveSnap || tr.gone {
		return Snapshot{}, false
	}
	return tr.snap, true
}

// Gone lists the tracked worktrees found deleted.
func (t *Tracker) Gone() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ids []string
	for id, tr := range t.trees {
		if tr.gone {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Idle reports whether every change recorded so far has been processed.
func (t *Tracker) Idle() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.busy && t.doneGen == t.gen
}

func (t *Tracker) wake() {
	select {
	case t.wakeC <- struct{}{}:
	default:
	}
}

func (t *Tracker) markPaths(id string, b WatchBatch) {
	t.mu.Lock()
	tr := t.trees[id]
	if tr == nil || tr.gone {
		t.mu.Unlock()
		return
	}
	d := t.dirty[id]
	if d == nil {
		d = &dirtyPaths{paths: map[string]bool{}}
		t.dirty[id] = d
	}
	if b.Rescan {
		d.all = true
	}
	for _, p := range b.Paths {
		d.paths[p] = true
	}
	t.gen++
	t.mu.Unlock()
	t.wake()
}

func (t *Tracker) markRefs() {
	t.mu.Lock()
	t.refsDirty = true
	t.gen++
	t.mu.Unlock()
	t.wake()
}

func (t *Tracker) run() {
	for {
		select {
		case <-t.wakeC:
		case <-t.ctx.Done():
			return
		}
		t.process(t.ctx)
	}
}

// side is one side of a pair as the worker sees it.
type side struct {
	key, name, root string
	commit, head    string
}

func (t *Tracker) process(ctx context.Context) {
	t.mu.Lock()
	gen := t.gen
	dirty, refs, removed := t.dirty, t.refsDirty, t.removed
	t.dirty, t.refsDirty, t.removed, t.busy = map[string]*dirtyPaths{}, false, nil, true
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.busy = false
		t.doneGen = gen
		t.mu.Unlock()
	}()

	var delta Delta
	affected := map[pairKey]bool{}
	var retargeted map[string]bool
	if refs {
		retargeted = t.refreshRefs(ctx, dirty)
	}
	for id, d := range dirty {
		if t.snapshot(ctx, id, d, &delta) {
			t.mu.Lock()
			for _, k := range t.pairsOf(id) {
				affected[k] = true
			}
			t.mu.Unlock()
		}
	}
	t.mu.Lock()
	for _, tr := range t.trees {
		if retargeted[tr.target] && tr.haveSnap && !tr.gone {
			affected[pairKey{tr.id, "target:" + tr.target}] = true
		}
	}
	gone := append([]string{}, removed...)
	gone = append(gone, delta.Gone...)
	for k := range t.results {
		for _, id := range gone {
			if k.a == id || k.b == id {
				for cid := range t.results[k] {
					delta.Resolved = append(delta.Resolved, cid)
				}
				delete(t.results, k)
			}
		}
	}
	t.mu.Unlock()

	if len(affected) > 0 {
		if err := t.predict(ctx, affected, &delta); err != nil {
			if ctx.Err() == nil {
				t.log.Warn("predict conflicts", "err", err)
			}
		}
	}
	if !delta.empty() && t.opts.OnDelta != nil {
		slices.Sort(delta.Resolved)
		t.opts.OnDelta(delta)
	}
	if len(retargeted) > 0 && t.opts.OnTargets != nil {
		moved := make([]string, 0, len(retargeted))
		for b := range retargeted {
			moved = append(moved, b)
		}
		slices.Sort(moved)
		t.opts.OnTargets(moved)
	}
}

// pairsOf lists the pairs involving worktree id. Caller holds mu.
func (t *Tracker) pairsOf(id string) []pairKey {
	tr := t.trees[id]
	if tr == nil || tr.gone || !tr.haveSnap {
		return nil
	}
	keys := []pairKey{{id, "target:" + tr.target}}
	for oid, o := range t.trees {
		if oid == id || o.gone || !o.haveSnap {
			continue
		}
		if id < oid {
			keys = append(keys, pairKey{id, oid})
		} else {
			keys = append(keys, pairKey{oid, id})
		}
	}
	return keys
}

// refreshRefs re-reads branch tips: targets that moved are returned, and
// worktrees whose HEAD moved are marked for a fresh snapshot in dirty.
func (t *Tracker) refreshRefs(ctx context.Context, dirty map[string]*dirtyPaths) map[string]bool {
	out, err := t.repo.Git.Run(ctx, t.repo.Root, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads", "refs/remotes")
	if err != nil {
		t.log.Warn("read refs", "err", err)
		return nil
	}
	refs := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if oid, name, ok := strings.Cut(line, " "); ok {
			refs[name] = oid
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	moved := map[string]bool{}
	for _, tr := range t.trees {
		if tr.gone {
			continue
		}
		tip := refs["refs/heads/"+tr.target]
		if tip == "" {
			tip = refs["refs/remotes/"+tr.target]
		}
		if tip == "" {
			tip = refs[tr.target]
		}
		if tip != t.tips[tr.target] {
			t.tips[tr.target] = tip
			moved[tr.target] = true
		}
		if tr.haveSnap && worktreeHead(tr.dir, refs) != tr.snap.Head && dirty[tr.id] == nil {
			dirty[tr.id] = &dirtyPaths{paths: map[string]bool{}}
		}
	}
	return moved
}

// worktreeHead reads a worktree's HEAD from its files ("" if unknown).
func worktreeHead(dir string, refs map[string]string) string {
	gitdir := filepath.Join(dir, ".git")
	if b, err := os.ReadFile(gitdir); err == nil {
		if p, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: "); ok {
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			gitdir = p
		}
	}
	b, err := os.ReadFile(filepath.Join(gitdir, "HEAD"))
	if err != nil {
		return ""
	}
	head := strings.TrimSpace(string(b))
	if ref, ok := strings.CutPrefix(head, "ref: "); ok {
		return refs[ref]
	}
	return head
}

// snapshot brings worktree id's snapshot up to date and reports whether it
// changed. A worktree deleted from under the tracker is reported gone.
func (t *Tracker) snapshot(ctx context.Context, id string, d *dirtyPaths, delta *Delta) bool {
	t.mu.Lock()
	tr := t.trees[id]
	if tr == nil || tr.gone {
		t.mu.Unlock()
		return false
	}
	dir, index, prev, have := tr.dir, tr.index, tr.snap, tr.haveSnap
	indexOnly := t.indexOnly
	t.mu.Unlock()

	markGone := func() bool {
		t.mu.Lock()
		tr.gone = true
		stop := tr.unwatch
		tr.unwatch = nil
		t.mu.Unlock()
		if stop != nil {
			stop()
		}
		delta.Gone = append(delta.Gone, id)
		t.log.Info("worktree gone", "worktree", id, "dir", dir)
		return false
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); errors.Is(err, os.ErrNotExist) {
		return markGone()
	}
	snap, full, err := t.takeSnapshot(ctx, id, dir, index, prev, have && !d.all && !indexOnly, d.paths)
	if err != nil {
		if _, serr := os.Stat(filepath.Join(dir, ".git")); errors.Is(serr, os.ErrNotExist) {
			return markGone()
		}
		if ctx.Err() == nil {
			t.log.Warn("snapshot", "worktree", id, "err", err)
		}
		return false
	}
	t.mu.Lock()
	if full {
		t.fullSnaps++
	} else {
		t.incSnaps++
	}
	t.mu.Unlock()
	if have && snap == prev {
		return false
	}
	t.mu.Lock()
	tr.snap, tr.haveSnap = snap, true
	t.mu.Unlock()
	if t.opts.OnSnapshot != nil {
		t.opts.OnSnapshot(id, snap)
	}
	return true
}

// takeSnapshot snapshots worktree id: incrementally from prev when inc is
// set and the Snapshotter can, else in full through the private index,
// copied afresh from the worktree's (so that the tree is the one `git add
// -A` gives now, whatever the private index saw before). full reports which.
func (t *Tracker) takeSnapshot(ctx context.Context, id, dir, index string, prev Snapshot, inc bool, changed map[string]bool) (snap Snapshot, full bool, err error) {
	if inc {
		paths := make([]string, 0, len(changed))
		for p := range changed {
			paths = append(paths, p)
		}
		slices.Sort(paths)
		snap, err = t.snaps.Update(ctx, dir, prev, paths)
		if err == nil || ctx.Err() != nil {
			return snap, false, err
		}
		if errors.Is(err, ErrFullSnapshot) {
			t.log.Debug("full snapshot", "worktree", id, "reason", err)
		} else if _, serr := os.Stat(dir); serr == nil {
			t.log.Warn("incremental snapshot failed, taking a full one", "worktree", id, "err", err)
		}
	}
	t.snaps.Forget(dir) // its configuration may have changed too
	if err := os.Remove(index); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Snapshot{}, true, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	snap, err = t.repo.Git.TakeSnapshot(ctx, dir, index, nil)
	if IsIndexBug(err) {
		// The worktree's index, which the private one starts from, is one
		// git cannot read: mend it and try once more.
		r, rerr := t.repo.Git.RepairIndex(ctx, dir, true)
		if rerr != nil || r == (IndexRepair{}) {
			return snap, true, err
		}
		t.log.Warn("index repaired", "worktree", id, "repair", r.String())
		os.Remove(index)
		snap, err = t.repo.Git.TakeSnapshot(ctx, dir, index, nil)
	}
	return snap, true, err
}

// predict re-predicts the affected pairs and records the change in delta.
func (t *Tracker) predict(ctx context.Context, affected map[pairKey]bool, delta *Delta) error {
	type job struct {
		key  pairKey
		a, b side
		base string
	}
	var jobs []job
	t.mu.Lock()
	for k := range affected {
		ta := t.trees[k.a]
		if ta == nil || ta.gone || !ta.haveSnap {
			continue
		}
		j := job{key: k, a: side{key: k.a, name: ta.name, root: ta.dir, commit: ta.snap.Commit, head: ta.snap.Head}}
		if target, ok := strings.CutPrefix(k.b, "target:"); ok {
			tip := t.tips[target]
			if tip == "" {
				continue
			}
			j.b = side{key: k.b, name: TargetSide, root: t.repo.Root, commit: tip, head: tip}
		} else {
			tb := t.trees[k.b]
			if tb == nil || tb.gone || !tb.haveSnap {
				continue
			}
			j.b = side{key: k.b, name: tb.name, root: tb.dir, commit: tb.snap.Commit, head: tb.snap.Head}
		}
		jobs = append(jobs, j)
	}
	t.mu.Unlock()

	next := map[pairKey]map[string]Conflict{}
	var pairs []Pair
	var predJobs []job
	for _, j := range jobs {
		next[j.key] = map[string]Conflict{}
		base, err := t.pred.MergeBase(ctx, j.a.head, j.b.head)
		if errors.Is(err, ErrNoMergeBase) {
			continue
		}
		if err != nil {
			return err
		}
		j.base = base
		// Pairs whose changed paths do not meet cannot collide.
		chA, err := t.pred.ChangedPaths(ctx, base, j.a.commit)
		if err != nil {
			return err
		}
		chB, err := t.pred.ChangedPaths(ctx, base, j.b.commit)
		if err != nil {
			return err
		}
		if !intersect(chA, chB) {
			continue
		}
		pairs = append(pairs, Pair{A: j.a.commit, B: j.b.commit, Base: base})
		predJobs = append(predJobs, j)
	}
	if len(pairs) > 0 {
		preds, err := t.pred.Predict(ctx, pairs)
		if err != nil {
			return err
		}
		for i, pr := range preds {
			j := predJobs[i]
			if pr.Err != nil {
				t.log.Warn("predict", "a", j.a.name, "b", j.b.name, "err", pr.Err)
				continue
			}
			files, err := t.pred.Locate(ctx, pr)
			if err != nil {
				return err
			}
			for _, f := range files {
				c := Conflict{
					Repo: t.repo.Root, Path: f.Path, Kind: f.Kind, Severity: f.Severity,
					A: Side{Name: j.a.name, Path: f.A.Path, File: filepath.Join(j.a.root, filepath.FromSlash(f.A.Path)), Ranges: f.A.Ranges},
					B: Side{Name: j.b.name, Path: f.B.Path, File: filepath.Join(j.b.root, filepath.FromSlash(f.B.Path)), Ranges: f.B.Ranges},
				}
				c.ID = conflictID(t.repo.Root, j.a.key, j.b.key, f.Path, f.Kind)
				next[j.key][c.ID] = c
			}
		}
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	for k, now := range next {
		if t.trees[k.a] == nil || t.trees[k.a].gone {
			continue // removed meanwhile
		}
		if tb, ok := t.trees[k.b]; !strings.HasPrefix(k.b, "target:") && (!ok || tb.gone) {
			continue
		}
		old := t.results[k]
		for id, c := range now {
			if o, ok := old[id]; !ok {
				delta.Added = append(delta.Added, c)
			} else if !reflect.DeepEqual(o, c) {
				delta.Updated = append(delta.Updated, c)
			}
		}
		for id := range old {
			if _, ok := now[id]; !ok {
				delta.Resolved = append(delta.Resolved, id)
			}
		}
		if len(now) == 0 {
			delete(t.results, k)
		} else {
			t.results[k] = now
		}
	}
	return nil
}

func intersect(a, b []Change) bool {
	set := make(map[string]bool, len(a))
	for _, c := range a {
		set[c.BasePath()] = true
		set[c.Path] = true
	}
	for _, c := range b {
		if set[c.BasePath()] || set[c.Path] {
			return true
		}
	}
	return false
}

// conflictID is stable for the same sides, path and kind.
func conflictID(repo, a, b, path, kind string) string {
	h := sha256.Sum256([]byte(repo + "\x00" + a + "\x00" + b + "\x00" + path + "\x00" + kind))
	return hex.EncodeToString(h[:10])
}
