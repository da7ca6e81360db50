package agents

import (
	"context"
	"slices"
)

// ACPFace is the [acp] section of the config: settings of `studiod acp`,
// the face an ACP client (an editor's agent panel) starts.
type ACPFace struct {
	// Agent is the profile a new ACP thread runs (default: [defaults]
	// agent).
	Agent string `toml:"agent"`
}

// ProfileInfo is one agent profile, as a client choosing among them sees it.
type ProfileInfo struct {
	Name     string
	Protocol string // ProtocolACP, or empty for a terminal agent
}

// Profiles are the agent profiles in effect in a repository, and which
// one each kind of client starts by default.
type Profiles struct {
	Repo    string        // the repository's root (main worktree)
	List    []ProfileInfo // by name
	Default string        // [defaults] agent
	ACP     string        // [acp] agent, else Default
}

// Profiles lists the agent profiles in effect in the repository containing
// dir: the built-in ones overlaid by the user's config and the repository's.
func (m *Manager) Profiles(ctx context.Context, dir string) (Profiles, error) {
	repo, err := m.openRepo(ctx, dir)
	if err != nil {
		return Profiles{}, err
	}
	cfg, _, err := m.effectiveConfig(ctx, repo.Root)
	if err != nil {
		return Profiles{}, err
	}
	p := Profiles{Repo: repo.Root, Default: cfg.Defaults.Agent, ACP: cfg.ACP.Agent}
	if p.ACP == "" {
		p.ACP = p.Default
	}
	for name, prof := range cfg.Agents {
		p.List = append(p.List, ProfileInfo{Name: name, Protocol: prof.Protocol})
	}
	slices.SortFunc(p.List, func(a, b ProfileInfo) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return p, nil
}

// Cancel ends the running turn of a session's agent and leaves the agent
// running: an ACP agent gets session/cancel (and its open permission
// requests are answered as cancelled, as the protocol asks); a terminal
// agent gets Escape, which stops the turn of every agent studiod knows. A
// session with no turn running is left as it is.
func (m *Manager) Cancel(ctx context.Context, ref Ref) (Session, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return Session{}, err
	}
	if !live(s.State) {
		return s, invalidf("session %s is %s: no turn runs", s.Name, s.State)
	}
	return m.driverOf(s).cancel(ctx, s)
}
