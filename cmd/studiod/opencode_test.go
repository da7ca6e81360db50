package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/fakemodel"
	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/internal/studiotest"
	"github.com/studiod/studiod/protocol"
)

// asksWithTools matches the requests of opencode's turns, which offer the
// model its tools, not the title it asks for aside.
func asksWithTools(r *fakemodel.Request) bool { return len(r.Tools) > 0 }

// TestOpencodeStarting: opencode spawned with a prompt is working from the
// spawn until its turn has ended. It starts up silently for a long while
// (on a fresh home it installs its provider package first), and a session
// must not look idle before opencode has even taken its prompt.
func TestOpencodeStarting(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "opencode")
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
	fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
		{UserContains: "say hello", Match: asksWithTools, Text: "Hello."},
	}})
	defer fm.Close()
	d := startDaemonEnv(t, home, opencodeEnv(t, bin, fm)...)
	c, w := d.watch()
	spawned := time.Now()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "ocs", Agent: "opencode", Prompt: "say hello"})
	if err != nil {
		t.Fatal(err)
	}
	asked := func() (fakemodel.Request, bool) {
		i := slices.IndexFunc(fm.Requests(), func(r fakemodel.Request) bool {
			return asksWithTools(&r) && strings.Contains(r.LastUserText(), "say hello")
		})
		if i < 0 {
			return fakemodel.Request{}, false
		}
		return fm.Requests()[i], true
	}
	// The first idle the session shows, and whether the model had been
	// asked by then: checked as the idle is announced.
	var before []protocol.State
	idleAsked := false
	w.Await(t, "the session idle", func() bool {
		before = before[:0]
		for _, e := range w.Events(s.ID) {
			if e.State == protocol.StateIdle {
				_, idleAsked = asked()
				return true
			}
			before = append(before, e.State)
		}
		return false
	})
	r, ok := asked()
	if !idleAsked || !ok {
		t.Fatalf("the session was idle before opencode asked the model (states before: %v)", before)
	}
	t.Logf("opencode asked the model %s after the spawn", r.Time.Sub(spawned).Round(time.Millisecond))
	for _, st := range before {
		if st != protocol.StateStarting && st != protocol.StateWorking {
			t.Errorf("states before the first idle: %v; want starting and working only", before)
			break
		}
	}
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: protocol.SessionRef{Session: s.ID}}); err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateStopped, protocol.StateExited)
}

// opencodeUsage is what the scripted model reports for the two answers of
// the opencode tests' first turn.
var opencodeUsage = [2]fakemodel.Usage{{Input: 1200, Output: 30, CacheRead: 400}, {Input: 60, Output: 5, CacheRead: 1500}}

// awaitOpencodeUsage waits until session id shows the usage of the two
// answers, as opencode records them: their tokens, and their cost at
// opencodeEnv's prices (US dollars per million tokens: input 3, output 15,
// cache read 0.3), to within rounding.
func awaitOpencodeUsage(t *testing.T, w *studiotest.Watch, id string) {
	t.Helper()
	want := protocol.Usage{Input: 1200 + 60, Output: 30 + 5, CacheRead: 400 + 1500}
	const cost = (1260*3 + 35*15 + 1900*0.3) / 1e6
	w.Await(t, fmt.Sprintf("usage %+v, $%g", want, cost), func() bool {
		got, _ := w.Session(id)
		if got.Usage == nil || got.Usage.Cost == nil || math.Abs(*got.Usage.Cost-cost) > 1e-12 {
			return false
		}
		u := *got.Usage
		u.Cost = nil
		return u == want
	}, func() string {
		got, _ := w.Session(id)
		if got.Usage != nil && got.Usage.Cost != nil {
			return fmt.Sprintf("%s, usage %+v, $%g", got.State, *got.Usage, *got.Usage.Cost)
		}
		return fmt.Sprintf("%s, usage %+v", got.State, got.Usage)
	})
}
