package server

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
)

// A client started inside a session presents that session's secret in
// studio/hello (the CLI and `studiod mcp` read $STUDIO_SESSION_TOKEN); the
// person's own shell has none. Such a caller may read anything, and change
// only its own session: stopping, removing, answering, noting, merging or
// typing into another session, landing, running or cancelling a plan,
// trusting a repository and shutting the daemon down are the person's
// (docs/security.md). A session may comment on the work it reviews; a
// comment or a review from inside a session is recorded as that
// session's, never as another's.

// token is the session secret of the connection's client: found in its
// process's environment (or an ancestor's), else the one it presented;
// "" for the person or a call made in process.
func (c *conn) token() string {
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.peerSecret != "" {
		return c.peerSecret
	}
	return c.secret
}

// author is who a comment or a review asked from this connection is by: a
// caller inside a session is that session (its ID), whatever it claims;
// the person may name the session they speak for (claimed, "" for none).
// A secret no session has any more is refused.
func (a *core) author(ctx context.Context, claimed string) (string, error) {
	token := connOf(ctx).token()
	if token == "" {
		return claimed, nil
	}
	caller, ok := a.m.Caller(token)
	if !ok {
		return "", fmt.Errorf("%w: the caller runs inside a session studiod no longer knows", agents.ErrForbidden)
	}
	return caller.ID, nil
}

// actsOn refuses a change to the sessions refs name unless the caller may
// make it; with no refs, the change is the person's alone.
func (a *core) actsOn(ctx context.Context, what string, refs ...protocol.SessionRef) error {
	rs := make([]agents.Ref, len(refs))
	for i, r := range refs {
		rs[i] = ref(r)
	}
	return a.m.ActsOn(connOf(ctx).token(), what, rs...)
}

// reviewerOf reports whether the caller is a session reviewing the session
// r names, and its ID.
func (a *core) reviewerOf(ctx context.Context, r protocol.SessionRef) (string, bool) {
	tok := connOf(ctx).token()
	if tok == "" {
		return "", false
	}
	caller, ok := a.m.Caller(tok)
	if !ok {
		return "", false
	}
	rr := ref(r)
	if rr.Repo == "" {
		rr.Repo = caller.Repo
	}
	s, err := a.m.Lookup(rr)
	if err != nil {
		return "", false
	}
	infos, _ := a.m.Reviews(ctx, s)
	for _, in := range infos {
		if in.ID == caller.ID {
			return caller.ID, true
		}
	}
	return "", false
}

// peerSecret finds the session secret in the environment of the process
// at the other end of a connection, or of its nearest ancestor that has
// one: a client inside a session is recognised even when it says nothing
// in studio/hello, or dropped the variable from its own environment. The
// walk stops at the daemon itself, whose own environment may come from a
// session that started it.
func peerSecret(pid int) string {
	self := os.Getpid()
	for depth := 0; pid > 1 && pid != self && depth < 64; depth++ {
		if env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid)); err == nil {
			for kv := range strings.SplitSeq(string(env), "\x00") {
				if v, ok := strings.CutPrefix(kv, agents.TokenEnv+"="); ok && v != "" {
					return v
				}
			}
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return ""
		}
		// The fields after the command name, which may hold anything but
		// ends at the last ')': state, then the parent's pid.
		i := strings.LastIndexByte(string(stat), ')')
		f := strings.Fields(string(stat[i+1:]))
		if i < 0 || len(f) < 2 {
			return ""
		}
		if pid, err = strconv.Atoi(f[1]); err != nil {
			return ""
		}
	}
	return ""
}
