package server

import (
	"context"

	"github.com/studiod/studiod/protocol"
)

// Cancel serves studio/cancel: the running turn ends, the agent stays.
func (a *core) Cancel(ctx context.Context, p protocol.SessionRef) (*protocol.Session, error) {
	return a.session(a.m.Cancel(ctx, ref(p)))
}

// Profiles serves studio/profiles: the agent profiles of a repository.
func (a *core) Profiles(ctx context.Context, p protocol.ProfilesParams) (*protocol.ProfilesResult, error) {
	ps, err := a.m.Profiles(ctx, p.Repo)
	if err != nil {
		return nil, err
	}
	res := &protocol.ProfilesResult{Repo: ps.Repo, Profiles: []protocol.Profile{}, Default: ps.Default, ACP: ps.ACP}
	for _, pi := range ps.List {
		res.Profiles = append(res.Profiles, protocol.Profile{Name: pi.Name, Protocol: pi.Protocol})
	}
	return res, nil
}
