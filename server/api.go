package server

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/workspace"
)

// core is the daemon's implementation of protocol.API: each method maps a
// request onto the agents manager and its answer onto the wire types. The
// route table (protocol.Routes) decodes params; connection-bound requests
// find their connection in the context.
type core struct {
	s *Server
	m *agents.Manager
}

var _ protocol.API = (*core)(nil)

func (a *core) Hello(ctx context.Context, p protocol.HelloParams) (*protocol.HelloResult, error) {
	if p.Version != "" && strings.Split(p.Version, ".")[0] != strings.Split(protocol.Version, ".")[0] {
		return nil, problem(protocol.CodeInvalid, protocol.FixRestartDaemon, fmt.Sprintf("client speaks protocol %s, this daemon %s", p.Version, protocol.Version))
	}
	if c := connOf(ctx); c != nil {
		c.mu.Lock()
		if p.Client != "" {
			c.client = p.Client
		}
		c.secret = p.Token
		c.mu.Unlock()
	}
	return &protocol.HelloResult{Version: a.s.version, ProtocolVersion: protocol.Version, PID: os.Getpid()}, nil
}

func (a *core) Spawn(ctx context.Context, p protocol.SpawnParams) (*protocol.Session, error) {
	var budget *agents.Budget
	if p.Budget != "" {
		b, err := agents.ParseBudget(p.Budget)
		if err != nil {
			return nil, err
		}
		budget = &b
	}
	pr := connOf(ctx).progress(p.WorkDoneToken, "Spawning agent session")
	defer pr.end()
	// A spawn outlives a client that goes away mid-way: it either
	// completes or rolls back, never stops half-done.
	sess, err := a.m.Spawn(context.WithoutCancel(ctx), agents.SpawnRequest{
		Repo: p.Repo, Name: p.Name, Agent: p.Agent, Base: p.Base, Target: p.Target,
		Prompt: p.Prompt, Command: p.Command, Rows: p.Rows, Cols: p.Cols,
		Scopes: p.Scopes, Note: p.Note, Gate: string(p.Gate), Host: p.Host, Budget: budget,
	}, pr.report)
	if err != nil {
		return nil, err
	}
	return ptr(wireSession(sess)), nil
}

func (a *core) Sessions(ctx context.Context, p protocol.SessionsParams) (*protocol.SessionsResult, error) {
	list := a.m.List(p.Repo, p.All)
	out := make([]protocol.Session, len(list))
	for i, s := range list {
		out[i] = wireSession(s)
	}
	return &protocol.SessionsResult{Sessions: out}, nil
}

func (a *core) Session(ctx context.Context, p protocol.SessionRef) (*protocol.Session, error) {
	s, err := a.m.Lookup(ref(p))
	if err != nil {
		return nil, err
	}
	return ptr(a.withReviews(ctx, s)), nil
}

// session maps a manager call's session result.
func (a *core) session(s agents.Session, err error) (*protocol.Session, error) {
	if err != nil {
		return nil, err
	}
	return ptr(wireSession(s)), nil
}

func (a *core) Send(ctx context.Context, p protocol.SendParams) (*protocol.SendResult, error) {
	if err := a.actsOn(ctx, "send", p.SessionRef); err != nil {
		return nil, err
	}
	submit := p.Submit == nil || *p.Submit
	s, d, err := a.m.Send(ctx, ref(p.SessionRef), p.Text, submit)
	if err != nil {
		return nil, err
	}
	return &protocol.SendResult{Session: wireSession(s), Delivery: wireDelivery(d)}, nil
}

func (a *core) Answer(ctx context.Context, p protocol.AnswerParams) (*protocol.AnswerResult, error) {
	if err := a.actsOn(ctx, "answer", p.SessionRef); err != nil {
		return nil, err
	}
	s, d, err := a.m.Answer(ctx, ref(p.SessionRef), string(p.Answer), p.Text, connOf(ctx).name())
	if err != nil {
		return nil, err
	}
	return &protocol.AnswerResult{Session: wireSession(s), Delivery: wireDelivery(d)}, nil
}

func (a *core) Output(ctx context.Context, p protocol.OutputParams) (*protocol.OutputResult, error) {
	o, err := a.m.ReadOutput(ref(p.SessionRef), p.Offset, p.Limit)
	if err != nil {
		return nil, err
	}
	return &protocol.OutputResult{Data: o.Data, Offset: o.Offset, Next: o.Offset + int64(len(o.Data)), Size: o.Size, Done: o.Done, Start: o.Kept}, nil
}

func (a *core) Resize(ctx context.Context, p protocol.ResizeParams) (*protocol.Session, error) {
	if err := a.actsOn(ctx, "resize", p.SessionRef); err != nil {
		return nil, err
	}
	return a.session(a.m.Resize(ctx, ref(p.SessionRef), p.Rows, p.Cols))
}

func (a *core) Stop(ctx context.Context, p protocol.StopParams) (*protocol.Session, error) {
	if err := a.actsOn(ctx, "stop", p.SessionRef); err != nil {
		return nil, err
	}
	return a.session(a.m.Stop(ctx, ref(p.SessionRef), p.Force))
}

func (a *core) Remove(ctx context.Context, p protocol.RemoveParams) (*protocol.RemoveResult, error) {
	if err := a.actsOn(ctx, "remove", p.SessionRef); err != nil {
		return nil, err
	}
	res, err := a.m.Remove(context.WithoutCancel(ctx), ref(p.SessionRef), p.KeepBranch, p.Force)
	if err != nil {
		return nil, err
	}
	out := &protocol.RemoveResult{Session: wireSession(res.Session), BranchDeleted: res.BranchDeleted, BranchKept: res.BranchKept}
	if res.Salvage.Commit != "" {
		out.Salvage = ptr(wireSalvage(res.Salvage))
	}
	return out, nil
}

func (a *core) Hook(ctx context.Context, p protocol.HookParams) (*protocol.HookResult, error) {
	c := connOf(ctx)
	s, out, err := a.m.Hook(ctx, ref(p.SessionRef), agents.HookRequest{Event: p.Event, Message: p.Message, Kind: p.Agent, Payload: p.Payload,
		Token: cmp.Or(p.Token, c.token()), FromHost: c != nil && c.reportsOnly})
	if err != nil {
		return nil, err
	}
	return &protocol.HookResult{Session: wireSession(s), Output: out}, nil
}

func (a *core) Diff(ctx context.Context, p protocol.DiffParams) (*protocol.DiffResult, error) {
	from, to, files, err := a.m.Diff(ctx, ref(p.SessionRef), p.Against, p.Paths, p.Stat)
	if err != nil {
		return nil, err
	}
	t := workspace.Total(files)
	return &protocol.DiffResult{From: from, To: to, Files: wireFiles(files),
		Stats: protocol.Changes{Files: t.Files, Additions: t.Additions, Deletions: t.Deletions}}, nil
}

func (a *core) File(ctx context.Context, p protocol.FileParams) (*protocol.FileResult, error) {
	if p.MaxSize < 0 {
		return nil, protocol.Errorf(protocol.CodeInvalidParams, "maxSize %d: give a positive size, or none", p.MaxSize)
	}
	v, err := a.m.File(ctx, ref(p.SessionRef), p.Path, string(p.Version))
	if err != nil {
		return nil, err
	}
	r := &protocol.FileResult{Missing: v.Missing, Binary: v.Binary}
	switch {
	case p.MaxSize > 0 && int64(len(v.Content)) > p.MaxSize:
		r.TooLarge = true
	case !v.Binary:
		r.Content = string(v.Content)
	}
	return r, nil
}

func (a *core) Comment(ctx context.Context, p protocol.CommentParams) (*protocol.Comment, error) {
	// A session comments on its own work or, as their reviewer, on the
	// work it reviews; the comment is always recorded as the caller's.
	if _, ok := a.reviewerOf(ctx, p.SessionRef); !ok {
		if err := a.actsOn(ctx, "comment", p.SessionRef); err != nil {
			return nil, err
		}
	}
	by, err := a.author(ctx, p.By)
	if err != nil {
		return nil, err
	}
	c, err := a.m.AddCommentBy(ctx, ref(p.SessionRef), by, p.Path, p.StartLine, p.EndLine, p.Body)
	if err != nil {
		return nil, err
	}
	return ptr(wireComment(c)), nil
}

func (a *core) Comments(ctx context.Context, p protocol.SessionRef) (*protocol.CommentsResult, error) {
	list, err := a.m.Comments(ctx, ref(p))
	if err != nil {
		return nil, err
	}
	out := &protocol.CommentsResult{Comments: []protocol.Comment{}}
	for _, c := range list {
		out.Comments = append(out.Comments, wireComment(c))
	}
	return out, nil
}

func (a *core) Feedback(ctx context.Context, p protocol.SessionRef) (*protocol.FeedbackResult, error) {
	if err := a.actsOn(ctx, "feedback", p); err != nil {
		return nil, err
	}
	n, msg, d, err := a.m.Feedback(context.WithoutCancel(ctx), ref(p))
	if err != nil {
		return nil, err
	}
	return &protocol.FeedbackResult{Sent: n, Message: msg, Delivery: wireDelivery(d)}, nil
}

func (a *core) Conflicts(ctx context.Context, p protocol.ConflictsParams) (*protocol.ConflictsResult, error) {
	repo, session := p.Repo, p.Session
	if session != "" {
		// Accept an ID or a name; conflicts name sides by session name.
		sess, err := a.m.Lookup(agents.Ref{Session: session, Repo: p.Repo})
		if err != nil {
			return nil, err
		}
		repo, session = sess.Repo, sess.Name
	}
	path := p.Path
	if path != "" && filepath.IsAbs(path) {
		path = filepath.Clean(path)
	}
	return &protocol.ConflictsResult{Conflicts: wireConflicts(a.m.Conflicts(repo, session, path))}, nil
}

func (a *core) Who(ctx context.Context, p protocol.WhoParams) (*protocol.WhoResult, error) {
	if p.Start < 0 || p.End < 0 || p.End > 0 && p.End < p.Start {
		return nil, protocol.Errorf(protocol.CodeInvalid, "lines %d-%d: give 1-based lines, start ≤ end", p.Start, p.End)
	}
	repo, rel, list, err := a.m.Who(ctx, p.Repo, p.Path, p.Start, p.End)
	if err != nil {
		return nil, err
	}
	res := &protocol.WhoResult{Repo: repo, Path: rel, Sessions: []protocol.Presence{}}
	for _, pr := range list {
		res.Sessions = append(res.Sessions, protocol.Presence{
			Session: pr.Session.Name, ID: pr.Session.ID, Agent: pr.Session.Agent, State: protocol.State(pr.Session.State),
			Status: pr.File.Status, Additions: pr.File.Additions, Deletions: pr.File.Deletions, Ranges: wireRanges(pr.Ranges),
			Scope: pr.Session.Scope, InScope: pr.InScope, Note: pr.Session.Note,
		})
	}
	return res, nil
}

func (a *core) Note(ctx context.Context, p protocol.NoteParams) (*protocol.Session, error) {
	if err := a.actsOn(ctx, "note", p.SessionRef); err != nil {
		return nil, err
	}
	return a.session(a.m.Note(ctx, ref(p.SessionRef), p.Note))
}

// Budget is the person's: a session may not raise or clear its own (or
// another's) budget.
func (a *core) Budget(ctx context.Context, p protocol.BudgetParams) (*protocol.Session, error) {
	if err := a.actsOn(ctx, "budget"); err != nil {
		return nil, err
	}
	var b *agents.Budget
	switch {
	case p.Clear && p.Budget != "":
		return nil, protocol.Errorf(protocol.CodeInvalid, "give a budget or clear it, not both")
	case p.Clear:
	case p.Budget == "":
		return nil, protocol.Errorf(protocol.CodeInvalid, "no budget: give tokens (200k) or US dollars ($5), or clear it")
	default:
		v, err := agents.ParseBudget(p.Budget)
		if err != nil {
			return nil, err
		}
		b = &v
	}
	return a.session(a.m.SetBudget(ctx, ref(p.SessionRef), b))
}

func (a *core) Merge(ctx context.Context, p protocol.MergeParams) (*protocol.MergeResult, error) {
	if !p.DryRun {
		if err := a.actsOn(ctx, "merge", p.SessionRef); err != nil {
			return nil, err
		}
	}
	pr := connOf(ctx).progress(p.WorkDoneToken, "Merging "+p.Session)
	defer pr.end()
	// A merge is a transaction: once started it finishes (or rolls back)
	// whatever happens to the client.
	sess, res, err := a.m.Merge(context.WithoutCancel(ctx), ref(p.SessionRef), agents.MergeRequest{
		Strategy: string(p.Strategy), Message: p.Message, Cleanup: p.Cleanup, DryRun: p.DryRun, Force: p.Force,
		Progress: pr.report,
	})
	if err != nil {
		return nil, err
	}
	return &protocol.MergeResult{Session: wireSession(sess), Strategy: protocol.Strategy(res.Strategy), Target: res.Target,
		Old: res.Old, New: res.New, Backup: res.Backup, DryRun: res.DryRun, Files: res.Files}, nil
}

func (a *core) Undo(ctx context.Context, p protocol.SessionRef) (*protocol.UndoResult, error) {
	if err := a.actsOn(ctx, "undo", p); err != nil {
		return nil, err
	}
	_, res, err := a.m.Undo(context.WithoutCancel(ctx), ref(p))
	if err != nil {
		return nil, err
	}
	return &protocol.UndoResult{Target: res.Target, Restored: res.Restored, Undone: res.Undone}, nil
}

func (a *core) Subscribe(ctx context.Context, p protocol.SubscribeParams) (*protocol.SubscribeResult, error) {
	c := connOf(ctx)
	if c == nil {
		return nil, protocol.Errorf(protocol.CodeInvalid, "subscribe needs a connection")
	}
	if err := c.setOutputs(p.Output); err != nil {
		return nil, err
	}
	return a.s.subscribe(ctx, c, p), nil
}

func (a *core) Status(ctx context.Context, _ protocol.Empty) (*protocol.StatusResult, error) {
	counts := map[string]int{}
	for _, sess := range a.m.List("", true) {
		counts[string(sess.State)]++
	}
	res := &protocol.StatusResult{
		Version: a.s.version, PID: os.Getpid(), Socket: a.s.info.Socket, Log: a.s.info.Log, State: a.s.info.State,
		Started: a.s.started, Sessions: counts,
	}
	if ws, ok := a.m.WatchStatus(); ok {
		res.Watch.Watches, res.Watch.Unwatched = ws.Watches, ws.Unwatched
		for _, d := range ws.Degraded {
			res.Watch.Degraded = append(res.Watch.Degraded, d.Root)
			res.Watch.Reason = d.Reason
		}
	} else {
		res.Watch.Reason = "no file watcher: inotify instances exhausted (fs.inotify.max_user_instances)"
		res.Watch.Degraded = []string{"*"}
	}
	return res, nil
}

func (a *core) Trust(ctx context.Context, p protocol.TrustParams) (*protocol.TrustResult, error) {
	if !p.Check {
		if err := a.actsOn(ctx, "trust"); err != nil {
			return nil, err
		}
	}
	r, err := a.m.Trust(ctx, p.Repo, p.Revoke, p.Check)
	if err != nil {
		return nil, err
	}
	return &protocol.TrustResult{Path: r.Path, Hash: r.Hash, Trusted: r.Trusted, Commands: r.Commands}, nil
}

func (a *core) Shutdown(ctx context.Context, _ protocol.Empty) (*protocol.Empty, error) {
	if err := a.actsOn(ctx, "shutdown"); err != nil {
		return nil, err
	}
	// The daemon stops once the reply is on its way (see conn.Handle).
	a.s.log.Info("shutdown requested by a client")
	return &protocol.Empty{}, nil
}

func ptr[T any](v T) *T { return &v }
