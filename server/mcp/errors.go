package mcp

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/studiod/studiod/protocol"
)

// argError is a bad argument found by the adapter itself.
type argError struct{ msg string }

func (e argError) Error() string { return e.msg }

// toolError explains a failure and what to do about it, in the tools'
// words: the daemon's message says what failed (it names no command), and
// its data what to do (protocol.Fix), worded here with this face's tools.
func toolError(what string, err error) *mcp.CallToolResult {
	var ae argError
	if errors.As(err, &ae) {
		return mcp.NewToolResultError(fmt.Sprintf("%s: %s", what, ae.msg))
	}
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		return mcp.NewToolResultError(fmt.Sprintf("%s failed: %s", what, toolWords(err.Error())))
	}
	if pe.Code == protocol.CodeMethodNotFound {
		return mcp.NewToolResultError(fmt.Sprintf("%s: this studiod daemon does not support it yet (%s). Ask the user to upgrade studiod and restart its daemon.", what, pe.Message))
	}
	d, _ := protocol.DataOf(err)
	hint := toolFix(d)
	if hint == "" {
		hint = codeHint(pe.Code)
	}
	if pe.Code == protocol.CodeMergeConflict {
		var mc protocol.MergeConflictData
		if len(pe.Data) > 0 && json.Unmarshal(pe.Data, &mc) == nil && len(mc.Conflicts) > 0 {
			hint = "Conflicts:\n" + conflictsText(mc.Conflicts) + "\n" + hint
		}
	}
	return mcp.NewToolResultError(fmt.Sprintf("%s: %s. %s", what, toolWords(pe.Message), hint))
}

// toolFix words what to do about an error with this face's tools.
func toolFix(d protocol.ErrorData) string {
	session := ""
	if d.Session != "" {
		session = fmt.Sprintf(" with session %q", d.Session)
	}
	switch d.Fix {
	case protocol.FixListSessions:
		return "Call " + ToolListSessions + " to see the sessions of this repository, and pass repo if the session lives in another one."
	case protocol.FixOtherName:
		return "Pick another name, or remove that session with " + ToolRemoveSession + "."
	case protocol.FixStopFirst:
		return "Stop it first with " + ToolStopSession + ", or call " + ToolRemoveSession + session + " and force=true (only when the user asked for it)."
	case protocol.FixAnswerFirst:
		return "The agent is waiting for an answer. Answer it with " + ToolAnswerSession + session + ", wait until " + ToolGetSession + " shows it idle, then retry (force=true only when the user asked for it)."
	case protocol.FixResolveSync:
		return "Nothing was changed. Give the conflicts to the agent with " + ToolSyncSession + session + " and send=true, then sync again once they are resolved."
	case protocol.FixAskPerson:
		return "Only the user may do this, from their own shell; a session acts only on itself."
	case protocol.FixRaiseBudget:
		return "The session used its budget. Ask the user whether to raise it or clear it with " + ToolSetBudget + session + "."
	case protocol.FixReview:
		return "Start a reviewer with " + ToolReviewBy + session + ", wait until its turn ends, then retry (force=true only when the user asked for it)."
	case protocol.FixWaitIdle:
		return "The agent is working. Wait until " + ToolGetSession + " shows it idle or waiting, or stop it first with " + ToolStopSession + "."
	case protocol.FixTrust:
		return "The repository's .studio.toml defines commands the user has not trusted. Ask the user to review it and trust the repository; an MCP client cannot trust it."
	case protocol.FixResolve:
		return "Nothing was changed. Give the conflicts to the agent (" + ToolSyncSession + session + " and send=true, or " + ToolSendFeedback + "), or merge the other side first."
	case protocol.FixSyncSend:
		return "Call " + ToolSyncSession + session + " and send=true to give the conflict to its agent."
	case protocol.FixCommitTarget:
		return "Nothing was changed. The target branch's worktree has uncommitted changes in the way; ask the user to commit or stash them, then retry."
	case protocol.FixRetry:
		return "Nothing was changed; call the tool again."
	case protocol.FixAddComments:
		return "Add some with " + ToolAddReviewComment + " first."
	case protocol.FixCleanUp:
		return "Call " + ToolRemoveSession + session + " and force=true to clean up (the branch keeps committed work)."
	case protocol.FixAnswerInTerminal:
		return "Answer with text in " + ToolSendInput + ", or ask the user to answer in the agent's terminal."
	case protocol.FixCheckCommand:
		return "Ask the user to configure a check command ([check] command in the repository's .studio.toml, which they then trust, or in their config.toml)."
	case protocol.FixLandID:
		return "Give the land ID " + ToolLandSessions + " returned, or last."
	case protocol.FixRestartDaemon:
		return "Ask the user to restart the daemon."
	case protocol.FixRecordStop:
		return "Call " + ToolStopSession + session + " again to record it."
	case protocol.FixInstallGit:
		return "git is missing or too old on this machine; ask the user to install git 2.38 or later."
	}
	return ""
}

// codeHint is what to do about an error whose data names no fix.
func codeHint(code int64) string {
	switch code {
	case protocol.CodeNotFound:
		return toolFix(protocol.ErrorData{Fix: protocol.FixListSessions})
	case protocol.CodeInvalid, protocol.CodeInvalidParams:
		return "Fix the argument and retry."
	case protocol.CodeBusy:
		return toolFix(protocol.ErrorData{Fix: protocol.FixWaitIdle})
	case protocol.CodeUntrusted:
		return toolFix(protocol.ErrorData{Fix: protocol.FixTrust})
	case protocol.CodeGit:
		return toolFix(protocol.ErrorData{Fix: protocol.FixInstallGit})
	case protocol.CodeRequestCancelled:
		return "The request was cancelled."
	}
	return "This looks like a studiod bug; ask the user to look at the daemon log."
}
