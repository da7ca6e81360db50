package workspace

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
)

// TestSync brings main into the session branch both ways: the session's
// work (committed, uncommitted and untracked) is all there afterwards,
// checkpointed first, with main's change; the old tip is kept in a backup.
func TestSync(t *testing.T) {
	for _, strategy := range []string{StrategyMerge, StrategyRebase} {
		t.Run(strategy, func(t *testing.T) {
			f := newMergeFixture(t, true)
			before := f.tip(t, "studio/s")
			res, err := Sync(t.Context(), SyncOptions{Repo: f.r, Branch: "studio/s", Target: "main", Strategy: strategy})
			if err != nil {
				t.Fatal(err)
			}
			if res.Checkpoint == "" || res.Old != res.Checkpoint {
				t.Errorf("checkpoint %q, old %q: want the uncommitted work checkpointed first", res.Checkpoint, res.Old)
			}
			if got := f.tip(t, "studio/s"); got != res.New {
				t.Fatalf("branch at %s, result says %s", got, res.New)
			}
			if ok, _ := f.r.IsAncestor(t.Context(), f.old, res.New); !ok {
				t.Errorf("main's tip %s is not in the synced branch", f.old)
			}
			if strategy == StrategyMerge {
				if ok, _ := f.r.IsAncestor(t.Context(), before, res.New); !ok {
					t.Errorf("a merge sync lost the branch's history")
				}
			}
			for path, want := range map[string]string{"a.txt": "session 2", "b.txt": "session 5", "new.txt": "new", "c.txt": "main 9"} {
				if got := show(t, f.root, res.New, path); !strings.Contains(got, want) {
					t.Errorf("%s after sync: %q lacks %q", path, got, want)
				}
			}
			// The worktree follows the branch and is clean.
			if st := gittest.Git(t, f.sess, "status", "--porcelain"); st != "" {
				t.Errorf("session worktree after sync:\n%s", st)
			}
			if got := gittest.Git(t, f.root, "rev-parse", res.Backup); got != res.Old {
				t.Errorf("backup %s holds %s, want %s", res.Backup, got, res.Old)
			}
			again, err := Sync(t.Context(), SyncOptions{Repo: f.r, Branch: "studio/s", Target: "main", Strategy: strategy})
			if err != nil || !again.UpToDate {
				t.Errorf("second sync: %+v, %v; want up to date", again, err)
			}
		})
	}
}

// TestSyncConflict refuses a sync that would conflict, uncommitted work
// included, and changes nothing.
func TestSyncConflict(t *testing.T) {
	f := newMergeFixture(t, true)
	// Main changes the line the session changes without committing it.
	gittest.Write(t, f.root, map[string]string{"b.txt": strings.Replace(gittest.Lines(20), "line 5\n", "main 5\n", 1)})
	gittest.Commit(t, f.root, "main edits b")
	before := repoState(t, f.root, f.sess)
	for _, strategy := range []string{StrategyMerge, StrategyRebase} {
		_, err := Sync(t.Context(), SyncOptions{Repo: f.r, Branch: "studio/s", Target: "main", Strategy: strategy})
		var ce *ConflictError
		if !errors.As(err, &ce) || len(ce.Paths) != 1 || ce.Paths[0] != "b.txt" {
			t.Errorf("%s: got %v, want a conflict on b.txt", strategy, err)
		}
	}
	if after := repoState(t, f.root, f.sess); after != before {
		t.Errorf("a refused sync changed something:\n%s\nwas\n%s", after, before)
	}
}

// TestMergeVerify: a Verify hook sees the built result before the target
// moves, and its error stops the merge with the target unmoved.
func TestMergeVerify(t *testing.T) {
	f := newMergeFixture(t, false)
	var seen string
	o := f.opts(StrategyMerge)
	o.Verify = func(_ context.Context, commit, tree string) error {
		seen = tree
		if got := gittest.Git(t, f.root, "rev-parse", commit+"^{tree}"); got != tree {
			t.Errorf("verify got commit %s with tree %s, not %s", commit, got, tree)
		}
		return errors.New("check failed")
	}
	_, err := Merge(t.Context(), o)
	if err == nil || !strings.Contains(err.Error(), "check failed") {
		t.Fatalf("merge with a failing verify: %v", err)
	}
	if f.tip(t, "main") != f.old {
		t.Error("main moved although verify failed")
	}
	if out := gittest.Git(t, f.root, "for-each-ref", "refs/studio/backup/"); out != "" {
		t.Errorf("backup written before verify passed: %s", out)
	}
	dry := f.opts(StrategyMerge)
	dry.DryRun = true
	res, err := Merge(t.Context(), dry)
	if err != nil || res.Tree != seen {
		t.Errorf("dry run tree %q (%v), want the verified tree %q", res.Tree, err, seen)
	}
}
