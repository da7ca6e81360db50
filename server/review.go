package server

import (
	"context"
	"encoding/json"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/workspace"
)

func wireFiles(files []workspace.FileDiff) []protocol.FileDiff {
	out := make([]protocol.FileDiff, len(files))
	for i, f := range files {
		hunks := make([]protocol.Hunk, len(f.Hunks))
		for j, h := range f.Hunks {
			hunks[j] = protocol.Hunk{OldStart: h.OldStart, OldLines: h.OldLines, NewStart: h.NewStart, NewLines: h.NewLines, Header: h.Header, Lines: h.Lines}
		}
		out[i] = protocol.FileDiff{Path: f.Path, OldPath: f.OldPath, Status: f.Status, Binary: f.Binary,
			Additions: f.Additions, Deletions: f.Deletions, Hunks: hunks}
	}
	return out
}

func (s *Server) diff(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.DiffParams](params)
	if err != nil {
		return nil, err
	}
	from, to, files, err := s.agents.Diff(ctx, ref(p.SessionRef), p.Against, p.Paths, p.Stat)
	if err != nil {
		return nil, err
	}
	t := workspace.Total(files)
	return protocol.DiffResult{From: from, To: to, Files: wireFiles(files),
		Stats: protocol.Changes{Files: t.Files, Additions: t.Additions, Deletions: t.Deletions}}, nil
}

func (s *Server) file(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.FileParams](params)
	if err != nil {
		return nil, err
	}
	v, err := s.agents.File(ctx, ref(p.SessionRef), p.Path, p.Version)
	if err != nil {
		return nil, err
	}
	r := protocol.FileResult{Missing: v.Missing, Binary: v.Binary}
	if !v.Binary {
		r.Content = string(v.Content)
	}
	return r, nil
}

func (s *Server) wireComment(c agents.Comment) protocol.Comment {
	return protocol.Comment{ID: c.ID, Session: c.Session, Path: c.Path, StartLine: c.StartLine, EndLine: c.EndLine,
		Body: c.Body, Created: c.Created, Sent: c.Sent}
}

func (s *Server) comment(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.CommentParams](params)
	if err != nil {
		return nil, err
	}
	cm, err := s.agents.AddComment(ctx, ref(p.SessionRef), p.Path, p.StartLine, p.EndLine, p.Body)
	if err != nil {
		return nil, err
	}
	return s.wireComment(cm), nil
}

func (s *Server) commentsReq(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.SessionRef](params)
	if err != nil {
		return nil, err
	}
	list, err := s.agents.Comments(ctx, ref(p))
	if err != nil {
		return nil, err
	}
	out := protocol.CommentsResult{Comments: []protocol.Comment{}}
	for _, cm := range list {
		out.Comments = append(out.Comments, s.wireComment(cm))
	}
	return out, nil
}

func (s *Server) feedback(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.SessionRef](params)
	if err != nil {
		return nil, err
	}
	n, msg, via, err := s.agents.Feedback(context.WithoutCancel(ctx), ref(p))
	if err != nil {
		return nil, err
	}
	return protocol.FeedbackResult{Sent: n, Message: msg, Via: via}, nil
}

func (s *Server) merge(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.MergeParams](params)
	if err != nil {
		return nil, err
	}
	// A merge is a transaction: once started it finishes (or rolls back)
	// whatever happens to the client.
	sess, res, err := s.agents.Merge(context.WithoutCancel(ctx), ref(p.SessionRef), agents.MergeRequest{
		Strategy: p.Strategy, Message: p.Message, Cleanup: p.Cleanup, DryRun: p.DryRun, Force: p.Force,
		Progress: progressFrom(ctx),
	})
	if err != nil {
		return nil, err
	}
	return protocol.MergeResult{Session: s.wireSession(sess), Strategy: res.Strategy, Target: res.Target,
		Old: res.Old, New: res.New, Backup: res.Backup, DryRun: res.DryRun, Files: res.Files}, nil
}

func (s *Server) undo(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.SessionRef](params)
	if err != nil {
		return nil, err
	}
	_, res, err := s.agents.Undo(context.WithoutCancel(ctx), ref(p))
	if err != nil {
		return nil, err
	}
	return protocol.UndoResult{Target: res.Target, Restored: res.Restored, Undone: res.Undone}, nil
}
