package agents

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/studiod/studiod/agents/host"
)

// Codex keeps its settings, its sign-in, the trust it was given and its
// conversations in one directory, CODEX_HOME (~/.codex by default), and
// writes there as it runs. studiod runs Codex (and codex-acp) with a
// CODEX_HOME of its own per repository, made from the person's
// (host.MakeCodexHome), so that nothing a session does is written to the
// person's: in its state directory for a session here, below the host's
// studiod directory (DIR/codex-home/KEY, from the host user's own) for a
// session on a host.

// codexKey names repo's Codex home.
func codexKey(repo string) string {
	return fmt.Sprintf("%x", sha256.Sum256([]byte(repo)))[:16]
}

// codexHome is the CODEX_HOME of repo's Codex sessions on this machine.
func (m *Manager) codexHome(repo string) string {
	return filepath.Join(m.opts.StateDir, "codex-home", codexKey(repo))
}

// userCodexHome is the person's own CODEX_HOME, as profile p's
// environment or studiod's sets it.
func userCodexHome(p Profile) string {
	if h := p.Env["CODEX_HOME"]; h != "" {
		return h
	}
	if h := os.Getenv("CODEX_HOME"); h != "" {
		return h
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".codex")
}

// prepareCodexHome makes the Codex home of session s (its repository's,
// where s runs) from the person's and returns the environment that points
// Codex at it.
func (m *Manager) prepareCodexHome(ctx context.Context, s *Session, p Profile) ([]string, error) {
	if s.Host != "" {
		return m.hostAgentHome(ctx, s, p, host.AgentHome{Kind: host.HomeCodex, Key: codexKey(s.Repo)})
	}
	home := m.codexHome(s.Repo)
	if err := host.MakeCodexHome(home, userCodexHome(p)); err != nil {
		return nil, err
	}
	return []string{"CODEX_HOME=" + home}, nil
}

// hostAgentHome makes the home of session s's agent on its host, from the
// host user's own (where profile p's environment says it is).
func (m *Manager) hostAgentHome(ctx context.Context, s *Session, p Profile, a host.AgentHome) ([]string, error) {
	rt, err := m.hosts.runtime(s.Host)
	if err != nil {
		return nil, err
	}
	for k, v := range p.Env {
		a.Env = append(a.Env, k+"="+v)
	}
	return rt.AgentHome(ctx, s.ID, a)
}

// codexRollouts is the Codex home of session s when its profile p is
// codex-acp on this machine, "" otherwise.
func codexRollouts(m *Manager, s Session, p Profile) string {
	if s.Host != "" || p.Hooks == HooksCodex || !runsCodex(p) {
		return ""
	}
	return m.codexHome(s.Repo)
}

// rollout finds the rollout of Codex conversation id in Codex home home:
// sessions/YYYY/MM/DD/rollout-TIME-ID.jsonl; "" while there is none.
func rollout(home, id string) string {
	if id == "" || strings.ContainsAny(id, `/\*?[`) {
		return ""
	}
	found, _ := filepath.Glob(filepath.Join(home, "sessions", "*", "*", "*", "rollout-*-"+id+".jsonl"))
	if len(found) == 0 {
		return ""
	}
	return found[len(found)-1]
}

// readRollout reads what a codex-acp session's rollout says its model
// used, now and again shortly after (Codex may write a turn's figures
// after its answer).
func (d *acpConn) readRollout(conv string) {
	path := rollout(d.rollouts, conv)
	if path == "" {
		d.log.Debug("no rollout yet", "conversation", conv)
		return
	}
	s, err := d.m.Lookup(Ref{Session: d.id})
	if err != nil {
		return
	}
	if u, err := d.m.transcripts.usage(d.id, path); err == nil && u != nil {
		d.m.update(d.id, func(r *Session) bool {
			if u.equal(r.Usage) {
				return false
			}
			r.Usage = u
			return true
		})
	}
	d.m.rereadTranscript(s, path)
}
