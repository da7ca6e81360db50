package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Session worktrees never split their index. git 2.38 to 2.40 keep the
// fsmonitor's bitmap of dirty entries in the shared index file sized for
// the whole index while the shared index holds fewer entries (fixed in
// 2.41), after which every git that reads that index aborts with "BUG:
// fsmonitor.c: fsmonitor_dirty has more entries than the index"; a
// rebase -r, merge or stash with the daemon's own git (which writes the
// index unsplit) in between gets there. Earlier daemons split the index of
// every session worktree, so RepairIndex undoes that wherever it finds it.

// IndexRepair says what RepairIndex did to a worktree's index.
type IndexRepair struct {
	// Merged: the index was split and is now one file again.
	Merged bool
	// Rewritten: the index could not be read and was written anew from
	// HEAD: what was staged is unstaged, no file changed. Why says what
	// git said.
	Rewritten bool
	Why       string
}

func (r IndexRepair) String() string {
	switch {
	case r.Rewritten:
		return "the index could not be read (" + r.Why + "): rewritten from HEAD; staged changes are now unstaged, no file changed"
	case r.Merged:
		return "the split index was merged back into one file"
	}
	return ""
}

// IsIndexBug reports whether err is git aborting on an index it cannot
// read (its "BUG:" assertions), which RepairIndex may mend.
func IsIndexBug(err error) bool {
	var ge *GitError
	return errors.As(err, &ge) && strings.Contains(ge.Stderr, "BUG: ")
}

// RepairIndex makes sure the worktree at dir does not split its index:
// core.splitIndex is unset in its own config, and an index that is split
// is merged back into one file, or, when git can no longer read it,
// written anew from HEAD. The shared index files go. Unless broken (git
// said it cannot read the index), a worktree showing no sign of a split
// index (no shared index file, no core.splitIndex) is left as it is, and
// the zero IndexRepair returned.
func (g *Git) RepairIndex(ctx context.Context, dir string, broken bool) (IndexRepair, error) {
	var done IndexRepair
	if !broken && !splitSigns(linkedGitDir(dir)) {
		// The common case, without running git: a linked worktree whose
		// git directory holds no shared index and whose config does not
		// split it (or no linked worktree at all).
		return done, nil
	}
	if _, err := g.Run(ctx, dir, "config", "--worktree", "--unset-all", "core.splitIndex"); err != nil && ExitCode(err) != 5 && ExitCode(err) != 128 {
		return done, fmt.Errorf("repair index %s: %w", dir, err)
	}
	out, err := g.Run(ctx, dir, "rev-parse", "--path-format=absolute", "--git-path", "index")
	if err != nil {
		return done, fmt.Errorf("repair index %s: %w", dir, err)
	}
	index := trim(out)
	shared, _ := filepath.Glob(filepath.Join(filepath.Dir(index), "sharedindex.*"))
	if len(shared) == 0 && !broken {
		return done, nil
	}
	// A git that aborted on the index left its lock behind.
	if staleLock(index+".lock", time.Second) {
		os.Remove(index + ".lock")
	}
	// Git's own Run turns the fsmonitor and the split index off: this
	// writes the index whole, without the fsmonitor's bitmap.
	_, err = g.Run(ctx, dir, "update-index", "--no-split-index")
	switch {
	case err == nil:
		done.Merged = len(shared) > 0
	case IsIndexBug(err) || ExitCode(err) < 0 && errors.As(err, new(*GitError)):
		done.Why = firstLine(err.(*GitError).Stderr)
		// It aborted too, holding the lock.
		if staleLock(index+".lock", 0) {
			os.Remove(index + ".lock")
		}
		if err := g.rewriteIndex(ctx, dir, index); err != nil {
			return done, fmt.Errorf("repair index %s: %w", dir, err)
		}
		done.Rewritten = true
	default:
		return done, fmt.Errorf("repair index %s: %w", dir, err)
	}
	// Nothing links to the shared index files any more.
	for _, f := range shared {
		os.Remove(f)
	}
	if done != (IndexRepair{}) {
		// What was done stays said beside the index, for `studiod doctor`,
		// as long as the worktree lives.
		note := time.Now().UTC().Format(time.RFC3339) + " " + done.String() + "\n"
		if err := os.WriteFile(filepath.Join(filepath.Dir(index), repairNote), []byte(note), 0o644); err != nil {
			return done, fmt.Errorf("repair index %s: record the repair: %w", dir, err)
		}
	}
	return done, nil
}

// repairNote is the file beside a worktree's index that says when and how
// RepairIndex last repaired it.
const repairNote = "studiod-index-repair"

// splitSigns reports whether the worktree git directory gd shows a split
// index: a shared index file, or core.splitIndex in its own config.
func splitSigns(gd string) bool {
	if gd == "" {
		return false
	}
	shared, _ := filepath.Glob(filepath.Join(gd, "sharedindex.*"))
	cfg, _ := os.ReadFile(filepath.Join(gd, "config.worktree"))
	return len(shared) > 0 || strings.Contains(strings.ToLower(string(cfg)), "splitindex")
}

// IndexHealth is what CheckIndex found in a worktree's index.
type IndexHealth struct {
	// Trouble says why the index needs RepairIndex; "" when it does not.
	Trouble string
	// Repaired says when and how RepairIndex last repaired it; "" when
	// it never did.
	Repaired string
}

// CheckIndex says, changing nothing, whether the index of the worktree at
// dir needs RepairIndex (it is split, or git cannot read it) and whether
// it was repaired before.
func (g *Git) CheckIndex(ctx context.Context, dir string) (IndexHealth, error) {
	var h IndexHealth
	gd := linkedGitDir(dir)
	if gd == "" {
		return h, nil
	}
	if b, err := os.ReadFile(filepath.Join(gd, repairNote)); err == nil {
		h.Repaired = strings.TrimSpace(string(b))
	}
	if splitSigns(gd) {
		h.Trouble = "its index is split (core.splitIndex or a shared index file), which git 2.38 to 2.40 can leave unreadable"
	}
	// Any read of the index: .git is never tracked, so nothing is listed.
	var ge *GitError
	if _, err := g.Run(ctx, dir, "ls-files", "-z", "--", ".git"); IsIndexBug(err) && errors.As(err, &ge) {
		h.Trouble = "git cannot read its index (" + firstLine(ge.Stderr) + ")"
	} else if err != nil {
		return h, fmt.Errorf("check the index of %s: %w", dir, err)
	}
	return h, nil
}

// rewriteIndex replaces the worktree's index with one read from HEAD,
// holding index.lock as git does, so no git writes it meanwhile.
func (g *Git) rewriteIndex(ctx context.Context, dir, index string) error {
	lock := index + ".lock"
	f, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w: %s", ErrLocked, lock)
		}
		return err
	}
	f.Close()
	defer os.Remove(lock)
	tmp := index + ".studiod-repair"
	os.Remove(tmp)
	if _, err := g.RunCmd(ctx, Cmd{Dir: dir, Env: []string{"GIT_INDEX_FILE=" + tmp}}, "read-tree", "HEAD"); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, index)
}

// staleLock reports whether the lock (or temporary) file at path was left
// by a git that is gone: it is age old or more, and no process has it open
// (a git holds such a file open until it renames it into place).
func staleLock(path string, age time.Duration) bool {
	fi, err := os.Lstat(path)
	if err != nil || time.Since(fi.ModTime()) < age {
		return false
	}
	open, ok := openAmong(map[string]bool{path: true})
	return ok && !open[path]
}

// openAmong reports which of paths some process has open; ok is false when
// that cannot be told.
func openAmong(paths map[string]bool) (open map[string]bool, ok bool) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	open = map[string]bool{}
	for _, p := range procs {
		fds, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		for _, fd := range fds {
			if l, _ := os.Readlink(filepath.Join("/proc", p.Name(), "fd", fd.Name())); paths[l] {
				open[l] = true
			}
		}
	}
	return open, true
}

// linkedGitDir is the git directory of the linked worktree at dir, as its
// .git file names it; "" when dir is not one.
func linkedGitDir(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, ".git"))
	if err != nil {
		return ""
	}
	gd, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
	if !ok {
		return ""
	}
	if !filepath.IsAbs(gd) {
		gd = filepath.Join(dir, gd)
	}
	return gd
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// CleanTempObjects removes the temporary object files (objects/??/tmp_obj_*
// and objects/tmp_obj_*) that a git or a snapshot which failed part-way
// (a full disk, a kill) left in the repository: those at least age old
// that no process has open. It returns how many it removed.
func (r *Repo) CleanTempObjects(age time.Duration) int {
	objects := filepath.Join(r.CommonDir, "objects")
	var files []string
	for _, pattern := range []string{"tmp_obj_*", "??/tmp_obj_*"} {
		m, _ := filepath.Glob(filepath.Join(objects, pattern))
		files = append(files, m...)
	}
	old := map[string]bool{}
	for _, f := range files {
		if fi, err := os.Lstat(f); err == nil && time.Since(fi.ModTime()) >= age {
			old[f] = true
		}
	}
	if len(old) == 0 {
		return 0
	}
	open, ok := openAmong(old)
	if !ok {
		return 0
	}
	n := 0
	for f := range old {
		if !open[f] && os.Remove(f) == nil {
			n++
		}
	}
	return n
}

// ObjectStats is what `git count-objects -v` says of a repository's loose
// objects: snapshots write theirs loose, and those of snapshots no ref
// keeps stay until a `git gc` drops them.
type ObjectStats struct {
	Loose        int   // loose objects
	LooseBytes   int64 // their size on disk
	Garbage      int   // files in the object directory that are no objects (tmp_obj_*: writes cut short)
	GarbageBytes int64
}

// ObjectStats counts the repository's loose objects.
func (r *Repo) ObjectStats(ctx context.Context) (ObjectStats, error) {
	out, err := r.Run(ctx, "count-objects", "-v")
	if err != nil {
		return ObjectStats{}, err
	}
	var st ObjectStats
	for line := range strings.Lines(string(out)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ": ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "count":
			st.Loose = int(n)
		case "size":
			st.LooseBytes = n << 10
		case "garbage":
			st.Garbage = int(n)
		case "size-garbage":
			st.GarbageBytes = n << 10
		}
	}
	return st, nil
}
