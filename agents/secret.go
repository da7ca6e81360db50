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

// secret returns the session's secret, making it on first use. Sessions
// started before sessions had secrets have none until their agent starts
// again.
func (m *Manager) secret(s *Session) (string, error) {
	if v, ok := m.secrets.Load(s.ID); ok {
		return v.(string), nil
	}
	file := filepath.Join(s.Dir, tokenFile)
	if b, err := os.ReadFile(file); err == nil && len(b) > 0 {
		tok := strings.TrimSpace(string(b))
		m.secrets.Store(s.ID, tok)
		return tok, nil
	}
	var raw [32]byte
	rand.Read(raw[:])
	tok := hex.EncodeToString(raw[:])
	if err := os.WriteFile(file, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the secret of session %s: %w", s.Name, err)
	}
	v, _ := m.secrets.LoadOrStore(s.ID, tok)
	return v.(string), nil
}

// storedSecret returns the session's secret if it has one, without making
// one.
func (m *Manager) storedSecret(s Session) string {
	if v, ok := m.secrets.Load(s.ID); ok {
		return v.(string)
	}
	b, err := os.ReadFile(filepath.Join(s.Dir, tokenFile))
	if err != nil {
		return ""
	}
	tok := strings.TrimSpace(string(b))
	if tok != "" {
		m.secrets.Store(s.ID, tok)
	}
	return tok
}

// checkSecret refuses a hook for s that does not carry s's secret.
func (m *Manager) checkSecret(s Session, token string) error {
	want := m.storedSecret(s)
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

// Caller returns the session whose secret token is; ok is false when it
// is no session's (a removed session's, or a made-up one).
func (m *Manager) Caller(token string) (s Session, ok bool) {
	if token == "" {
		return Session{}, false
	}
	m.mu.Lock()
	all := make([]Session, 0, len(m.sessions))
	for _, r := range m.sessions {
		// A removed session speaks for nothing, and its directory (the
		// secret's file) may be gone: a lookup would read the disk for
		// every removed session at every call.
		if r.State != Removed {
			all = append(all, *r)
		}
	}
	m.mu.Unlock()
	for _, r := range all {
		if want := m.storedSecret(r); want != "" && subtle.ConstantTimeCompare([]byte(token), []byte(want)) == 1 {
			return r.clone(), true
		}
	}
	return Session{}, false
}

// ActsOn checks that a caller presenting token may change the sessions
// refs name: the person (no token) may change any; a session only itself.
// what names the request for the refusal ("stop", "merge").
func (m *Manager) ActsOn(token, what string, refs ...Ref) error {
	if token == "" {
		return nil
	}
	caller, ok := m.Caller(token)
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
		s, err := m.Lookup(ref)
		if err != nil {
			return err
		}
		if s.ID != caller.ID {
			return fmt.Errorf("%w: %s: session %s may not act on session %s; only the person may, from their own shell", ErrForbidden, what, caller.Name, s.Name)
		}
	}
	return nil
}
