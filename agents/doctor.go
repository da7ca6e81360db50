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
	// Slow says the agent did not print its version in the time allowed
	// (a busy machine): its version is not known, not wrong.
	Slow bool `json:"slow,omitempty"`
	// Hooks says how studiod learns the agent's state: "hooks" (exact),
	// "hooks (untested version)", or "screen" (read from its terminal).
	Hooks string `json:"hooks"`
	// PermissionMode is the profile's permission_mode: the mode the agent
	// starts in ("" is the agent's own default).
	PermissionMode string `json:"permissionMode,omitempty"`
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

// versionWait is how long an agent may take to print its version: a CLI
// on Node can take many seconds on a busy machine (ctx's deadline, when it
// has one, comes first).
const versionWait = time.Minute

// WithUser is the built-in configuration with the user's config.toml
// layered on it, as a spawn sees it outside any repository: a profile the
// user overrides keeps every built-in setting the override leaves out.
func WithUser(self string, user Config) Config {
	return overlay(Builtin(self), user)
}

// CheckAgent finds profile p's program, asks it its version, and says how
// studiod will learn its state and whether it looks ready to use.
func CheckAgent(ctx context.Context, name string, p Profile) AgentCheck {
	c := AgentCheck{Name: name, Hooks: "screen", PermissionMode: p.PermissionMode}
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
	vctx, cancel := context.WithTimeout(ctx, versionWait)
	defer cancel()
	cmd := exec.CommandContext(vctx, path, "--version")
	cmd.Env = profileEnv(p)
	cmd.WaitDelay = time.Second
	if out, err := cmd.Output(); err == nil {
		c.Version = versionRE.FindString(string(out))
	} else if vctx.Err() != nil {
		c.Slow = true
	}
	if p.Hooks != "" {
		c.Hooks = "hooks"
		// An unknown version is not said to be too old.
		if min, ok := hooksSince[p.Hooks]; ok && c.Version != "" && !atLeast(c.Version, min) {
			c.Hooks = fmt.Sprintf("hooks (untested below %d.%d.%d: states may fall back to the screen)", min[0], min[1], min[2])
		}
	}
	hooks, program, state := newDriver(nil, p.Protocol).signIn(name, p)
	if state != "" {
		c.Hooks = state
	}
	c.Hint = signInHint(hooks, program, p.Env)
	return c
}

// profileEnv is the environment an agent of profile p runs with, for its
// version check: the daemon's, with the profile's env on top.
func profileEnv(p Profile) []string {
	env := os.Environ()
	for k, v := range p.Env {
		env = append(env, k+"="+v)
	}
	return env
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
// from its credentials' usual places and the environment it runs with (the
// daemon's, with the profile's env on top): a provider configured by
// environment (an API key, a gateway's base URL, Bedrock or Vertex) is
// signed in. "" when it looks ready.
func signInHint(hooks, name string, env map[string]string) string {
	home, _ := os.UserHomeDir()
	set := func(keys ...string) bool {
		for _, k := range keys {
			v, ok := env[k]
			if !ok {
				v = os.Getenv(k)
			}
			if v != "" {
				return true
			}
		}
		return false
	}
	exists := func(parts ...string) bool {
		_, err := os.Stat(filepath.Join(append([]string{home}, parts...)...))
		return err == nil
	}
	switch hooks {
	case HooksClaude:
		if set("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "ANTHROPIC_BASE_URL") || exists(".claude", ".credentials.json") {
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
		codexHome := env["CODEX_HOME"]
		if codexHome == "" {
			codexHome = os.Getenv("CODEX_HOME")
		}
		if codexHome == "" {
			codexHome = filepath.Join(home, ".codex")
		}
		if _, err := os.Stat(filepath.Join(codexHome, "auth.json")); err == nil || set("OPENAI_API_KEY", "CODEX_API_KEY", "OPENAI_BASE_URL") {
			return ""
		}
		// A provider of the user's own in Codex's config names its key's
		// variable (env_key); Codex reads it at run time.
		if b, err := os.ReadFile(filepath.Join(codexHome, "config.toml")); err == nil && strings.Contains(string(b), "model_provider") {
			return ""
		}
		return "looks signed out: run `codex login` (or set OPENAI_API_KEY)"
	case HooksGemini:
		if set("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_GEMINI_BASE_URL") || exists(".gemini", "oauth_creds.json") {
			return ""
		}
		return "looks signed out: run `gemini` once in a terminal to sign in (or set GEMINI_API_KEY)"
	}
	// opencode takes any provider's key from the environment.
	if name == "opencode" && !exists(".local", "share", "opencode", "auth.json") &&
		!set("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_GENERATIVE_AI_API_KEY", "OPENROUTER_API_KEY", "GROQ_API_KEY", "XAI_API_KEY", "DEEPSEEK_API_KEY") {
		return "no provider signed in: run `opencode auth login`"
	}
	return ""
}
