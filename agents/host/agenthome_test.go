package host

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// TestCodexConfig: the private config is the person's, with the hook
// trust Codex recorded in the private one kept; the person's own hook
// trust stays too, and a config Codex cannot read is handed on unchanged.
func TestCodexConfig(t *testing.T) {
	dir := t.TempDir()
	user, priv := filepath.Join(dir, "user.toml"), filepath.Join(dir, "private.toml")
	write := func(path, s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// No private config yet: the person's, byte for byte.
	write(user, "# mine\nmodel = \"gpt-x\"\n")
	if got, err := codexConfig(user, priv); err != nil || string(got) != "# mine\nmodel = \"gpt-x\"\n" {
		t.Fatalf("first config: %q, %v", got, err)
	}

	write(user, "model = \"gpt-y\"\n[hooks.state.\"/home/me/.codex/config.toml:stop:0:0\"]\ntrusted_hash = \"sha256:mine\"\n")
	write(priv, "model = \"gpt-x\"\n[hooks.state.\"/<session-flags>/config.toml:stop:0:0\"]\ntrusted_hash = \"sha256:studiod\"\n[tui]\nx = true\n")
	got, err := codexConfig(user, priv)
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Model string
		TUI   map[string]any `toml:"tui"`
		Hooks struct {
			State map[string]struct {
				TrustedHash string `toml:"trusted_hash"`
			}
		}
	}
	if _, err := toml.Decode(string(got), &conf); err != nil {
		t.Fatalf("%v in\n%s", err, got)
	}
	if conf.Model != "gpt-y" || conf.TUI != nil ||
		conf.Hooks.State["/home/me/.codex/config.toml:stop:0:0"].TrustedHash != "sha256:mine" ||
		conf.Hooks.State["/<session-flags>/config.toml:stop:0:0"].TrustedHash != "sha256:studiod" {
		t.Errorf("merged config:\n%s", got)
	}

	write(user, "model = = broken\n")
	if got, err := codexConfig(user, priv); err != nil || !strings.HasPrefix(string(got), "model = = broken") {
		t.Errorf("unreadable config: %q, %v; want it unchanged", got, err)
	}
}

// dirFiles lists the files below dir with their contents (a link as
// "-> TARGET").
func dirFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch fi, _ := os.Lstat(p); {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "-> " + target
		case !d.IsDir():
			b, _ := os.ReadFile(p)
			out[rel] = string(b)
		}
		return nil
	})
	return out
}

// TestRemoteAgentHome: the helper's home operation makes a repository's
// Codex home and a session's Gemini CLI home from the user's own (found
// through the HOME the profile sets), says where they are, and leaves the
// user's own untouched; a bad request is refused.
func TestRemoteAgentHome(t *testing.T) {
	dir, user := t.TempDir(), t.TempDir()
	files := map[string]string{
		".codex/config.toml":    "model = \"gpt-x\"\n",
		".codex/auth.json":      "{}\n",
		".codex/log/x.log":      "x\n",
		".gemini/settings.json": `{"hooks": {"AfterTool": [{"matcher": "mine"}]}, "ui": {"theme": "dark"}}`,
		".gemini/oauth.json":    "{}\n",
	}
	for p, c := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(user, p)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(user, p), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	before := dirFiles(t, user)
	const id = "s1"
	if err := os.MkdirAll(filepath.Join(dir, "state", "sessions", id), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state", "sessions", id, "meta.json"), []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	home := func(a AgentHome) (string, int) {
		t.Helper()
		b, _ := json.Marshal(a)
		var out, errb strings.Builder
		code := Remote([]string{"home", "--dir", dir, "--id", id}, "test", strings.NewReader(string(b)), &out, &errb)
		return strings.TrimSpace(out.String() + errb.String()), code
	}
	env := []string{"HOME=" + user, "CODEX_HOME="}

	got, code := home(AgentHome{Kind: HomeCodex, Key: "0123abcd", Env: env})
	codexHome := filepath.Join(dir, "codex-home", "0123abcd")
	if code != 0 || got != "CODEX_HOME="+codexHome {
		t.Fatalf("codex home: %q (exit %d)", got, code)
	}
	if m := dirFiles(t, codexHome); len(m) != 2 || m["config.toml"] != files[".codex/config.toml"] ||
		m["auth.json"] != "-> "+filepath.Join(user, ".codex", "auth.json") {
		t.Errorf("codex home holds %q", m)
	}

	hooks := map[string]any{"AfterTool": map[string]any{"matcher": "*", "name": "studiod"}}
	got, code = home(AgentHome{Kind: HomeGemini, Env: env, Hooks: hooks})
	geminiHome := filepath.Join(dir, "state", "sessions", id, "gemini-home")
	if code != 0 || got != "GEMINI_CLI_HOME="+geminiHome {
		t.Fatalf("gemini home: %q (exit %d)", got, code)
	}
	m := dirFiles(t, filepath.Join(geminiHome, ".gemini"))
	if m["oauth.json"] != "-> "+filepath.Join(user, ".gemini", "oauth.json") {
		t.Errorf("gemini home holds %q", m)
	}
	var settings struct {
		Hooks map[string][]map[string]any `json:"hooks"`
		UI    map[string]any              `json:"ui"`
	}
	if err := json.Unmarshal([]byte(m["settings.json"]), &settings); err != nil {
		t.Fatal(err)
	}
	if h := settings.Hooks["AfterTool"]; len(h) != 2 || h[0]["matcher"] != "mine" || h[1]["name"] != "studiod" || settings.UI["theme"] != "dark" {
		t.Errorf("gemini settings: %s", m["settings.json"])
	}

	if after := dirFiles(t, user); !maps.Equal(after, before) {
		t.Errorf("the user's own files changed:\n%q\nwere:\n%q", after, before)
	}

	for name, a := range map[string]AgentHome{
		"a key that leaves the directory": {Kind: HomeCodex, Key: "../x"},
		"an unknown kind":                 {Kind: "aider"},
	} {
		if _, code := home(a); code == 0 {
			t.Errorf("%s: made", name)
		}
	}
}
