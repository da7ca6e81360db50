package agents

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/workspace"
)

// MaxComment caps a review comment's body, in bytes: comments are stored,
// and typed into the agent's terminal as one line.
const MaxComment = 64 << 10

// comments stores review comments on sessions' files and delivers them
// as feedback (a part of the Manager's, behind commentsEnv).
type comments struct {
	env   commentsEnv
	store *store
}

// commentsEnv is what comments needs of the Manager.
type commentsEnv interface {
	Lookup(ref Ref) (Session, error)
	files(s Session) host.Workspace
	hasWorktree(ctx context.Context, s Session) bool
	// tell delivers message to s's agent.
	tell(ctx context.Context, s Session, message string) (Delivery, error)
}

// AddComment stores a review comment on lines of a session's file.
func (m *Manager) AddComment(ctx context.Context, ref Ref, path string, start, end int, body string) (Comment, error) {
	return m.comments.add(ctx, ref, "", path, start, end, body)
}

// AddCommentBy is AddComment made from inside a session, by (its ID or
// name): the comment records it as its author, and a session cannot
// comment on its own work.
func (m *Manager) AddCommentBy(ctx context.Context, ref Ref, by, path string, start, end int, body string) (Comment, error) {
	return m.comments.add(ctx, ref, by, path, start, end, body)
}

// Comments lists a session's review comments.
func (m *Manager) Comments(ctx context.Context, ref Ref) ([]Comment, error) {
	return m.comments.list(ctx, ref)
}

// Feedback delivers every unsent comment to the agent as one message, typed
// into its terminal, or through its profile's resume command when it has
// exited, and marks them sent.
func (m *Manager) Feedback(ctx context.Context, ref Ref) (sent int, message string, d Delivery, err error) {
	if s, err := m.Lookup(ref); err == nil {
		if err := budgetRefusal(s); err != nil {
			return 0, "", Delivery{}, err
		}
	}
	return m.comments.feedback(ctx, ref)
}

// add stores a review comment on lines of a session's file, by a session
// (its ID or name) or the person (by empty).
func (cm *comments) add(ctx context.Context, ref Ref, by, path string, start, end int, body string) (Comment, error) {
	s, err := cm.env.Lookup(ref)
	if err != nil {
		return Comment{}, err
	}
	author, err := cm.author(s, by)
	if err != nil {
		return Comment{}, err
	}
	if err := workspace.ValidatePath(path); err != nil {
		return Comment{}, invalidf("path %q: %v", path, err)
	}
	if end == 0 {
		end = start
	}
	if start < 1 || end < start {
		return Comment{}, invalidf("lines %d-%d: give 1-based lines, start ≤ end", start, end)
	}
	if strings.TrimSpace(body) == "" {
		return Comment{}, invalidf("empty comment")
	}
	if len(body) > MaxComment {
		return Comment{}, invalidf("comment of %d bytes: the limit is %d KiB; shorten it, or split it over several lines' comments", len(body), MaxComment>>10)
	}
	if err := cm.checkLines(ctx, s, path, start, end); err != nil {
		return Comment{}, err
	}
	c := Comment{Session: s.ID, Path: path, StartLine: start, EndLine: end, Body: body, Created: time.Now().UTC(), By: author}
	return c, cm.store.addComment(ctx, &c)
}

// list lists a session's review comments.
func (cm *comments) list(ctx context.Context, ref Ref) ([]Comment, error) {
	s, err := cm.env.Lookup(ref)
	if err != nil {
		return nil, err
	}
	return cm.store.comments(ctx, s.ID)
}

// feedback delivers every unsent comment to the agent as one message and
// marks them sent.
func (cm *comments) feedback(ctx context.Context, ref Ref) (sent int, message string, d Delivery, err error) {
	s, err := cm.env.Lookup(ref)
	if err != nil {
		return 0, "", d, err
	}
	all, err := cm.store.comments(ctx, s.ID)
	if err != nil {
		return 0, "", d, err
	}
	var parts []string
	var ids []int64
	for _, c := range all {
		if c.Sent != nil {
			continue
		}
		lines := fmt.Sprintf("%d", c.StartLine)
		if c.EndLine > c.StartLine {
			lines = fmt.Sprintf("%d-%d", c.StartLine, c.EndLine)
		}
		parts = append(parts, fmt.Sprintf("(%d) %s:%s: %s", len(parts)+1, c.Path, lines, strings.Join(strings.Fields(c.Body), " ")))
		ids = append(ids, c.ID)
	}
	if len(ids) == 0 {
		return 0, "", d, &Problem{Kind: ErrInvalid, What: "session " + s.Name + " has no unsent review comments", Session: s.Name, Repo: s.Repo, Fix: FixAddComments}
	}
	// One line: a newline would submit a half-typed message to most agents.
	message = "Review feedback on your changes: " + strings.Join(parts, " ")
	if d, err = cm.env.tell(ctx, s, message); err != nil {
		return 0, "", d, fmt.Errorf("send feedback to %s: %w", s.Name, err)
	}
	if err := cm.store.markSent(ctx, ids, time.Now().UTC()); err != nil {
		return 0, "", d, err
	}
	return len(ids), message, d, nil
}

// relaunch restarts an exited agent with its profile's resume command.
func (drv terminalDriver) relaunch(ctx context.Context, s Session, message string) error {
	m := drv.m
	if !active(s.State) {
		return invalidf("session %s is %s: there is no agent to send feedback to", s.Name, s.State)
	}
	if !m.hasWorktree(ctx, s) {
		return invalidf("session %s has no worktree any more", s.Name)
	}
	cfg, rc, err := m.effectiveConfig(ctx, s.Repo)
	if err != nil {
		return err
	}
	if !rc.Trusted {
		return &Problem{Kind: ErrUntrusted, What: rc.Path + " changed since it was trusted", Repo: s.Repo, Path: rc.Path, Fix: FixTrust}
	}
	p := cfg.Agents[s.Agent]
	if len(p.Resume) == 0 {
		return invalidf("session %s has exited and agent %q has no resume command: configure [agents.%s] resume, or spawn a new session", s.Name, s.Agent, s.Agent)
	}
	argv, _ := expand(p.Resume, "{message}", message)
	if slices.ContainsFunc(argv, func(a string) bool { return strings.Contains(a, "{conversation}") }) {
		if s.Conversation == "" {
			return fmt.Errorf("%w: session %s has no conversation id recorded, so its agent cannot resume exactly this session: attach and tell it, or spawn a new session", ErrInvalid, s.Name)
		}
		argv, _ = expand(argv, "{conversation}", s.Conversation)
	}
	l, err := m.prepareLaunch(ctx, &s, p, true)
	if err != nil {
		return err
	}
	s.Command = withLaunch(argv, l)
	if s.LogLimit, err = ParseSize(cfg.Defaults.LogLimit); err != nil {
		return invalidf("log_limit: %v", err)
	}
	m.proc(s.ID).ClearExit()
	pid, err := m.start(ctx, &s, append(m.agentEnv(&s, p), l.env...), 0, 0)
	if err != nil {
		return fmt.Errorf("resume %s: %w", s.Name, err)
	}
	started, err := m.update(s.ID, func(r *Session) bool {
		r.PID, r.State, r.Detail, r.ExitCode = pid, Working, "", nil
		r.Command = s.Command
		return true
	})
	if err != nil {
		return err
	}
	m.supervise(started, p, false)
	return nil
}
