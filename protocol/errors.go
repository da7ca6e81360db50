package protocol

import (
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
	CodeTargetDirty   = -31004 // the target's worktree has local changes in the way
	CodeUntrusted     = -31005 // the repo's config defines commands and is not trusted
	CodeBusy          = -31006 // the agent is working; retry or force
	CodeGit           = -31007 // git missing or too old
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
