package agents

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/studiod/studiod/workspace"
)

// foldPlan is a fold of sessions with what a check or a land needs.
type foldPlan struct {
	repo     *workspace.Repo
	target   string
	sessions []Session // by side index
	sides    []workspace.FoldSide
	res      workspace.FoldResult
	order    []int // side indices of the landing order
	folder   *workspace.Folder
	preview  Preview
}

// candidates returns the sessions a preview or land considers, in order of
// preference, and their target. strict makes a named session that cannot
// be folded an error; otherwise it is skipped (a live preview whose
// session was merged meanwhile).
func (m *Manager) candidates(ctx context.Context, repo *workspace.Repo, names []string, target string, strict bool) ([]Session, string, error) {
	var list []Session
	if len(names) > 0 {
		seen := map[string]bool{}
		for _, n := range names {
			s, err := m.Lookup(Ref{Session: n, Repo: repo.Root})
			if err == nil && (!active(s.State) || s.State == Starting || s.Repo != repo.Root) {
				err = invalidf("session %s is %s: only live or finished sessions not yet merged can be integrated", s.Name, s.State)
			}
			if err != nil {
				if strict {
					return nil, "", err
				}
				continue
			}
			if !seen[s.ID] {
				seen[s.ID] = true
				list = append(list, s)
			}
		}
	} else {
		// A reviewer's branch holds the reviewed session's work, not its
		// own: it lands only when named.
		reviewers := map[string]bool{}
		if recs, err := m.store.reviews(ctx); err == nil {
			for _, r := range recs {
				reviewers[r.reviewer] = true
			}
		}
		for _, s := range m.List(repo.Root, false) {
			if s.State != Starting && s.Repo == repo.Root && !reviewers[s.ID] {
				list = append(list, s)
			}
		}
	}
	if target == "" && len(list) > 0 {
		target = list[0].Target
	}
	if target == "" {
		cfg, _, err := m.effectiveConfig(ctx, repo.Root)
		if err != nil {
			return nil, "", err
		}
		if target = cfg.Defaults.Target; target == "" {
			if target, err = repo.CurrentBranch(ctx); err != nil {
				return nil, "", err
			}
		}
		if target == "" {
			return nil, "", invalidf("no target: the main worktree has a detached HEAD and no session names one; pass --target")
		}
	}
	var out []Session
	for _, s := range list {
		if s.Target != target {
			if strict && len(names) > 0 {
				return nil, "", invalidf("session %s targets %s, not %s: preview or land sessions of one target at a time", s.Name, s.Target, target)
			}
			continue
		}
		out = append(out, s)
	}
	return m.plans.order(out), target, nil
}

// sideOf is the commit that holds a session's work: the tracker's newest
// snapshot, else a snapshot taken now, else (no worktree) its branch.
func (m *Manager) sideOf(ctx context.Context, s Session) (workspace.FoldSide, error) {
	side := workspace.FoldSide{Name: s.Name}
	if m.hasWorktree(ctx, s) {
		if snap, ok := m.conf.snapshotOf(s.ID); ok {
			side.Commit, side.Head = snap.Commit, snap.Head
			return side, nil
		}
		snap, err := m.snapshot(ctx, s)
		if err != nil {
			return side, err
		}
		side.Commit, side.Head = snap.Commit, snap.Head
		return side, nil
	}
	out, err := m.opts.Git.Run(ctx, s.Repo, "rev-parse", "--verify", "-q", "refs/heads/"+s.Branch+"^{commit}")
	if err != nil {
		return side, fmt.Errorf("%w: session %s has neither a worktree nor a branch any more", ErrNotFound, s.Name)
	}
	side.Commit = strings.TrimSpace(string(out))
	side.Head = side.Commit
	return side, nil
}

// folderFor returns the Folder of root, over the conflict tracker's
// predictor when there is one (so predictions are shared), else over one
// of the integrator's own.
func (ig *integrator) folderFor(ctx context.Context, repo *workspace.Repo) (*workspace.Folder, error) {
	pred := ig.predictor(repo.Root)
	ig.mu.Lock()
	defer ig.mu.Unlock()
	if ig.closed {
		return nil, errStopped
	}
	if pred == nil {
		pred = ig.preds[repo.Root]
		if pred == nil {
			p, err := workspace.NewPredictor(ig.ctx, ig.git, repo.Root)
			if err != nil {
				return nil, err
			}
			ig.preds[repo.Root], pred = p, p
		}
	}
	rs := ig.repoLocked(repo.Root)
	if rs.folder == nil || rs.folderPred != pred {
		rs.folder, rs.folderPred = workspace.NewFolder(repo, pred), pred
	}
	return rs.folder, nil
}

// fold computes the preview of req, without its check.
func (m *Manager) fold(ctx context.Context, req PreviewRequest, strict bool) (*foldPlan, error) {
	repo, err := m.openRepo(ctx, req.Repo)
	if err != nil {
		return nil, err
	}
	sessions, target, err := m.candidates(ctx, repo, req.Sessions, req.Target, strict)
	if err != nil {
		return nil, err
	}
	if err := repo.CheckBranchName(ctx, target); err != nil {
		return nil, invalidf("target: %v", err)
	}
	tip, err := repo.ResolveCommit(ctx, "refs/heads/"+target)
	if err != nil {
		return nil, invalidf("target branch %s: %v", target, err)
	}
	folder, err := m.integ.folderFor(ctx, repo)
	if err != nil {
		return nil, err
	}
	plan := &foldPlan{repo: repo, target: target, sessions: sessions, folder: folder}
	for _, s := range sessions {
		side, err := m.sideOf(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("preview %s: %w", s.Name, err)
		}
		plan.sides = append(plan.sides, side)
	}
	res, err := folder.Fold(ctx, tip, plan.sides)
	if err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	plan.res = res
	for _, st := range res.Steps {
		plan.order = append(plan.order, st.Side)
	}
	p := Preview{Repo: repo.Root, Target: target, Tip: tip, Commit: res.Commit()}
	if len(res.Steps) > 0 {
		p.Tree = res.Steps[len(res.Steps)-1].Tree
	} else if p.Tree, err = folder.Predictor().Tree(ctx, tip); err != nil {
		return nil, err
	}
	for k, st := range res.Steps {
		p.Sessions = append(p.Sessions, PreviewSession{Session: sessions[st.Side], Commit: plan.sides[st.Side].Commit, Status: PreviewClean, Position: k + 1})
	}
	for _, l := range res.Left {
		ps := PreviewSession{Session: sessions[l.Side], Commit: plan.sides[l.Side].Commit, Left: l.Reason, Files: l.Files}
		switch l.Reason {
		case workspace.LeftEmpty:
			ps.Status = PreviewEmpty
		case workspace.LeftError:
			ps.Status = PreviewError
			if l.Err != nil {
				ps.Err = l.Err.Error()
			}
		case workspace.LeftTarget:
			ps.Status = PreviewConflict
			ps.With = []string{workspace.TargetSide}
		default:
			ps.Status = PreviewConflict
			for _, j := range l.With {
				ps.With = append(ps.With, sessions[j].Name)
			}
		}
		p.Sessions = append(p.Sessions, ps)
	}
	for _, pr := range res.Pairs {
		a := sessions[pr.A]
		for _, f := range pr.Files {
			c := workspace.Conflict{Repo: repo.Root, Path: f.Path, Kind: f.Kind, Severity: f.Severity,
				A: workspace.Side{Name: a.Name, Path: f.A.Path, File: filepath.Join(a.Worktree, filepath.FromSlash(f.A.Path)), Ranges: f.A.Ranges}}
			bKey := workspace.TargetSide
			if pr.B < 0 {
				c.B = workspace.Side{Name: workspace.TargetSide, Path: f.B.Path, File: filepath.Join(repo.Root, filepath.FromSlash(f.B.Path)), Ranges: f.B.Ranges}
			} else {
				b := sessions[pr.B]
				bKey = b.ID
				c.B = workspace.Side{Name: b.Name, Path: f.B.Path, File: filepath.Join(b.Worktree, filepath.FromSlash(f.B.Path)), Ranges: f.B.Ranges}
			}
			c.ID = "preview-" + hashBytes([]byte(repo.Root + "\x00" + a.ID + "\x00" + bKey + "\x00" + f.Path + "\x00" + f.Kind))[:20]
			p.Conflicts = append(p.Conflicts, c)
		}
	}
	plan.preview = p
	return plan, nil
}
