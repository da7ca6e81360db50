package workspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
)

var errCrash = errors.New("injected crash")

// crashAt makes the operation stop right after step, as if the process died.
func crashAt(t *testing.T, step string) {
	t.Helper()
	testHookAfterStep = func(s string) error {
		if s == step {
			return errCrash
		}
		return nil
	}
	t.Cleanup(func() { testHookAfterStep = nil })
}

func readJournal(t *testing.T, path string) journal {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("journal after crash: %v", err)
	}
	var j journal
	if err := json.Unmarshal(data, &j); err != nil {
		t.Fatal(err)
	}
	return j
}

// checkTarget checks that main is at want and, when checked out, that its
// worktree agrees (HEAD, index and files, the fixture's worktree being
// clean).
func checkTarget(t *testing.T, f *mergeFixture, checkedOut bool, want string) {
	t.Helper()
	if got := f.tip(t, "main"); got != want {
		t.Errorf("main at %s, want %s", got, want)
	}
	if checkedOut {
		if got := gittest.Git(t, f.root, "rev-parse", "HEAD"); got != want {
			t.Errorf("target worktree HEAD %s, want %s", got, want)
		}
		if st := gittest.Git(t, f.root, "status", "--porcelain"); st != "" {
			t.Errorf("target worktree not in step with its branch:\n%s", st)
		}
	}
}

func TestMergeCrashRecover(t *testing.T) {
	steps := []string{stepBegin, stepCheckpoint, stepBuild, stepBackup, stepMove}
	for _, strategy := range strategies {
		for _, checkedOut := range []bool{false, true} {
			for _, step := range steps {
				t.Run(fmt.Sprintf("%s/checkedOut=%v/%s", strategy, checkedOut, step), func(t *testing.T) {
					ctx := t.Context()
					f := newMergeFixture(t, checkedOut)
					sessCommit := f.tip(t, "studio/s")
					jpath := filepath.Join(t.TempDir(), "merge.json")
					o := f.opts(strategy)
					o.Journal = jpath
					crashAt(t, step)
					res, err := Merge(ctx, o)
					if !errors.Is(err, errCrash) {
						t.Fatalf("got %v, want the injected crash", err)
					}
					if j := readJournal(t, jpath); j.Step != step || j.Old != f.old {
						t.Errorf("journal %+v", j)
					}
					testHookAfterStep = nil

					rec, err := Recover(ctx, f.r.Git, jpath)
					if err != nil {
						t.Fatal(err)
					}
					wantOutcome, wantTip := RecoverRolledBack, f.old
					if step == stepMove {
						wantOutcome, wantTip = RecoverFinished, res.New
					}
					if rec.Outcome != wantOutcome || rec.Old != f.old {
						t.Errorf("recover: got %+v, want outcome %s", rec, wantOutcome)
					}
					checkTarget(t, f, checkedOut, wantTip)
					if step == stepBackup || step == stepMove {
						if got, err := gittest.Try(f.root, "rev-parse", rec.Backup); err != nil || got != f.old {
							t.Errorf("backup %q: %s %v, want %s", rec.Backup, got, err, f.old)
						}
					}
					if _, err := os.Stat(jpath); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("journal not removed: %v", err)
					}
					if again, err := Recover(ctx, f.r.Git, jpath); err != nil || again.Outcome != RecoverNone {
						t.Errorf("second recover: %+v, %v", again, err)
					}

					// No work lost: the session commit is on its branch, the
					// uncommitted work in the worktree (and in the checkpoint
					// if one was made).
					if ok, _ := f.r.IsAncestor(ctx, sessCommit, f.tip(t, "studio/s")); !ok {
						t.Errorf("session commit %s no longer on the branch", sessCommit)
					}
					if data, _ := os.ReadFile(filepath.Join(f.sess, "b.txt")); !strings.Contains(string(data), "session 5") {
						t.Errorf("uncommitted work gone from the session worktree")
					}
					if rec.Checkpoint != "" && !strings.Contains(show(t, f.root, rec.Checkpoint, "b.txt"), "session 5") {
						t.Errorf("checkpoint lacks the uncommitted work")
					}
					// A rolled-back merge can be run again.
					if wantOutcome == RecoverRolledBack {
						o.Journal = ""
						res, err := Merge(ctx, o)
						if err != nil {
							t.Fatalf("merge after rollback: %v", err)
						}
						for path, want := range map[string]string{"a.txt": "session 2", "b.txt": "session 5", "new.txt": "new"} {
							if !strings.Contains(show(t, f.root, res.New, path), want) {
								t.Errorf("merge after rollback lost %s", path)
							}
						}
					}
				})
			}
		}
	}
}

func TestUndoCrashRecover(t *testing.T) {
	for _, checkedOut := range []bool{false, true} {
		for _, step := range []string{stepBegin, stepBackup, stepMove} {
			t.Run(fmt.Sprintf("checkedOut=%v/%s", checkedOut, step), func(t *testing.T) {
				ctx := t.Context()
				f := newMergeFixture(t, checkedOut)
				res, err := Merge(ctx, f.opts(StrategyMerge))
				if err != nil {
					t.Fatal(err)
				}
				jpath := filepath.Join(t.TempDir(), "undo.json")
				crashAt(t, step)
				_, err = Undo(ctx, UndoOptions{Repo: f.r, Target: "main", Merged: res.New, Backup: res.Backup, Journal: jpath})
				if !errors.Is(err, errCrash) {
					t.Fatalf("got %v, want the injected crash", err)
				}
				testHookAfterStep = nil
				rec, err := Recover(ctx, f.r.Git, jpath)
				if err != nil {
					t.Fatal(err)
				}
				if step == stepMove {
					if rec.Outcome != RecoverFinished || rec.Op != "undo" {
						t.Errorf("recover: %+v", rec)
					}
					checkTarget(t, f, checkedOut, f.old)
					if got := gittest.Git(t, f.root, "rev-parse", rec.Backup); got != res.New {
						t.Errorf("undone merge not kept: %s", got)
					}
				} else {
					if rec.Outcome != RecoverRolledBack {
						t.Errorf("recover: %+v", rec)
					}
					checkTarget(t, f, checkedOut, res.New)
				}
				// The merge's own backup is untouched either way.
				if got := gittest.Git(t, f.root, "rev-parse", res.Backup); got != f.old {
					t.Errorf("merge backup moved to %s", got)
				}
			})
		}
	}
}

func TestRecoverTargetMovedOn(t *testing.T) {
	ctx := t.Context()
	f := newMergeFixture(t, false)
	jpath := filepath.Join(t.TempDir(), "merge.json")
	o := f.opts(StrategyMerge)
	o.Journal = jpath
	crashAt(t, stepMove)
	res, err := Merge(ctx, o)
	if !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	testHookAfterStep = nil
	// Someone builds on the merge before the daemon restarts.
	later := gittest.Git(t, f.root, "commit-tree", "-p", res.New, "-m", "later", res.New+"^{tree}")
	gittest.Git(t, f.root, "update-ref", "refs/heads/main", later)
	rec, err := Recover(ctx, f.r.Git, jpath)
	if err != nil || rec.Outcome != RecoverFinished {
		t.Errorf("got %+v, %v; want finished", rec, err)
	}
	if f.tip(t, "main") != later {
		t.Errorf("recover moved main")
	}
}

func TestRecoverUndoTargetMovedOn(t *testing.T) {
	ctx := t.Context()
	f := newMergeFixture(t, false)
	res, err := Merge(ctx, f.opts(StrategyMerge))
	if err != nil {
		t.Fatal(err)
	}
	jpath := filepath.Join(t.TempDir(), "undo.json")
	crashAt(t, stepBackup)
	if _, err := Undo(ctx, UndoOptions{Repo: f.r, Target: "main", Merged: res.New, Backup: res.Backup, Journal: jpath}); !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	testHookAfterStep = nil
	// main moves on from the merge, which also descends from the restore
	// point: the undo still did not happen.
	later := gittest.Git(t, f.root, "commit-tree", "-p", res.New, "-m", "later", res.New+"^{tree}")
	gittest.Git(t, f.root, "update-ref", "refs/heads/main", later)
	rec, err := Recover(ctx, f.r.Git, jpath)
	if err != nil || rec.Outcome != RecoverRolledBack {
		t.Errorf("got %+v, %v; want rolled back", rec, err)
	}
	if f.tip(t, "main") != later {
		t.Errorf("recover moved main")
	}
}

// TestKeepJournal: a merge that keeps its journal leaves it at "move" for
// the caller's own steps; RecoverJournal reports the last of them and keeps
// the journal of a finished merge until the caller removes it.
func TestKeepJournal(t *testing.T) {
	ctx := t.Context()
	f := newMergeFixture(t, false)
	jpath := filepath.Join(t.TempDir(), "merge.json")
	o := f.opts(StrategySquash)
	o.Journal, o.KeepJournal = jpath, true
	res, err := Merge(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if j := readJournal(t, jpath); j.Step != stepMove || j.New != res.New {
		t.Fatalf("journal after the merge: %+v", j)
	}
	if err := JournalStep(jpath, "recorded"); err != nil {
		t.Fatal(err)
	}
	rec, err := RecoverJournal(ctx, f.r.Git, jpath)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != RecoverFinished || rec.Step != "recorded" || rec.New != res.New || rec.Strategy != StrategySquash || rec.Branch != "studio/s" {
		t.Errorf("recover: %+v", rec)
	}
	if _, err := os.Stat(jpath); err != nil {
		t.Fatalf("RecoverJournal removed a finished merge's journal: %v", err)
	}
	if err := RemoveJournal(jpath); err != nil {
		t.Fatal(err)
	}
	if err := JournalStep(jpath, "stopped"); err == nil {
		t.Error("a step journaled without a journal")
	}
}
