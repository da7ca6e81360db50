package agents

import "github.com/studiod/studiod/agents/shim"

// sessionMark is the environment entry every process of a session carries
// (the agent, what it starts, setup commands): how studiod finds what is
// left of a session whose shim is gone (see agents/shim/proc.go).
func sessionMark(id string) string { return "STUDIO_SESSION_ID=" + id }

// sweep ends whatever of a session still runs once its shim is gone: a
// shim killed with SIGKILL takes its agent along, but the processes the
// agent detached (which the shim had adopted) go to init. Call it only
// when the shim no longer runs: with a live shim it would kill the agent
// behind the shim's back.
func (m *Manager) sweep(s *Session) int {
	n := shim.Sweep(sessionMark(s.ID))
	if n > 0 {
		m.log.Warn("ended processes left by a session whose shim was gone", "session", s.Name, "processes", n)
	}
	return n
}
