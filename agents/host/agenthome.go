package host

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

// Codex and Gemini CLI keep their settings, sign-in and trust in a home
// directory of their own (CODEX_HOME, GEMINI_CLI_HOME), and write there as
// they run. studiod gives each a home of its own made from the person's,
// on the machine the agent runs on: the daemon makes it for a session here
// from the person's own, the helper on a host for a session there from the
// host user's own (AgentHome), with the same code. The person's own home is
// only read.
//
// A Codex home is kept per repository (its hook trust, recorded by Codex in
// its config.toml, is kept from one session to the next, so the hooks are
// reviewed once per repository): config.toml is the person's, read at each
// start, with that trust kept; auth.json and AGENTS.md are links to the
// person's; everything else (conversations, logs) is Codex's own.
//
// A Gemini CLI home is the session's: its settings.json is the person's
// with studiod's hooks added, and everything else of the person's .gemini
// (credentials, trusted folders) is linked.

// codexLinked are the files of the person's Codex home a session's Codex
// reads through a link.
var codexLinked = []string{"auth.json", "AGENTS.md"}

// MakeCodexHome makes home, a private Codex home, from the person's own
// Codex home user.
func MakeCodexHome(home, user string) error {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	for _, name := range codexLinked {
		link := filepath.Join(home, name)
		os.Remove(link)
		target := filepath.Join(user, name)
		if _, err := os.Stat(target); err != nil {
			continue
		}
		if err := os.Symlink(target, link); err != nil {
			return err
		}
	}
	conf, err := codexConfig(filepath.Join(user, "config.toml"), filepath.Join(home, "config.toml"))
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(home, "config.toml"), conf)
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

// MakeGeminiHome makes home a Gemini CLI home (home/.gemini) from the
// person's, user (the directory holding their .gemini): their settings with
// hooks added (one entry per event, after the person's own), everything
// else linked.
func MakeGeminiHome(home, user string, hooks map[string]any) error {
	dir := filepath.Join(home, ".gemini")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	userDir := filepath.Join(user, ".gemini")
	settings := map[string]any{}
	if b, err := os.ReadFile(filepath.Join(userDir, "settings.json")); err == nil {
		json.Unmarshal(b, &settings)
	}
	entries, _ := os.ReadDir(userDir)
	for _, e := range entries {
		if e.Name() == "settings.json" {
			continue
		}
		link := filepath.Join(dir, e.Name())
		os.Remove(link)
		if err := os.Symlink(filepath.Join(userDir, e.Name()), link); err != nil {
			return err
		}
	}
	all, _ := settings["hooks"].(map[string]any)
	if all == nil {
		all = map[string]any{}
	}
	for ev, h := range hooks {
		list, _ := all[ev].([]any)
		all[ev] = append(list, h)
	}
	settings["hooks"] = all
	b, err := json.MarshalIndent(settings, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "settings.json"), b, 0o600)
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

// The agents' homes on a host.
const (
	HomeCodex  = "codex"
	HomeGemini = "gemini"
)

// AgentHome asks a host for the home of a session's agent, made there
// from the host user's own.
type AgentHome struct {
	// Kind is HomeCodex or HomeGemini.
	Kind string `json:"kind"`
	// Key names a Codex home, which the sessions of one repository share
	// (DIR/codex-home/KEY): hex digits.
	Key string `json:"key,omitempty"`
	// Env is what the session's profile sets in the agent's environment
	// (KEY=VALUE): the HOME, CODEX_HOME or GEMINI_CLI_HOME that say where
	// the user's own home is, over the host user's environment.
	Env []string `json:"env,omitempty"`
	// Hooks are added to a Gemini CLI home's settings: per event, one
	// entry after the user's own.
	Hooks map[string]any `json:"hooks,omitempty"`
}

// AgentHome makes the home of session id's agent on the host, from the
// host user's own, and returns the environment that points the agent at
// it. The host user's own home is only read.
func (h *SSH) AgentHome(ctx context.Context, id string, a AgentHome) ([]string, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	out, err := h.call(ctx, "home", bytes.NewReader(b), "--id", id)
	if err != nil {
		return nil, err
	}
	var env []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(line, "=") {
			env = append(env, line)
		}
	}
	return env, nil
}

// agentHome makes a session's agent home on this host: the helper's side of
// AgentHome.
func (r *remoteHost) agentHome(id string, stdin io.Reader, stdout io.Writer) error {
	var a AgentHome
	if err := json.NewDecoder(stdin).Decode(&a); err != nil {
		return fmt.Errorf("read the agent's home: %w", err)
	}
	getenv := func(key string) string {
		for i := len(a.Env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(a.Env[i], key+"="); ok {
				return v
			}
		}
		return os.Getenv(key)
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return err
		}
	}
	switch a.Kind {
	case HomeCodex:
		if !validKey(a.Key) {
			return fmt.Errorf("bad Codex home key %q", a.Key)
		}
		user := getenv("CODEX_HOME")
		if user == "" {
			user = filepath.Join(home, ".codex")
		}
		dir := filepath.Join(r.dir, "codex-home", a.Key)
		if err := MakeCodexHome(dir, user); err != nil {
			return fmt.Errorf("make the Codex home %s from %s: %w", dir, user, err)
		}
		_, err := fmt.Fprintln(stdout, "CODEX_HOME="+dir)
		return err
	case HomeGemini:
		if _, err := r.meta(id); err != nil {
			return err
		}
		user := getenv("GEMINI_CLI_HOME")
		if user == "" {
			user = home
		}
		dir := filepath.Join(r.sessionDir(id), "gemini-home")
		if err := MakeGeminiHome(dir, user, a.Hooks); err != nil {
			return fmt.Errorf("make the Gemini CLI home %s from %s: %w", dir, user, err)
		}
		_, err := fmt.Fprintln(stdout, "GEMINI_CLI_HOME="+dir)
		return err
	}
	return fmt.Errorf("no agent home of kind %q", a.Kind)
}

// validKey accepts a key of hex digits.
func validKey(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for _, c := range k {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
