package agents

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/studiod/studiod/workspace"
)

// Nothing is removed without a way back: before a session's worktree goes
// (rm, rm --force, removal after a merge, its tree recycled by the pool),
// its last snapshot, uncommitted work included, is kept as a commit under
// refs/studio/salvage/NAME, taken while the worktree still exists. `studiod
// salvage` lists them, `studiod restore` brings one back as a new session
// or a branch, and they are pruned after [defaults] salvage_days.

// SalvagePrefix is where salvage refs live.
const SalvagePrefix = "refs/studio/salvage/"

// defaultSalvageDays is how long a salvage ref is kept when the
// configuration does not say.
const defaultSalvageDays = 30

// Salvage is what a removed session left.
type Salvage struct {
	// Name is the ref's last part, what restore takes: the session's name,
	// with a suffix when that name was salvaged before.
	Name        string
	Ref         string
	Commit      string
	Repo        string
	Session     string // the session's name
	SessionID   string
	Agent       string
	Branch      string
	Target      string
	Base        string
	When        time.Time
	Uncommitted bool    // it holds work that was never committed
	Changes     Changes // against Base
}

// salvage keeps s's work as a salvage ref before its worktree goes, and
// returns it; a zero Salvage when there is no work to keep (nothing beyond
// its base).
func (m *Manager) salvage(ctx context.Context, repo *workspace.Repo, s Session) (Salvage, error) {
	head, tree, uncommitted := "", "", false
	if s.Worktree != "" && m.hasWorktree(ctx, s) {
		snap, err := m.snapshot(ctx, s)
		if err != nil {
			return Salvage{}, fmt.Errorf("snapshot %s before removing it: %w", s.Name, err)
		}
		head, tree = snap.Head, snap.Tree
		headTree, err := repo.Run(ctx, "rev-parse", "--verify", head+"^{tree}")
		if err != nil {
			return Salvage{}, err
		}
		uncommitted = strings.TrimSpace(string(headTree)) != tree
	} else if tip, err := repo.ResolveCommit(ctx, "refs/heads/"+s.Branch); err == nil {
		head = tip
		out, err := repo.Run(ctx, "rev-parse", "--verify", tip+"^{tree}")
		if err != nil {
			return Salvage{}, err
		}
		tree = strings.TrimSpace(string(out))
	} else {
		return Salvage{}, nil
	}
	if out, err := repo.Run(ctx, "rev-parse", "--verify", s.Base+"^{tree}"); err == nil && strings.TrimSpace(string(out)) == tree {
		return Salvage{}, nil
	}
	// A removal tried again (after a crash, a failure) keeps the salvage
	// it made already.
	if list, err := m.salvages(ctx, repo); err == nil {
		for _, old := range list {
			if old.SessionID != s.ID {
				continue
			}
			if out, err := repo.Run(ctx, "rev-parse", "--verify", old.Commit+"^{tree}"); err == nil && strings.TrimSpace(string(out)) == tree {
				return old, nil
			}
		}
	}
	files, err := m.files(s).Diff(ctx, s.Base, tree, nil, true)
	if err != nil {
		return Salvage{}, err
	}
	t := workspace.Total(files)
	sv := Salvage{Repo: repo.Root, Session: s.Name, SessionID: s.ID, Agent: s.Agent, Branch: s.Branch, Target: s.Target,
		Base: s.Base, When: time.Now().UTC(), Uncommitted: uncommitted,
		Changes: Changes{Files: t.Files, Additions: t.Additions, Deletions: t.Deletions}}
	date := strconv.FormatInt(sv.When.Unix(), 10) + " +0000"
	commit, err := m.opts.Git.RunCmd(ctx, workspace.Cmd{Dir: repo.Root, Env: []string{
		"GIT_AUTHOR_NAME=studiod", "GIT_AUTHOR_EMAIL=studiod@localhost", "GIT_AUTHOR_DATE=" + date,
		"GIT_COMMITTER_NAME=studiod", "GIT_COMMITTER_EMAIL=studiod@localhost", "GIT_COMMITTER_DATE=" + date,
	}}, "commit-tree", "--no-gpg-sign", tree, "-p", head, "-m", sv.message())
	if err != nil {
		return Salvage{}, err
	}
	sv.Commit = strings.TrimSpace(string(commit))
	// A new ref, never over an older salvage of the same name.
	for i := 1; ; i++ {
		sv.Name = s.Name
		if i > 1 {
			sv.Name += "-" + strconv.Itoa(i)
		}
		sv.Ref = SalvagePrefix + sv.Name
		if _, err := repo.Run(ctx, "update-ref", "--no-deref", sv.Ref, sv.Commit, ""); err == nil {
			break
		} else if i > 1000 {
			return Salvage{}, fmt.Errorf("keep %s's work: %w", s.Name, err)
		}
	}
	m.log.Info("salvaged", "session", s.Name, "ref", sv.Ref, "uncommitted", uncommitted, "files", sv.Changes.Files)
	return sv, nil
}

// message is the salvage commit's message: a subject, then what Salvages
// reads back as trailers.
func (sv Salvage) message() string {
	held := "its branch"
	if sv.Uncommitted {
		held = "its branch and uncommitted work"
	}
	return fmt.Sprintf("studiod salvage of session %s (%s)\n\n"+
		"Studio-Session: %s\nStudio-Session-Id: %s\nStudio-Agent: %s\nStudio-Branch: %s\nStudio-Target: %s\nStudio-Base: %s\n"+
		"Studio-Uncommitted: %t\nStudio-Changes: %d +%d -%d\n",
		sv.Session, held, sv.Session, sv.SessionID, sv.Agent, sv.Branch, sv.Target, sv.Base, sv.Uncommitted,
		sv.Changes.Files, sv.Changes.Additions, sv.Changes.Deletions)
}

// Salvages lists the salvage refs of the repository at dir, newest first,
// having pruned those older than its salvage_days.
func (m *Manager) Salvages(ctx context.Context, dir string) ([]Salvage, error) {
	repo, err := m.openRepo(ctx, dir)
	if err != nil {
		return nil, err
	}
	list, err := m.salvages(ctx, repo)
	if err != nil {
		return nil, err
	}
	return m.pruneSalvages(ctx, repo, list), nil
}

func (m *Manager) salvages(ctx context.Context, repo *workspace.Repo) ([]Salvage, error) {
	out, err := repo.Run(ctx, "for-each-ref", "--sort=-committerdate",
		"--format=%(refname)%00%(objectname)%00%(committerdate:unix)%00%(contents)%00", SalvagePrefix)
	if err != nil {
		return nil, err
	}
	var list []Salvage
	for rec := range strings.SplitSeq(string(out), "\x00\n") {
		f := strings.SplitN(rec, "\x00", 4)
		if len(f) < 4 {
			continue
		}
		sv := Salvage{Ref: f[0], Name: strings.TrimPrefix(f[0], SalvagePrefix), Commit: f[1], Repo: repo.Root}
		if sec, err := strconv.ParseInt(f[2], 10, 64); err == nil {
			sv.When = time.Unix(sec, 0).UTC()
		}
		for line := range strings.SplitSeq(f[3], "\n") {
			k, v, ok := strings.Cut(line, ": ")
			if !ok {
				continue
			}
			switch k {
			case "Studio-Session":
				sv.Session = v
			case "Studio-Session-Id":
				sv.SessionID = v
			case "Studio-Agent":
				sv.Agent = v
			case "Studio-Branch":
				sv.Branch = v
			case "Studio-Target":
				sv.Target = v
			case "Studio-Base":
				sv.Base = v
			case "Studio-Uncommitted":
				sv.Uncommitted = v == "true"
			case "Studio-Changes":
				fmt.Sscanf(v, "%d +%d -%d", &sv.Changes.Files, &sv.Changes.Additions, &sv.Changes.Deletions)
			}
		}
		list = append(list, sv)
	}
	return list, nil
}

// pruneSalvages deletes the salvage refs older than the repository's
// salvage_days and returns the others.
func (m *Manager) pruneSalvages(ctx context.Context, repo *workspace.Repo, list []Salvage) []Salvage {
	days := defaultSalvageDays
	if cfg, _, err := m.effectiveConfig(ctx, repo.Root); err == nil && cfg.Defaults.SalvageDays != 0 {
		days = cfg.Defaults.SalvageDays
	}
	if days < 0 {
		return list // kept for ever
	}
	cutoff := time.Now().Add(-time.Duration(days) * 24 * time.Hour)
	kept := list[:0]
	for _, sv := range list {
		if sv.When.Before(cutoff) {
			if _, err := repo.Run(ctx, "update-ref", "-d", sv.Ref, sv.Commit); err == nil {
				m.log.Info("pruned salvage", "ref", sv.Ref, "from", sv.When)
				continue
			}
		}
		kept = append(kept, sv)
	}
	return kept
}

// RestoreRequest says where a salvage goes: a new session (As, with the
// salvaged session's agent unless Agent or Command say otherwise) or a new
// branch.
type RestoreRequest struct {
	Repo    string
	Name    string
	As      string
	Branch  string
	Agent   string
	Command []string
}

// RestoreResult is what Restore made.
type RestoreResult struct {
	Salvage Salvage
	Session *Session // restored as a session
	Branch  string   // restored as a branch
}

// Restore brings a salvage back, as a new session whose branch starts at
// it, or as a new branch. The salvage ref stays until it is pruned.
func (m *Manager) Restore(ctx context.Context, req RestoreRequest, progress Progress) (RestoreResult, error) {
	if req.As != "" && req.Branch != "" {
		return RestoreResult{}, invalidf("restore into a session (--as) or a branch (--branch), not both")
	}
	repo, err := m.openRepo(ctx, req.Repo)
	if err != nil {
		return RestoreResult{}, err
	}
	list, err := m.salvages(ctx, repo)
	if err != nil {
		return RestoreResult{}, err
	}
	var sv *Salvage
	for i := range list {
		if list[i].Name == req.Name {
			sv = &list[i]
		}
	}
	if sv == nil {
		return RestoreResult{}, fmt.Errorf("%w: no salvage named %q in %s: `studiod salvage` lists them", ErrNotFound, req.Name, repo.Root)
	}
	res := RestoreResult{Salvage: *sv}
	if req.Branch != "" {
		if strings.HasPrefix(req.Branch, "-") {
			return res, invalidf("branch %q: not a branch name", req.Branch)
		}
		if err := repo.CheckBranchName(ctx, req.Branch); err != nil {
			return res, err
		}
		if ok, _ := repo.BranchExists(ctx, req.Branch); ok {
			return res, invalidf("branch %s already exists: choose another name", req.Branch)
		}
		if _, err := repo.Run(ctx, "branch", "--no-track", req.Branch, sv.Commit); err != nil {
			return res, err
		}
		res.Branch = req.Branch
		return res, nil
	}
	agent := req.Agent
	if agent == "" && len(req.Command) == 0 && sv.Agent != "command" {
		agent = sv.Agent
	}
	name := req.As
	if name == "" {
		name = sv.Session
	}
	s, err := m.Spawn(ctx, SpawnRequest{Repo: repo.Root, Name: name, Agent: agent, Command: req.Command, Base: sv.Commit,
		Target: sv.Target, Note: "restored from salvage " + sv.Name}, progress)
	if err != nil {
		return res, err
	}
	res.Session = &s
	return res, nil
}

// keepWork salvages s before its worktree goes and freezes its change
// stats at what was kept: the tracker must not snapshot a worktree while
// it is deleted or recycled. It returns the salvage and the removed
// session's detail. A salvage that fails stops the removal, unless forced.
func (m *Manager) keepWork(ctx context.Context, repo *workspace.Repo, s Session, force bool) (Salvage, string, error) {
	sv, err := m.salvage(ctx, repo, s)
	if err != nil && !force {
		return Salvage{}, "", fmt.Errorf("%w: nothing was removed (--force removes it without keeping its work)", err)
	}
	m.conf.untrack(s.ID)
	detail := ""
	switch {
	case err != nil:
		m.log.Warn("removed without keeping its work", "session", s.Name, "err", err)
		detail = "removed without keeping its work: " + err.Error()
	case sv.Commit != "":
		detail = "salvage: studiod restore " + sv.Name
	}
	if err == nil {
		m.update(s.ID, func(r *Session) bool {
			if r.Changes == sv.Changes {
				return false
			}
			r.Changes = sv.Changes
			return true
		})
	}
	return sv, detail, nil
}
