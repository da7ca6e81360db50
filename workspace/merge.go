package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Merge strategies.
const (
	// StrategyMerge makes a merge commit (no fast-forward) with the target
	// and the session branch as parents.
	StrategyMerge = "merge"
	// StrategySquash makes one commit on the target with the merged tree.
	StrategySquash = "squash"
	// StrategyRebase replays the session's commits onto the target and
	// fast-forwards the target to the last one.
	StrategyRebase = "rebase"
)

// BackupRefPrefix starts every backup ref: BackupRefPrefix + target + "/" +
// unix nanoseconds.
const BackupRefPrefix = "refs/studio/backup/"

// ConflictError refuses a merge whose result would have conflicts. Nothing
// was changed.
type ConflictError struct {
	// Paths are the conflicted paths, sorted.
	Paths []string
	// Commit is, for StrategyRebase, the session commit that did not apply.
	Commit string
}

func (e *ConflictError) Error() string {
	at := ""
	if e.Commit != "" {
		at = " replaying " + e.Commit
	}
	return fmt.Sprintf("merge conflict%s in %d path(s): %s", at, len(e.Paths), strings.Join(e.Paths, ", "))
}

// TargetDirtyError refuses to move a checked-out target because local
// changes in its worktree sit in paths the move would change. Nothing was
// changed.
type TargetDirtyError struct {
	Worktree string
	Paths    []string
}

func (e *TargetDirtyError) Error() string {
	return fmt.Sprintf("target worktree %s has local changes in paths the merge changes: %s", e.Worktree, strings.Join(e.Paths, ", "))
}

var (
	// ErrTargetMoved reports that the target branch is no longer at the
	// commit the operation was computed from. Nothing was changed.
	ErrTargetMoved = errors.New("target branch moved")
	// ErrUndoTooLate reports an undo of a merge its target has moved on
	// from (it wraps ErrTargetMoved too): it can never succeed.
	ErrUndoTooLate = errors.New("the merge is no longer the tip of its target")
	// ErrNothingToMerge reports a session branch whose commits (and
	// uncommitted work) are all in the target already. Nothing was changed.
	ErrNothingToMerge = errors.New("nothing to merge")
)

// studiodIdentity is used for commits when git has no user identity
// configured, so that a checkpoint or merge never fails for want of one.
var studiodIdentity = []string{
	"GIT_AUTHOR_NAME=studiod", "GIT_AUTHOR_EMAIL=studiod@localhost",
	"GIT_COMMITTER_NAME=studiod", "GIT_COMMITTER_EMAIL=studiod@localhost",
}

// identityEnv returns the environment for commits made in dir: nothing
// when git knows who the user is, studiodIdentity's halves otherwise.
func (g *Git) identityEnv(ctx context.Context, dir string) []string {
	var env []string
	if _, err := g.Run(ctx, dir, "var", "GIT_AUTHOR_IDENT"); err != nil {
		env = append(env, studiodIdentity[:2]...)
	}
	if _, err := g.Run(ctx, dir, "var", "GIT_COMMITTER_IDENT"); err != nil {
		env = append(env, studiodIdentity[2:]...)
	}
	return env
}

// Checkpoint commits everything uncommitted in the worktree at dir
// (modified, deleted and untracked files; not ignored ones) on its checked-out
// branch, as `git add -A && git commit` would but without running hooks.
// It returns the new commit, or "" when there was nothing to commit.
func (g *Git) Checkpoint(ctx context.Context, dir, message string) (string, error) {
	st, err := g.WorktreeStatus(ctx, dir)
	if err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if !st.Dirty() {
		return "", nil
	}
	head, err := g.Run(ctx, dir, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if _, err := g.Run(ctx, dir, "add", "-A", "--", "."); err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	tree, err := g.Run(ctx, dir, "write-tree")
	if err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	headTree, err := g.Run(ctx, dir, "rev-parse", "HEAD^{tree}")
	if err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if trim(tree) == trim(headTree) {
		return "", nil
	}
	if message == "" {
		message = "studiod checkpoint"
	}
	commit, err := g.RunCmd(ctx, Cmd{Dir: dir, Env: g.identityEnv(ctx, dir), Stdin: strings.NewReader(message)},
		"commit-tree", trim(tree), "-p", trim(head), "-F", "-")
	if err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	// The index already holds this tree, so moving HEAD's branch is all
	// `git commit` would do next; the old value makes it a compare-and-swap.
	if _, err := g.Run(ctx, dir, "update-ref", "-m", "studiod checkpoint", "HEAD", trim(commit), trim(head)); err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	return trim(commit), nil
}

// MergeOptions says what Merge merges and how.
type MergeOptions struct {
	Repo *Repo
	// Branch is the session branch (e.g. "studio/auth"); Target the branch
	// it merges into (e.g. "main").
	Branch string
	Target string
	// Worktree is the session worktree, where uncommitted work is
	// checkpointed. Empty means the worktree that has Branch checked out,
	// if any.
	Worktree string
	// Strategy is StrategyMerge (the default), StrategySquash or
	// StrategyRebase.
	Strategy string
	// Message is the merge or squash commit's message; empty gives git's
	// usual "Merge branch ..." message.
	Message string
	// AuthorName and AuthorEmail, when set, author the merge or squash
	// commit (rebased commits keep their authors).
	AuthorName  string
	AuthorEmail string
	// Journal is the file where each step is recorded so Recover can finish
	// or roll back a merge cut short. Empty means no journal.
	Journal string
	// KeepJournal leaves the journal in place once the target has moved:
	// the caller has steps of its own that finish the transaction (record
	// it, stop the agent, mark the session), journals them with
	// JournalStep, and removes the journal with RemoveJournal. Recovery
	// then goes through RecoverJournal.
	KeepJournal bool
	// DryRun computes the result, conflicts and dirty-target checks
	// included, and changes nothing.
	DryRun bool
	// Verify, when set, is called with the built result (the commit and its
	// tree) after uncommitted work is checkpointed and before the backup ref
	// is written; an error stops the merge there with the target unmoved
	// (a land queue checks the result this way).
	Verify func(ctx context.Context, commit, tree string) error
}

// MergeResult describes a merge that happened (or, with DryRun, would).
type MergeResult struct {
	Strategy string
	Target   string
	// Old is the target tip before, New after (empty for a dry run).
	Old string
	New string
	// Backup is the ref that holds Old (empty for a dry run).
	Backup string
	// Checkpoint is the commit made of uncommitted session work, if any.
	Checkpoint string
	// Files counts the files the merge changes on the target.
	Files  int
	DryRun bool
	// Tree is the result's tree (computed by a dry run too).
	Tree string
}

// testHookAfterStep, when set, runs after each journaled step of Merge and
// Undo; an error stops the operation there, as a crash would.
var testHookAfterStep func(step string) error

// Journal steps, in order. "begin" is written before anything changes.
const (
	stepBegin      = "begin"
	stepCheckpoint = "checkpoint"
	stepBuild      = "build"
	stepBackup     = "backup"
	stepMove       = "move"
)

// Merge merges the session branch into the target as one transaction
// (locking the repo and checking the agent is idle are the caller's):
//
//  1. plan: compute the result from the branch plus any uncommitted work (a
//     snapshot); conflicts give *ConflictError and a checked-out target with
//     local changes in touched paths gives *TargetDirtyError, with nothing
//     changed;
//  2. checkpoint uncommitted work in the session worktree;
//  3. build the result with plumbing (merge-tree, commit-tree), touching no
//     worktree;
//  4. write the backup ref of the target tip;
//  5. move the target: update-ref with the old tip as compare-and-swap when
//     it is not checked out, else a fast-forward with git's own checks in
//     the worktree that has it; a moved target gives ErrTargetMoved.
//
// A session already contained in the target gives ErrNothingToMerge, as
// does a squash that would not change the target's tree. With StrategyRebase
// the session branch itself keeps its commits: the target gets the replayed
// copies.
func Merge(ctx context.Context, o MergeOptions) (MergeResult, error) {
	if o.Repo == nil {
		return MergeResult{}, errors.New("merge: no repository")
	}
	if o.Strategy == "" {
		o.Strategy = StrategyMerge
	}
	res := MergeResult{Strategy: o.Strategy, Target: o.Target, DryRun: o.DryRun}
	m := &merger{o: o, r: o.Repo, g: o.Repo.Git}
	if err := m.validate(ctx); err != nil {
		return res, fmt.Errorf("merge %s into %s: %w", o.Branch, o.Target, err)
	}
	err := m.run(ctx, &res)
	if err != nil {
		return res, fmt.Errorf("merge %s into %s: %w", o.Branch, o.Target, err)
	}
	return res, nil
}

type merger struct {
	o     MergeOptions
	r     *Repo
	g     *Git
	wt    string   // session worktree, "" when none
	ident []string // identityEnv, once known
	idOK  bool
}

func (m *merger) identity(ctx context.Context) []string {
	if !m.idOK {
		m.ident, m.idOK = m.g.identityEnv(ctx, m.r.Root), true
	}
	return m.ident
}

// notCheckedOut says why the session's branch is not in its worktree: the
// branch is gone (deleted by hand), or the worktree is on something else.
func (m *merger) notCheckedOut(ctx context.Context) error {
	o := m.o
	if _, err := m.r.Run(ctx, "rev-parse", "--verify", "--quiet", "refs/heads/"+o.Branch); err != nil {
		return fmt.Errorf("%w: branch %s no longer exists (deleted by hand?): nothing was changed; what the session did since its last commit is in %s: recreate the branch there (git -C %s switch -c %s) to merge it, or remove the session",
			ErrBadRef, o.Branch, o.Worktree, o.Worktree, o.Branch)
	}
	head := "a detached HEAD"
	if out, err := m.r.Git.Run(ctx, o.Worktree, "symbolic-ref", "--quiet", "--short", "HEAD"); err == nil {
		head = "branch " + trim(out)
	} else if !dirExists(o.Worktree) {
		return fmt.Errorf("%w: branch %s is not checked out at %s, which is gone", ErrNoDir, o.Branch, o.Worktree)
	}
	return fmt.Errorf("%w: branch %s is not checked out at %s, which is on %s now: nothing was changed; switch it back (git -C %s switch %s) to merge",
		ErrBadRef, o.Branch, o.Worktree, head, o.Worktree, o.Branch)
}

func (m *merger) validate(ctx context.Context) error {
	o := m.o
	switch o.Strategy {
	case StrategyMerge, StrategySquash, StrategyRebase:
	default:
		return fmt.Errorf("unknown strategy %q", o.Strategy)
	}
	// ValidateRefArg keeps options and odd characters out; that
	// refs/heads/<name> must then resolve (run) proves the rest, without a
	// check-ref-format process each.
	for _, b := range []string{o.Branch, o.Target} {
		if err := ValidateRefArg(b); err != nil {
			return err
		}
		if strings.Contains(b, "..") || strings.ContainsAny(b, "^~:@{}") {
			return fmt.Errorf("%w: %q is not a branch name", ErrBadRef, b)
		}
	}
	if o.Branch == o.Target {
		return fmt.Errorf("%w: branch and target are both %q", ErrBadRef, o.Branch)
	}
	wt, err := m.r.WorktreeFor(ctx, o.Branch)
	if err != nil {
		return err
	}
	switch {
	case wt != nil && o.Worktree != "" && !samePath(wt.Path, o.Worktree):
		return fmt.Errorf("%s is checked out at %s, not %s", o.Branch, wt.Path, o.Worktree)
	case wt == nil && o.Worktree != "":
		return m.notCheckedOut(ctx)
	case wt != nil && o.Worktree == "" && !dirExists(wt.Path):
		// A worktree deleted behind git's back holds no uncommitted
		// work: merge the branch as it is.
	case wt != nil:
		m.wt = wt.Path
	}
	return nil
}

func samePath(a, b string) bool {
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

func (m *merger) run(ctx context.Context, res *MergeResult) error {
	o, r := m.o, m.r
	old, err := r.ResolveCommit(ctx, "refs/heads/"+o.Target)
	if err != nil {
		return err
	}
	res.Old = old
	tip, err := r.ResolveCommit(ctx, "refs/heads/"+o.Branch)
	if err != nil {
		return err
	}

	// Plan from the branch plus uncommitted work, changing nothing.
	planTip := tip
	dirty := false
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
	if ok, err := r.IsAncestor(ctx, planTip, old); err != nil {
		return err
	} else if ok {
		return ErrNothingToMerge
	}
	// With nothing to checkpoint, the plan is the result: build the commit
	// now (objects only; nothing refers to them yet).
	tree, commit, err := m.build(ctx, old, planTip, !dirty && !o.DryRun)
	if err != nil {
		return err
	}
	if err := m.checkNotEmpty(ctx, old, tree, commit); err != nil {
		return err
	}
	files, err := m.g.Diff(ctx, r.Root, old, tree, nil, true)
	if err != nil {
		return err
	}
	res.Files = len(files)
	res.Tree = tree
	targetWT, err := r.WorktreeFor(ctx, o.Target)
	if err != nil {
		return err
	}
	// Local changes in the target's worktree must stop the merge before
	// anything is written: a dry run reports them, and a checkpoint would
	// be a change. Without either, the move itself (merge --ff-only)
	// refuses them, and moveBranch tells why.
	if targetWT != nil && (dirty || o.DryRun) {
		if err := m.g.checkTargetWorktree(ctx, targetWT.Path, old, tree, false); err != nil {
			return err
		}
	}
	if o.DryRun {
		return nil
	}

	j := &journal{
		Version: 1, Op: "merge", Repo: r.Root, Target: o.Target, Branch: o.Branch, Strategy: o.Strategy,
		Old: old, Backup: backupRefName(o.Target),
	}
	if err := j.step(o.Journal, stepBegin); err != nil {
		return err
	}
	if dirty {
		c, err := m.g.Checkpoint(ctx, m.wt, "studiod: checkpoint before merge into "+o.Target)
		if err != nil {
			m.abort()
			return err
		}
		res.Checkpoint, j.Checkpoint = c, c
		if c != "" {
			tip = c
		}
		if err := j.step(o.Journal, stepCheckpoint); err != nil {
			return err
		}
		if tree, commit, err = m.build(ctx, old, tip, true); err != nil {
			m.abort()
			return err
		}
		if err := m.checkNotEmpty(ctx, old, tree, commit); err != nil {
			m.abort()
			return err
		}
	}
	res.New, j.New = commit, commit
	res.Tree = tree
	if err := j.step(o.Journal, stepBuild); err != nil {
		return err
	}
	if o.Verify != nil {
		if err := o.Verify(ctx, commit, tree); err != nil {
			res.New = ""
			m.abort()
			return err
		}
	}
	if err := writeBackup(ctx, r, j.Backup, old); err != nil {
		m.abort()
		return err
	}
	res.Backup = j.Backup
	if err := j.step(o.Journal, stepBackup); err != nil {
		return err
	}
	if err := moveBranch(ctx, r, o.Target, old, commit, true); err != nil {
		if dropBackup(ctx, r, o.Target, j.Backup, old) {
			res.Backup = ""
		}
		m.abort()
		return err
	}
	if err := j.step(o.Journal, stepMove); err != nil {
		return err
	}
	// The merge is done. A journal that cannot be removed is harmless:
	// Recover would find the target at New and report it finished.
	if !o.KeepJournal {
		_ = removeJournal(o.Journal)
	}
	return nil
}

// abort removes the journal of a merge that stopped before the target moved
// and so needs no recovery. A failure to remove it is harmless: Recover
// would find the target at its old tip and roll back.
func (m *merger) abort() { _ = removeJournal(m.o.Journal) }

// snapshot records the session worktree's uncommitted work as a commit on
// top of its HEAD, through a throwaway index.
func (m *merger) snapshot(ctx context.Context) (string, error) {
	dir, err := os.MkdirTemp("", "studiod-merge-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	s, err := m.g.TakeSnapshot(ctx, m.wt, filepath.Join(dir, "index"), nil)
	if err != nil {
		return "", err
	}
	return s.Commit, nil
}

// checkNotEmpty refuses a squash that would not change the target's tree
// and a rebase whose every commit is already in the target.
func (m *merger) checkNotEmpty(ctx context.Context, old, tree, commit string) error {
	switch m.o.Strategy {
	case StrategySquash:
		oldTree, err := m.r.Run(ctx, "rev-parse", old+"^{tree}")
		if err != nil {
			return err
		}
		if trim(oldTree) == tree {
			return ErrNothingToMerge
		}
	case StrategyRebase:
		if commit == old {
			return ErrNothingToMerge
		}
	}
	return nil
}

// build computes the result of merging tip into old. For merge and squash
// it returns the merged tree and, with makeCommit, the commit on top of old;
// for rebase it replays the commits (so always returns a commit).
func (m *merger) build(ctx context.Context, old, tip string, makeCommit bool) (tree, commit string, err error) {
	if m.o.Strategy == StrategyRebase {
		commit, err := m.g.replay(ctx, m.r.Root, old, tip, m.identity(ctx))
		if err != nil {
			return "", "", err
		}
		out, err := m.r.Run(ctx, "rev-parse", commit+"^{tree}")
		if err != nil {
			return "", "", err
		}
		return trim(out), commit, nil
	}
	tree, conflicts, err := m.g.mergeTree(ctx, m.r.Root, old, tip)
	if err != nil {
		return "", "", err
	}
	if len(conflicts) > 0 {
		return "", "", &ConflictError{Paths: conflicts}
	}
	if !makeCommit {
		return tree, "", nil
	}
	parents := []string{"-p", old}
	msg := m.o.Message
	if m.o.Strategy == StrategyMerge {
		parents = append(parents, "-p", tip)
		if msg == "" {
			msg = fmt.Sprintf("Merge branch '%s' into %s\n", m.o.Branch, m.o.Target)
		}
	} else if msg == "" {
		msg, err = m.squashMessage(ctx, old, tip)
		if err != nil {
			return "", "", err
		}
	}
	env := slices.Clip(m.identity(ctx))
	if m.o.AuthorName != "" {
		env = append(env, "GIT_AUTHOR_NAME="+m.o.AuthorName)
	}
	if m.o.AuthorEmail != "" {
		env = append(env, "GIT_AUTHOR_EMAIL="+m.o.AuthorEmail)
	}
	out, err := m.g.RunCmd(ctx, Cmd{Dir: m.r.Root, Env: env, Stdin: strings.NewReader(msg)},
		append(append([]string{"commit-tree", tree}, parents...), "-F", "-")...)
	if err != nil {
		return "", "", err
	}
	return tree, trim(out), nil
}

// squashMessage lists the squashed commits' subjects, as `git merge --squash`
// does with their full messages.
func (m *merger) squashMessage(ctx context.Context, old, tip string) (string, error) {
	out, err := m.r.Run(ctx, "log", "--reverse", "--format=* %s", old+".."+tip)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Squashed branch '%s' into %s\n\n%s\n", m.o.Branch, m.o.Target, trim(out)), nil
}

// mergeTree runs `git merge-tree --write-tree` and returns the result tree
// and the conflicted paths. On git 2.39 a bad ref also exits 1, so the tree
// id is what tells a conflict from a failure.
func (g *Git) mergeTree(ctx context.Context, dir, ours, theirs string) (string, []string, error) {
	out, err := g.Run(ctx, dir, "merge-tree", "--write-tree", "-z", "--name-only", "--no-messages", ours, theirs)
	if err != nil && ExitCode(err) != 1 {
		return "", nil, err
	}
	fields := strings.Split(string(out), "\x00")
	tree := fields[0]
	if !isObjectID(tree) {
		if err == nil {
			err = fmt.Errorf("merge-tree %s %s: unexpected output %q", ours, theirs, out)
		}
		return "", nil, err
	}
	var conflicts []string
	if err != nil {
		for _, f := range fields[1:] {
			if f != "" {
				conflicts = append(conflicts, f)
			}
		}
		slices.Sort(conflicts)
		conflicts = slices.Compact(conflicts)
		if len(conflicts) == 0 {
			return "", nil, err
		}
	}
	return tree, conflicts, nil
}

func isObjectID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// replayCommit is one session commit to replay.
type replayCommit struct {
	id, parent, tree, parentTree string
	authorName, authorEmail      string
	authorDate, message          string
}

// replay cherry-picks the commits of tip that are not in onto (skipping
// merges and commits whose change onto already has, as `git rebase` does)
// on top of onto, with plumbing only, and returns the new tip.
//
// git 2.39's merge-tree has no --merge-base, so each pick is phrased as a
// merge whose merge base is the picked commit's parent P: "ours" is a
// throwaway commit with the current tree and P as its only parent, "theirs"
// is the picked commit, whose parent is P as well. That is the three-way
// merge cherry-pick does, with the same merge-ort machinery.
func (g *Git) replay(ctx context.Context, dir, onto, tip string, ident []string) (string, error) {
	commits, err := g.replayList(ctx, dir, onto, tip)
	if err != nil {
		return "", err
	}
	cur := onto
	curTree, err := g.Run(ctx, dir, "rev-parse", onto+"^{tree}")
	if err != nil {
		return "", err
	}
	tree := trim(curTree)
	for _, c := range commits {
		if c.parent == cur {
			// Already in place: keep the commit, as rebase fast-forwards.
			cur, tree = c.id, c.tree
			continue
		}
		ours, err := g.RunCmd(ctx, Cmd{Dir: dir, Env: snapshotIdentity, Stdin: strings.NewReader("studiod replay base\n")},
			"commit-tree", tree, "-p", c.parent, "-F", "-")
		if err != nil {
			return "", err
		}
		newTree, conflicts, err := g.mergeTree(ctx, dir, trim(ours), c.id)
		if err != nil {
			return "", err
		}
		if len(conflicts) > 0 {
			return "", &ConflictError{Paths: conflicts, Commit: c.id}
		}
		if newTree == tree && c.tree != c.parentTree {
			// The change is already there: rebase drops such commits.
			continue
		}
		env := append(slices.Clip(ident), "GIT_AUTHOR_NAME="+c.authorName, "GIT_AUTHOR_EMAIL="+c.authorEmail, "GIT_AUTHOR_DATE="+c.authorDate)
		out, err := g.RunCmd(ctx, Cmd{Dir: dir, Env: env, Stdin: strings.NewReader(c.message)},
			"commit-tree", newTree, "-p", cur, "-F", "-")
		if err != nil {
			return "", err
		}
		cur, tree = trim(out), newTree
	}
	return cur, nil
}

func (g *Git) replayList(ctx context.Context, dir, onto, tip string) ([]replayCommit, error) {
	const nf = 7
	out, err := g.Run(ctx, dir, "log", "-z", "--reverse", "--no-merges", "--right-only", "--cherry-pick",
		"--date=raw", "--format=%H%x00%P%x00%T%x00%an%x00%ae%x00%ad%x00%B", onto+"..."+tip, "--")
	if err != nil {
		return nil, err
	}
	s := strings.TrimSuffix(string(out), "\x00")
	if s == "" {
		return nil, nil
	}
	fields := strings.Split(s, "\x00")
	if len(fields)%nf != 0 {
		return nil, fmt.Errorf("replay: unexpected log output")
	}
	var list []replayCommit
	var parentTrees []string
	for i := 0; i < len(fields); i += nf {
		f := fields[i : i+nf]
		parents := strings.Fields(f[1])
		if len(parents) != 1 {
			return nil, fmt.Errorf("replay: commit %s has %d parents", f[0], len(parents))
		}
		list = append(list, replayCommit{id: f[0], parent: parents[0], tree: f[2],
			authorName: f[3], authorEmail: f[4], authorDate: f[5], message: f[6]})
		parentTrees = append(parentTrees, parents[0]+"^{tree}")
	}
	out, err = g.Run(ctx, dir, append([]string{"rev-parse"}, parentTrees...)...)
	if err != nil {
		return nil, err
	}
	trees := strings.Fields(string(out))
	if len(trees) != len(list) {
		return nil, fmt.Errorf("replay: unexpected rev-parse output")
	}
	for i := range list {
		list[i].parentTree = trees[i]
	}
	return list, nil
}

// backupRefName names a new backup ref for target.
func backupRefName(target string) string {
	return BackupRefPrefix + target + "/" + strconv.FormatInt(time.Now().UnixNano(), 10)
}

// writeBackup creates ref at commit; an existing ref is an error, never
// overwritten.
func writeBackup(ctx context.Context, r *Repo, ref, commit string) error {
	if _, err := r.Run(ctx, "update-ref", "--no-deref", "-m", "studiod backup", "--", ref, commit, ""); err != nil {
		return fmt.Errorf("write backup ref %s: %w", ref, err)
	}
	return nil
}

// dropBackup deletes the backup ref of a move that did not happen, but only
// while branch is still at commit, so the backup keeps nothing alive that
// the branch does not. It reports whether the ref is gone.
func dropBackup(ctx context.Context, r *Repo, branch, ref, commit string) bool {
	if cur, err := r.ResolveCommit(ctx, "refs/heads/"+branch); err != nil || cur != commit {
		return false
	}
	_, err := r.Run(ctx, "update-ref", "--no-deref", "-d", "--", ref, commit)
	return err == nil
}

// moveBranch moves branch from old to new without ever leaving a
// checked-out worktree stale. Not checked out: update-ref with old as
// compare-and-swap. Checked out: the worktree's HEAD must still be old, and
// git moves branch, index and files together, refusing when local changes
// are in the way (ff: `merge --ff-only`, which also refuses if HEAD moved;
// otherwise `reset --keep`).
func moveBranch(ctx context.Context, r *Repo, branch, old, new string, ff bool) error {
	wt, err := r.WorktreeFor(ctx, branch)
	if err != nil {
		return err
	}
	if wt == nil {
		_, err := r.Run(ctx, "update-ref", "-m", "studiod: move "+branch, "--", "refs/heads/"+branch, new, old)
		if err == nil {
			return nil
		}
		if cur, rerr := r.ResolveCommit(ctx, "refs/heads/"+branch); rerr == nil && cur != old {
			return fmt.Errorf("%w: %s is at %s, not %s", ErrTargetMoved, branch, cur, old)
		}
		return err
	}
	g := r.Git
	head, err := g.Run(ctx, wt.Path, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return err
	}
	if h := trim(head); h != old {
		return fmt.Errorf("%w: worktree %s is at %s, not %s", ErrTargetMoved, wt.Path, h, old)
	}
	args := []string{"reset", "-q", "--keep", new, "--"}
	if ff {
		args = []string{"merge", "-q", "--ff-only", "--no-autostash", "--no-stat", new}
	}
	if _, err := g.Run(ctx, wt.Path, args...); err != nil {
		// Tell the refusals apart by state, not by git's messages.
		if cerr := g.checkTargetWorktree(ctx, wt.Path, old, new, true); cerr != nil {
			return cerr
		}
		return fmt.Errorf("move %s in %s: %w", branch, wt.Path, err)
	}
	return nil
}

// checkTargetWorktree checks that the worktree at dir is still at old and
// has no local changes (staged, unstaged or untracked) in the paths that
// differ between old and new (a commit or tree). It asks git about those
// paths only, so its cost follows the change, not the worktree's size; with
// full it looks at every path, to also catch a local file where the other
// side has a directory.
func (g *Git) checkTargetWorktree(ctx context.Context, dir, old, new string, full bool) error {
	head, err := g.Run(ctx, dir, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return err
	}
	if h := trim(head); h != old {
		return fmt.Errorf("%w: worktree %s is at %s, not %s", ErrTargetMoved, dir, h, old)
	}
	out, err := g.Run(ctx, dir, "diff-tree", "-r", "-z", "--name-only", "--no-renames", old, new)
	if err != nil {
		return err
	}
	touched := strings.FieldsFunc(string(out), func(r rune) bool { return r == 0 })
	if len(touched) == 0 {
		return nil
	}
	args := []string{"status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"}
	// Past a few thousand paths the command line gets long and a full
	// status costs about the same.
	if !full && len(touched) <= 2000 {
		args = append(append(args, "--"), touched...)
	}
	out, err = g.RunCmd(ctx, Cmd{Dir: dir, Env: []string{"GIT_LITERAL_PATHSPECS=1"}}, args...)
	if err != nil {
		return err
	}
	var dirty []string
	for _, e := range strings.Split(string(out), "\x00") {
		// "XY path"
		if len(e) > 3 && overlaps(e[3:], touched) {
			dirty = append(dirty, e[3:])
		}
	}
	if len(dirty) > 0 {
		slices.Sort(dirty)
		return &TargetDirtyError{Worktree: dir, Paths: slices.Compact(dirty)}
	}
	return nil
}

// overlaps reports whether p is one of paths, or a directory of one, or
// inside one (a file where the other side has a directory).
func overlaps(p string, paths []string) bool {
	p = strings.TrimSuffix(p, "/")
	for _, q := range paths {
		if p == q || strings.HasPrefix(q, p+"/") || strings.HasPrefix(p, q+"/") {
			return true
		}
	}
	return false
}

// UndoOptions says which merge Undo takes back.
type UndoOptions struct {
	Repo   *Repo
	Target string
	// Merged is the merge's result (MergeResult.New): the target must still
	// be there.
	Merged string
	// Backup is the merge's backup ref (MergeResult.Backup).
	Backup string
	// Journal and KeepJournal are as in MergeOptions.
	Journal     string
	KeepJournal bool
}

// UndoResult says what Undo did.
type UndoResult struct {
	Target string
	// Restored is the tip the target is back at; Undone the merge result it
	// left, which Backup (a new backup ref) keeps reachable.
	Restored string
	Undone   string
	Backup   string
}

// Undo moves the target back to the commit in the merge's backup ref, if
// the target is still at the merge result (else ErrTargetMoved), with the
// same care for a checked-out target as Merge (*TargetDirtyError when local
// changes are in the way). The undone result gets a backup ref of its own.
func Undo(ctx context.Context, o UndoOptions) (UndoResult, error) {
	res := UndoResult{Target: o.Target, Undone: o.Merged}
	if err := undo(ctx, o, &res); err != nil {
		return res, fmt.Errorf("undo merge into %s: %w", o.Target, err)
	}
	return res, nil
}

func undo(ctx context.Context, o UndoOptions, res *UndoResult) error {
	r := o.Repo
	if r == nil {
		return errors.New("no repository")
	}
	if err := r.CheckBranchName(ctx, o.Target); err != nil {
		return err
	}
	if !isObjectID(o.Merged) {
		return fmt.Errorf("%w: %q is not a commit id", ErrBadRef, o.Merged)
	}
	if err := ValidateRefArg(o.Backup); err != nil {
		return err
	}
	if !strings.HasPrefix(o.Backup, BackupRefPrefix+o.Target+"/") {
		return fmt.Errorf("%w: %q is not a backup ref of %s", ErrBadRef, o.Backup, o.Target)
	}
	restored, err := r.ResolveCommit(ctx, o.Backup)
	if err != nil {
		return err
	}
	res.Restored = restored
	cur, err := r.ResolveCommit(ctx, "refs/heads/"+o.Target)
	if err != nil {
		return err
	}
	if cur != o.Merged {
		// Final: moving the branch back would drop what was committed on
		// top, and trying again changes nothing.
		return fmt.Errorf("%w (%w): %s is at %s, not the merge result %s: commits were made on it since, which moving it back would drop; revert the merge on top instead (git revert)",
			ErrUndoTooLate, ErrTargetMoved, o.Target, cur, o.Merged)
	}
	if wt, err := r.WorktreeFor(ctx, o.Target); err != nil {
		return err
	} else if wt != nil {
		if err := r.Git.checkTargetWorktree(ctx, wt.Path, o.Merged, restored, false); err != nil {
			return err
		}
	}
	j := &journal{Version: 1, Op: "undo", Repo: r.Root, Target: o.Target,
		Old: o.Merged, New: restored, Backup: backupRefName(o.Target)}
	if err := j.step(o.Journal, stepBegin); err != nil {
		return err
	}
	if err := writeBackup(ctx, r, j.Backup, o.Merged); err != nil {
		_ = removeJournal(o.Journal)
		return err
	}
	res.Backup = j.Backup
	if err := j.step(o.Journal, stepBackup); err != nil {
		return err
	}
	if err := moveBranch(ctx, r, o.Target, o.Merged, restored, false); err != nil {
		if dropBackup(ctx, r, o.Target, j.Backup, o.Merged) {
			res.Backup = ""
		}
		_ = removeJournal(o.Journal)
		return err
	}
	if err := j.step(o.Journal, stepMove); err != nil {
		return err
	}
	if !o.KeepJournal {
		_ = removeJournal(o.Journal) // as in Merge: done, whatever the journal says
	}
	return nil
}
