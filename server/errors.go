package server

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/plan"
	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/workspace"
)

// wireError maps a domain error to the error a client receives. It is the
// one place that decides wire codes and error data: the message says what
// failed, naming no command of any face, and the data (protocol.ErrorData)
// says what to do as a code each face words its own way.
func wireError(err error) *protocol.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	code, data := wireCode(err)
	if p, ok := agents.ProblemOf(err); ok {
		data.Session, data.Repo = p.Session, p.Repo
		if p.Path != "" {
			data.Path = p.Path
		}
		if p.Fix != "" {
			data.Fix = protocol.Fix(p.Fix)
		}
	}
	if code == protocol.CodeRequestCancelled {
		return &protocol.Error{Code: code, Message: "request cancelled"}
	}
	data.What = err.Error()
	var mc *agents.MergeConflictError
	var td *workspace.TargetDirtyError
	var pl *plan.Error
	var raw []byte
	switch {
	case errors.As(err, &pl):
		// A refused plan started nothing; data lists every problem.
		data.What += ": nothing was started"
		raw, _ = json.Marshal(struct {
			protocol.ErrorData
			Problems []string `json:"problems"`
		}{data, pl.Problems})
	case errors.As(err, &mc):
		raw, _ = json.Marshal(protocol.MergeConflictData{ErrorData: data, Conflicts: wireConflicts(mc.Conflicts), Paths: mc.Paths, Sent: mc.Sent, Via: mc.Via})
	case errors.As(err, &td):
		raw, _ = json.Marshal(protocol.TargetDirtyData{ErrorData: data, Worktree: td.Worktree, Paths: td.Paths})
	default:
		raw, _ = json.Marshal(data)
	}
	return &protocol.Error{Code: code, Message: data.What, Data: raw}
}

// wireCode is the code of a domain error, and what to do about it when
// the error's kind says.
func wireCode(err error) (int64, protocol.ErrorData) {
	var gv *workspace.GitVersionError
	var mc *agents.MergeConflictError
	var td *workspace.TargetDirtyError
	var pl *plan.Error
	var ur *agents.UnreviewedError
	switch {
	case errors.As(err, &mc):
		if mc.Again == "sync" {
			return protocol.CodeMergeConflict, protocol.ErrorData{Fix: protocol.FixResolveSync}
		}
		return protocol.CodeMergeConflict, protocol.ErrorData{Fix: protocol.FixResolve}
	case errors.As(err, &pl):
		return protocol.CodeInvalid, protocol.ErrorData{}
	case errors.As(err, &ur):
		return protocol.CodeUnreviewed, protocol.ErrorData{Fix: protocol.FixReview, Session: ur.Session}
	case errors.As(err, &td):
		return protocol.CodeTargetDirty, protocol.ErrorData{Fix: protocol.FixCommitTarget, Path: td.Worktree}
	case errors.Is(err, workspace.ErrUndoTooLate):
		return protocol.CodeInvalid, protocol.ErrorData{}
	case errors.Is(err, workspace.ErrTargetMoved):
		return protocol.CodeBusy, protocol.ErrorData{Fix: protocol.FixRetry}
	case errors.Is(err, workspace.ErrNothingToMerge), errors.Is(err, workspace.ErrBadPath), errors.Is(err, workspace.ErrNotFile):
		return protocol.CodeInvalid, protocol.ErrorData{}
	case errors.Is(err, agents.ErrNotFound), errors.Is(err, workspace.ErrNoDir):
		return protocol.CodeNotFound, protocol.ErrorData{}
	case errors.Is(err, agents.ErrInvalid),
		errors.Is(err, agents.ErrUncommitted),
		errors.Is(err, workspace.ErrBadRef),
		errors.Is(err, workspace.ErrNotRepo),
		errors.Is(err, workspace.ErrBare),
		errors.Is(err, workspace.ErrNoCommits):
		return protocol.CodeInvalid, protocol.ErrorData{}
	case errors.Is(err, agents.ErrUntrusted):
		return protocol.CodeUntrusted, protocol.ErrorData{Fix: protocol.FixTrust}
	case errors.Is(err, agents.ErrForbidden):
		return protocol.CodeForbidden, protocol.ErrorData{Fix: protocol.FixAskPerson}
	case errors.Is(err, workspace.ErrLocked):
		return protocol.CodeBusy, protocol.ErrorData{Fix: protocol.FixRetry}
	case errors.Is(err, agents.ErrBusy):
		return protocol.CodeBusy, protocol.ErrorData{Fix: protocol.FixWaitIdle}
	case errors.Is(err, workspace.ErrGitMissing), errors.As(err, &gv):
		return protocol.CodeGit, protocol.ErrorData{Fix: protocol.FixInstallGit}
	case errors.Is(err, context.Canceled):
		return protocol.CodeRequestCancelled, protocol.ErrorData{}
	}
	return protocol.CodeInternal, protocol.ErrorData{}
}

// problem is an error the server finds itself, with what to do about it.
func problem(code int64, fix protocol.Fix, what string) *protocol.Error {
	raw, _ := json.Marshal(protocol.ErrorData{What: what, Fix: fix})
	return &protocol.Error{Code: code, Message: what, Data: raw}
}
