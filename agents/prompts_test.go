package agents

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/studiod/studiod/vocab"
)

func readScreen(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "screens", name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TestMatchPromptRecordedScreens runs the matcher over every recorded
// screen (rendered as xterm.js renders them; the shim's terminal renders
// them the same, see agents/shim TestTermGoldenScreens).
func TestMatchPromptRecordedScreens(t *testing.T) {
	tests := []struct {
		screen, agent string
		name          string // "" means no prompt
		kind          vocab.WaitKind
		question      string
		subject       string
	}{
		{"claude-trust", "claude", "claude-trust", PromptTrust, "Is this a project you created or one you trust? (/tmp/cc1/repo)", "/tmp/cc1/repo"},
		{"claude-trust-2.1.197", "claude", "claude-trust", PromptTrust, "Is this a project you created or one you trust? (/tmp/record-2349090521/repo)", "/tmp/record-2349090521/repo"},
		{"claude-permission", "claude", "claude-permission-write", PromptPermission, "Do you want to create hello.py?", "Write hello.py"},
		{"claude-permission-edit", "claude", "claude-permission-edit", PromptPermission, "Do you want to make this edit to README?", "Edit README"},
		{"claude-permission-bash", "claude", "claude-permission-bash", PromptPermission, "Do you want to proceed? (Run `printf 1 > one.txt`)", "Run `printf 1 > one.txt`"},
		{"claude-idle", "claude", "", "", "", ""},
		// AskUserQuestion's menu: its hooks report it, with its options.
		{"claude-ask", "claude", "", "", "", ""},
		{"codex-login", "codex", "codex-login", PromptLogin, "Sign in to Codex (with ChatGPT, a device code, or another way)", ""},
		{"codex-trust", "codex", "codex-trust", PromptTrust, "Trust this folder? (/tmp/cx2/repo)", "/tmp/cx2/repo"},
		{"codex-hooks-review", "codex", "codex-hooks-review", PromptTrust, "Hooks need review: allow trusts studiod's hooks for this repository (Codex records them in studiod's own Codex home for it, not in your ~/.codex); reject goes on without them (8 hooks are new or changed)", "8 hooks are new or changed"},
		{"codex-permission", "codex", "codex-permission", PromptPermission, "Would you like to run the following command? (Run `printf 'print(1)\\n' > /tmp/cx3/outside.py`)", "Run `printf 'print(1)\\n' > /tmp/cx3/outside.py`"},
		{"codex-idle", "codex", "", "", "", ""},
		{"gemini-trust", "gemini", "gemini-trust", PromptTrust, "Do you trust the files in this folder? (repo)", "repo"},
		{"gemini-auth", "gemini", "gemini-auth", PromptLogin, "How would you like to authenticate for this project?", ""},
		{"gemini-permission", "gemini", "gemini-permission", PromptPermission, "Apply this change? (WriteFile: Writing to hello.py)", "WriteFile: Writing to hello.py"},
		{"gemini-permission-shell", "gemini", "gemini-permission-shell", PromptPermission, "Allow execution of [Shell]? (Run `printf 1 > one.txt`)", "Run `printf 1 > one.txt`"},
		{"gemini-idle", "gemini", "", "", "", ""},
		{"opencode-home", "opencode", "opencode-login", PromptLogin, "opencode has no AI provider: run /connect to add one", ""},
		{"opencode-permission", "opencode", "opencode-permission", PromptPermission, "Permission required (Edit hello.py)", "Edit hello.py"},
		{"opencode-permission-bash", "opencode", "opencode-permission", PromptPermission, "Permission required (Run `printf 1 > one.txt`)", "Run `printf 1 > one.txt`"},
		{"opencode-idle", "opencode", "", "", "", ""},
	}
	// Every recorded screen is in the table.
	files, _ := filepath.Glob(filepath.Join("testdata", "screens", "*.txt"))
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".txt")
		if !slices.ContainsFunc(tests, func(tt struct {
			screen, agent string
			name          string
			kind          vocab.WaitKind
			question      string
			subject       string
		}) bool {
			return tt.screen == name
		}) {
			t.Errorf("recorded screen %s is not in this test's table", name)
		}
	}
	for _, tt := range tests {
		t.Run(tt.screen, func(t *testing.T) {
			screen := readScreen(t, tt.screen)
			p, ok := matchPrompt(tt.agent, screen)
			if tt.name == "" {
				if ok {
					t.Fatalf("got prompt %+v on an idle screen", p)
				}
				return
			}
			if !ok {
				t.Fatalf("no prompt found, want %s", tt.name)
			}
			if p.Agent != tt.agent || p.Name != tt.name || p.Kind != tt.kind || p.Question != tt.question || p.Subject != tt.subject {
				t.Errorf("got %s/%s %s %q about %q\nwant %s/%s %s %q about %q",
					p.Agent, p.Name, p.Kind, p.Question, p.Subject, tt.agent, tt.name, tt.kind, tt.question, tt.subject)
			}
			if len(p.Keys[AnswerAllow]) == 0 {
				t.Errorf("no keys for %s", AnswerAllow)
			}
			// The screens of one agent are no prompt for another.
			for _, other := range []string{"claude", "codex", "gemini", "opencode"} {
				if other != tt.agent {
					if q, ok := matchPrompt(other, screen); ok {
						t.Errorf("as %s: got %+v", other, q)
					}
				}
			}
		})
	}
}

func TestMatchPromptKeys(t *testing.T) {
	tests := []struct {
		screen, agent string
		keys          map[string][]string
	}{
		// The trust options by meaning: "No, exit" selected first at
		// 2.1.332, "Yes" at 2.1.197, in the other order.
		{"claude-trust", "claude", map[string][]string{AnswerAllow: {"\x1b[B", "\r"}, AnswerReject: {"\r"}}},
		{"claude-trust-2.1.197", "claude", map[string][]string{AnswerAllow: {"\r"}, AnswerReject: {"\x1b[B", "\r"}}},
		{"claude-permission", "claude", map[string][]string{AnswerAllow: {"1"}, AnswerAlways: {"2"}, AnswerReject: {"\x1b"}}},
		{"claude-permission-bash", "claude", map[string][]string{AnswerAllow: {"1"}, AnswerAlways: {"2"}, AnswerReject: {"\x1b"}}},
		{"codex-login", "codex", map[string][]string{AnswerAllow: {"\r"}}},
		{"codex-trust", "codex", map[string][]string{AnswerAllow: {"1\r"}, AnswerReject: {"\x1b"}}},
		{"codex-hooks-review", "codex", map[string][]string{AnswerAllow: {"2\r"}, AnswerReject: {"3\r"}}},
		{"codex-permission", "codex", map[string][]string{AnswerAllow: {"y"}, AnswerAlways: {"p"}, AnswerReject: {"\x1b"}}},
		{"gemini-trust", "gemini", map[string][]string{AnswerAllow: {"1"}, AnswerReject: {"3"}}},
		{"gemini-auth", "gemini", map[string][]string{AnswerAllow: {"1"}}},
		{"gemini-permission", "gemini", map[string][]string{AnswerAllow: {"1"}, AnswerAlways: {"2"}, AnswerReject: {"\x1b"}}},
		{"opencode-permission", "opencode", map[string][]string{AnswerAllow: {"\r"}, AnswerAlways: {"\x1b[C\r\r"}, AnswerReject: {"\x1b"}}},
		{"opencode-home", "opencode", map[string][]string{AnswerAllow: {"/connect", "\r"}}},
	}
	for _, tt := range tests {
		t.Run(tt.screen, func(t *testing.T) {
			p, ok := matchPrompt(tt.agent, readScreen(t, tt.screen))
			if !ok {
				t.Fatal("no prompt")
			}
			if len(p.Keys) != len(tt.keys) {
				t.Errorf("got answers %v, want %v", p.Keys, tt.keys)
			}
			for a, want := range tt.keys {
				if got := p.Keys[a]; !slices.Equal(got, want) {
					t.Errorf("%s: got %q, want %q", a, got, want)
				}
			}
			// The caller owns its copy.
			p.Keys[AnswerAllow][0] = "changed"
			if q, _ := matchPrompt(tt.agent, readScreen(t, tt.screen)); q.Keys[AnswerAllow][0] == "changed" {
				t.Error("matchPrompt returns the table's own keys")
			}
		})
	}
}

// TestMatchPromptScreens covers what the recordings do not show: a moved
// selection, a prompt's words in the transcript, the lowest prompt winning.
func TestMatchPromptScreens(t *testing.T) {
	trust := readScreen(t, "claude-trust")
	moved := slices.Clone(trust)
	for i, r := range moved {
		switch strings.TrimSpace(r) {
		case "❯ No, exit":
			moved[i] = "   No, exit"
		case "Yes, I trust this folder":
			moved[i] = " ❯ Yes, I trust this folder"
		}
	}
	if p, ok := matchPrompt("claude", moved); !ok || !slices.Equal(p.Keys[AnswerAllow], []string{"\r"}) || !slices.Equal(p.Keys[AnswerReject], []string{keyUp, keyEnter}) {
		t.Errorf("trust with Yes selected: got %+v %v, want allow = Enter, reject = Up Enter", p, ok)
	}

	// Gemini CLI's write prompt right after trust offers no "Allow for
	// this session": always has no keys there, and 2 (the editor) is
	// never typed for it.
	write := readScreen(t, "gemini-permission")
	for i, r := range write {
		if strings.Contains(r, "2. Allow for this session") {
			write[i] = strings.Replace(r, "2. Allow for this session", "2. Modify with external editor", 1)
		}
	}
	if p, ok := matchPrompt("gemini", write); !ok || !slices.Equal(p.Keys[AnswerAllow], []string{"1"}) || p.Keys[AnswerAlways] != nil {
		t.Errorf("gemini write without a session option: got %+v %v, want allow = 1 and no always", p, ok)
	}

	// The question in the transcript, without its options, is no prompt.
	echoed := append(slices.Clone(readScreen(t, "claude-idle")[:10]), "● Do you want to create hello.py?", "", "Sure.")
	if p, ok := matchPrompt("claude", echoed); ok {
		t.Errorf("question in the transcript: got %+v", p)
	}

	// An old prompt scrolled up and a live one below: the live one counts.
	perm := readScreen(t, "claude-permission")
	two := append(slices.Clone(perm[28:]), perm[28:]...)
	for i := len(perm[28:]); i < len(two); i++ {
		two[i] = strings.Replace(two[i], "hello.py", "world.py", 1)
	}
	if p, ok := matchPrompt("claude", two); !ok || p.Subject != "Write world.py" {
		t.Errorf("two prompts: got %+v %v, want the lower one (world.py)", p, ok)
	}

	if _, ok := matchPrompt("unknown", perm); ok {
		t.Error("an unknown agent matched")
	}
	if _, ok := matchPrompt("claude", nil); ok {
		t.Error("an empty screen matched")
	}
}

// TestBuiltinPrompts checks the table itself.
func TestBuiltinPrompts(t *testing.T) {
	for _, d := range builtinPrompts {
		if d.agent == "" || d.name == "" || !slices.Contains([]vocab.WaitKind{PromptPermission, PromptQuestion, PromptTrust, PromptLogin}, d.kind) {
			t.Errorf("%s: incomplete: %+v", d.name, d)
		}
		if len(d.keys[AnswerAllow]) == 0 && d.choices[AnswerAllow] == "" {
			t.Errorf("%s: no keys to allow", d.name)
		}
		if d.kind == PromptPermission && (len(d.keys[AnswerAlways]) == 0 && d.choices[AnswerAlways] == "" || len(d.keys[AnswerReject]) == 0) {
			t.Errorf("%s: a permission needs allow, always and reject keys", d.name)
		}
		for a, ks := range d.keys {
			if !slices.Contains([]string{AnswerAllow, AnswerAlways, AnswerReject}, a) || len(ks) == 0 || slices.Contains(ks, "") {
				t.Errorf("%s: bad keys for %q: %q", d.name, a, ks)
			}
		}
	}
}

// TestShowsTaken: opencode's screen shows a prompt taken by the header of
// the answer it starts, not by the prompt waiting in its input box as it
// starts up.
func TestShowsTaken(t *testing.T) {
	starting := readScreen(t, "opencode-home")
	for i, r := range starting {
		if strings.Contains(r, "Ask anything") {
			starting[i] = "                       ┃  Create hello.py"
		}
	}
	tests := []struct {
		name, agent string
		screen      []string
		taken, ok   bool
	}{
		{"home", "opencode", readScreen(t, "opencode-home"), false, true},
		{"starting with a prompt", "opencode", starting, false, true},
		{"asking", "opencode", readScreen(t, "opencode-permission"), true, true},
		{"done", "opencode", readScreen(t, "opencode-idle"), true, true},
		{"no mark for claude", "claude", readScreen(t, "claude-idle"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if taken, ok := showsTaken(tt.agent, tt.screen); taken != tt.taken || ok != tt.ok {
				t.Errorf("showsTaken = %v, %v; want %v, %v", taken, ok, tt.taken, tt.ok)
			}
		})
	}
}
