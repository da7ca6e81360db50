package server

import (
	"context"
	"encoding/json"
	"os"
	"strings"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
)

func (s *Server) hello(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.HelloParams](params)
	if err != nil {
		return nil, err
	}
	if p.Version != "" && strings.Split(p.Version, ".")[0] != strings.Split(protocol.Version, ".")[0] {
		return nil, protocol.Errorf(protocol.CodeInvalid, "client speaks protocol %s, this daemon %s: restart the daemon (`studiod shutdown`) after upgrading", p.Version, protocol.Version)
	}
	return protocol.HelloResult{Version: s.version, ProtocolVersion: protocol.Version, PID: os.Getpid()}, nil
}

func (s *Server) spawn(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.SpawnParams](params)
	if err != nil {
		return nil, err
	}
	// A spawn outlives a client that goes away mid-way: it either
	// completes or rolls back, never stops half-done.
	sctx := context.WithoutCancel(ctx)
	// Editors get LSP work-done progress from executeCommand; other
	// clients ask for it with a token.
	progress := progressFrom(ctx)
	tokenProgress := progress == nil && p.WorkDoneToken != nil
	if tokenProgress {
		progress = c.progress(p.WorkDoneToken, "Spawning agent session")
	}
	sess, err := s.agents.Spawn(sctx, agents.SpawnRequest{
		Repo: p.Repo, Name: p.Name, Agent: p.Agent, Base: p.Base, Target: p.Target,
		Prompt: p.Prompt, Command: p.Command, Rows: p.Rows, Cols: p.Cols,
	}, progress)
	if tokenProgress {
		c.notify(protocol.NotifyProgress, protocol.ProgressParams{Token: p.WorkDoneToken, Value: protocol.WorkDone{Kind: "end"}})
	}
	if err != nil {
		return nil, err
	}
	return s.wireSession(sess), nil
}

func (s *Server) sessions(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.SessionsParams](params)
	if err != nil {
		return nil, err
	}
	return protocol.SessionsResult{Sessions: s.wireSessions(s.agents.List(p.Repo, p.All))}, nil
}

func (s *Server) session(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.SessionRef](params)
	if err != nil {
		return nil, err
	}
	sess, err := s.agents.Lookup(ref(p))
	if err != nil {
		return nil, err
	}
	return s.wireSession(sess), nil
}

func (s *Server) send(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.SendParams](params)
	if err != nil {
		return nil, err
	}
	submit := p.Submit == nil || *p.Submit
	sess, err := s.agents.Send(ctx, ref(p.SessionRef), p.Text, submit)
	if err != nil {
		return nil, err
	}
	return s.wireSession(sess), nil
}

func (s *Server) output(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.OutputParams](params)
	if err != nil {
		return nil, err
	}
	data, start, size, done, err := s.agents.Output(ref(p.SessionRef), p.Offset, p.Limit)
	if err != nil {
		return nil, err
	}
	return protocol.OutputResult{Data: data, Offset: start, Next: start + int64(len(data)), Size: size, Done: done}, nil
}

func (s *Server) resize(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.ResizeParams](params)
	if err != nil {
		return nil, err
	}
	sess, err := s.agents.Resize(ctx, ref(p.SessionRef), p.Rows, p.Cols)
	if err != nil {
		return nil, err
	}
	return s.wireSession(sess), nil
}

func (s *Server) stop(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.StopParams](params)
	if err != nil {
		return nil, err
	}
	sess, err := s.agents.Stop(ctx, ref(p.SessionRef), p.Force)
	if err != nil {
		return nil, err
	}
	return s.wireSession(sess), nil
}

func (s *Server) remove(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.RemoveParams](params)
	if err != nil {
		return nil, err
	}
	res, err := s.agents.Remove(context.WithoutCancel(ctx), ref(p.SessionRef), p.KeepBranch, p.Force)
	if err != nil {
		return nil, err
	}
	return protocol.RemoveResult{Session: s.wireSession(res.Session), BranchDeleted: res.BranchDeleted, BranchKept: res.BranchKept}, nil
}

func (s *Server) hook(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.HookParams](params)
	if err != nil {
		return nil, err
	}
	sess, err := s.agents.Hook(ctx, ref(p.SessionRef), p.Event, p.Message)
	if err != nil {
		return nil, err
	}
	return s.wireSession(sess), nil
}

func (s *Server) subscribe(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.SubscribeParams](params)
	if err != nil {
		return nil, err
	}
	if err := c.setOutputs(p.Output); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.subs = p
	c.mu.Unlock()
	return struct{}{}, nil
}

// sessionChanged fans a session change out to subscribed connections.
func (s *Server) sessionChanged(ev agents.Event) {
	n := protocol.SessionChanged{Session: s.wireSession(ev.Session)}
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.wantsSessions() {
			c.notify(protocol.NotifySessionChanged, n)
		}
	}
}

func (s *Server) status(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	counts := map[string]int{}
	for _, sess := range s.agents.List("", true) {
		counts[sess.State]++
	}
	res := protocol.StatusResult{
		Version: s.version, PID: os.Getpid(), Socket: s.info.Socket, Log: s.info.Log, State: s.info.State,
		Started: s.started, Sessions: counts,
	}
	if ws, ok := s.agents.WatchStatus(); ok {
		res.Watch.Watches = ws.Watches
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

func (s *Server) trust(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.TrustParams](params)
	if err != nil {
		return nil, err
	}
	r, err := s.agents.Trust(ctx, p.Repo, p.Revoke, p.Check)
	if err != nil {
		return nil, err
	}
	return protocol.TrustResult{Path: r.Path, Hash: r.Hash, Trusted: r.Trusted, Commands: r.Commands}, nil
}

func (s *Server) shutdownReq(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	// The daemon stops once the reply is on its way (see conn.Handle).
	s.log.Info("shutdown requested by a client")
	return struct{}{}, nil
}
