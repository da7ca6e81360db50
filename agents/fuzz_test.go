package agents

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzValidateName: a session name ValidateName accepts is safe as a path
// element and in a branch name: lower-case letters, digits and dashes,
// not starting with a dash, at most 40 bytes.
func FuzzValidateName(f *testing.F) {
	for _, seed := range []string{"auth", "fix-login-2", "-x", "../x", "a/b", "A", "a b", "", strings.Repeat("a", 41), "ü", "a\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if ValidateName(name) != nil {
			return
		}
		if name == "" || len(name) > 40 || name[0] == '-' || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			t.Fatalf("accepted %q", name)
		}
		if name != NameFromPrompt(name) && ValidateName(NameFromPrompt(name)) != nil {
			t.Fatalf("NameFromPrompt(%q) = %q is not valid", name, NameFromPrompt(name))
		}
	})
}

// FuzzNameFromPrompt: whatever the prompt, the derived name is valid.
func FuzzNameFromPrompt(f *testing.F) {
	for _, seed := range []string{"Add rate limiting to the API", "", "!!!", "Über café", strings.Repeat("x", 100)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, prompt string) {
		if n := NameFromPrompt(prompt); ValidateName(n) != nil {
			t.Fatalf("NameFromPrompt(%q) = %q is not a valid name", prompt, n)
		}
	})
}

// FuzzLoadFile parses arbitrary .studio.toml content: LoadFile never
// panics; a config it accepts overlays the built-in one, lists what needs
// trust (a worktree_dir always does), and has a log_limit that ParseSize
// either reads or refuses.
func FuzzLoadFile(f *testing.F) {
	for _, seed := range []string{
		"[defaults]\nagent = \"claude\"\ntarget = \"main\"\nworktree_dir = \"/x\"\nport_base = 41000\nlog_limit = \"32MiB\"\n",
		"[setup]\ncopy = [\".env*\"]\ncommands = [\"npm ci\"]\n",
		"[agents.claude]\ncommand = [\"claude\", \"{prompt}\"]\nidle_after = \"5s\"\nwaiting = ['\\(y/n\\)']\nenv = { A = \"1\" }\n",
		"[agents.x]\nidle_after = \"forever\"\n", "[defaults]\nnope = 1\n", "[[defaults]]\n", "a = ", "\x00", "",
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "studio.toml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, raw, err := LoadFile(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if string(raw) != string(data) {
			t.Fatal("LoadFile returned other bytes than the file's")
		}
		merged := overlay(Builtin("/studiod"), c)
		cmds := repoCommands(c)
		if c.Defaults.WorktreeDir != "" && !strings.Contains(strings.Join(cmds, "\n"), "worktree_dir") {
			t.Fatalf("worktree_dir %q does not need trust", c.Defaults.WorktreeDir)
		}
		ParseSize(merged.Defaults.LogLimit)
		if merged.Agents["demo"].Command == nil && c.Agents["demo"].Command == nil {
			t.Fatal("overlay lost a built-in profile")
		}
	})
}

// FuzzParseSize: a size ParseSize accepts is 0 or at least 4 KiB, never
// negative.
func FuzzParseSize(f *testing.F) {
	for _, seed := range []string{"32MiB", "0", "", "4KiB", "1GB", "12", "-1MiB", "9999999999999GiB", "1.5MiB", " 8 KiB "} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && (n < 0 || n > 0 && n < 4<<10) {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
	})
}
