package agents

import "github.com/studiod/studiod/workspace"

// Git is the git runner the manager uses, for analyses the daemon serves
// beside sessions (plan checks).
func (m *Manager) Git() *workspace.Git { return m.opts.Git }
