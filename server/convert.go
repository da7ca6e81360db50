package server

import (
	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
)

func (srv *Server) wireSession(s agents.Session) protocol.Session {
	p := protocol.Session{
		ID: s.ID, Name: s.Name, Repo: s.Repo, Branch: s.Branch, Base: s.Base, Target: s.Target,
		Worktree: s.Worktree, Agent: s.Agent, Command: s.Command, Prompt: s.Prompt, State: s.State,
		Detail: s.Detail, PID: s.PID, ExitCode: s.ExitCode, Port: s.Port, Created: s.Created, Updated: s.Updated,
		Changes: protocol.Changes{Files: s.Changes.Files, Additions: s.Changes.Additions, Deletions: s.Changes.Deletions},
		Log:     s.Log(),
	}
	if agents.IsLive(s.State) {
		p.Socket = s.Socket
	}
	p.Conflicts = srv.conflictCount(s)
	return p
}

func (srv *Server) wireSessions(list []agents.Session) []protocol.Session {
	out := make([]protocol.Session, len(list))
	for i, s := range list {
		out[i] = srv.wireSession(s)
	}
	return out
}

func ref(r protocol.SessionRef) agents.Ref { return agents.Ref{Session: r.Session, Repo: r.Repo} }
