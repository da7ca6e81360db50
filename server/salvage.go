package server

import (
	"context"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
)

func (a *core) Salvage(ctx context.Context, p protocol.SalvageParams) (*protocol.SalvageResult, error) {
	list, err := a.m.Salvages(ctx, p.Repo)
	if err != nil {
		return nil, err
	}
	out := &protocol.SalvageResult{Salvages: []protocol.Salvage{}}
	for _, sv := range list {
		out.Salvages = append(out.Salvages, wireSalvage(sv))
	}
	return out, nil
}

func (a *core) Restore(ctx context.Context, p protocol.RestoreParams) (*protocol.RestoreResult, error) {
	if err := a.actsOn(ctx, "restore"); err != nil {
		return nil, err
	}
	// Like a spawn, a restore completes or rolls back whatever happens to
	// the client.
	res, err := a.m.Restore(context.WithoutCancel(ctx), agents.RestoreRequest{Repo: p.Repo, Name: p.Name, As: p.As,
		Branch: p.Branch, Agent: p.Agent, Command: p.Command}, nil)
	if err != nil {
		return nil, err
	}
	out := &protocol.RestoreResult{Salvage: wireSalvage(res.Salvage), Branch: res.Branch}
	if res.Session != nil {
		out.Session = ptr(wireSession(*res.Session))
	}
	return out, nil
}

func wireSalvage(sv agents.Salvage) protocol.Salvage {
	return protocol.Salvage{Name: sv.Name, Ref: sv.Ref, Commit: sv.Commit, Session: sv.Session, SessionID: sv.SessionID,
		Agent: sv.Agent, Branch: sv.Branch, Target: sv.Target, Base: sv.Base, When: sv.When, Uncommitted: sv.Uncommitted,
		Changes: protocol.Changes{Files: sv.Changes.Files, Additions: sv.Changes.Additions, Deletions: sv.Changes.Deletions}}
}
