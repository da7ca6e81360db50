package agents

import (
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
