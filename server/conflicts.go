package server

import (
	"context"
	"encoding/json"
	"path/filepath"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/workspace"
)

func wireConflict(c workspace.Conflict) protocol.Conflict {
	side := func(s workspace.Side) protocol.Side {
		r := make([]protocol.Range, len(s.Ranges))
		for i, x := range s.Ranges {
			r[i] = protocol.Range{Start: x.Start, End: x.End}
		}
		return protocol.Side{Session: s.Name, Path: s.Path, File: s.File, Ranges: r}
	}
	return protocol.Conflict{ID: c.ID, Repo: c.Repo, Path: c.Path, Kind: c.Kind, Severity: c.Severity, A: side(c.A), B: side(c.B)}
}

func wireConflicts(list []workspace.Conflict) []protocol.Conflict {
	out := make([]protocol.Conflict, len(list))
	for i, c := range list {
		out[i] = wireConflict(c)
	}
	return out
}

func (s *Server) conflicts(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := decode[protocol.ConflictsParams](params)
	if err != nil {
		return nil, err
	}
	repo, session := p.Repo, p.Session
	if session != "" {
		// Accept an ID or a name; conflicts name sides by session name.
		sess, err := s.agents.Lookup(agents.Ref{Session: session, Repo: p.Repo})
		if err != nil {
			return nil, err
		}
		repo, session = sess.Repo, sess.Name
	}
	path := p.Path
	if path != "" && filepath.IsAbs(path) {
		path = filepath.Clean(path)
	}
	return protocol.ConflictsResult{Conflicts: wireConflicts(s.agents.Conflicts(repo, session, path))}, nil
}

// conflictsChanged fans a conflict delta out to subscribed connections.
func (s *Server) conflictsChanged(ev agents.ConflictEvent) {
	d := ev.Delta
	n := protocol.ConflictsChanged{Added: wireConflicts(d.Added), Updated: wireConflicts(d.Updated), Resolved: d.Resolved}
	if len(n.Added)+len(n.Updated)+len(n.Resolved) == 0 {
		return
	}
	s.mu.Lock()
	for c := range s.conns {
		if c.wantsConflicts() {
			c.notify(protocol.NotifyConflictsChanged, n)
		}
	}
	s.mu.Unlock()
	// Sessions' conflict counts changed too.
	names := map[string]bool{}
	for _, list := range [][]workspace.Conflict{d.Added, d.Updated} {
		for _, c := range list {
			names[c.A.Name], names[c.B.Name] = true, true
		}
	}
	for _, sess := range s.agents.List(ev.Repo, false) {
		if names[sess.Name] || len(d.Resolved) > 0 {
			s.sessionChanged(agents.Event{Session: sess})
		}
	}
}

// conflictCount counts the conflicts and overlaps a session is part of.
func (s *Server) conflictCount(sess agents.Session) int {
	return len(s.agents.Conflicts(sess.Repo, sess.Name, ""))
}
