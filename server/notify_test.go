package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/vocab"
)

func TestNotifyKind(t *testing.T) {
	tests := []struct {
		prev, state vocab.State
		want        string
	}{
		{"", agents.Starting, ""},
		{agents.Starting, agents.Working, ""},
		{agents.Working, agents.Waiting, NotifyWaiting},
		{agents.Waiting, agents.Waiting, ""}, // the same question announced again
		{agents.Waiting, agents.Working, ""},
		{agents.Working, agents.Idle, NotifyIdle},
		{agents.Waiting, agents.Idle, NotifyIdle},
		{agents.Starting, agents.Idle, ""}, // an agent ready with no prompt has finished nothing
		{agents.Working, agents.Failed, NotifyFailed},
		{agents.Idle, agents.Exited, NotifyDone},
		{agents.Working, agents.Stopped, NotifyDone},
		{agents.Idle, agents.Merged, NotifyDone},
		{agents.Merged, agents.Removed, ""},
	}
	for _, tc := range tests {
		t.Run(string(tc.prev)+"→"+string(tc.state), func(t *testing.T) {
			if got := notifyKind(tc.prev, agents.Session{State: tc.state}); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// A burst beyond the rate is dropped, never queued without bound, and the
// next event delivered says how many were left out.
func TestNotifyRate(t *testing.T) {
	now := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	n := &notifier{now: func() time.Time { return now }, queue: make(chan NotifyEvent, notifyQueue),
		last: map[string]vocab.State{}, tokens: notifyBurst, refill: now}
	for i := range notifyBurst + 5 {
		id := fmt.Sprint("s", i)
		n.changed(agents.Event{Session: agents.Session{ID: id, Name: id, State: agents.Working}})
		n.changed(agents.Event{Session: agents.Session{ID: id, Name: id, State: agents.Waiting}})
	}
	if got := len(n.queue); got != notifyBurst {
		t.Fatalf("%d events queued, want the burst of %d", got, notifyBurst)
	}
	for range notifyBurst {
		if e := <-n.queue; e.Dropped != 0 || e.Event != NotifyWaiting {
			t.Fatalf("event %+v in the burst", e)
		}
	}
	n.changed(agents.Event{Session: agents.Session{ID: "late", Name: "late", State: agents.Failed}})
	if len(n.queue) != 0 {
		t.Fatal("an event over the rate was queued")
	}
	now = now.Add(notifyEvery)
	n.changed(agents.Event{Session: agents.Session{ID: "later", Name: "later", State: agents.Failed}})
	select {
	case e := <-n.queue:
		if e.Session.Name != "later" || e.Dropped != 6 {
			t.Errorf("after the wait: %s with %d dropped, want later with 6", e.Session.Name, e.Dropped)
		}
	default:
		t.Fatal("no event once the rate allows one again")
	}
}
