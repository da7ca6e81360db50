package protocol

// ProfilesParams asks for the agent profiles in effect in the repository
// containing Repo.
type ProfilesParams struct {
	Repo string `json:"repo"`
}

// ProfilesResult lists the agent profiles a client may spawn, by name, and
// the profile each kind of client starts when it names none.
type ProfilesResult struct {
	Repo     string    `json:"repo"` // the repository's main worktree
	Profiles []Profile `json:"profiles"`
	// Default is [defaults] agent: what studio/spawn runs when it names
	// no agent.
	Default string `json:"default"`
	// ACP is [acp] agent (else Default): what a new thread of an ACP
	// client runs.
	ACP string `json:"acp"`
}

// Profile is one agent profile.
type Profile struct {
	Name string `json:"name"`
	// Protocol is "acp" for an agent driven over the Agent Client
	// Protocol; empty for a terminal agent.
	Protocol string `json:"protocol,omitempty"`
}

// Terminal reports whether the profile's agent runs on a terminal (not
// over ACP).
func (p Profile) Terminal() bool { return p.Protocol != ProtocolACP }
