package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
)

var strategies = []string{StrategyMerge, StrategySquash, StrategyRebase}

// mergeFixture is a repository with main and a session worktree on
// studio/s. The session has a committed change to a.txt, an uncommitted one
// to b.txt and an untracked new.txt; main has a commit of its own on c.txt.
type mergeFixture struct {
	r    *Repo
	root string // main worktree: main checked out, or detached
	sess string
	old  string // main's tip
}

func newMergeFixture(t *testing.T, targetCheckedOut bool) *mergeFixture {
	t.Helper()
	edit := func(s, from, to string) string { return strings.Replace(s, from+"\n", to+"\n", 1) }
	lines := gittest.Lines(20)
	root := gittest.NewRepo(t, map[string]string{"a.txt": lines, "b.txt": lines, "c.txt": lines, "d.txt": lines})
	sess := filepath.Join(t.TempDir(), "sess")
	gittest.Git(t, root, "worktree", "add", "-q", "-b", "studio/s", sess, "main")
	gittest.Write(t, sess, map[string]string{"a.txt": edit(lines, "line 2", "session 2")})
	gittest.Commit(t, sess, "session edits a")
	gittest.Write(t, sess, map[string]string{"b.txt": edit(lines, "line 5", "session 5"), "new.txt": "new\n"})

	gittest.Write(t, root, map[string]string{"c.txt": edit(lines, "line 9", "main 9")})
	old := gittest.Commit(t, root, "main edits c")
	if !targetCheckedOut {
		gittest.Git(t, root, "checkout", "-q", "--detach")
	}
	r, err := Open(t.Context(), testGit(), root)
	if err != nil {
		t.Fatal(err)
	}
	return &mergeFixture{r: r, root: root, sess: sess, old: old}
}

func (f *mergeFixture) opts(strategy string) MergeOptions {
	return MergeOptions{Repo: f.r, Branch: "studio/s", Target: "main", Strategy: strategy}
}

func (f *mergeFixture) tip(t *testing.T, branch string) string {
	t.Helper()
	return gittest.Git(t, f.root, "rev-parse", "refs/heads/"+branch)
}

// repoState is everything a refused operation must leave alone: refs, and
// each worktree's HEAD, index and files.
func repoState(t *testing.T, dirs ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(gittest.Git(t, dirs[0], "for-each-ref", "--format=%(refname) %(objectname)"))
	for _, d := range dirs {
		fmt.Fprintf(&b, "\n== %s\nHEAD %s\n", d, gittest.Git(t, d, "rev-parse", "HEAD"))
		b.WriteString(gittest.Git(t, d, "ls-files", "-s"))
		filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.Name() == ".git" {
				if e.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !e.IsDir() {
				data, _ := os.ReadFile(p)
				fmt.Fprintf(&b, "\n%s: %q", p, data)
			}
			return nil
		})
	}
	return b.String()
}

func show(t *testing.T, dir, rev, path string) string {
	t.Helper()
	out, err := gittest.Try(dir, "show", rev+":"+path)
	if err != nil {
		return "<missing>"
	}
	return out
}

func TestMergeStrategies(t *testing.T) {
	for _, strategy := range strategies {
		for _, mode := range []string{"not checked out", "checked out clean", "checked out dirty elsewhere"} {
			t.Run(strategy+"/"+mode, func(t *testing.T) {
				ctx := t.Context()
				f := newMergeFixture(t, mode != "not checked out")
				if mode == "checked out dirty elsewhere" {
					gittest.Write(t, f.root, map[string]string{"d.txt": "mine\n", "mine.txt": "untracked\n"})
					gittest.Git(t, f.root, "add", "mine.txt")
					gittest.Write(t, f.root, map[string]string{"mine2.txt": "untracked too\n"})
				}
				journal := filepath.Join(t.TempDir(), "merge.json")
				o := f.opts(strategy)
				o.Journal = journal
				res, err := Merge(ctx, o)
				if err != nil {
					t.Fatal(err)
				}
				if res.Old != f.old || res.New == "" || res.New != f.tip(t, "main") {
					t.Errorf("result %+v: main at %s, old %s", res, f.tip(t, "main"), f.old)
				}
				if got := gittest.Git(t, f.root, "rev-parse", res.Backup); got != f.old {
					t.Errorf("backup %s at %s, want %s", res.Backup, got, f.old)
				}
				if !strings.HasPrefix(res.Backup, "refs/studio/backup/main/") {
					t.Errorf("backup ref name %q", res.Backup)
				}
				if _, err := os.Stat(journal); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("journal left behind: %v", err)
				}
				// The checkpoint holds the uncommitted work on the branch.
				sessTip := f.tip(t, "studio/s")
				if res.Checkpoint == "" || res.Checkpoint != sessTip {
					t.Errorf("checkpoint %q, branch at %s", res.Checkpoint, sessTip)
				}
				if st := gittest.Git(t, f.sess, "status", "--porcelain"); st != "" {
					t.Errorf("session worktree not clean after checkpoint:\n%s", st)
				}
				// Content: both sides' changes.
				for path, want := range map[string]string{"a.txt": "session 2", "b.txt": "session 5", "c.txt": "main 9", "new.txt": "new"} {
					if got := show(t, f.root, res.New, path); !strings.Contains(got, want) {
						t.Errorf("%s in result: %q lacks %q", path, got, want)
					}
				}
				if res.Files != 3 {
					t.Errorf("files: got %d, want 3", res.Files)
				}
				parents := strings.Fields(gittest.Git(t, f.root, "log", "-1", "--format=%P", res.New))
				switch strategy {
				case StrategyMerge:
					if !reflect.DeepEqual(parents, []string{f.old, sessTip}) {
						t.Errorf("merge parents %v, want [%s %s]", parents, f.old, sessTip)
					}
				case StrategySquash:
					if !reflect.DeepEqual(parents, []string{f.old}) {
						t.Errorf("squash parents %v, want [%s]", parents, f.old)
					}
				case StrategyRebase:
					if n := gittest.Git(t, f.root, "rev-list", "--count", f.old+".."+res.New); n != "2" {
						t.Errorf("rebase: %s commits on top of old, want 2", n)
					}
					if m := gittest.Git(t, f.root, "rev-list", "--merges", f.old+".."+res.New); m != "" {
						t.Errorf("rebase made merges: %s", m)
					}
					if got := gittest.Git(t, f.root, "log", "--reverse", "--format=%s|%an", f.old+".."+res.New); !strings.HasPrefix(got, "session edits a|Studio Test\n") {
						t.Errorf("rebased commits: %q", got)
					}
				}
				if mode == "not checked out" {
					return
				}
				// The checked-out target's files follow, local work stays.
				if data, _ := os.ReadFile(filepath.Join(f.root, "a.txt")); !strings.Contains(string(data), "session 2") {
					t.Errorf("target worktree a.txt not updated")
				}
				st := gittest.Git(t, f.root, "status", "--porcelain")
				want := ""
				if mode == "checked out dirty elsewhere" {
					want = "M d.txt\nA  mine.txt\n?? mine2.txt" // gittest trims the leading space
				}
				if st != want {
					t.Errorf("target worktree status:\n%s\nwant\n%s", st, want)
				}
			})
		}
	}
}

func TestMergeTargetDirtyInTouchedPaths(t *testing.T) {
	for _, strategy := range strategies {
		for _, tc := range []struct {
			name  string
			files map[string]string
			want  []string
		}{
			{"modified", map[string]string{"a.txt": "mine\n"}, []string{"a.txt"}},
			{"untracked where the merge adds", map[string]string{"new.txt": "mine\n", "other.txt": "x\n"}, []string{"new.txt"}},
			{"uncommitted part of the session", map[string]string{"b.txt": "mine\n"}, []string{"b.txt"}},
		} {
			t.Run(strategy+"/"+tc.name, func(t *testing.T) {
				f := newMergeFixture(t, true)
				gittest.Write(t, f.root, tc.files)
				before := repoState(t, f.root, f.sess)
				_, err := Merge(t.Context(), f.opts(strategy))
				var de *TargetDirtyError
				if !errors.As(err, &de) {
					t.Fatalf("got %v, want *TargetDirtyError", err)
				}
				if de.Worktree != f.root || !reflect.DeepEqual(de.Paths, tc.want) {
					t.Errorf("got %+v, want paths %v in %s", de, tc.want, f.root)
				}
				if after := repoState(t, f.root, f.sess); after != before {
					t.Errorf("state changed:\n%s\nwant\n%s", after, before)
				}
			})
		}
	}
}

func TestMergeConflict(t *testing.T) {
	for _, strategy := range strategies {
		for _, checkedOut := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/checkedOut=%v", strategy, checkedOut), func(t *testing.T) {
				f := newMergeFixture(t, checkedOut)
				// main changes the line the session changed, in another commit.
				tmp := filepath.Join(t.TempDir(), "tmp")
				gittest.Git(t, f.root, "worktree", "add", "-q", "--detach", tmp, "main")
				gittest.Write(t, tmp, map[string]string{"a.txt": strings.Replace(gittest.Lines(20), "line 2\n", "main 2\n", 1)})
				c := gittest.Commit(t, tmp, "main edits a")
				gittest.Git(t, f.root, "worktree", "remove", tmp)
				if checkedOut {
					gittest.Git(t, f.root, "merge", "-q", "--ff-only", c)
				} else {
					gittest.Git(t, f.root, "update-ref", "refs/heads/main", c)
				}
				before := repoState(t, f.root, f.sess)
				journal := filepath.Join(t.TempDir(), "j.json")
				o := f.opts(strategy)
				o.Journal = journal
				_, err := Merge(t.Context(), o)
				var ce *ConflictError
				if !errors.As(err, &ce) {
					t.Fatalf("got %v, want *ConflictError", err)
				}
				if !reflect.DeepEqual(ce.Paths, []string{"a.txt"}) {
					t.Errorf("conflicts: got %v, want [a.txt]", ce.Paths)
				}
				if after := repoState(t, f.root, f.sess); after != before {
					t.Errorf("state changed:\n%s\nwant\n%s", after, before)
				}
				if _, err := os.Stat(journal); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("journal written for a refused merge: %v", err)
				}
			})
		}
	}
}

func TestMergeDryRun(t *testing.T) {
	for _, strategy := range strategies {
		t.Run(strategy, func(t *testing.T) {
			f := newMergeFixture(t, true)
			before := repoState(t, f.root, f.sess)
			o := f.opts(strategy)
			o.DryRun = true
			res, err := Merge(t.Context(), o)
			if err != nil {
				t.Fatal(err)
			}
			if !res.DryRun || res.Files != 3 || res.New != "" || res.Backup != "" || res.Old != f.old {
				t.Errorf("dry run result %+v", res)
			}
			if after := repoState(t, f.root, f.sess); after != before {
				t.Errorf("dry run changed state:\n%s\nwant\n%s", after, before)
			}
		})
	}
}

func TestMergeTargetMoves(t *testing.T) {
	for _, strategy := range strategies {
		for _, checkedOut := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/checkedOut=%v", strategy, checkedOut), func(t *testing.T) {
				f := newMergeFixture(t, checkedOut)
				var moved string
				testHookAfterStep = func(step string) error {
					if step != stepBackup {
						return nil
					}
					// Someone commits on main between prediction and update.
					if checkedOut {
						gittest.Write(t, f.root, map[string]string{"z.txt": "z\n"})
						moved = gittest.Commit(t, f.root, "concurrent")
					} else {
						moved = gittest.Git(t, f.root, "commit-tree", "-p", f.old, "-m", "concurrent", f.old+"^{tree}")
						gittest.Git(t, f.root, "update-ref", "refs/heads/main", moved)
					}
					return nil
				}
				t.Cleanup(func() { testHookAfterStep = nil })
				res, err := Merge(t.Context(), f.opts(strategy))
				if !errors.Is(err, ErrTargetMoved) {
					t.Fatalf("got %v, want ErrTargetMoved", err)
				}
				if got := f.tip(t, "main"); got != moved {
					t.Errorf("main at %s, want the concurrent commit %s", got, moved)
				}
				// The old tip is no longer on main, so its backup stays.
				if res.Backup == "" || gittest.Git(t, f.root, "rev-parse", res.Backup) != f.old {
					t.Errorf("backup %q of the old tip missing", res.Backup)
				}
			})
		}
	}
}

func TestMergeNothingToMerge(t *testing.T) {
	ctx := t.Context()
	root := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	sess := filepath.Join(t.TempDir(), "sess")
	gittest.Git(t, root, "worktree", "add", "-q", "-b", "studio/s", sess, "main")
	r, err := Open(ctx, testGit(), root)
	if err != nil {
		t.Fatal(err)
	}
	for _, strategy := range strategies {
		_, err := Merge(ctx, MergeOptions{Repo: r, Branch: "studio/s", Target: "main", Strategy: strategy})
		if !errors.Is(err, ErrNothingToMerge) {
			t.Errorf("%s, no changes: got %v, want ErrNothingToMerge", strategy, err)
		}
	}
	// The same change made on both sides: squash and rebase have nothing to
	// bring, a merge commit still records the history.
	gittest.Write(t, sess, map[string]string{"a.txt": "b\n"})
	gittest.Commit(t, sess, "same")
	gittest.Write(t, root, map[string]string{"a.txt": "b\n"})
	gittest.Commit(t, root, "same")
	for _, strategy := range []string{StrategySquash, StrategyRebase} {
		_, err := Merge(ctx, MergeOptions{Repo: r, Branch: "studio/s", Target: "main", Strategy: strategy})
		if !errors.Is(err, ErrNothingToMerge) {
			t.Errorf("%s, change already there: got %v, want ErrNothingToMerge", strategy, err)
		}
	}
}

func TestMergeValidates(t *testing.T) {
	f := newMergeFixture(t, false)
	for _, tc := range []struct {
		name string
		edit func(*MergeOptions)
	}{
		{"option branch", func(o *MergeOptions) { o.Branch = "-x" }},
		{"bad target", func(o *MergeOptions) { o.Target = "ma..in" }},
		{"same", func(o *MergeOptions) { o.Target = o.Branch }},
		{"strategy", func(o *MergeOptions) { o.Strategy = "octopus" }},
		{"wrong worktree", func(o *MergeOptions) { o.Worktree = f.root }},
		{"no such target", func(o *MergeOptions) { o.Target = "nope" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := f.opts(StrategyMerge)
			tc.edit(&o)
			before := repoState(t, f.root, f.sess)
			if _, err := Merge(t.Context(), o); err == nil {
				t.Error("no error")
			}
			if after := repoState(t, f.root, f.sess); after != before {
				t.Error("state changed")
			}
		})
	}
}

func TestCheckpoint(t *testing.T) {
	ctx := t.Context()
	dir := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	head := gittest.Git(t, dir, "rev-parse", "HEAD")
	// No identity anywhere: the studiod one steps in.
	g := &Git{Env: []string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=user.useConfigOnly", "GIT_CONFIG_VALUE_0=true"}}
	for _, k := range []string{"GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	c, err := g.Checkpoint(ctx, dir, "cp")
	if err != nil || c != "" {
		t.Fatalf("clean worktree: got %q, %v; want a no-op", c, err)
	}
	gittest.Write(t, dir, map[string]string{"a.txt": "b\n", "u/new.txt": "n\n"})
	os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("*.log\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "x.log"), []byte("ignored\n"), 0o644)
	c, err = g.Checkpoint(ctx, dir, "cp")
	if err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, dir, "rev-parse", "HEAD"); got != c {
		t.Errorf("HEAD %s, want checkpoint %s", got, c)
	}
	if got := gittest.Git(t, dir, "log", "-1", "--format=%P|%an|%cn|%s", c); got != head+"|studiod|studiod|cp" {
		t.Errorf("checkpoint commit: %q", got)
	}
	if got := gittest.Git(t, dir, "status", "--porcelain", "--ignored"); got != "!! x.log" {
		t.Errorf("status after checkpoint: %q", got)
	}
	if got := gittest.Git(t, dir, "symbolic-ref", "HEAD"); got != "refs/heads/main" {
		t.Errorf("HEAD is %s", got)
	}
}

// TestRebaseMatchesGit checks the plumbing replay against git rebase on a
// history with a rename on the target side, a commit the target already
// has, and a commit that starts empty.
func TestRebaseMatchesGit(t *testing.T) {
	ctx := t.Context()
	root := gittest.NewRepo(t, map[string]string{"dir/f.txt": gittest.Lines(30), "g.txt": gittest.Lines(10)})
	gittest.Git(t, root, "branch", "s")
	gittest.Git(t, root, "mv", "dir/f.txt", "dir/renamed.txt")
	gittest.Write(t, root, map[string]string{"g.txt": strings.Replace(gittest.Lines(10), "line 1\n", "one\n", 1)})
	gittest.Commit(t, root, "main renames f, edits g")
	gittest.Git(t, root, "checkout", "-q", "s")
	gittest.Write(t, root, map[string]string{"dir/f.txt": strings.Replace(gittest.Lines(30), "line 20\n", "twenty\n", 1)})
	gittest.Commit(t, root, "s edits f")
	gittest.Write(t, root, map[string]string{"g.txt": strings.Replace(gittest.Lines(10), "line 1\n", "one\n", 1)})
	gittest.Commit(t, root, "s makes main's change to g")
	gittest.Commit(t, root, "s empty")
	gittest.Write(t, root, map[string]string{"h.txt": "h\n"})
	gittest.Commit(t, root, "s adds h")
	gittest.Git(t, root, "checkout", "-q", "main")
	old := gittest.Git(t, root, "rev-parse", "main")
	tip := gittest.Git(t, root, "rev-parse", "s")

	got, err := testGit().replay(ctx, root, old, tip, nil)
	if err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, root, "checkout", "-q", "-b", "ref", "s")
	gittest.Git(t, root, "rebase", "-q", "main")
	want := gittest.Git(t, root, "rev-parse", "HEAD")
	for _, format := range []string{"%T", "%s|%an|%ae|%ad"} {
		g := gittest.Git(t, root, "log", "--format="+format, old+".."+got)
		w := gittest.Git(t, root, "log", "--format="+format, old+".."+want)
		if g != w {
			t.Errorf("replay %s:\n%s\ngit rebase:\n%s", format, g, w)
		}
	}
}

func TestUndo(t *testing.T) {
	for _, strategy := range strategies {
		for _, checkedOut := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/checkedOut=%v", strategy, checkedOut), func(t *testing.T) {
				ctx := t.Context()
				f := newMergeFixture(t, checkedOut)
				res, err := Merge(ctx, f.opts(strategy))
				if err != nil {
					t.Fatal(err)
				}
				uo := UndoOptions{Repo: f.r, Target: "main", Merged: res.New, Backup: res.Backup, Journal: filepath.Join(t.TempDir(), "j")}
				if checkedOut {
					// Local changes where the undo would write: refused.
					gittest.Write(t, f.root, map[string]string{"a.txt": "mine\n"})
					before := repoState(t, f.root, f.sess)
					_, err := Undo(ctx, uo)
					var de *TargetDirtyError
					if !errors.As(err, &de) || !reflect.DeepEqual(de.Paths, []string{"a.txt"}) {
						t.Fatalf("got %v, want *TargetDirtyError on a.txt", err)
					}
					if after := repoState(t, f.root, f.sess); after != before {
						t.Errorf("refused undo changed state")
					}
					gittest.Git(t, f.root, "checkout", "--", "a.txt")
					gittest.Write(t, f.root, map[string]string{"d.txt": "mine\n"})
				}
				u, err := Undo(ctx, uo)
				if err != nil {
					t.Fatal(err)
				}
				if got := f.tip(t, "main"); got != f.old || u.Restored != f.old || u.Undone != res.New {
					t.Errorf("main at %s after undo %+v, want %s", got, u, f.old)
				}
				if got := gittest.Git(t, f.root, "rev-parse", u.Backup); got != res.New {
					t.Errorf("undone merge not kept by %s: %s", u.Backup, got)
				}
				if checkedOut {
					if st := gittest.Git(t, f.root, "status", "--porcelain"); st != "M d.txt" {
						t.Errorf("status after undo: %q", st)
					}
					if data, _ := os.ReadFile(filepath.Join(f.root, "a.txt")); strings.Contains(string(data), "session") {
						t.Errorf("a.txt not restored")
					}
				}
				// A second undo: main is no longer the merge result.
				if _, err := Undo(ctx, uo); !errors.Is(err, ErrTargetMoved) {
					t.Errorf("second undo: got %v, want ErrTargetMoved", err)
				}
			})
		}
	}
}

func TestUndoAfterTargetMovedOn(t *testing.T) {
	ctx := t.Context()
	f := newMergeFixture(t, true)
	res, err := Merge(ctx, f.opts(StrategyMerge))
	if err != nil {
		t.Fatal(err)
	}
	gittest.Write(t, f.root, map[string]string{"later.txt": "later\n"})
	later := gittest.Commit(t, f.root, "later")
	before := repoState(t, f.root, f.sess)
	_, err = Undo(ctx, UndoOptions{Repo: f.r, Target: "main", Merged: res.New, Backup: res.Backup})
	if !errors.Is(err, ErrTargetMoved) {
		t.Fatalf("got %v, want ErrTargetMoved", err)
	}
	if after := repoState(t, f.root, f.sess); after != before || f.tip(t, "main") != later {
		t.Errorf("refused undo changed state")
	}
	// A backup ref of another branch is not accepted.
	_, err = Undo(ctx, UndoOptions{Repo: f.r, Target: "main", Merged: later, Backup: "refs/heads/studio/s"})
	if !errors.Is(err, ErrBadRef) {
		t.Errorf("foreign backup ref: got %v, want ErrBadRef", err)
	}
}

// TestMergeProperty runs random edits in several session worktrees and in
// the checked-out target, with random merges (every strategy) and undos,
// and checks after each step that no written line is lost: each is in the
// target, on its session branch, or still in the worktree it was written in;
// and that the target's worktree always agrees with its branch.
func TestMergeProperty(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	if testing.Short() {
		seeds = seeds[:1]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { mergeProperty(t, seed, 40) })
	}
}

func mergeProperty(t *testing.T, seed uint64, steps int) {
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(seed, seed))
	const nfiles, nsessions = 4, 3
	files := map[string]string{}
	for i := range nfiles {
		files[fmt.Sprintf("f%d.txt", i)] = gittest.Lines(12)
	}
	root := gittest.NewRepo(t, files)
	r, err := Open(ctx, testGit(), root)
	if err != nil {
		t.Fatal(err)
	}
	var sessions []string // worktree dirs; branch studio/s<i>
	for i := range nsessions {
		dir := filepath.Join(t.TempDir(), fmt.Sprint("s", i))
		gittest.Git(t, root, "worktree", "add", "-q", "-b", fmt.Sprint("studio/s", i), dir, "main")
		sessions = append(sessions, dir)
	}
	// written maps each line written to where it was written: a session
	// index, or -1 for the target's worktree.
	written := map[string]int{}
	type merged struct{ new, backup string }
	var undoable []merged
	n := 0
	insertLine := func(dir string, owner int) {
		name := fmt.Sprintf("f%d.txt", rng.IntN(nfiles))
		p := filepath.Join(dir, name)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(data), "\n")
		lines = lines[:len(lines)-1] // after the final newline
		at := rng.IntN(len(lines) + 1)
		n++
		tag := fmt.Sprintf("tag-%d-%d\n", owner, n)
		lines = append(lines[:at], append([]string{tag}, lines[at:]...)...)
		if err := os.WriteFile(p, []byte(strings.Join(lines, "")), 0o644); err != nil {
			t.Fatal(err)
		}
		written[strings.TrimSpace(tag)] = owner
	}

	for step := range steps {
		var what string
		switch op := rng.IntN(10); {
		case op < 4: // a session edits, and sometimes commits
			s := rng.IntN(nsessions)
			insertLine(sessions[s], s)
			what = fmt.Sprint("edit s", s)
			if rng.IntN(2) == 0 {
				gittest.Commit(t, sessions[s], what)
				what += " + commit"
			}
		case op < 5: // someone edits the target's worktree
			insertLine(root, -1)
			what = "edit target"
			if rng.IntN(2) == 0 {
				gittest.Commit(t, root, what)
				what += " + commit"
			}
		case op < 8:
			s := rng.IntN(nsessions)
			strategy := strategies[rng.IntN(len(strategies))]
			res, err := Merge(ctx, MergeOptions{Repo: r, Branch: fmt.Sprint("studio/s", s), Target: "main", Strategy: strategy})
			what = fmt.Sprintf("merge s%d %s: %v", s, strategy, err)
			var ce *ConflictError
			var de *TargetDirtyError
			switch {
			case err == nil:
				undoable = append(undoable, merged{res.New, res.Backup})
			case errors.As(err, &ce), errors.As(err, &de), errors.Is(err, ErrNothingToMerge):
			default:
				t.Fatalf("step %d: %s", step, what)
			}
		default:
			if len(undoable) == 0 {
				continue
			}
			m := undoable[len(undoable)-1]
			_, err := Undo(ctx, UndoOptions{Repo: r, Target: "main", Merged: m.new, Backup: m.backup})
			what = fmt.Sprintf("undo %s: %v", m.new[:8], err)
			var de *TargetDirtyError
			switch {
			case err == nil, errors.Is(err, ErrTargetMoved):
				undoable = undoable[:len(undoable)-1]
			case errors.As(err, &de):
			default:
				t.Fatalf("step %d: %s", step, what)
			}
		}
		t.Logf("step %d: %s", step, what)
		checkNoLineLost(t, root, sessions, written)
	}
}

func checkNoLineLost(t *testing.T, root string, sessions []string, written map[string]int) {
	t.Helper()
	lines := func(dir string, args ...string) string {
		out, _ := gittest.Try(dir, append([]string{"grep", "-h", "-I", "--no-color", "-e", "^tag-"}, args...)...)
		return out + "\n"
	}
	target := lines(root, "refs/heads/main")
	// `git grep` without a rev reads the worktree (tracked files; the
	// tests only edit tracked ones).
	targetWT := lines(root)
	var branch, wt []string
	for i, s := range sessions {
		branch = append(branch, lines(root, fmt.Sprint("refs/heads/studio/s", i)))
		wt = append(wt, lines(s))
	}
	for tag, owner := range written {
		k := tag + "\n"
		found := strings.Contains(target, k)
		if owner >= 0 {
			found = found || strings.Contains(branch[owner], k) || strings.Contains(wt[owner], k)
		} else {
			found = found || strings.Contains(targetWT, k)
		}
		if !found {
			t.Fatalf("%s (written by %d) is lost", tag, owner)
		}
	}
	// The target's worktree is in step with its branch.
	if head, tip := gittest.Git(t, root, "rev-parse", "HEAD"), gittest.Git(t, root, "rev-parse", "refs/heads/main"); head != tip {
		t.Fatalf("target worktree HEAD %s, main %s", head, tip)
	}
	if st := gittest.Git(t, root, "diff", "--cached", "--name-only"); st != "" {
		t.Fatalf("target index differs from its branch: %s", st)
	}
}

// BenchmarkMerge10k merges a branch that changes 25 files into a target on a
// 10,000-file repository, through Merge (each strategy, target not checked
// out; and merge with the target checked out) and, in the same run, with
// plain `git merge --no-ff` in the target's worktree. Each variant's time is
// reported per operation, with its ratio to git's (below 1: faster).
func BenchmarkMerge10k(b *testing.B) {
	ctx := b.Context()
	root := gittest.NewRepo(b, benchFiles(10000, ""))
	gittest.Git(b, root, "checkout", "-q", "-b", "studio/s")
	changed := benchFiles(20, "session")
	for i := range 5 {
		changed[fmt.Sprintf("new/n%d.txt", i)] = "new\n"
	}
	gittest.Write(b, root, changed)
	gittest.Commit(b, root, "session")
	gittest.Git(b, root, "checkout", "-q", "main")
	gittest.Write(b, root, map[string]string{"d99/f99.txt": "main\n"})
	old := gittest.Commit(b, root, "main")
	gittest.Git(b, root, "branch", "tgt", old) // never checked out
	r, err := Open(ctx, testGit(), root)
	if err != nil {
		b.Fatal(err)
	}
	journal := filepath.Join(b.TempDir(), "merge.json")

	// Each variant runs its operation (timed), then puts the target back
	// (not timed).
	type variant struct {
		name string
		op   func() (backup string, err error)
		// target to reset to old afterwards, and whether it is checked out.
		target string
	}
	ours := func(target, strategy string) func() (string, error) {
		return func() (string, error) {
			res, err := Merge(ctx, MergeOptions{Repo: r, Branch: "studio/s", Target: target, Strategy: strategy, Journal: journal})
			return res.Backup, err
		}
	}
	variants := []variant{
		{"git", func() (string, error) {
			_, err := gittest.Try(root, "merge", "-q", "--no-ff", "--no-edit", "studio/s")
			return "", err
		}, "main"},
		{"merge", ours("tgt", StrategyMerge), "tgt"},
		{"squash", ours("tgt", StrategySquash), "tgt"},
		{"rebase", ours("tgt", StrategyRebase), "tgt"},
		{"merge-checkedout", ours("main", StrategyMerge), "main"},
		{"merge-nojournal", func() (string, error) {
			res, err := Merge(ctx, MergeOptions{Repo: r, Branch: "studio/s", Target: "tgt"})
			return res.Backup, err
		}, "tgt"},
	}
	total := make([]time.Duration, len(variants))
	for b.Loop() {
		for i, v := range variants {
			start := time.Now()
			backup, err := v.op()
			total[i] += time.Since(start)
			if err != nil {
				b.Fatalf("%s: %v", v.name, err)
			}
			b.StopTimer()
			if v.target == "main" {
				gittest.Git(b, root, "reset", "-q", "--hard", old)
			} else {
				gittest.Git(b, root, "update-ref", "refs/heads/"+v.target, old)
			}
			if backup != "" {
				gittest.Git(b, root, "update-ref", "-d", backup)
			}
			b.StartTimer()
		}
	}
	for i, v := range variants {
		b.ReportMetric(float64(total[i].Microseconds())/float64(b.N)/1000, v.name+"-ms/op")
		if i > 0 {
			b.ReportMetric(float64(total[i])/float64(total[0]), v.name+"/git")
		}
	}
}

// benchFiles makes n small files spread over 100 directories.
func benchFiles(n int, tag string) map[string]string {
	files := make(map[string]string, n)
	for i := range n {
		files[fmt.Sprintf("d%d/f%d.txt", i%100, i/100)] = fmt.Sprintf("file %d %s\n%s", i, tag, gittest.Lines(8))
	}
	return files
}
