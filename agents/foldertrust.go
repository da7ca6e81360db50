package agents

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Agents ask whether to trust the folder they start in, and a session's
// worktree is a new folder each time. When the person trusts one for an
// agent that asks this way (Gemini CLI), studiod remembers it for the
// repository, in its own state (StateDir/trusted-AGENT, one repository
// root a line), and starts that agent trusted in the repository's later
// sessions, without writing the agent's own configuration.

// trustMu serializes writes of the trust files.
var trustMu sync.Mutex

func (m *Manager) trustFile(agent string) string {
	return filepath.Join(m.opts.StateDir, "trusted-"+agent)
}

// folderTrusted reports whether the person trusted a worktree of repo for
// agent once.
func (m *Manager) folderTrusted(repo, agent string) bool {
	b, err := os.ReadFile(m.trustFile(agent))
	return err == nil && slices.Contains(strings.Split(string(b), "\n"), repo)
}

// trust remembers that the person trusted a worktree of repo for agent.
func (m *Manager) trust(repo, agent string) {
	trustMu.Lock()
	defer trustMu.Unlock()
	if m.folderTrusted(repo, agent) {
		return
	}
	f, err := os.OpenFile(m.trustFile(agent), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err == nil {
		_, err = f.WriteString(repo + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		m.log.Warn("remember folder trust", "agent", agent, "repo", repo, "err", err)
	}
}
