package agents

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// AgentCheck is what `studiod doctor` says about one agent profile.
type AgentCheck struct {
	Name    string `json:"name"`
	Command string `json:"command"`
	Found   bool   `json:"found"`
	Path    string `json:"path,omitempty"`
	Version string `json:"version,omitempty"`
	// Hooks says how studiod learns the agent's state: "hooks" (exact),
	// "hooks (untested version)", or "screen" (read from its terminal).
	Hooks string `json:"hooks"`
	// Hint says what to do when the agent looks signed out or not set up.
	Hint string `json:"hint,omitempty"`
}

// hooksSince is the oldest version of each agent whose hooks studiod was
// tested with: what the hooks need first appeared there or earlier.
var hooksSince = map[string][3]int{
	HooksClaude: {2, 1, 0},
	HooksCodex:  {0, 171, 0},
	HooksGemini: {0, 61, 0},
}

var versionRE = regexp.MustCompile(`\d+\.\d+(\.\d+)?`)

// CheckAgent finds profile p's program, asks it its version, and says how
// studiod will learn its state and whether it looks ready to use.
func CheckAgent(ctx context.Context, name string, p Profile) AgentCheck {
	c := AgentCheck{Name: name, Hooks: "screen"}
	if len(p.Command) == 0 {
		return c
	}
	c.Command = p.Command[0]
	path, err := exec.LookPath(p.Command[0])
	if err != nil {
		c.Hint = fmt.Sprintf("%s is not on PATH: install it, or set [agents.%s] command", p.Command[0], name)
		return c
	}
	c.Found, c.Path = true, path
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(vctx, path, "--version").Output(); err == nil {
		c.Version = versionRE.FindString(string(out))
	}
	if p.Hooks != "" {
		c.Hooks = "hooks"
		if min, ok := hooksSince[p.Hooks]; ok && !atLeast(c.Version, min) {
			c.Hooks = fmt.Sprintf("hooks (untested below %d.%d.%d: states may fall back to the screen)", min[0], min[1], min[2])
		}
	}
	hooks, program := p.Hooks, name
	if p.Protocol == ProtocolACP {
		// The same sign-in as the CLI the ACP agent runs or wraps.
		c.Hooks = "acp"
		program = filepath.Base(p.Command[0])
		hooks = map[string]string{"claude-agent-acp": HooksClaude, "codex-acp": HooksCodex, "gemini": HooksGemini}[program]
	}
	c.Hint = signInHint(hooks, program)
	return c
}

// atLeast reports whether version v is min or newer; an unknown version is
// not.
func atLeast(v string, min [3]int) bool {
	parts := strings.Split(v, ".")
	for i := 0; i < 3; i++ {
		n := 0
		if i < len(parts) {
			var err error
			if n, err = strconv.Atoi(parts[i]); err != nil {
				return false
			}
		} else if i == 0 {
			return false
		}
		if n != min[i] {
			return n > min[i]
		}
	}
	return true
}

// signInHint says what to do when an agent looks signed out or not set up,
// from its credentials' usual places; "" when it looks ready.
func signInHint(hooks, name string) string {
	home, _ := os.UserHomeDir()
	exists := func(parts ...string) bool {
		_, err := os.Stat(filepath.Join(append([]string{home}, parts...)...))
		return err == nil
	}
	switch hooks {
	case HooksClaude:
		if os.Getenv("ANTHROPIC_API_KEY") != "" || os.Getenv("ANTHROPIC_AUTH_TOKEN") != "" || exists(".claude", ".credentials.json") {
			return ""
		}
		var cfg struct {
			Onboarded bool            `json:"hasCompletedOnboarding"`
			Account   json.RawMessage `json:"oauthAccount"`
		}
		b, err := os.ReadFile(filepath.Join(home, ".claude.json"))
		if err == nil && json.Unmarshal(b, &cfg) == nil && cfg.Onboarded && len(cfg.Account) > 0 {
			return ""
		}
		return "looks signed out or not set up: run `claude` once in a terminal to sign in (or set ANTHROPIC_API_KEY)"
	case HooksCodex:
		codexHome := os.Getenv("CODEX_HOME")
		if codexHome == "" {
			codexHome = filepath.Join(home, ".codex")
		}
		if _, err := os.Stat(filepath.Join(codexHome, "auth.json")); err == nil || os.Getenv("OPENAI_API_KEY") != "" {
			return ""
		}
		return "looks signed out: run `codex login` (or set OPENAI_API_KEY)"
	case HooksGemini:
		if os.Getenv("GEMINI_API_KEY") != "" || os.Getenv("GOOGLE_API_KEY") != "" || exists(".gemini", "oauth_creds.json") {
			return ""
		}
		return "looks signed out: run `gemini` once in a terminal to sign in (or set GEMINI_API_KEY)"
	}
	if name == "opencode" && !exists(".local", "share", "opencode", "auth.json") {
		return "no provider signed in: run `opencode auth login`"
	}
	return ""
}
