package agents

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/studiod/studiod/agents/host"
)

// launch is what studiod adds to an agent's command line and environment
// so that it reports its state through hooks: flags inserted after the
// program name, and environment. Files it needs go in the session's own
// directory, never in the worktree (they would show in the session's diff)
// nor in the user's config.
type launch struct {
	args []string
	env  []string
}

// hookEvents are the events studiod hooks, per hook kind.
var hookEvents = map[string][]string{
	HooksClaude: {"SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PermissionRequest", "Notification", "Stop", "StopFailure"},
	HooksCodex:  {"SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PermissionRequest", "Stop"},
	HooksGemini: {"SessionStart", "BeforeAgent", "BeforeTool", "AfterTool", "Notification", "AfterAgent"},
}

// hookCommand is the command an agent runs for each hook: the session comes
// from STUDIO_SESSION_ID in the agent's environment, so the command is the
// same for every session (Codex asks the person to trust hook commands it
// has not seen). The small studiod-hook starts in a few milliseconds,
// studiod itself in tens: agents run it at every tool call.
func (m *Manager) hookCommand(s *Session, kind string) []string {
	if s.Host != "" {
		// On a host: the studiod there, first on the agent's PATH.
		return []string{"studiod", "hook", "--agent", kind}
	}
	if small := filepath.Join(filepath.Dir(m.opts.Self), "studiod-hook"); isExecutable(small) {
		return []string{small, "--agent", kind}
	}
	return []string{m.opts.Self, "hook", "--agent", kind}
}

// prepareLaunch makes s's hooks for profile p. resume says the agent
// continues s's conversation (whose id the resume command names) rather
// than starting one.
func (m *Manager) prepareLaunch(ctx context.Context, s *Session, p Profile, resume bool) (launch, error) {
	perm, err := permissionArgs(s.Agent, p)
	if err != nil {
		return launch{}, err
	}
	l, err := m.hooksLaunch(ctx, s, p, resume)
	if err != nil {
		return l, err
	}
	l.args = append(l.args, perm...)
	if runsCodex(p) {
		env, err := m.prepareCodexHome(ctx, s, p)
		if err != nil {
			return l, fmt.Errorf("codex home: %w", err)
		}
		l.env = append(l.env, env...)
	}
	return l, nil
}

// runsCodex reports whether profile p runs Codex: its hooks, or
// codex-acp.
func runsCodex(p Profile) bool {
	return p.Hooks == HooksCodex || len(p.Command) > 0 && filepath.Base(p.Command[0]) == "codex-acp"
}

// hooksLaunch makes s's hooks for profile p's hook kind.
func (m *Manager) hooksLaunch(ctx context.Context, s *Session, p Profile, resume bool) (launch, error) {
	switch p.Hooks {
	case "":
		return launch{}, nil
	case HooksClaude:
		return m.claudeLaunch(s, resume)
	case HooksCodex:
		return m.codexLaunch(s), nil
	case HooksGemini:
		return m.geminiLaunch(ctx, s, p, resume)
	}
	return launch{}, invalidf("agent %q: hooks %q: use %s, %s or %s", s.Agent, p.Hooks, HooksClaude, HooksCodex, HooksGemini)
}

// claudeLaunch writes Claude Code's settings with studiod's hooks
// (--settings merges them over the user's own) and names the conversation
// (--session-id), so that feedback after exit resumes exactly it.
func (m *Manager) claudeLaunch(s *Session, resume bool) (launch, error) {
	type command struct {
		Type    string `json:"type"`
		Command string `json:"command"`
		Timeout int    `json:"timeout"`
	}
	type matcher struct {
		Matcher string    `json:"matcher"`
		Hooks   []command `json:"hooks"`
	}
	hooks := map[string][]matcher{}
	cmd := shellJoin(m.hookCommand(s, HooksClaude))
	for _, ev := range hookEvents[HooksClaude] {
		hooks[ev] = []matcher{{Matcher: "*", Hooks: []command{{Type: "command", Command: cmd, Timeout: 10}}}}
	}
	settings := map[string]any{"hooks": hooks}
	var l launch
	if s.Host != "" {
		// A file here is not there: the settings go on the command line
		// (--settings takes a file or the JSON itself).
		b, err := json.Marshal(settings)
		if err != nil {
			return launch{}, err
		}
		l.args = []string{"--settings", string(b)}
	} else {
		file := filepath.Join(s.Dir, "claude-settings.json")
		if err := writeJSON(file, settings); err != nil {
			return launch{}, err
		}
		l.args = []string{"--settings", file}
	}
	if !resume {
		if s.Conversation == "" {
			s.Conversation = newUUID()
		}
		l.args = append(l.args, "--session-id", s.Conversation)
	}
	return l, nil
}

// codexLaunch passes Codex its hooks and its notify program as config
// overrides on the command line.
func (m *Manager) codexLaunch(s *Session) launch {
	cmd := tomlString(shellJoin(m.hookCommand(s, HooksCodex)))
	var l launch
	for _, ev := range hookEvents[HooksCodex] {
		l.args = append(l.args, "-c", fmt.Sprintf(`hooks.%s=[{hooks=[{type="command",command=%s}]}]`, ev, cmd))
	}
	var notify []string
	for _, a := range m.hookCommand(s, HooksCodexNotify) {
		notify = append(notify, tomlString(a))
	}
	l.args = append(l.args, "-c", "notify=["+strings.Join(notify, ",")+"]")
	return l
}

// geminiLaunch gives Gemini CLI a home of its own for the session
// (GEMINI_CLI_HOME), made where the session runs (host.MakeGeminiHome): its
// settings are the person's with studiod's hooks added, and everything
// else they keep there (credentials, trusted folders) is linked, so
// signing in and trust work as usual.
func (m *Manager) geminiLaunch(ctx context.Context, s *Session, p Profile, resume bool) (launch, error) {
	cmd := shellJoin(m.hookCommand(s, HooksGemini))
	hooks := map[string]any{}
	for _, ev := range hookEvents[HooksGemini] {
		hooks[ev] = map[string]any{"matcher": "*", "hooks": []any{map[string]any{"type": "command", "command": cmd, "name": "studiod"}}}
	}
	var l launch
	if s.Host != "" {
		env, err := m.hostAgentHome(ctx, s, p, host.AgentHome{Kind: host.HomeGemini, Hooks: hooks})
		if err != nil {
			return launch{}, err
		}
		l.env = env
	} else {
		home := filepath.Join(s.Dir, "gemini-home")
		user := os.Getenv("GEMINI_CLI_HOME")
		if user == "" {
			user, _ = os.UserHomeDir()
		}
		if err := host.MakeGeminiHome(home, user, hooks); err != nil {
			return launch{}, err
		}
		l.env = []string{"GEMINI_CLI_HOME=" + home}
	}
	// On a host the profile says whether the workspace is trusted (the
	// host user's own environment is not known here).
	trustEnv, ok := p.Env["GEMINI_CLI_TRUST_WORKSPACE"]
	if !ok && s.Host == "" {
		trustEnv = os.Getenv("GEMINI_CLI_TRUST_WORKSPACE")
	}
	trusted := trustEnv == "true"
	if !trusted && m.folderTrusted(s.Repo, "gemini") {
		l.env = append(l.env, "GEMINI_CLI_TRUST_WORKSPACE=true")
		trusted = true
	}
	// A Gemini CLI that asks for trust starts itself again once trusted,
	// with the same arguments: a --session-id would then name a session
	// that exists, and it gives up. Untrusted, the conversation is learnt
	// from its SessionStart hook instead.
	if !resume && trusted {
		if s.Conversation == "" {
			s.Conversation = newUUID()
		}
		l.args = append(l.args, "--session-id", s.Conversation)
	}
	return l, nil
}

// withLaunch returns argv with l's flags after the program name.
func withLaunch(argv []string, l launch) []string {
	if len(l.args) == 0 || len(argv) == 0 {
		return argv
	}
	out := append([]string{argv[0]}, l.args...)
	return append(out, argv[1:]...)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// shellJoin quotes argv for sh.
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	b, _ := json.Marshal(s) // JSON string escapes are valid TOML ones
	return string(b)
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
