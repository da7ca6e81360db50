package agents

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeAgent puts an executable script named name in dir.
func writeAgent(t *testing.T, dir, name, script string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// An agent that does not print its version in the time allowed is slow,
// not too old: doctor does not call its hooks untested.
func TestCheckAgentSlowVersion(t *testing.T) {
	bin := writeAgent(t, t.TempDir(), "gemini", "exec sleep 600")
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	c := CheckAgent(ctx, "gemini", Profile{Command: []string{bin}, Hooks: HooksGemini})
	if !c.Found || !c.Slow || c.Version != "" {
		t.Fatalf("check: %+v, want found, slow, no version", c)
	}
	if c.Hooks != "hooks" {
		t.Errorf("hooks %q, want %q: an unknown version is not an old one", c.Hooks, "hooks")
	}
}

// A provider configured by environment, the daemon's or the profile's, is
// signed in.
func TestSignInHintEnvironment(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	for _, k := range []string{"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "ANTHROPIC_BASE_URL",
		"OPENAI_API_KEY", "CODEX_API_KEY", "OPENAI_BASE_URL", "CODEX_HOME", "GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_GEMINI_BASE_URL"} {
		t.Setenv(k, "")
	}
	tests := []struct {
		name, hooks, program string
		env                  map[string]string // the profile's
		daemon               map[string]string
		signedIn             bool
	}{
		{name: "claude signed out", hooks: HooksClaude, program: "claude"},
		{name: "claude key in profile", hooks: HooksClaude, program: "claude", env: map[string]string{"ANTHROPIC_API_KEY": "k"}, signedIn: true},
		{name: "claude on Bedrock", hooks: HooksClaude, program: "claude", daemon: map[string]string{"CLAUDE_CODE_USE_BEDROCK": "1"}, signedIn: true},
		{name: "claude profile clears the daemon's key", hooks: HooksClaude, program: "claude", env: map[string]string{"ANTHROPIC_API_KEY": ""}, daemon: map[string]string{"ANTHROPIC_API_KEY": "k"}},
		{name: "codex signed out", hooks: HooksCodex, program: "codex"},
		{name: "codex key in profile", hooks: HooksCodex, program: "codex", env: map[string]string{"OPENAI_API_KEY": "k"}, signedIn: true},
		{name: "gemini on Vertex", hooks: HooksGemini, program: "gemini", daemon: map[string]string{"GOOGLE_GENAI_USE_VERTEXAI": "true"}, signedIn: true},
		{name: "opencode with a provider key", program: "opencode", daemon: map[string]string{"OPENROUTER_API_KEY": "k"}, signedIn: true},
		{name: "opencode signed out", program: "opencode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.daemon {
				t.Setenv(k, v)
			}
			hint := signInHint(tc.hooks, tc.program, tc.env)
			if (hint == "") != tc.signedIn {
				t.Errorf("hint %q; want signed in: %v", hint, tc.signedIn)
			}
		})
	}
}
