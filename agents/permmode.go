package agents

import "strings"

// Permission modes: a profile's permission_mode is passed to the agent as
// its own flag, so the person chooses whether it asks before it edits or
// runs commands (and so whether its sessions ever wait for a permission).
// Empty leaves the agent's own default, from the person's settings for
// that agent. The values are the agent's own; the agent checks them.

// permissionFlags is each hook kind's flag for its permission mode.
var permissionFlags = map[string]string{
	HooksClaude: "--permission-mode",  // default, acceptEdits, plan, bypassPermissions, …
	HooksCodex:  "--ask-for-approval", // untrusted, on-failure, on-request, never
	HooksGemini: "--approval-mode",    // default, auto_edit, yolo
}

// permissionArgs returns the flags that set profile p's permission mode.
func permissionArgs(agent string, p Profile) ([]string, error) {
	if p.PermissionMode == "" {
		return nil, nil
	}
	flag, ok := permissionFlags[p.Hooks]
	if !ok {
		return nil, invalidf("agent %q: permission_mode %q: studiod passes a permission mode to Claude Code, Codex and Gemini CLI profiles (hooks = claude, codex or gemini); for another agent put its own flag in its command (for an ACP profile, see mode)", agent, p.PermissionMode)
	}
	if strings.HasPrefix(p.PermissionMode, "-") || strings.ContainsAny(p.PermissionMode, " \t\n") {
		return nil, invalidf("agent %q: permission_mode %q: give the mode's name", agent, p.PermissionMode)
	}
	return []string{flag, p.PermissionMode}, nil
}

// PermissionMode returns the permission mode argv sets for its agent (by
// permission_mode or written in the command), "" when it leaves the
// agent's default.
func PermissionMode(argv []string) string {
	for i, a := range argv {
		for _, flag := range permissionFlags {
			if a == flag && i+1 < len(argv) {
				return argv[i+1]
			}
			if v, ok := strings.CutPrefix(a, flag+"="); ok {
				return v
			}
		}
	}
	return ""
}
