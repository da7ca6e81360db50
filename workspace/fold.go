package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// FoldSide is one line of work to fold onto a target: a session's snapshot
// commit (uncommitted work included) or its branch tip.
type FoldSide struct {
	Name string
	// Commit holds the work. Head is the commit it sits on (a snapshot's
	// parent; Commit itself for a branch tip): merge bases are computed
	// from heads, which stay the same while only uncommitted work changes.
	Commit, Head string
}

// Reasons a side is left out of a fold.
const (
	// LeftEmpty: nothing to merge, the target has it all.
	LeftEmpty = "empty"
	// LeftTarget: it conflicts with the target on its own.
	LeftTarget = "target"
	// LeftSession: it conflicts with a side in the order (With).
	LeftSession = "session"
	// LeftCombination: it merges with each side alone but not with the
	// combination of those before it (With).
	LeftCombination = "combination"
	// LeftError: it cannot be merged at all (Err): a bad ref, or no
	// history in common with the target.
	LeftError = "error"
)

// FoldLeft is a side left out of the order, and why.
type FoldLeft struct {
	Side   int
	Reason string
	// With are the sides it conflicts with (indices); empty for the target.
	With []int
	// Files are the conflicting paths, with line ranges when a pair's
	// prediction gave them: A is the side left out.
	Files []FileConflict
	Err   error
}

// Paths lists the conflicting paths.
func (l FoldLeft) Paths() []string {
	var out []string
	for _, f := range l.Files {
		out = append(out, f.Path)
	}
	return out
}

// FoldPair is a conflict between two sides, or (B == -1) a side and the
// target, predicted on its own.
type FoldPair struct {
	A, B  int
	Files []FileConflict // severity conflict only
}

// FoldStep is one side folded in: Commit is the target tip with every side
// of the order up to this one merged, Tree its tree.
type FoldStep struct {
	Side         int
	Commit, Tree string
}

// FoldResult is a fold of sides onto a target tip.
type FoldResult struct {
	Tip string
	// Steps are the landing order: the most sides that fold onto Tip with no
	// conflict, earlier sides preferred.
	Steps []FoldStep
	// Left are the other sides, in side order.
	Left []FoldLeft
	// Pairs are the conflicts predicted pair by pair.
	Pairs []FoldPair
}

// Commit is the fold of the whole order: the last step's commit, or Tip.
func (r FoldResult) Commit() string {
	if len(r.Steps) == 0 {
		return r.Tip
	}
	return r.Steps[len(r.Steps)-1].Commit
}

// Folder folds lines of work onto a target in memory, with the repository's
// Predictor (whose caches it shares) and `git merge-tree --write-tree`; it
// touches no worktree, index or ref. The commits it makes for each step of a
// fold are deterministic (fixed identity and date), so an unchanged prefix
// of a fold is found in its cache.
//
// A Folder is safe for concurrent use.
type Folder struct {
	repo *Repo
	pred *Predictor
	// objects writes fold commits in process when the repository uses
	// SHA-1; otherwise commit-tree does.
	objects  *looseStore
	formatOK sync.Once

	// mu guards steps. Never held while git runs.
	mu    sync.Mutex
	steps map[[2]string]stepResult
}

type stepResult struct {
	commit, tree string
	conflicts    []string
}

// NewFolder returns a Folder over repo using pred (the tracker's, so that
// predictions are shared).
func NewFolder(repo *Repo, pred *Predictor) *Folder {
	return &Folder{repo: repo, pred: pred, steps: map[[2]string]stepResult{}}
}

// Predictor returns the predictor the Folder uses.
func (f *Folder) Predictor() *Predictor { return f.pred }

// maxExact bounds the sides for which the landing order is the exact
// largest set; past it a greedy choice is made.
const maxExact = 30

// Fold folds sides (in order of preference) onto tip. It predicts each
// side against the target and every pair of sides whose changes meet,
// chooses the largest set of sides with no conflict between them or with
// the target (earlier sides preferred among sets of one size), and folds
// that set onto tip one side at a time, leaving out a side that conflicts
// only with the combination of those before it.
func (f *Folder) Fold(ctx context.Context, tip string, sides []FoldSide) (FoldResult, error) {
	res := FoldResult{Tip: tip}
	if err := ValidateRefArg(tip); err != nil {
		return res, err
	}
	tipTree, err := f.pred.Tree(ctx, tip)
	if err != nil {
		return res, fmt.Errorf("fold onto %s: %w", tip, err)
	}
	type info struct {
		base    string // merge base with tip
		changes []Change
		ok      bool
	}
	infos := make([]info, len(sides))
	lefts := make([]*FoldLeft, len(sides))
	errs := make([]error, len(sides))
	// Each side's merge base and changes cost a git process or two the
	// first time: a few at once.
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, s := range sides {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			head := cmpOr(s.Head, s.Commit)
			base, err := f.pred.MergeBase(ctx, head, tip)
			if err == nil {
				_, err = f.pred.Tree(ctx, s.Commit)
			}
			switch {
			case errors.Is(err, ErrBadRef) || errors.Is(err, ErrNoMergeBase):
				lefts[i] = &FoldLeft{Side: i, Reason: LeftError, Err: err}
				return
			case err != nil:
				errs[i] = err
				return
			case base == s.Commit:
				lefts[i] = &FoldLeft{Side: i, Reason: LeftEmpty}
				return
			}
			ch, err := f.pred.ChangedPaths(ctx, base, s.Commit)
			if err != nil {
				errs[i] = err
				return
			}
			if len(ch) == 0 {
				lefts[i] = &FoldLeft{Side: i, Reason: LeftEmpty}
				return
			}
			infos[i] = info{base: base, changes: ch, ok: true}
		})
	}
	wg.Wait()
	left := map[int]FoldLeft{}
	var live []int
	for i := range sides {
		if errs[i] != nil {
			return res, errs[i]
		}
		if lefts[i] != nil {
			left[i] = *lefts[i]
			continue
		}
		live = append(live, i)
	}

	// Pairs: every side with the target, and every two sides whose changes
	// meet. Sides whose changed paths do not meet cannot conflict; if they
	// did through a rename, the fold below still finds it.
	type job struct{ a, b int }
	var jobs []job
	var pairs []Pair
	for _, i := range live {
		jobs = append(jobs, job{i, -1})
		pairs = append(pairs, Pair{A: sides[i].Commit, B: tip, Base: infos[i].base})
	}
	for x, i := range live {
		for _, j := range live[x+1:] {
			if !intersect(infos[i].changes, infos[j].changes) {
				continue
			}
			hi, hj := cmpOr(sides[i].Head, sides[i].Commit), cmpOr(sides[j].Head, sides[j].Commit)
			base, err := f.pred.MergeBase(ctx, hi, hj)
			if errors.Is(err, ErrNoMergeBase) {
				continue
			}
			if err != nil {
				return res, err
			}
			jobs = append(jobs, job{i, j})
			pairs = append(pairs, Pair{A: sides[i].Commit, B: sides[j].Commit, Base: base})
		}
	}
	preds, err := f.pred.Predict(ctx, pairs)
	if err != nil {
		return res, err
	}
	n := len(sides)
	conflictsWith := make([]uint64, n) // bit j: sides i and j conflict
	pairFiles := map[[2]int][]FileConflict{}
	for k, pr := range preds {
		jb := jobs[k]
		if pr.Err != nil {
			if jb.b == -1 {
				left[jb.a] = FoldLeft{Side: jb.a, Reason: LeftError, Err: pr.Err}
			}
			continue
		}
		if pr.Clean {
			if jb.b == -1 && pr.Tree == tipTree {
				// It changes nothing the target does not have already.
				left[jb.a] = FoldLeft{Side: jb.a, Reason: LeftEmpty}
			}
			continue
		}
		files, err := f.pred.Locate(ctx, pr)
		if err != nil {
			return res, err
		}
		var cf []FileConflict
		for _, fc := range files {
			if fc.Severity == SeverityConflict {
				cf = append(cf, fc)
			}
		}
		res.Pairs = append(res.Pairs, FoldPair{A: jb.a, B: jb.b, Files: cf})
		pairFiles[[2]int{jb.a, jb.b}] = cf
		if jb.b == -1 {
			left[jb.a] = FoldLeft{Side: jb.a, Reason: LeftTarget, Files: cf}
			continue
		}
		if n <= 64 {
			conflictsWith[jb.a] |= 1 << jb.b
			conflictsWith[jb.b] |= 1 << jb.a
		}
	}

	var cand []int
	for _, i := range live {
		if _, out := left[i]; !out {
			cand = append(cand, i)
		}
	}
	chosen := chooseOrder(cand, conflictsWith)
	in := map[int]bool{}
	for _, i := range chosen {
		in[i] = true
	}
	for _, i := range cand {
		if in[i] {
			continue
		}
		l := FoldLeft{Side: i, Reason: LeftSession}
		for _, j := range chosen {
			fs, ok := pairFiles[[2]int{min(i, j), max(i, j)}]
			if !ok {
				continue
			}
			l.With = append(l.With, j)
			for _, f := range fs {
				if i > j {
					f.A, f.B = f.B, f.A // the side left out is A
				}
				l.Files = append(l.Files, f)
			}
		}
		left[i] = l
	}

	// The fold itself: the ground truth for what combines.
	cur := tip
	var done []int
	for _, i := range chosen {
		st, err := f.step(ctx, cur, sides[i].Commit)
		if err != nil {
			return res, err
		}
		if len(st.conflicts) > 0 {
			l := FoldLeft{Side: i, Reason: LeftCombination}
			for _, p := range st.conflicts {
				l.Files = append(l.Files, FileConflict{Path: p, Kind: KindContent, Severity: SeverityConflict})
			}
			// Name the sides before it that touch those paths.
			for _, j := range done {
				for _, c := range infos[j].changes {
					if slices.Contains(st.conflicts, c.Path) || slices.Contains(st.conflicts, c.BasePath()) {
						l.With = append(l.With, j)
						break
					}
				}
			}
			if len(l.With) == 0 {
				l.With = slices.Clone(done)
			}
			left[i] = l
			continue
		}
		cur = st.commit
		done = append(done, i)
		res.Steps = append(res.Steps, FoldStep{Side: i, Commit: st.commit, Tree: st.tree})
	}
	for i := range sides {
		if l, ok := left[i]; ok {
			res.Left = append(res.Left, l)
		}
	}
	return res, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// chooseOrder returns the largest subset of cand with no two conflicting
// (conflicts[i] has bit j set when i and j conflict), in cand's order;
// among subsets of one size, the one that keeps the earliest sides. Past
// maxExact sides it is greedy: each side in order, if it fits.
func chooseOrder(cand []int, conflicts []uint64) []int {
	if len(cand) > maxExact || len(conflicts) > 64 {
		var out []int
		var taken uint64
		for _, i := range cand {
			if len(conflicts) > 64 || conflicts[i]&taken == 0 {
				out = append(out, i)
				if i < 64 {
					taken |= 1 << i
				}
			}
		}
		return out
	}
	var best []int
	var cur []int
	var search func(k int, taken uint64)
	search = func(k int, taken uint64) {
		if len(cur)+len(cand)-k <= len(best) {
			return // cannot beat what we have
		}
		if k == len(cand) {
			best = slices.Clone(cur)
			return
		}
		i := cand[k]
		if conflicts[i]&taken == 0 {
			cur = append(cur, i)
			search(k+1, taken|1<<i)
			cur = cur[:len(cur)-1]
		}
		search(k+1, taken)
	}
	search(0, 0)
	return best
}

// Chain folds commits onto tip in the given order and returns each step,
// stopping at the first that conflicts (its step has no commit, and
// ConflictError says where). It is how a check tries a combination other
// than the landing order.
func (f *Folder) Chain(ctx context.Context, tip string, commits []string) ([]FoldStep, error) {
	cur := tip
	var out []FoldStep
	for i, c := range commits {
		st, err := f.step(ctx, cur, c)
		if err != nil {
			return out, err
		}
		if len(st.conflicts) > 0 {
			return out, &ConflictError{Paths: st.conflicts, Commit: c}
		}
		cur = st.commit
		out = append(out, FoldStep{Side: i, Commit: st.commit, Tree: st.tree})
	}
	return out, nil
}

// step merges side into cur (a commit) and, when clean, makes the fold
// commit with both as parents. Results are cached by the pair.
func (f *Folder) step(ctx context.Context, cur, side string) (stepResult, error) {
	key := [2]string{cur, side}
	f.mu.Lock()
	st, ok := f.steps[key]
	f.mu.Unlock()
	if ok {
		return st, nil
	}
	tree, conflicts, err := f.repo.Git.mergeTree(ctx, f.repo.Root, cur, side)
	if err != nil {
		return st, fmt.Errorf("fold %s onto %s: %w", side, cur, err)
	}
	st = stepResult{tree: tree, conflicts: conflicts}
	if len(conflicts) == 0 {
		if st.commit, err = f.commit(ctx, tree, cur, side); err != nil {
			return st, err
		}
	}
	f.mu.Lock()
	if len(f.steps) > cacheMax {
		clear(f.steps)
	}
	f.steps[key] = st
	f.mu.Unlock()
	return st, nil
}

// foldIdentity makes fold commits of the same tree and parents identical.
const foldIdentity = "studiod <studiod@localhost> 1700000000 +0000"

// commit makes the commit of a fold step: in process as a loose object
// when the repository uses SHA-1, else with commit-tree.
func (f *Folder) commit(ctx context.Context, tree string, parents ...string) (string, error) {
	f.formatOK.Do(func() {
		out, err := f.repo.Run(ctx, "rev-parse", "--show-object-format")
		if err == nil && trim(out) == "sha1" {
			if _, err := os.Stat(filepath.Join(f.repo.CommonDir, "objects")); err == nil {
				f.objects = &looseStore{dir: filepath.Join(f.repo.CommonDir, "objects")}
			}
		}
	})
	msg := "studiod fold\n"
	if f.objects != nil && os.Getenv("GIT_OBJECT_DIRECTORY") == "" {
		var b strings.Builder
		fmt.Fprintf(&b, "tree %s\n", tree)
		for _, p := range parents {
			fmt.Fprintf(&b, "parent %s\n", p)
		}
		fmt.Fprintf(&b, "author %s\ncommitter %s\n\n%s", foldIdentity, foldIdentity, msg)
		id, err := f.objects.write("commit", []byte(b.String()))
		if err != nil {
			return "", err
		}
		return id.String(), nil
	}
	args := []string{"commit-tree", "--no-gpg-sign", tree}
	for _, p := range parents {
		args = append(args, "-p", p)
	}
	out, err := f.repo.Git.RunCmd(ctx, Cmd{Dir: f.repo.Root, Env: snapshotIdentity, Stdin: strings.NewReader(msg)}, append(args, "-F", "-")...)
	if err != nil {
		return "", err
	}
	return trim(out), nil
}
