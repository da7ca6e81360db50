package workspace

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
)

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
