package mcp

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/studiod/studiod/protocol"
)

// argError is a bad argument found by the adapter itself.
type argError struct{ msg string }

func (e argError) Error() string { return e.msg }

// toolError explains a failure and what to do about it. It is the one
// place that maps daemon error codes to guidance for a model, and the
// daemon's messages to words a model can act on (forModel).
func toolError(what string, err error) *mcp.CallToolResult {
	var ae argError
	if errors.As(err, &ae) {
		return mcp.NewToolResultError(fmt.Sprintf("%s: %s", what, ae.msg))
	}
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		return mcp.NewToolResultError(fmt.Sprintf("%s failed: %s", what, forModel(err.Error())))
	}
	var hint string
	switch pe.Code {
	case protocol.CodeNotFound:
		hint = "Call list_sessions to see the sessions of this repository, and pass repo if the session lives in another one."
	case protocol.CodeInvalid, protocol.CodeInvalidParams:
		hint = "Fix the argument and retry."
	case protocol.CodeMergeConflict:
		var d protocol.MergeConflictData
		if len(pe.Data) > 0 && json.Unmarshal(pe.Data, &d) == nil && len(d.Conflicts) > 0 {
			hint = "Conflicts:\n" + conflictsText(d.Conflicts) + "\n"
		}
		hint += "Nothing was changed. Ask the agent to rebase or resolve (add_review_comment, send_feedback), or merge the other side first."
	case protocol.CodeTargetDirty:
		hint = "The target branch's worktree has uncommitted changes in the way; ask the user to commit or stash them, then retry."
	case protocol.CodeUntrusted:
		hint = "The repository's .studio.toml defines commands the user has not trusted. Ask the user to review it and run `studiod trust` in the repository; an MCP client cannot trust it."
	case protocol.CodeBusy:
		hint = "The agent is working or waiting for an answer. Wait until get_session shows it idle (answer its question first), or stop it first with stop_session."
	case protocol.CodeGit:
		hint = "git is missing or too old on this machine; ask the user to run `studiod doctor`."
	case protocol.CodeMethodNotFound:
		return mcp.NewToolResultError(fmt.Sprintf("%s: this studiod daemon does not support it yet (%s). Ask the user to upgrade studiod and restart the daemon with `studiod shutdown`.", what, pe.Message))
	default:
		hint = "This looks like a studiod bug; ask the user to look at the daemon log (`studiod status` says where it is)."
	}
	return mcp.NewToolResultError(fmt.Sprintf("%s: %s. %s", what, forModel(pe.Message), hint))
}

// verbTools maps the CLI verbs the daemon's messages name (for a person at
// a terminal) to the tools that do the same.
var verbTools = map[string]string{
	"spawn":     ToolSpawnSession,
	"ls":        ToolListSessions,
	"list":      ToolListSessions,
	"show":      ToolGetSession,
	"logs":      ToolReadOutput,
	"send":      ToolSendInput,
	"diff":      ToolSessionDiff,
	"conflicts": ToolCheckConflicts,
	"who":       ToolCheckConflicts,
	"comment":   ToolAddReviewComment,
	"feedback":  ToolSendFeedback,
	"merge":     ToolMergeSession,
	"stop":      ToolStopSession,
	"rm":        ToolRemoveSession,
	"remove":    ToolRemoveSession,
}

// flagArgs maps CLI flags to the tool arguments that mean the same; the
// boolean ones are written "force: true".
var flagArgs = map[string]struct {
	arg  string
	bool bool
}{
	"--force":       {"force", true},
	"--keep-branch": {"keep_branch", true},
	"--dry-run":     {"dry_run", true},
	"--cleanup":     {"cleanup", true},
	"--name":        {"name", false},
	"--repo":        {"repo", false},
	"--agent":       {"agent", false},
	"--base":        {"base", false},
	"--target":      {"target", false},
	"--strategy":    {"strategy", false},
	"--against":     {"against", false},
}

var (
	// cliRE matches a CLI command in a message: "`studiod rm x --force`",
	// with the "run " that may precede it.
	cliRE = regexp.MustCompile("(run )?`studiod ([a-z][a-z-]*)([^`]*)`")
	// flagRE matches a flag standing alone in prose ("or pass --force").
	flagRE = regexp.MustCompile(`(^|[\s(])(--[a-z][a-z-]*)([\s),.;:]|$)`)
)

// forModel rewrites a daemon message written for a person at a terminal
// for a model using the tools: CLI commands become the tools that do the
// same, with their arguments ("`studiod rm x --force`" becomes
// `remove_session {"session":"x","force":true}`), flags become arguments,
// and commands no tool does are left to the user ("ask the user to run
// `studiod trust`"). The daemon's messages stay as they are for the CLI.
func forModel(msg string) string {
	msg = cliRE.ReplaceAllStringFunc(msg, func(m string) string {
		sub := cliRE.FindStringSubmatch(m)
		run, verb, rest := sub[1], sub[2], strings.Fields(sub[3])
		tool, ok := verbTools[verb]
		if !ok {
			if run != "" {
				return "ask the user to run `studiod " + verb + strings.TrimRight(sub[3], " ") + "`"
			}
			return "`studiod " + verb + strings.TrimRight(sub[3], " ") + "` (for the user to run: no tool does it)"
		}
		args := map[string]any{}
		for i := 0; i < len(rest); i++ {
			f, isFlag := flagArgs[rest[i]]
			switch {
			case isFlag && f.bool:
				args[f.arg] = true
			case isFlag && i+1 < len(rest):
				args[f.arg] = rest[i+1]
				i++
			case !strings.HasPrefix(rest[i], "-") && args["session"] == nil && verb != "spawn":
				args["session"] = rest[i]
			}
		}
		out := tool
		if run != "" {
			out = "call " + tool
		}
		if len(args) > 0 {
			b, _ := json.Marshal(args) // sorted keys
			out += " " + string(b)
		}
		return out
	})
	return flagRE.ReplaceAllStringFunc(msg, func(m string) string {
		sub := flagRE.FindStringSubmatch(m)
		f, ok := flagArgs[sub[2]]
		if !ok {
			return m
		}
		arg := f.arg
		if f.bool {
			arg += ": true"
		}
		return sub[1] + arg + sub[3]
	})
}
