package agents

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Each session has a secret, a random token in its agent's environment
// (STUDIO_SESSION_TOKEN) and in a file of the session's own directory,
// which only the daemon's user can read. Its hooks present it: a report
// about a session that does not carry the session's secret is refused, so
// a process cannot speak for a session it does not run in by knowing its
// id. Clients started inside a session (the CLI, `studiod mcp`) present it
// too, which tells the daemon that the caller is that session: see
// Manager.Caller and docs/security.md for what a session may do to others.

// TokenEnv is the environment variable that carries a session's secret.
const TokenEnv = "STUDIO_SESSION_TOKEN"

// tokenFile holds a session's secret in its directory.
const tokenFile = "token"

// ErrForbidden refuses a request a caller may not make: a hook without
// its session's secret, or a session acting on another.
var ErrForbidden = errors.New("forbidden")

// secrets makes, keeps and checks sessions' secrets (a part of the
// Manager's, behind secretsEnv).
type secrets struct {
	env   secretsEnv
	cache sync.Map // session ID → its secret
}

// secretsEnv is what secrets needs of the Manager: its sessions.
type secretsEnv interface {
	// List lists the sessions of repo (all when empty); removed, merged
	// and failed ones with all.
	List(repo string, all bool) []Session
	Lookup(ref Ref) (Session, error)
}

// make returns the session's secret, making it on first use. Sessions
// started before sessions had secrets have none until their agent starts
// again.
func (x *secrets) make(s *Session) (string, error) {
	if v, ok := x.cache.Load(s.ID); ok {
		return v.(string), nil
	}
	file := filepath.Join(s.Dir, tokenFile)
	if b, err := os.ReadFile(file); err == nil && len(b) > 0 {
		tok := strings.TrimSpace(string(b))
		x.cache.Store(s.ID, tok)
		return tok, nil
	}
	var raw [32]byte
	rand.Read(raw[:])
	tok := hex.EncodeToString(raw[:])
	if err := os.WriteFile(file, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the secret of session %s: %w", s.Name, err)
	}
	v, _ := x.cache.LoadOrStore(s.ID, tok)
	return v.(string), nil
}

// stored returns the session's secret if it has one, without making one.
func (x *secrets) stored(s Session) string {
	if v, ok := x.cache.Load(s.ID); ok {
		return v.(string)
	}
	b, err := os.ReadFile(filepath.Join(s.Dir, tokenFile))
	if err != nil {
		return ""
	}
	tok := strings.TrimSpace(string(b))
	if tok != "" {
		x.cache.Store(s.ID, tok)
	}
	return tok
}

// check refuses a hook for s that does not carry s's secret.
func (x *secrets) check(s Session, token string) error {
	want := x.stored(s)
	if want == "" {
		// A session from before secrets: its agent has none to present.
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1 {
		if token == "" {
			return fmt.Errorf("%w: a report for session %s must carry its secret ($%s in its agent's environment)", ErrForbidden, s.Name, TokenEnv)
		}
		return fmt.Errorf("%w: the secret presented is not session %s's: a session speaks only for itself", ErrForbidden, s.Name)
	}
	return nil
}

// caller returns the session whose secret token is; ok is false when it
// is no session's (a removed session's, or a made-up one).
func (x *secrets) caller(token string) (s Session, ok bool) {
	if token == "" {
		return Session{}, false
	}
	for _, r := range x.env.List("", true) {
		// A removed session speaks for nothing, and its directory (the
		// secret's file) may be gone: a lookup would read the disk for
		// every removed session at every call.
		if r.State == Removed {
			continue
		}
		if want := x.stored(r); want != "" && subtle.ConstantTimeCompare([]byte(token), []byte(want)) == 1 {
			return r, true
		}
	}
	return Session{}, false
}

// actsOn checks that a caller presenting token may change the sessions
// refs name: the person (no token) may change any; a session only itself.
// what names the request for the refusal ("stop", "merge").
func (x *secrets) actsOn(token, what string, refs ...Ref) error {
	if token == "" {
		return nil
	}
	caller, ok := x.caller(token)
	if !ok {
		return fmt.Errorf("%w: %s: the caller runs inside a session studiod no longer knows; only the person may do this, from their own shell", ErrForbidden, what)
	}
	if len(refs) == 0 {
		return fmt.Errorf("%w: %s: session %s may not do this; only the person may, from their own shell", ErrForbidden, what, caller.Name)
	}
	for _, ref := range refs {
		if ref.Repo == "" {
			// A name is looked up in the caller's own repository first.
			ref.Repo = caller.Repo
		}
		s, err := x.env.Lookup(ref)
		if err != nil {
			return err
		}
		if s.ID != caller.ID {
			return fmt.Errorf("%w: %s: session %s may not act on session %s; only the person may, from their own shell", ErrForbidden, what, caller.Name, s.Name)
		}
	}
	return nil
}

// Caller returns the session whose secret token is; ok is false when it
// is no session's (a removed session's, or a made-up one).
func (m *Manager) Caller(token string) (s Session, ok bool) { return m.secrets.caller(token) }

// ActsOn checks that a caller presenting token may change the sessions
// refs name: the person (no token) may change any; a session only itself.
// what names the request for the refusal ("stop", "merge").
func (m *Manager) ActsOn(token, what string, refs ...Ref) error {
	return m.secrets.actsOn(token, what, refs...)
}
