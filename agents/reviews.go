package agents

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/studiod/studiod/vocab"
)

// Role is a profile with a purpose ([roles.NAME] in config.toml or a
// .studio.toml): the agent it runs, the brief given to it before
// the task's prompt, and the scope and gate mode of its sessions.
type Role struct {
	Agent string   `toml:"agent"`
	Brief string   `toml:"brief"`
	Scope []string `toml:"scope"`
	Gate  string   `toml:"gate"`
}

// mergeRoles lays the repository's roles over the user's, field by field.
func mergeRoles(base, over map[string]Role) map[string]Role {
	out := map[string]Role{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		r := out[k]
		r.Agent = cmp.Or(v.Agent, r.Agent)
		r.Brief = cmp.Or(v.Brief, r.Brief)
		r.Gate = cmp.Or(v.Gate, r.Gate)
		if v.Scope != nil {
			r.Scope = v.Scope
		}
		out[k] = r
	}
	return out
}

// role returns the role name of the repository at root.
func (m *Manager) role(ctx context.Context, root, name string) (Role, error) {
	cfg, _, err := m.effectiveConfig(ctx, root)
	if err != nil {
		return Role{}, err
	}
	r, ok := cfg.Roles[name]
	if !ok {
		return Role{}, invalidf("no role %q: define [roles.%s] (agent, brief, scope, gate) in config.toml or .studio.toml", name, name)
	}
	return r, nil
}

// withBrief puts a role's brief before a prompt.
func withBrief(brief, prompt string) string {
	switch {
	case brief == "":
		return prompt
	case prompt == "":
		return brief
	}
	return brief + "\n\n" + prompt
}

// author resolves the session a comment is made from, or "" for none. A
// session cannot comment on (review) its own work.
func (cm *comments) author(s Session, by string) (string, error) {
	if by == "" {
		return "", nil
	}
	a, err := cm.env.Lookup(Ref{Session: by, Repo: s.Repo})
	if err != nil {
		return "", fmt.Errorf("comment's author: %w", err)
	}
	if a.ID == s.ID {
		return "", invalidf("session %s cannot review itself: a reviewer comments on another session's work", s.Name)
	}
	return a.Name, nil
}

// reviews starts reviewers on sessions' work, follows their turns, and
// gates merges on them (a part of the Manager's, behind reviewsEnv).
type reviews struct {
	env   reviewsEnv
	store *store
	log   *slog.Logger
	ctx   context.Context // ends when the manager closes
	// plans is set once the plans runner is made.
	plans reviewPlans
}

// reviewsEnv is what reviews need of the Manager: the sessions, spawning
// the reviewer, and sending the comments on.
type reviewsEnv interface {
	Lookup(ref Ref) (Session, error)
	role(ctx context.Context, root, name string) (Role, error)
	tip(ctx context.Context, s Session) (string, error)
	uniqueName(repo, name string) string
	Spawn(ctx context.Context, req SpawnRequest, progress Progress) (Session, error)
	updateDerived(id string, fn func(s *Session) bool) (Session, error)
	Feedback(ctx context.Context, ref Ref) (sent int, message string, d Delivery, err error)
}

// reviewPlans is what reviews need of the plans runner.
type reviewPlans interface {
	// poke has the runner look at its plans again.
	poke()
	// needsReview reports whether the plan task run by session id
	// requires a review, and the name of the plan's task reviewing it.
	needsReview(id string) (bool, string)
}

// ReviewRequest asks for a reviewer session on another session's work.
type ReviewRequest struct {
	Reviewed Ref
	// By is the session asking (from its environment), "" for a person:
	// a session cannot review itself.
	By string
	// Name is the reviewer's name (default: NAME-review).
	Name    string
	Role    string
	Agent   string
	Prompt  string
	Command []string
	// Forward sends the reviewer's comments to the reviewed agent as
	// feedback once the reviewer's turn ends.
	Forward bool
	// Budget caps the reviewer's model; nil: its agent profile's.
	Budget *Budget
}

// ReviewBy starts a reviewer on a session's current work: a session of its
// own, on its own branch, from a snapshot of the reviewed worktree
// (uncommitted work included), so nothing it does moves the reviewed
// branch. Its comments on the reviewed session record it as their author.
func (m *Manager) ReviewBy(ctx context.Context, req ReviewRequest) (Session, error) {
	return m.reviews.by(ctx, req)
}

func (rv *reviews) by(ctx context.Context, req ReviewRequest) (Session, error) {
	m := rv.env
	s, err := m.Lookup(req.Reviewed)
	if err != nil {
		return Session{}, err
	}
	if !active(s.State) {
		return Session{}, invalidf("session %s is %s: there is no work to review", s.Name, s.State)
	}
	if req.By != "" {
		if by, err := m.Lookup(Ref{Session: req.By, Repo: s.Repo}); err == nil && by.ID == s.ID {
			return Session{}, invalidf("session %s cannot review itself: start the reviewer from elsewhere", s.Name)
		}
	}
	if req.Name == s.Name {
		return Session{}, invalidf("session %s cannot review itself: name the reviewer otherwise", s.Name)
	}
	var role Role
	if req.Role != "" {
		if role, err = m.role(ctx, s.Repo, req.Role); err != nil {
			return Session{}, err
		}
	}
	tip, err := m.tip(ctx, s)
	if err != nil {
		return Session{}, err
	}
	name := req.Name
	if name == "" {
		name = m.uniqueName(s.Repo, reviewerName(s.Name))
	}
	brief := fmt.Sprintf("You review the work of session %s (its branch %s, uncommitted work included, is checked out here; `git diff %s` shows its changes). Do not change the code. Leave each finding as a comment on its lines: `studiod comment %s PATH:LINE TEXT` (or the MCP comment tool on session %s).",
		s.Name, s.Branch, s.Base, s.Name, s.Name)
	r, err := m.Spawn(ctx, SpawnRequest{Repo: s.Repo, Name: name, Agent: cmp.Or(req.Agent, role.Agent), Base: tip, Target: s.Target,
		Prompt: withBrief(brief, withBrief(role.Brief, req.Prompt)), Command: req.Command, Scopes: role.Scope, Gate: role.Gate,
		Note: "reviews " + s.Name, Budget: req.Budget}, nil)
	if err != nil {
		return Session{}, err
	}
	if err := rv.store.putReview(ctx, r.ID, s.ID, req.Forward); err != nil {
		return r, err
	}
	rv.plans.poke()
	return r, nil
}

// reviewerName is NAME-review, cut to fit a session name.
func reviewerName(name string) string {
	const suffix = "-review"
	return strings.TrimRight(name[:min(len(name), 40-len(suffix))], "-") + suffix
}

// ReviewInfo is one reviewer of a session.
type ReviewInfo struct {
	Reviewer string // name
	ID       string
	// Done is a reviewer whose turn has ended: the session is reviewed.
	Done     bool
	Comments int
}

// Reviews lists the reviewers of a session and, for a reviewer, whom it
// reviews (a name, "" for none).
func (m *Manager) Reviews(ctx context.Context, s Session) ([]ReviewInfo, string) {
	return m.reviews.of(ctx, s)
}

func (rv *reviews) of(ctx context.Context, s Session) ([]ReviewInfo, string) {
	m := rv.env
	recs, err := rv.store.reviews(ctx)
	if err != nil {
		return nil, ""
	}
	var out []ReviewInfo
	var reviewing string
	var comments []Comment
	for _, r := range recs {
		if r.reviewer == s.ID {
			if rd, err := m.Lookup(Ref{Session: r.reviewed}); err == nil {
				reviewing = rd.Name
			}
		}
		if r.reviewed != s.ID {
			continue
		}
		who, err := m.Lookup(Ref{Session: r.reviewer})
		if err != nil {
			continue
		}
		if comments == nil {
			comments, _ = rv.store.comments(ctx, s.ID)
		}
		n := 0
		for _, c := range comments {
			if c.By == who.Name {
				n++
			}
		}
		// Done as soon as the reviewer's turn is over, before the
		// reconcile loop records it.
		out = append(out, ReviewInfo{Reviewer: who.Name, ID: who.ID, Done: r.done || turnOver(who.State), Comments: n})
	}
	return out, reviewing
}

// turnOver reports a session whose agent has finished its turn.
func turnOver(state vocab.State) bool {
	switch state {
	case Idle, Exited, Stopped, Merged:
		return true
	}
	return false
}

// reconcile marks the reviews whose reviewer has finished its turn done,
// and forwards their comments when asked.
func (rv *reviews) reconcile(ctx context.Context) {
	m := rv.env
	recs, err := rv.store.reviews(ctx)
	if err != nil {
		return
	}
	for _, r := range recs {
		if r.done && (!r.forward || r.forwarded) {
			continue
		}
		who, err := m.Lookup(Ref{Session: r.reviewer})
		if err != nil || !turnOver(who.State) {
			continue
		}
		if !r.done {
			if err := rv.store.reviewDone(ctx, r.reviewer); err != nil {
				rv.log.Warn("review: record done", "reviewer", who.Name, "err", err)
				continue
			}
			// The reviewed session's record has not changed; announce it
			// so faces show the review.
			m.updateDerived(r.reviewed, func(*Session) bool { return true })
		}
		if r.forward && !r.forwarded {
			if _, _, _, err := m.Feedback(ctx, Ref{Session: r.reviewed}); err != nil {
				rv.log.Info("review: forward comments", "reviewer", who.Name, "err", err)
			}
			if err := rv.store.reviewForwarded(ctx, r.reviewer); err != nil {
				rv.log.Warn("review: record forwarded", "reviewer", who.Name, "err", err)
			}
		}
	}
}

// UnreviewedError refuses to merge or land a session that must be
// reviewed first and is not.
type UnreviewedError struct {
	Session string
	// Reviewer names the plan's reviewer task, "" when it has none.
	Reviewer string
	Started  bool // the reviewer runs: its turn has not ended
}

func (e *UnreviewedError) Error() string {
	how := "no reviewer has finished a turn on it"
	switch {
	case e.Reviewer != "" && e.Started:
		how = fmt.Sprintf("wait for its reviewer %s to finish its turn", e.Reviewer)
	case e.Reviewer != "":
		how = fmt.Sprintf("its reviewer %s has not started", e.Reviewer)
	}
	return fmt.Sprintf("session %s must be reviewed before it merges (require_review): %s", e.Session, how)
}

// gate refuses s when a plan requires its review and no reviewer has
// finished its turn.
func (rv *reviews) gate(s Session, force bool) error {
	if force {
		return nil
	}
	needs, reviewer := rv.plans.needsReview(s.ID)
	if !needs {
		return nil
	}
	infos, _ := rv.of(rv.ctx, s)
	started := false
	for _, r := range infos {
		if r.Done {
			return nil
		}
		started = started || r.Reviewer == reviewer
	}
	return &UnreviewedError{Session: s.Name, Reviewer: reviewer, Started: started}
}

// needsReview reports whether the plan task run by session id requires a
// review, and the name of the plan's task reviewing it.
func (ps *plans) needsReview(id string) (bool, string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, r := range ps.runs {
		for _, t := range r.Tasks {
			if t.Session != id {
				continue
			}
			spec := r.plan.Task(t.Name)
			if spec == nil || !r.plan.NeedsReview(spec) {
				return false, ""
			}
			for _, o := range r.plan.Tasks {
				if o.Reviews == t.Name {
					return true, o.Name
				}
			}
			return true, ""
		}
	}
	return false, ""
}

type reviewRec struct {
	reviewer, reviewed       string
	forward, done, forwarded bool
}

func (s *store) putReview(ctx context.Context, reviewer, reviewed string, forward bool) error {
	done, err := s.write(ctx)
	if err != nil {
		return err
	}
	defer done()
	_, err = s.db.ExecContext(ctx, `INSERT INTO reviews (reviewer, reviewed, forward) VALUES (?,?,?)`, reviewer, reviewed, forward)
	if err != nil {
		return fmt.Errorf("store review: %w", err)
	}
	return nil
}

func (s *store) reviews(ctx context.Context) ([]reviewRec, error) {
	defer s.read()()
	rows, err := s.db.QueryContext(ctx, `SELECT reviewer, reviewed, forward, done, forwarded FROM reviews`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []reviewRec
	for rows.Next() {
		var r reviewRec
		var done, fwd sql.NullInt64
		if err := rows.Scan(&r.reviewer, &r.reviewed, &r.forward, &done, &fwd); err != nil {
			return nil, err
		}
		r.done, r.forwarded = done.Valid, fwd.Valid
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *store) reviewDone(ctx context.Context, reviewer string) error {
	return s.reviewSet(ctx, "done", reviewer)
}

func (s *store) reviewForwarded(ctx context.Context, reviewer string) error {
	return s.reviewSet(ctx, "forwarded", reviewer)
}

func (s *store) reviewSet(ctx context.Context, col, reviewer string) error {
	done, err := s.write(ctx)
	if err != nil {
		return err
	}
	defer done()
	_, err = s.db.ExecContext(ctx, `UPDATE reviews SET `+col+` = ? WHERE reviewer = ?`, time.Now().UnixNano(), reviewer)
	return err
}

// gateAll is gate for each session of a land's queue, before anything
// lands.
func (rv *reviews) gateAll(ids []string, force bool) error {
	for _, id := range ids {
		s, err := rv.env.Lookup(Ref{Session: id})
		if err != nil {
			continue
		}
		if err := rv.gate(s, force); err != nil {
			return err
		}
	}
	return nil
}
