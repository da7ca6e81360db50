package workspace

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The watcher serves git's fsmonitor hook (protocol version 2) for the
// worktrees it watches with GitIgnore: git asks "what changed since token
// T?", and the answer is the paths the watcher saw change since then, with
// a new token. Each such root keeps a bounded log of changed paths, each
// numbered from one counter for the whole watcher; a token is that number
// and the watcher's epoch (random per process), so a token from an earlier
// daemon, or older than what a root's log still holds, gets the answer
// "everything may have changed" ("/"), which makes git look at everything
// itself. So do a degraded root, events lost to an overflow, a root not
// watched, and a watcher that cannot sync. Correctness first: a path may be
// reported that did not change, never the reverse.
//
// Before answering, Sync makes sure every event that happened before the
// question was asked has been received: inotify queues one instance's
// events in order, so once a cookie file created now is seen, so is every
// change git's caller made before it ran git.

// changeLog is one root's record of changed paths, for fsmonitor.
type changeLog struct {
	// floor is the newest change number not in entries: every change after
	// it is, so a token at or after floor can be answered.
	floor   uint64
	entries []changeEntry
}

type changeEntry struct {
	seq  uint64
	path string // relative to the root, slash-separated
	dir  bool   // known to be (or have been) a directory
}

// changeLogMax bounds a root's log; past it the oldest half goes and tokens
// older than what remains get a full answer.
const changeLogMax = 4096

// logChange records rel as changed in r. Caller holds w.mu.
func (w *Watcher) logChange(r *watchRoot, rel string, dir bool) {
	if r.log == nil {
		return
	}
	w.seq++
	r.log.entries = append(r.log.entries, changeEntry{seq: w.seq, path: rel, dir: dir})
	if len(r.log.entries) > changeLogMax {
		drop := len(r.log.entries) / 2
		r.log.floor = r.log.entries[drop-1].seq
		r.log.entries = slices.Delete(r.log.entries, 0, drop)
	}
}

// logReset forgets r's log: every token issued so far gets a full answer.
// Caller holds w.mu.
func (w *Watcher) logReset(r *watchRoot) {
	if r.log == nil {
		return
	}
	w.seq++
	r.log.floor = w.seq
	r.log.entries = nil
}

// token returns the token for "now". Caller holds w.mu.
func (w *Watcher) token() string {
	return "studiod:" + w.epoch + ":" + strconv.FormatUint(w.seq, 10)
}

func newEpoch() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// FsmonitorAnswer is the answer to git's fsmonitor query for one worktree.
type FsmonitorAnswer struct {
	// Token names this moment; git passes it back next time.
	Token string
	// Paths changed since the token asked about, relative to the
	// worktree; directories end in "/". Empty with Full.
	Paths []string
	// Full means the watcher cannot say: git must look at everything.
	Full bool
	// Why says why the answer is Full.
	Why string
}

// Changes answers git's fsmonitor query "what changed in worktree dir since
// token?". Paths inside directories git ignores and the watcher does not
// watch are covered by reporting those directories whole.
func (w *Watcher) Changes(ctx context.Context, dir, token string) FsmonitorAnswer {
	full := func(why string) FsmonitorAnswer {
		w.mu.Lock()
		defer w.mu.Unlock()
		return FsmonitorAnswer{Token: w.token(), Full: true, Why: why}
	}
	if err := w.Sync(ctx); err != nil {
		return full(err.Error())
	}
	dir = filepath.Clean(dir)
	real, _ := filepath.EvalSymlinks(dir)
	w.mu.Lock()
	var r *watchRoot
	for _, cand := range w.roots {
		if cand.log != nil && (cand.Dir == dir || cand.real == dir || real != "" && cand.real == real) {
			r = cand
			break
		}
	}
	ans := FsmonitorAnswer{Token: w.token()}
	var since uint64
	epoch, seq, ok := parseToken(token)
	switch {
	case r == nil:
		ans.Full, ans.Why = true, "not watched"
	case r.degraded != "":
		ans.Full, ans.Why = true, "degraded: "+r.degraded
	case !ok || epoch != w.epoch:
		ans.Full, ans.Why = true, "token from another watcher"
	case seq < r.log.floor:
		ans.Full, ans.Why = true, "token older than the log"
	default:
		since = seq
	}
	if ans.Full {
		w.mu.Unlock()
		return ans
	}
	isDir := map[string]bool{}
	for _, e := range r.log.entries {
		if e.seq > since {
			isDir[e.path] = isDir[e.path] || e.dir
		}
	}
	for rel := range r.ignoredDirs {
		isDir[rel] = true
	}
	root := r.Dir
	w.mu.Unlock()
	for p, d := range isDir {
		if !d {
			// A directory created since may hold tracked files made before
			// its watch was in place: report it whole.
			if fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(p))); err == nil && fi.IsDir() {
				d = true
			}
		}
		if d {
			ans.Paths = append(ans.Paths, p+"/")
		} else {
			ans.Paths = append(ans.Paths, p)
		}
	}
	slices.Sort(ans.Paths)
	return ans
}

func parseToken(t string) (epoch string, seq uint64, ok bool) {
	rest, ok := strings.CutPrefix(t, "studiod:")
	if !ok {
		return "", 0, false
	}
	epoch, n, ok := strings.Cut(rest, ":")
	if !ok {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(n, 10, 64)
	return epoch, seq, err == nil
}

// ErrNoSync reports that the watcher cannot sync: it has no cookie
// directory, or the cookie did not come back in time.
var ErrNoSync = errors.New("watcher cannot sync")

// Sync returns once every file system event that happened before the call
// has been received: it creates a cookie file in the watcher's cookie
// directory and waits for its event, which inotify queues after them.
func (w *Watcher) Sync(ctx context.Context) error {
	dir, err := w.cookies()
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.cookieN++
	name := filepath.Join(dir, strconv.FormatUint(w.cookieN, 10))
	ch := make(chan struct{})
	w.cookieWait[name] = ch
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.cookieWait, name)
		w.mu.Unlock()
		os.Remove(name)
	}()
	if err := os.WriteFile(name, nil, 0o600); err != nil {
		return fmt.Errorf("%w: %v", ErrNoSync, err)
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-w.ctx.Done():
		return fmt.Errorf("%w: watcher closed", ErrNoSync)
	case <-time.After(2 * time.Second):
		return fmt.Errorf("%w: no event for the cookie within 2s", ErrNoSync)
	}
}

// cookies returns the watched cookie directory, making and watching it the
// first time.
func (w *Watcher) cookies() (string, error) {
	w.cookieOnce.Do(func() {
		dir := w.opts.CookieDir
		if dir == "" {
			w.cookieErr = fmt.Errorf("%w: no cookie directory", ErrNoSync)
			return
		}
		// Cookies of an earlier daemon are stale.
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			w.cookieErr = fmt.Errorf("%w: %v", ErrNoSync, err)
			return
		}
		if err := w.fsw.Add(dir); err != nil {
			w.cookieErr = fmt.Errorf("%w: watch %s: %v", ErrNoSync, dir, err)
			return
		}
		w.mu.Lock()
		w.cookieDir = dir
		w.mu.Unlock()
	})
	return w.opts.CookieDir, w.cookieErr
}

// FsmonitorConfig makes git in the worktree at dir ask hook (a shell
// command line, to which git appends the protocol version and the token)
// what changed and keep an untracked cache, through the worktree's own
// config (config.worktree): nothing in the worktree's files or in the other
// worktrees changes. It never splits the index (splitindex.go says why)
// and unsets core.splitIndex, which earlier daemons set. That needs
// extensions.worktreeConfig, which it turns on in the repository's config
// when it is off, unless the repository sets core.worktree or core.bare
// there, which the extension would make apply to the main worktree alone.
// hook "" removes the settings.
func (r *Repo) FsmonitorConfig(ctx context.Context, dir, hook string) error {
	if hook == "" {
		for _, key := range []string{"core.fsmonitor", "core.fsmonitorHookVersion", "core.untrackedCache", "core.splitIndex"} {
			if _, err := r.Git.Run(ctx, dir, "config", "--worktree", "--unset-all", key); err != nil && ExitCode(err) != 5 {
				if ExitCode(err) == 128 { // no per-worktree config to unset from
					return nil
				}
				return fmt.Errorf("fsmonitor config %s: %w", dir, err)
			}
		}
		return nil
	}
	if err := r.enableWorktreeConfig(ctx); err != nil {
		return err
	}
	for _, kv := range [][2]string{{"core.fsmonitor", hook}, {"core.fsmonitorHookVersion", "2"}, {"core.untrackedCache", "true"}} {
		if _, err := r.Git.Run(ctx, dir, "config", "--worktree", kv[0], kv[1]); err != nil {
			return fmt.Errorf("fsmonitor config %s: %w", dir, err)
		}
	}
	if _, err := r.Git.Run(ctx, dir, "config", "--worktree", "--unset-all", "core.splitIndex"); err != nil && ExitCode(err) != 5 {
		return fmt.Errorf("fsmonitor config %s: %w", dir, err)
	}
	return nil
}

// ErrWorktreeConfig reports a repository whose config makes per-worktree
// settings unsafe to turn on.
var ErrWorktreeConfig = errors.New("per-worktree config unavailable")

func (r *Repo) enableWorktreeConfig(ctx context.Context) error {
	common := filepath.Join(r.CommonDir, "config")
	get := func(key string) string {
		out, _ := r.Run(ctx, "config", "--file", common, "--get", key)
		return trim(out)
	}
	if get("extensions.worktreeConfig") == "true" {
		return nil
	}
	if get("core.worktree") != "" || get("core.bare") == "true" {
		return fmt.Errorf("%w: %s sets core.worktree or core.bare", ErrWorktreeConfig, common)
	}
	var err error
	// Another git may hold config.lock for a moment.
	for range 3 {
		if _, err = r.Run(ctx, "config", "--file", common, "extensions.worktreeConfig", "true"); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("enable extensions.worktreeConfig: %w", err)
}

// Mark returns a token naming this moment for the watched worktree dir, for
// ChangedSince; "" when dir is not watched with a change log.
func (w *Watcher) Mark(dir string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if r := w.roots[filepath.Clean(dir)]; r != nil && r.log != nil && r.degraded == "" {
		return w.token()
	}
	return ""
}

// ChangedSince reports whether anything in the watched worktree dir may
// have changed since Mark gave token: true also when the watcher cannot
// tell (not watched, degraded, events lost, no sync). Unlike the debounced
// batches, it sees every event that happened before the call.
func (w *Watcher) ChangedSince(ctx context.Context, dir, token string) bool {
	if token == "" || w.Sync(ctx) != nil {
		return true
	}
	epoch, seq, ok := parseToken(token)
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.roots[filepath.Clean(dir)]
	if r == nil || r.log == nil || r.degraded != "" || !ok || epoch != w.epoch || seq < r.log.floor {
		return true
	}
	for _, e := range r.log.entries {
		if e.seq > seq {
			return true
		}
	}
	return false
}
