package server

import (
	"context"

	"github.com/studiod/studiod/protocol"
)

// Hosts serves studio/hosts: each configured host as it answers now
// (studiod is installed there on first use).
func (a *core) Hosts(ctx context.Context, p protocol.HostsParams) (*protocol.HostsResult, error) {
	hs, err := a.m.Hosts(ctx, p.Host)
	if err != nil {
		return nil, err
	}
	res := &protocol.HostsResult{Hosts: []protocol.Host{}}
	for _, h := range hs {
		res.Hosts = append(res.Hosts, protocol.Host{Name: h.Name, SSH: h.SSH, Dir: h.Dir, Reachable: h.Reachable,
			Error: h.Error, Version: h.Version, Build: h.Build, Git: h.Git, Load: h.Load, Sessions: h.Sessions, Here: h.Here})
	}
	return res, nil
}
