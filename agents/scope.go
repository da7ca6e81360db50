package agents

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Gate modes (the wire's protocol.GateMode).
const (
	GateOff    = "off"
	GateInform = "inform"
	GateAsk    = "ask"
	GateDeny   = "deny"
)

func validGate(mode string) error {
	switch mode {
	case "", GateOff, GateInform, GateAsk, GateDeny:
		return nil
	}
	return invalidf("gate mode %q: use off, inform, ask or deny", mode)
}

// validateScopes checks scope globs: relative to the repository, inside
// it, and well formed ("web/**", "docs/*.md").
func validateScopes(scopes []string) error {
	for _, g := range scopes {
		switch {
		case g == "":
			return invalidf("empty scope: give a path glob such as web/**")
		case strings.HasPrefix(g, "/"), strings.HasPrefix(g, "-"):
			return invalidf("scope %q: give a glob relative to the repository, such as web/**", g)
		case slices.Contains(strings.Split(g, "/"), ".."):
			return invalidf("scope %q leaves the repository", g)
		case !doublestar.ValidatePattern(g):
			return invalidf("scope %q is not a valid glob (use *, ** and {a,b})", g)
		}
	}
	return nil
}

// inScope reports whether path (slash-separated, repository-relative) is
// inside scopes; no scope means everywhere. A glob naming a directory
// covers what is below it.
func inScope(scopes []string, path string) bool {
	if len(scopes) == 0 {
		return true
	}
	for _, g := range scopes {
		if ok, _ := doublestar.Match(g, path); ok {
			return true
		}
		if ok, _ := doublestar.Match(strings.TrimSuffix(g, "/")+"/**", path); ok {
			return true
		}
	}
	return false
}

// outOfScope lists the paths outside scopes, sorted.
func outOfScope(scopes, paths []string) []string {
	if len(scopes) == 0 {
		return nil
	}
	var out []string
	for _, p := range paths {
		if !inScope(scopes, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// noteFromPrompt seeds a session's intent note: the prompt's first line,
// at most 200 characters.
func noteFromPrompt(prompt string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(prompt), "\n")
	return clip(oneLine(line), 200)
}

// maxNote bounds an intent note.
const maxNote = 500

// Note sets a session's intent note, which the gate, `who` and the editors
// show to the other sessions and to the person.
func (m *Manager) Note(ctx context.Context, ref Ref, note string) (Session, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return Session{}, err
	}
	note = oneLine(note)
	if len([]rune(note)) > maxNote {
		return s, invalidf("note of %d characters: keep it under %d", len([]rune(note)), maxNote)
	}
	if !active(s.State) {
		return s, invalidf("session %s is %s: its note no longer matters", s.Name, s.State)
	}
	return m.update(s.ID, func(r *Session) bool {
		if r.Note == note {
			return false
		}
		r.Note = note
		return true
	})
}

// gateMode is the gate mode for s: its own, else its repository's.
func (m *Manager) gateMode(ctx context.Context, s Session) string {
	if s.Gate != "" {
		return s.Gate
	}
	cfg, _, err := m.effectiveConfig(ctx, s.Repo)
	if err != nil || cfg.Gate.Mode == "" {
		return GateInform
	}
	return cfg.Gate.Mode
}

// scopeText says a scope for a person: "web/**, docs/web.md", or
// "everywhere".
func scopeText(scopes []string) string {
	if len(scopes) == 0 {
		return "no scope"
	}
	return fmt.Sprintf("scope %s", strings.Join(scopes, ", "))
}
