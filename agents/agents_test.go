package agents

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"auth", true}, {"a", true}, {"fix-login-2", true}, {"0day", true},
		{strings.Repeat("a", 40), true}, {strings.Repeat("a", 41), false},
		{"", false}, {"-x", false}, {"../x", false}, {"a/b", false}, {"Auth", false},
		{"a b", false}, {"a.b", false}, {"a_b", false},
	} {
		if err := ValidateName(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q): got %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestNameFromPrompt(t *testing.T) {
	for _, tc := range []struct{ prompt, want string }{
		{"Add rate limiting to the API", "add-rate-limiting"},
		{"Fix the login bug!", "fix-login-bug"},
		{"", "session"},
		{"!!!", "session"},
		{"Über café naïve", "ber-caf-na"},
		{strings.Repeat("supercalifragilistic ", 3), "supercalifragilistic-supercali"},
	} {
		got := NameFromPrompt(tc.prompt)
		if got != tc.want {
			t.Errorf("NameFromPrompt(%q): got %q, want %q", tc.prompt, got, tc.want)
		}
		if err := ValidateName(got); err != nil {
			t.Errorf("NameFromPrompt(%q) = %q is not a valid name: %v", tc.prompt, got, err)
		}
	}
}

func TestExpand(t *testing.T) {
	for _, tc := range []struct {
		tmpl       []string
		value      string
		want       []string
		wantUnused string
	}{
		{[]string{"claude", "{prompt}"}, "do it", []string{"claude", "do it"}, ""},
		{[]string{"claude", "{prompt}"}, "", []string{"claude"}, ""},
		{[]string{"aider"}, "do it", []string{"aider"}, "do it"},
		{[]string{"x", "--msg={prompt}"}, "hi", []string{"x", "--msg=hi"}, ""},
	} {
		got, unused := expand(tc.tmpl, "{prompt}", tc.value)
		if !reflect.DeepEqual(got, tc.want) || unused != tc.wantUnused {
			t.Errorf("expand(%q, %q): got %q, %q; want %q, %q", tc.tmpl, tc.value, got, unused, tc.want, tc.wantUnused)
		}
	}
}

func TestConfigOverlayAndTrustSurface(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.toml")
	os.WriteFile(path, []byte(`
[defaults]
agent = "codex"
port_block = 20
[agents.claude]
idle_after = "2s"
[agents.mine]
command = ["my-agent", "{prompt}"]
[setup]
copy = [".env*"]
commands = ["make deps"]
`), 0o644)
	c, raw, err := LoadFile(path)
	if err != nil || raw == nil {
		t.Fatal(err)
	}
	eff := overlay(Builtin("/bin/studiod"), c)
	if eff.Defaults.Agent != "codex" || eff.Defaults.PortBlock != 20 || eff.Defaults.PortBase != 41000 {
		t.Errorf("defaults: %+v", eff.Defaults)
	}
	if got := eff.Agents["claude"]; got.Command[0] != "claude" || got.IdleAfter.Seconds() != 2 {
		t.Errorf("claude overlaid: %+v", got)
	}
	if eff.Agents["mine"].Command[0] != "my-agent" {
		t.Errorf("new profile: %+v", eff.Agents["mine"])
	}
	cmds := repoCommands(c)
	if len(cmds) != 2 {
		t.Errorf("commands needing trust: %q", cmds)
	}

	os.WriteFile(path, []byte("[defaults]\nagnet = \"x\"\n"), 0o644)
	if _, _, err := LoadFile(path); err == nil || !strings.Contains(err.Error(), "agnet") {
		t.Errorf("unknown setting: got %v", err)
	}
	if _, raw, err := LoadFile(filepath.Join(dir, "missing.toml")); err != nil || raw != nil {
		t.Errorf("missing file: %v, %q", err, raw)
	}
}

func TestLastLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"hello\r\nworld\r\n", "world"},
		{"\x1b[1;32mDo you want to proceed? (y/n)\x1b[0m \r\n\r\n", "Do you want to proceed? (y/n)"},
		{"\x1b]0;title\x07prompt> ", "prompt>"},
		{"", ""},
	} {
		if got := lastLine([]byte(tc.in)); got != tc.want {
			t.Errorf("lastLine(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestScopes(t *testing.T) {
	for _, tc := range []struct {
		scopes []string
		path   string
		want   bool
	}{
		{nil, "anything.go", true},
		{[]string{"web/**"}, "web/app/main.ts", true},
		{[]string{"web/**"}, "server/main.go", false},
		{[]string{"web"}, "web/index.html", true},
		{[]string{"docs/web.md"}, "docs/web.md", true},
		{[]string{"docs/web.md"}, "docs/api.md", false},
		{[]string{"*.md"}, "README.md", true},
		{[]string{"*.md"}, "docs/README.md", false},
		{[]string{"{web,docs}/**"}, "docs/a.md", true},
	} {
		if got := inScope(tc.scopes, tc.path); got != tc.want {
			t.Errorf("inScope(%q, %q) = %v, want %v", tc.scopes, tc.path, got, tc.want)
		}
	}
	for _, bad := range [][]string{{""}, {"/abs/**"}, {"../up/**"}, {"a/../b"}, {"-x"}, {"web/[**"}} {
		if err := validateScopes(bad); err == nil {
			t.Errorf("validateScopes(%q): no error", bad)
		}
	}
	if got := outOfScope([]string{"web/**"}, []string{"web/a.ts", "server/b.go", "README.md"}); !slices.Equal(got, []string{"README.md", "server/b.go"}) {
		t.Errorf("outOfScope: %q", got)
	}
}
