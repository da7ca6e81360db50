package server

import (
	"cmp"
	"context"
	"slices"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
)

// The event bus: the manager's session, conflict and preview events become
// notifications with one sequence number, fanned out to the connections
// subscribed to them. The server keeps the state those events add up to,
// so that a subscription can start from a snapshot taken atomically with
// it (studio/subscribe with snapshot): both happen under Server.mu, as does
// every event's fan-out, so no event falls between them or on both sides.

// bus is the state the events add up to. Server.mu guards it.
type bus struct {
	seq       int64                       // the last event's sequence number
	sessions  map[string]protocol.Session // by ID, removed ones dropped
	conflicts map[string]protocol.Conflict
	previews  map[string]protocol.Preview // by repository
}

// startBus follows the manager's events and loads the state they start
// from. The listeners are in place before the state is read: an event
// whose change the state already holds is applied twice, which leaves it
// as is (each event holds its session, conflict or preview whole, and the
// manager announces one change at a time), while no change is missed.
func (s *Server) startBus(m *agents.Manager) (stop func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	unsubSessions := m.Subscribe(s.sessionChanged)
	unsubConflicts := m.SubscribeConflicts(s.conflictsChanged)
	unsubPreviews := m.SubscribePreviews(s.previewChanged)
	unsubActivity := m.SubscribeActivity(func(a agents.Activity) {
		s.broadcast(protocol.NotifySessionActivity, wireActivity(a), (*conn).wantsActivity)
	})
	s.bus = bus{sessions: map[string]protocol.Session{}, conflicts: map[string]protocol.Conflict{}, previews: map[string]protocol.Preview{}}
	for _, sess := range m.List("", true) {
		if sess.State != agents.Removed {
			s.bus.sessions[sess.ID] = wireSession(sess)
		}
	}
	for _, c := range wireConflicts(m.Conflicts("", "", "")) {
		s.bus.conflicts[c.ID] = c
	}
	return func() { unsubSessions(); unsubConflicts(); unsubPreviews(); unsubActivity() }
}

// sessionChanged fans a session change out to subscribed connections. The
// manager calls it for every stored change, in order, from its one writer.
func (s *Server) sessionChanged(ev agents.Event) {
	ws := wireSession(ev.Session)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bus.seq++
	if ws.State == protocol.StateRemoved {
		delete(s.bus.sessions, ws.ID)
	} else {
		s.bus.sessions[ws.ID] = ws
	}
	s.fanOut(protocol.NotifySessionChanged, protocol.SessionChanged{Session: ws, Seq: s.bus.seq}, (*conn).wantsSessions)
}

// conflictsChanged fans a conflict delta out to subscribed connections.
// The sessions whose conflict counts moved are announced by the manager.
func (s *Server) conflictsChanged(ev agents.ConflictEvent) {
	d := ev.Delta
	n := protocol.ConflictsChanged{Added: wireConflicts(d.Added), Updated: wireConflicts(d.Updated), Resolved: d.Resolved}
	if len(n.Added)+len(n.Updated)+len(n.Resolved) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bus.seq++
	for _, c := range slices.Concat(n.Added, n.Updated) {
		s.bus.conflicts[c.ID] = c
	}
	for _, id := range n.Resolved {
		delete(s.bus.conflicts, id)
	}
	n.Seq = s.bus.seq
	s.fanOut(protocol.NotifyConflictsChanged, n, (*conn).wantsConflicts)
}

// previewChanged fans a recomputed preview out to subscribed connections.
func (s *Server) previewChanged(ev agents.PreviewEvent) {
	p := wirePreview(ev.Preview)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bus.seq++
	if old, ok := s.bus.previews[p.Repo]; !ok || old.Generation <= p.Generation {
		s.bus.previews[p.Repo] = p
	}
	s.fanOut(protocol.NotifyPreviewChanged, protocol.PreviewChanged{Preview: p, Seq: s.bus.seq}, (*conn).wantsPreview)
}

// broadcast queues a notification that is not part of the bus's state on
// every connection that wants it.
func (s *Server) broadcast(method string, params any, wants func(*conn) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fanOut(method, params, wants)
}

// fanOut queues a notification on every connection that wants it. The
// caller holds s.mu.
func (s *Server) fanOut(method string, params any, wants func(*conn) bool) {
	for c := range s.conns {
		if wants(c) {
			c.notify(method, params)
		}
	}
}

// subscribe sets c's subscription and, when p asks for it, returns the
// snapshot the following notifications continue from. The connection's
// notifications wait until the reply to ctx's request has been written, so
// that the client reads the snapshot before any change after it.
func (s *Server) subscribe(ctx context.Context, c *conn, p protocol.SubscribeParams) *protocol.SubscribeResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.mu.Lock()
	c.subs = p
	c.mu.Unlock()
	res := &protocol.SubscribeResult{Seq: s.bus.seq}
	if !p.Snapshot {
		return res
	}
	if hold := make(chan struct{}); afterReply(ctx, func() { close(hold) }) {
		c.queue(notification{hold: hold})
	}
	if p.Sessions {
		res.Sessions = sortedValues(s.bus.sessions, func(a, b protocol.Session) int {
			return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
		})
	}
	if p.Conflicts {
		res.Conflicts = sortedValues(s.bus.conflicts, func(a, b protocol.Conflict) int { return cmp.Compare(a.ID, b.ID) })
	}
	if p.Preview {
		res.Previews = sortedValues(s.bus.previews, func(a, b protocol.Preview) int { return cmp.Compare(a.Repo, b.Repo) })
	}
	return res
}

func sortedValues[K comparable, V any](m map[K]V, cmp func(a, b V) int) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, cmp)
	return out
}

// wantsSessions reports whether this connection wants session events.
func (c *conn) wantsSessions() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subs.Sessions
}

// wantsConflicts reports whether this connection wants conflict deltas.
func (c *conn) wantsConflicts() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subs.Conflicts
}

// wantsPreview reports whether this connection wants previews.
func (c *conn) wantsPreview() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subs.Preview
}

// wantsActivity reports whether this connection wants ACP activity.
func (c *conn) wantsActivity() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subs.Activity
}
