package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
)

// TestSnapshotterRandomOps runs random file operations on a real repository
// and after each checks the incremental snapshot against `git add -A` on a
// fresh copy of the index. STUDIOD_SNAP_SEED replays a run,
// STUDIOD_SNAP_STEPS sets its length.
func TestSnapshotterRandomOps(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("STUDIOD_SNAP_SEED"), 10, 64); err == nil {
		seed = v
	}
	steps := envInt("STUDIOD_SNAP_STEPS", 150)
	if testing.Short() {
		steps = 40
	}
	t.Logf("seed %d (STUDIOD_SNAP_SEED=%d replays it)", seed, seed)
	e := newSnapEnv(t, map[string]string{
		".gitignore":   "*.log\nbuild/\n",
		"a":            "1\n",
		"d e/b":        "2\n",
		"d e/ü/c":      "3\n",
		"tracked.log":  "tracked\n",
		"x\ny/exec.sh": "#!/bin/sh\n",
	})
	os.Chmod(filepath.Join(e.dir, "x\ny/exec.sh"), 0o755)
	gittest.Commit(t, e.dir, "exec")
	w := &walker{r: rand.New(rand.NewPCG(seed, 0)), e: e}
	prev := e.full()
	var log []string
	fulls := 0
	for step := range steps {
		op, changed := w.step()
		log = append(log, fmt.Sprintf("%d: %s → %q", step, op, changed))
		got, err := e.s.Update(t.Context(), e.dir, prev, changed)
		want := e.full()
		if errors.Is(err, ErrFullSnapshot) {
			fulls++
			prev = want
			continue
		}
		if err != nil {
			t.Fatalf("step %s: %v\n%s", log[len(log)-1], err, strings.Join(log, "\n"))
		}
		if got != want {
			diff := e.treeDiff(got.Tree, want.Tree)
			status, _ := gittest.Try(e.dir, "status", "--porcelain", "--untracked-files=all", "--ignored")
			t.Fatalf("step %s:\ngot  %+v\nwant %+v\n%s\nstatus:\n%s\nops:\n%s", log[len(log)-1], got, want, diff, status, strings.Join(log, "\n"))
		}
		prev = got
	}
	t.Logf("%d steps, %d needed a full snapshot", steps, fulls)
}

// walker makes random changes to a worktree and reports them as the
// watcher would.
type walker struct {
	r     *rand.Rand
	e     *snapEnv
	files []string // regular files and symlinks, relative
	dirs  []string
	nest  int
}

var (
	walkNames    = []string{"a", "b", "c", "d e", "ü", "x\ny", `q"`, ".hidden", "z.log", "build", "k.log", "sub"}
	walkContents = []string{"1\n", "2\n", "3\n", ""}
)

func (w *walker) scan() {
	w.files, w.dirs = nil, nil
	filepath.WalkDir(w.e.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(w.e.dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case rel == ".":
			return nil
		case d.Name() == ".git":
			return fs.SkipDir
		case d.IsDir():
			if _, err := os.Lstat(filepath.Join(p, ".git")); err == nil {
				return fs.SkipDir // a nested repository
			}
			w.dirs = append(w.dirs, rel)
		default:
			w.files = append(w.files, rel)
		}
		return nil
	})
}

func (w *walker) pick(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[w.r.IntN(len(list))]
}

// newPath returns a path that does not exist, under an existing directory
// or a new one.
func (w *walker) newPath() string {
	for {
		var parts []string
		if d := w.pick(w.dirs); d != "" && w.r.IntN(2) == 0 {
			parts = strings.Split(d, "/")
		}
		for range 1 + w.r.IntN(3) {
			parts = append(parts, w.pick(walkNames))
		}
		p := strings.Join(parts, "/")
		if _, err := os.Lstat(w.abs(p)); err != nil {
			return p
		}
	}
}

func (w *walker) abs(p string) string { return filepath.Join(w.e.dir, filepath.FromSlash(p)) }

// created lists what the watcher may report for a new path p: the first
// directory made for it, or p itself, or both.
func (w *walker) created(p string, before func(string) bool) []string {
	top := p
	for a := path.Dir(p); a != "."; a = path.Dir(a) {
		if !before(a) {
			top = a
		}
	}
	switch w.r.IntN(3) {
	case 0:
		return []string{top}
	case 1:
		return []string{p}
	}
	return []string{top, p}
}

func (w *walker) exists(p string) bool {
	_, err := os.Lstat(w.abs(p))
	return err == nil
}

// mkdirs makes the directories above p, replacing files and symlinks in
// the way (never writing through a symlink: the watcher would report the
// path it leads to).
func (w *walker) mkdirs(p string) {
	var above []string
	for a := path.Dir(p); a != "."; a = path.Dir(a) {
		above = append(above, a)
	}
	slices.Reverse(above)
	for _, a := range above {
		if fi, err := os.Lstat(w.abs(a)); err == nil && !fi.IsDir() {
			os.Remove(w.abs(a))
		}
		os.Mkdir(w.abs(a), 0o755)
	}
}

// write writes a file at p, replacing a file in the way by a directory.
func (w *walker) write(p, content string) {
	w.mkdirs(p)
	os.WriteFile(w.abs(p), []byte(content), 0o644)
}

// step makes one random change and returns its name and the changed paths.
func (w *walker) step() (string, []string) {
	w.scan()
	t := w.e.t
	existed := map[string]bool{}
	for _, d := range w.dirs {
		existed[d] = true
	}
	had := func(a string) bool { return existed[a] }
	switch n := w.r.IntN(100); {
	case n < 20: // create a file
		p := w.newPath()
		w.write(p, w.pick(walkContents))
		return "create " + p, w.created(p, had)
	case n < 35: // modify a file, maybe back to what it was
		p := w.pick(w.files)
		if p == "" {
			return "nothing", nil
		}
		fi, _ := os.Lstat(w.abs(p))
		if fi != nil && fi.Mode()&fs.ModeSymlink != 0 {
			os.Remove(w.abs(p))
		}
		os.WriteFile(w.abs(p), []byte(w.pick(walkContents)), 0o644)
		return "modify " + p, []string{p}
	case n < 45: // delete a file
		p := w.pick(w.files)
		if p == "" {
			return "nothing", nil
		}
		os.Remove(w.abs(p))
		return "delete " + p, []string{p}
	case n < 50: // delete a directory
		d := w.pick(w.dirs)
		if d == "" {
			return "nothing", nil
		}
		var under []string
		for _, f := range w.files {
			if strings.HasPrefix(f, d+"/") {
				under = append(under, f)
			}
		}
		os.RemoveAll(w.abs(d))
		if w.r.IntN(2) == 0 && len(under) > 0 {
			return "delete dir " + d + " (files reported)", under
		}
		return "delete dir " + d, []string{d}
	case n < 60: // rename a file or a directory
		from := w.pick(slices.Concat(w.files, w.dirs))
		if from == "" {
			return "nothing", nil
		}
		to := w.newPath()
		if strings.HasPrefix(to+"/", from+"/") {
			return "nothing", nil
		}
		w.mkdirs(to)
		if err := os.Rename(w.abs(from), w.abs(to)); err != nil {
			return "rename failed " + from, nil
		}
		return "rename " + from + " → " + to, append([]string{from}, w.created(to, had)...)
	case n < 67: // chmod
		p := w.pick(w.files)
		fi, err := os.Lstat(w.abs(p))
		if p == "" || err != nil || !fi.Mode().IsRegular() {
			return "nothing", nil
		}
		os.Chmod(w.abs(p), fi.Mode().Perm()^0o111)
		return "chmod " + p, []string{p}
	case n < 74: // a symlink, new or in place of a file
		p := w.newPath()
		if w.r.IntN(2) == 0 && len(w.files) > 0 {
			p = w.pick(w.files)
			os.Remove(w.abs(p))
		}
		w.mkdirs(p)
		target := w.pick(append(slices.Clone(w.files), "nowhere", "../up", "d e"))
		os.Symlink(target, w.abs(p))
		return "symlink " + p + " → " + target, w.created(p, had)
	case n < 79: // a file replaced by a directory, or a directory by a file
		if w.r.IntN(2) == 0 {
			p := w.pick(w.files)
			if p == "" {
				return "nothing", nil
			}
			os.Remove(w.abs(p))
			q := p + "/" + w.pick(walkNames)
			w.write(q, w.pick(walkContents))
			return "file to dir " + p, w.created(q, had)
		}
		d := w.pick(w.dirs)
		if d == "" {
			return "nothing", nil
		}
		os.RemoveAll(w.abs(d))
		os.WriteFile(w.abs(d), []byte("was a dir\n"), 0o644)
		return "dir to file " + d, []string{d}
	case n < 83: // ignored files and directories
		p := w.newPath()
		switch w.r.IntN(3) {
		case 0:
			p += ".log"
		case 1:
			p = path.Join(path.Dir(p), "build", "out.o")
		}
		if w.exists(p) {
			return "nothing", nil
		}
		w.write(p, "ignored\n")
		return "ignored " + p, w.created(p, had)
	case n < 86: // empty directories
		p := w.newPath()
		w.mkdirs(p + "/x")
		return "mkdir " + p, w.created(p, had)
	case n < 89: // a nested repository, new or moving on
		if w.nest > 0 && w.r.IntN(2) == 0 {
			d := w.abs(fmt.Sprintf("nest%d", w.r.IntN(w.nest)))
			if _, err := os.Lstat(filepath.Join(d, ".git")); err != nil {
				return "nothing", nil
			}
			gittest.Write(t, d, map[string]string{"inner": w.pick(walkContents) + "x"})
			gittest.Commit(t, d, "inner")
			rel, _ := filepath.Rel(w.e.dir, d)
			return "nested moves " + rel, []string{rel + "/inner", rel + "/.git/HEAD"}
		}
		p := fmt.Sprintf("nest%d", w.nest)
		w.nest++
		gittest.Git(t, "", "init", "-q", "-b", "main", w.abs(p))
		if w.r.IntN(4) > 0 {
			gittest.Write(t, w.abs(p), map[string]string{"inner": "i\n"})
			gittest.Commit(t, w.abs(p), "inner")
		}
		return "nested " + p, []string{p}
	case n < 92: // paths that changed and vanished, or changed inside .git
		return "spurious", []string{w.newPath(), ".git/index", w.pick(w.files)}
	case n < 95: // a commit: HEAD moves
		gittest.Try(w.e.dir, "add", "-A", "--ignore-errors")
		gittest.Git(t, w.e.dir, "commit", "-q", "--allow-empty", "-m", "step")
		return "commit", nil
	case n < 97: // the ignore rules change
		rules := []string{"*.log\nbuild/\n", "*.log\n", "build/\n!k.log\n*.log\n", "b\n"}
		os.WriteFile(w.abs(".gitignore"), []byte(w.pick(rules)), 0o644)
		return "gitignore", []string{".gitignore"}
	default: // several at once
		var all []string
		var names []string
		for range 2 + w.r.IntN(3) {
			name, ch := w.step()
			names = append(names, name)
			all = append(all, ch...)
		}
		return "batch(" + strings.Join(names, "; ") + ")", all
	}
}
