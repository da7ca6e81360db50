package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/internal/studiotest"
	"github.com/studiod/studiod/protocol"
)

// mirror is a client's view of the sessions: a snapshot, then every change
// after it.
type mirror struct {
	changed *studiotest.Signal

	// mu guards the fields below.
	mu       sync.Mutex
	snapSeq  int64
	lastSeq  int64
	sessions map[string]protocol.Session
	notes    map[string][]string // per session, the notes seen in order since the snapshot
	runs     [][]string          // the notes of earlier subscriptions
	errs     []string
}

func (m *mirror) apply(r *protocol.SubscribeResult) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.snapSeq, m.lastSeq = r.Seq, r.Seq
	for _, n := range m.notes {
		m.runs = append(m.runs, n)
	}
	m.sessions = map[string]protocol.Session{}
	m.notes = map[string][]string{}
	for _, s := range r.Sessions {
		m.sessions[s.ID] = s
		m.notes[s.ID] = []string{s.Note}
	}
}

func (m *mirror) notify(method string, params json.RawMessage) {
	if method != protocol.NotifySessionChanged {
		return
	}
	var n protocol.SessionChanged
	if err := json.Unmarshal(params, &n); err != nil {
		panic(err)
	}
	m.mu.Lock()
	if n.Seq <= m.lastSeq {
		m.errs = append(m.errs, fmt.Sprintf("event %d after %d (snapshot %d)", n.Seq, m.lastSeq, m.snapSeq))
	}
	m.lastSeq = n.Seq
	s := n.Session
	if s.State == protocol.StateRemoved {
		delete(m.sessions, s.ID)
	} else {
		m.sessions[s.ID] = s
	}
	if notes := m.notes[s.ID]; len(notes) == 0 || notes[len(notes)-1] != s.Note {
		m.notes[s.ID] = append(notes, s.Note)
	}
	m.mu.Unlock()
	m.changed.Notify()
}

// TestSubscribeSnapshotRacingChanges subscribes clients with a snapshot
// while sessions change as fast as the daemon takes it (notes, a spawn, a
// removal): each client's snapshot plus the events after it equals the
// daemon's sessions at the end, and saw every note of every session in
// order from its snapshot on, with no event twice.
func TestSubscribeSnapshotRacingChanges(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	repo := gittest.NewRepo(t, nil)
	d := startDaemon(t, home)
	c := d.client(nil)
	var ids []string
	for i := range 3 {
		s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: fmt.Sprintf("s%d", i), Command: []string{"fakeagent", "-hang"}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}

	// One writer per session sets its notes in turn, and a spawn and a
	// removal happen among them, while each client subscribes again and
	// again: the last subscription is what its view continues from.
	const clients, notes = 6, 150
	var changed studiotest.Signal
	mirrors := make([]*mirror, clients)
	written := make([][]string, len(ids)+1) // per session, the notes set in order
	done := make(chan struct{})
	var subs, writers sync.WaitGroup
	for i := range clients {
		m := &mirror{changed: &changed}
		mirrors[i] = m
		f := protocol.NewFeed(m.notify)
		cl := d.client(f.Notify)
		subs.Go(func() {
			for {
				// Unsubscribed in between, each subscription starts afresh.
				if _, err := cl.Subscribe(context.Background(), protocol.SubscribeParams{}); err != nil {
					t.Errorf("unsubscribe: %v", err)
					return
				}
				if _, err := f.Subscribe(context.Background(), cl, protocol.SubscribeParams{Sessions: true}, m.apply); err != nil {
					t.Errorf("subscribe: %v", err)
					return
				}
				select {
				case <-done:
					return
				default:
				}
			}
		})
	}
	note := func(k int, id, note string) {
		if _, err := c.Note(context.Background(), protocol.NoteParams{SessionRef: protocol.SessionRef{Session: id}, Note: note}); err != nil {
			t.Errorf("note: %v", err)
		}
		written[k] = append(written[k], note)
	}
	for k, id := range ids {
		writers.Go(func() {
			for n := range notes {
				note(k, id, fmt.Sprintf("s%d note %d", k, n))
			}
			if k == 0 {
				if _, err := c.Remove(context.Background(), protocol.RemoveParams{SessionRef: protocol.SessionRef{Session: id}, Force: true}); err != nil {
					t.Errorf("remove: %v", err)
				}
			}
		})
	}
	late, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "late", Command: []string{"fakeagent", "-hang"}})
	if err != nil {
		t.Fatal(err)
	}
	writers.Wait()
	close(done)
	subs.Wait()
	// A last note on each session marks the end of the changes.
	ids = append(ids, late.ID)
	for k, id := range ids[1:] {
		note(k+1, id, "end "+id)
	}
	list, err := c.Sessions(t.Context(), protocol.SessionsParams{All: true})
	if err != nil {
		t.Fatal(err)
	}
	truth := map[string]protocol.Session{}
	for _, s := range list.Sessions {
		if s.State != protocol.StateRemoved {
			truth[s.ID] = s
		}
	}
	for i, m := range mirrors {
		view := func() map[string]protocol.Session {
			m.mu.Lock()
			defer m.mu.Unlock()
			return maps.Clone(m.sessions)
		}
		changed.Await(t, fmt.Sprintf("client %d to reach the end", i), func() bool {
			v := view()
			for id := range truth {
				if v[id].Note != "end "+id {
					return false
				}
			}
			return len(v) == len(truth)
		}, func() string { return fmt.Sprintf("%d sessions", len(view())) })
		m.mu.Lock()
		for _, e := range m.errs {
			t.Errorf("client %d: %s", i, e)
		}
		for id, want := range truth {
			got := m.sessions[id]
			if got.State != want.State || got.Note != want.Note || got.Name != want.Name {
				t.Errorf("client %d, session %s: got %s %q, want %s %q", i, want.Name, got.State, got.Note, want.State, want.Note)
			}
		}
		// Every subscription saw a run of some session's notes as they
		// were written: none lost, none out of order.
		for _, seen := range append(slices.Collect(maps.Values(m.notes)), m.runs...) {
			if !isRun(seen, written) {
				t.Errorf("client %d saw notes %s: not a run of the notes written", i, strings.Join(seen, ", "))
			}
		}
		m.mu.Unlock()
	}
}

// isRun reports whether seen is a stretch of one of the lists in written,
// after an empty note when it starts before the first.
func isRun(seen []string, written [][]string) bool {
	if len(seen) > 0 && seen[0] == "" {
		seen = seen[1:]
	}
	if len(seen) == 0 {
		return true
	}
	for _, w := range written {
		if i := slices.Index(w, seen[0]); i >= 0 {
			return len(w)-i >= len(seen) && slices.Equal(w[i:i+len(seen)], seen)
		}
	}
	return false
}
