package protocol

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sourcegraph/jsonrpc2"
)

// JSON-RPC's own error codes, and LSP's code for a cancelled request.
const (
	CodeParseError       = -32700
	CodeInvalidRequest   = -32600
	CodeMethodNotFound   = -32601
	CodeInvalidParams    = -32602
	CodeInternal         = -32603
	CodeRequestCancelled = -32800
)

// studiod's application error codes. They lie outside the ranges JSON-RPC
// (-32768 to -32000) and LSP (-32899 to -32800) reserve, since LSP shares the
// connection with them.
const (
	CodeNotFound      = -31001 // no such session, file or ref
	CodeInvalid       = -31002 // an argument failed validation
	CodeMergeConflict = -31003 // data: MergeConflictData
	CodeTargetDirty   = -31004 // the target's worktree has local changes in the way; data: TargetDirtyData
	CodeUntrusted     = -31005 // the repo's config defines commands and is not trusted
	CodeBusy          = -31006 // the agent is working or waiting for an answer; retry or force
	CodeGit           = -31007 // git missing or too old
	CodeForbidden     = -31012 // a session acting for another, or a hook without its session's secret
	CodeUnreviewed    = -31008 // require_review: the session's review is missing
)

// Error is a failure reported by the daemon: a JSON-RPC error object.
type Error struct {
	Code    int64
	Message string
	Data    []byte // raw JSON, may be nil
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code int64, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the wire code of err, or 0 when err is not a daemon error.
func CodeOf(err error) int64 {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func fromRPC(err error) error {
	var re *jsonrpc2.Error
	if errors.As(err, &re) {
		e := &Error{Code: re.Code, Message: re.Message}
		if re.Data != nil {
			e.Data = []byte(*re.Data)
		}
		return e
	}
	return err
}

// ToRPC converts err to the JSON-RPC error sent on the wire.
func ToRPC(err error) *jsonrpc2.Error {
	var e *Error
	if !errors.As(err, &e) {
		return &jsonrpc2.Error{Code: CodeInternal, Message: err.Error()}
	}
	re := &jsonrpc2.Error{Code: e.Code, Message: e.Message}
	if e.Data != nil {
		raw := jsonRaw(e.Data)
		re.Data = &raw
	}
	return re
}

// Fix says what to do about an application error, as a code: each face
// words it its own way, naming its own commands (the CLI its verbs, MCP its
// tools), from the error's data.
type Fix string

// Fixes.
const (
	FixListSessions     Fix = "listSessions"     // no such session: see which there are
	FixOtherName        Fix = "otherName"        // the name is taken: pick another, or remove that session
	FixStopFirst        Fix = "stopFirst"        // the agent is working: stop it first, or force
	FixWaitIdle         Fix = "waitIdle"         // the agent is working: wait until it is idle or waiting, or stop it
	FixTrust            Fix = "trust"            // the person reviews the repository's config (Path) and trusts it
	FixResolve          Fix = "resolve"          // the merge conflicts: resolve them on the session branch, then merge again
	FixSyncSend         Fix = "syncSend"         // the session conflicts with its target: sync it, giving the conflict to its agent
	FixCommitTarget     Fix = "commitTarget"     // local changes in the target's worktree (Path): commit or stash them, then merge again
	FixRetry            Fix = "retry"            // nothing was changed: run it again
	FixAddComments      Fix = "addComments"      // no unsent review comments: add some first
	FixCleanUp          Fix = "cleanUp"          // the session's worktree is gone: remove the session, forcing
	FixAnswerInTerminal Fix = "answerInTerminal" // the agent takes no keys for this answer: answer in its terminal
	FixCheckCommand     Fix = "checkCommand"     // no check command: configure one (Path) or pass one
	FixLandID           Fix = "landID"           // no land named: give the ID the land reported, or "last"
	FixRestartDaemon    Fix = "restartDaemon"    // the daemon must be restarted (upgrade, state lost)
	FixRecordStop       Fix = "recordStop"       // the stop was not recorded: stop the session again
	FixInstallGit       Fix = "installGit"       // git is missing or too old
	FixAnswerFirst      Fix = "answerFirst"      // the agent waits for an answer: answer it and let it finish its turn, or force
	FixResolveSync      Fix = "resolveSync"      // the sync conflicts: resolve them on the session branch, then sync again
	FixAskPerson        Fix = "askPerson"        // only the person may do this, from their own shell
	FixRaiseBudget      Fix = "raiseBudget"      // the session used its budget: raise or clear it first
	FixReview           Fix = "review"           // require_review: run a reviewer on the session (or let the plan's finish its turn), or force
)

// Fixes lists every Fix.
var Fixes = []Fix{
	FixListSessions, FixOtherName, FixStopFirst, FixWaitIdle, FixTrust, FixResolve, FixSyncSend,
	FixCommitTarget, FixRetry, FixAddComments, FixCleanUp, FixAnswerInTerminal, FixCheckCommand,
	FixLandID, FixRestartDaemon, FixRecordStop, FixInstallGit, FixAnswerFirst, FixResolveSync, FixAskPerson, FixRaiseBudget,
	FixReview,
}

// ErrorData is the data of studiod's application errors (the codes above
// CodeNotFound…CodeGit): what failed, which session, and what to do. A face
// writes its own sentence from it; Message is What (with the context the
// daemon added), naming no command of any face.
type ErrorData struct {
	What    string `json:"what,omitempty"`
	Session string `json:"session,omitempty"` // session name
	Repo    string `json:"repo,omitempty"`
	Path    string `json:"path,omitempty"` // the file or worktree the fix concerns
	Fix     Fix    `json:"fix,omitempty"`
}

// DataOf returns the ErrorData of a daemon error; ok is false when err is
// not one or carries none.
func DataOf(err error) (d ErrorData, ok bool) {
	var e *Error
	if !errors.As(err, &e) || len(e.Data) == 0 {
		return d, false
	}
	return d, json.Unmarshal(e.Data, &d) == nil
}
