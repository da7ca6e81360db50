package agents

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// sessionsEnv is a fixed set of sessions, as secrets sees the Manager's.
type sessionsEnv []Session

func (e sessionsEnv) List(repo string, all bool) []Session { return e }

func (e sessionsEnv) Lookup(ref Ref) (Session, error) {
	for _, s := range e {
		if s.Name == ref.Session && (ref.Repo == "" || s.Repo == ref.Repo) {
			return s, nil
		}
	}
	return Session{}, ErrNotFound
}

// TestSecrets makes a session's secret, keeps it in the session's
// directory, and tells sessions apart by it.
func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	a := Session{ID: "a1", Name: "a", Repo: "/r", Dir: filepath.Join(dir, "a"), State: Working}
	b := Session{ID: "b1", Name: "b", Repo: "/r", Dir: filepath.Join(dir, "b"), State: Working}
	old := Session{ID: "o1", Name: "old", Repo: "/r", Dir: filepath.Join(dir, "old"), State: Working}
	gone := Session{ID: "g1", Name: "gone", Repo: "/r", Dir: filepath.Join(dir, "gone"), State: Removed}
	for _, s := range []Session{a, b, old, gone} {
		os.MkdirAll(s.Dir, 0o700)
	}
	x := &secrets{env: sessionsEnv{a, b, old, gone}}
	tokA, err := x.make(&a)
	if err != nil || len(tokA) != 64 {
		t.Fatalf("make: %q, %v", tokA, err)
	}
	tokB, _ := x.make(&b)
	tokGone, _ := x.make(&gone)
	if again, _ := x.make(&a); again != tokA {
		t.Errorf("make again: %q; want the same secret %q", again, tokA)
	}
	// A daemon started later reads it from the session's directory.
	if got := (&secrets{env: x.env}).stored(a); got != tokA {
		t.Errorf("stored by a new daemon: %q; want %q", got, tokA)
	}
	if got := x.stored(old); got != "" {
		t.Errorf("stored of a session without a secret: %q", got)
	}

	if err := x.check(a, tokA); err != nil {
		t.Errorf("check with its own secret: %v", err)
	}
	for _, tok := range []string{"", tokB} {
		if err := x.check(a, tok); !errors.Is(err, ErrForbidden) {
			t.Errorf("check with %q: %v; want forbidden", tok, err)
		}
	}
	if err := x.check(old, ""); err != nil {
		t.Errorf("check of a session from before secrets: %v", err)
	}

	if s, ok := x.caller(tokB); !ok || s.ID != b.ID {
		t.Errorf("caller of b's secret: %v, %v", s.Name, ok)
	}
	for _, tok := range []string{"", "made-up", tokGone} {
		if s, ok := x.caller(tok); ok {
			t.Errorf("caller of %q: %s; want none", tok, s.Name)
		}
	}

	if err := x.actsOn("", "stop", Ref{Session: "a"}); err != nil {
		t.Errorf("the person acting: %v", err)
	}
	if err := x.actsOn(tokA, "stop", Ref{Session: "a"}); err != nil {
		t.Errorf("a acting on itself: %v", err)
	}
	for _, c := range []struct {
		tok  string
		refs []Ref
	}{{tokA, []Ref{{Session: "b"}}}, {tokA, nil}, {"made-up", []Ref{{Session: "a"}}}} {
		if err := x.actsOn(c.tok, "stop", c.refs...); !errors.Is(err, ErrForbidden) {
			t.Errorf("actsOn(%q, %v): %v; want forbidden", c.tok, c.refs, err)
		}
	}
}
