package workspace

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// SyncOptions says which session branch Sync brings its target into.
type SyncOptions struct {
	Repo *Repo
	// Branch is the session branch, checked out in Worktree (empty: the
	// worktree that has it, if any); Target the branch whose tip it gets.
	Branch, Target, Worktree string
	// Strategy is StrategyMerge (the default: a merge commit on the session
	// branch) or StrategyRebase (the session's commits replayed on the
	// target's tip).
	Strategy string
	// DryRun predicts, conflicts included, and changes nothing.
	DryRun bool
}

// SyncResult describes a sync that happened (or, with DryRun, would).
type SyncResult struct {
	Strategy string
	// TargetTip is the target's tip brought in.
	TargetTip string
	// Old and New are the session branch's tip before and after; Backup is
	// the ref that keeps Old.
	Old, New, Backup string
	// Checkpoint is the commit made of uncommitted work first, if any.
	Checkpoint string
	// UpToDate reports a branch that already had the target's tip.
	UpToDate bool
	DryRun   bool
}

// Sync brings the target's tip into a session branch:
//
//  1. plan from the branch plus uncommitted work (a snapshot): conflicts
//     give *ConflictError with nothing changed;
//  2. checkpoint uncommitted work on the branch, so no work is touched
//     uncommitted;
//  3. build the merge commit (or replay the commits) with plumbing;
//  4. write a backup ref of the branch's tip (refs/studio/backup/<branch>/…);
//  5. move the branch in its worktree with git's own checks (`merge
//     --ff-only` for a merge, `reset --keep` for a rebase), or by
//     compare-and-swap when it is not checked out.
//
// Each step leaves the branch at its old tip or its new one, so a crash
// needs no recovery: at worst the checkpoint commit stays on the branch.
func Sync(ctx context.Context, o SyncOptions) (SyncResult, error) {
	if o.Strategy == "" {
		o.Strategy = StrategyMerge
	}
	res := SyncResult{Strategy: o.Strategy, DryRun: o.DryRun}
	if err := syncRun(ctx, o, &res); err != nil {
		return res, fmt.Errorf("sync %s into %s: %w", o.Target, o.Branch, err)
	}
	return res, nil
}

func syncRun(ctx context.Context, o SyncOptions, res *SyncResult) error {
	if o.Repo == nil {
		return errors.New("no repository")
	}
	if o.Strategy != StrategyMerge && o.Strategy != StrategyRebase {
		return fmt.Errorf("strategy %q: use merge or rebase", o.Strategy)
	}
	// The merger's checks of branch names and worktree apply as they are.
	m := &merger{o: MergeOptions{Repo: o.Repo, Branch: o.Branch, Target: o.Target, Worktree: o.Worktree, Strategy: StrategyMerge}, r: o.Repo, g: o.Repo.Git}
	if err := m.validate(ctx); err != nil {
		return err
	}
	r := o.Repo
	target, err := r.ResolveCommit(ctx, "refs/heads/"+o.Target)
	if err != nil {
		return err
	}
	res.TargetTip = target
	tip, err := r.ResolveCommit(ctx, "refs/heads/"+o.Branch)
	if err != nil {
		return err
	}
	res.Old, res.New = tip, tip
	if ok, err := r.IsAncestor(ctx, target, tip); err != nil {
		return err
	} else if ok {
		res.UpToDate = true
		return nil
	}
	planTip, dirty := tip, false
	if m.wt != "" {
		st, err := m.g.WorktreeStatus(ctx, m.wt)
		if err != nil {
			return err
		}
		if dirty = st.Dirty(); dirty {
			if planTip, err = m.snapshot(ctx); err != nil {
				return err
			}
		}
	}
	if _, _, err := m.syncBuild(ctx, o.Strategy, planTip, target, false); err != nil {
		return err
	}
	if o.DryRun {
		return nil
	}
	if dirty {
		c, err := m.g.Checkpoint(ctx, m.wt, "studiod: checkpoint before syncing "+o.Target)
		if err != nil {
			return err
		}
		if c != "" {
			res.Checkpoint, tip = c, c
			res.Old = c
		}
	}
	_, commit, err := m.syncBuild(ctx, o.Strategy, tip, target, true)
	if err != nil {
		return err
	}
	backup := backupRefName(o.Branch)
	if err := writeBackup(ctx, r, backup, tip); err != nil {
		return err
	}
	res.Backup = backup
	if err := moveBranch(ctx, r, o.Branch, tip, commit, o.Strategy == StrategyMerge); err != nil {
		if dropBackup(ctx, r, o.Branch, backup, tip) {
			res.Backup = ""
		}
		return err
	}
	res.New = commit
	return nil
}

// syncBuild computes the branch's new tip: the merge of target into tip,
// or tip's commits replayed on target. Without makeCommit a merge only
// checks for conflicts.
func (m *merger) syncBuild(ctx context.Context, strategy, tip, target string, makeCommit bool) (tree, commit string, err error) {
	if strategy == StrategyRebase {
		commit, err := m.g.replay(ctx, m.r.Root, target, tip, m.identity(ctx))
		if err != nil {
			return "", "", err
		}
		return "", commit, nil
	}
	tree, conflicts, err := m.g.mergeTree(ctx, m.r.Root, tip, target)
	if err != nil {
		return "", "", err
	}
	if len(conflicts) > 0 {
		return "", "", &ConflictError{Paths: conflicts}
	}
	if !makeCommit {
		return tree, "", nil
	}
	msg := fmt.Sprintf("Merge branch '%s' into %s\n", m.o.Target, m.o.Branch)
	out, err := m.g.RunCmd(ctx, Cmd{Dir: m.r.Root, Env: m.identity(ctx), Stdin: strings.NewReader(msg)},
		"commit-tree", tree, "-p", tip, "-p", target, "-F", "-")
	if err != nil {
		return "", "", err
	}
	return tree, trim(out), nil
}
