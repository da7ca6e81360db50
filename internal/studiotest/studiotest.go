// Package studiotest helps tests that drive a real daemon wait for what
// they expect: conditions are checked each time something they watch
// changes (a notification arrives, output is read), never by polling on a
// timer, as gopls's integration tests await their expectations.
//
// It imports protocol only.
package studiotest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/studiod/studiod/protocol"
)

// TB is the part of testing.TB the helpers use, so that testscript
// commands can use them too.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Context() context.Context
}

// Timeout bounds every wait: long enough for a slow, shared machine, short
// enough that a test that will never see its condition says so.
const Timeout = 3 * time.Minute

// Signal tells waiters that something they watch changed.
type Signal struct {
	// mu guards ch.
	mu sync.Mutex
	ch chan struct{}
}

// Notify wakes every waiter.
func (s *Signal) Notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

func (s *Signal) changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Await returns once cond holds, checking it now and after each Notify;
// it fails the test when Timeout passes first. describe, if set, says what
// was seen instead.
func (s *Signal) Await(t TB, what string, cond func() bool, describe ...func() string) {
	t.Helper()
	deadline := time.After(Timeout)
	for {
		ch := s.changed()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			msg := fmt.Sprintf("timed out after %s waiting for %s", Timeout, what)
			for _, d := range describe {
				msg += "\n" + d()
			}
			t.Fatal(msg)
		}
	}
}

// Watch follows a daemon's sessions and conflicts (and the output of the
// sessions it subscribes to) through its notifications. Dial with its
// Receive, then call Follow.
type Watch struct {
	Signal

	// mu guards the fields below.
	mu        sync.Mutex
	sessions  map[string]protocol.Session  // by ID
	conflicts map[string]protocol.Conflict // by ID
	touched   map[string]bool              // IDs an event has set or removed
	output    map[string][]byte            // session ID → output received
	outDone   map[string]bool
	events    []protocol.Session // every session event, in order
}

// NewWatch returns an empty Watch.
func NewWatch() *Watch {
	return &Watch{sessions: map[string]protocol.Session{}, conflicts: map[string]protocol.Conflict{},
		touched: map[string]bool{}, output: map[string][]byte{}, outDone: map[string]bool{}}
}

// Receive is a protocol.NotifyFunc: dial with it.
func (w *Watch) Receive(method string, params json.RawMessage) {
	ev := protocol.Events{
		SessionChanged: func(n protocol.SessionChanged) {
			w.mu.Lock()
			w.sessions[n.Session.ID] = n.Session
			w.touched[n.Session.ID] = true
			w.events = append(w.events, n.Session)
			w.mu.Unlock()
		},
		ConflictsChanged: func(d protocol.ConflictsChanged) {
			w.mu.Lock()
			for _, cf := range append(d.Added, d.Updated...) {
				w.conflicts[cf.ID] = cf
				w.touched[cf.ID] = true
			}
			for _, id := range d.Resolved {
				delete(w.conflicts, id)
				w.touched[id] = true
			}
			w.mu.Unlock()
		},
		Output: func(n protocol.OutputNotification) {
			w.mu.Lock()
			w.output[n.Session] = append(w.output[n.Session], n.Data...)
			w.outDone[n.Session] = w.outDone[n.Session] || n.Done
			w.mu.Unlock()
		},
	}
	ev.Notify(method, params)
	w.Notify()
}

// Follow subscribes c (dialled with w.Receive) to sessions and conflicts,
// and to sub's output streams, then loads the current sessions and
// conflicts. What an event has already said wins over the loaded lists,
// which may be older.
func (w *Watch) Follow(t TB, c *protocol.Client, output ...protocol.OutputSubscription) {
	t.Helper()
	if _, err := c.Subscribe(t.Context(), protocol.SubscribeParams{Sessions: true, Conflicts: true, Output: output}); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	ss, err := c.Sessions(t.Context(), protocol.SessionsParams{All: true})
	if err != nil {
		t.Fatalf("sessions: %v", err)
	}
	cs, err := c.Conflicts(t.Context(), protocol.ConflictsParams{})
	if err != nil {
		t.Fatalf("conflicts: %v", err)
	}
	w.mu.Lock()
	for _, s := range ss.Sessions {
		if !w.touched[s.ID] {
			w.sessions[s.ID] = s
		}
	}
	for _, cf := range cs.Conflicts {
		if !w.touched[cf.ID] {
			w.conflicts[cf.ID] = cf
		}
	}
	w.mu.Unlock()
	w.Notify()
}

// Session returns the newest record of the session with this ID or name.
func (w *Watch) Session(ref string) (protocol.Session, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s, ok := w.sessions[ref]; ok {
		return s, true
	}
	var best protocol.Session
	found := false
	for _, s := range w.sessions {
		if s.Name == ref && (!found || s.Created.After(best.Created)) {
			best, found = s, true
		}
	}
	return best, found
}

// Conflicts returns the current conflicts, sorted by ID.
func (w *Watch) Conflicts() []protocol.Conflict {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]protocol.Conflict, 0, len(w.conflicts))
	for _, cf := range w.conflicts {
		out = append(out, cf)
	}
	slices.SortFunc(out, func(a, b protocol.Conflict) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Output returns the output received for a session (by ID) and whether it
// is complete (the agent has exited and everything was sent).
func (w *Watch) Output(id string) ([]byte, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]byte(nil), w.output[id]...), w.outDone[id]
}

// States returns the states a session (by ID) was announced in, in order.
func (w *Watch) States(id string) []protocol.State {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []protocol.State
	for _, s := range w.events {
		if s.ID == id {
			out = append(out, s.State)
		}
	}
	return out
}

// Events returns every record of a session (by ID) announced, in order.
func (w *Watch) Events(id string) []protocol.Session {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []protocol.Session
	for _, s := range w.events {
		if s.ID == id {
			out = append(out, s)
		}
	}
	return out
}

// AwaitState waits until the session (ID or name) is in one of states and
// returns its record.
func (w *Watch) AwaitState(t TB, ref string, states ...protocol.State) protocol.Session {
	t.Helper()
	var s protocol.Session
	w.Await(t, fmt.Sprintf("session %s to be %v", ref, states), func() bool {
		var ok bool
		s, ok = w.Session(ref)
		return ok && slices.Contains(states, s.State)
	}, func() string {
		last, _ := w.Session(ref)
		return fmt.Sprintf("last seen: %s %q", last.State, last.Detail)
	})
	return s
}

// AwaitConflict waits until a conflict matching match is predicted and
// returns it.
func (w *Watch) AwaitConflict(t TB, what string, match func(protocol.Conflict) bool) protocol.Conflict {
	t.Helper()
	var got protocol.Conflict
	w.Await(t, what, func() bool {
		for _, cf := range w.Conflicts() {
			if match(cf) {
				got = cf
				return true
			}
		}
		return false
	}, func() string { return fmt.Sprintf("conflicts: %+v", w.Conflicts()) })
	return got
}
