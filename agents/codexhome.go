package agents

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

// Codex keeps its settings, its sign-in, the trust it was given and its
// conversations in one directory, CODEX_HOME (~/.codex by default), and
// writes there as it runs: a trusted_hash per hook once the person trusts
// the hooks, its conversations, its logs. studiod runs Codex (and
// codex-acp) with a CODEX_HOME of its own per repository, in its state
// directory, so that nothing a session does is written to the person's:
//
//   - config.toml is the person's, read at each start, with the hook trust
//     Codex recorded in this home before kept (hooks.state), so the hooks
//     are reviewed once per repository;
//   - auth.json and AGENTS.md are links to the person's, so their sign-in
//     and instructions apply;
//   - everything else (conversations, logs) is Codex's own for this home.

// codexHome is the CODEX_HOME of repo's Codex sessions.
func (m *Manager) codexHome(repo string) string {
	return filepath.Join(m.opts.StateDir, "codex-home", fmt.Sprintf("%x", sha256.Sum256([]byte(repo)))[:16])
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

// codexLinked are the files of the person's Codex home a session's Codex
// reads through a link.
var codexLinked = []string{"auth.json", "AGENTS.md"}

// prepareCodexHome makes repo's Codex home from the person's and returns
// the environment that points Codex at it.
func (m *Manager) prepareCodexHome(repo string, p Profile) ([]string, error) {
	home := m.codexHome(repo)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	user := userCodexHome(p)
	for _, name := range codexLinked {
		link := filepath.Join(home, name)
		os.Remove(link)
		target := filepath.Join(user, name)
		if _, err := os.Stat(target); err != nil {
			continue
		}
		if err := os.Symlink(target, link); err != nil {
			return nil, err
		}
	}
	conf, err := codexConfig(filepath.Join(user, "config.toml"), filepath.Join(home, "config.toml"))
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(home, "config.toml"), conf); err != nil {
		return nil, err
	}
	return []string{"CODEX_HOME=" + home}, nil
}

// codexConfig is the person's Codex config (userPath) with the hook trust
// recorded in the private one (privatePath) kept.
func codexConfig(userPath, privatePath string) ([]byte, error) {
	user, err := os.ReadFile(userPath)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var priv map[string]any
	if _, err := toml.DecodeFile(privatePath, &priv); err != nil {
		priv = nil // none yet, or unreadable: the hooks are reviewed again
	}
	state, _ := lookupTable(priv, "hooks", "state")
	if len(state) == 0 {
		return user, nil
	}
	conf := map[string]any{}
	if _, err := toml.Decode(string(user), &conf); err != nil {
		// Codex reports a config it cannot read itself; hand it on as it is.
		return user, nil
	}
	hooks, _ := conf["hooks"].(map[string]any)
	if hooks == nil {
		hooks = map[string]any{}
		conf["hooks"] = hooks
	}
	merged, _ := hooks["state"].(map[string]any)
	if merged == nil {
		merged = map[string]any{}
	}
	for k, v := range state {
		merged[k] = v
	}
	hooks["state"] = merged
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(conf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// lookupTable returns the table at path in t.
func lookupTable(t map[string]any, path ...string) (map[string]any, bool) {
	for _, k := range path {
		next, ok := t[k].(map[string]any)
		if !ok {
			return nil, false
		}
		t = next
	}
	return t, true
}

// writeFileAtomic replaces path with b, so that an agent starting at the
// same time reads the old file or the new one, never half of one.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
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
