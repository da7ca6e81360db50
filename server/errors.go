package server

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/workspace"
)

// wireError maps a domain error to the error a client receives. It is the
// one place that decides wire codes.
func wireError(err error) *protocol.Error {
	var pe *protocol.Error
	var gv *workspace.GitVersionError
	var mc *agents.MergeConflictError
	var td *workspace.TargetDirtyError
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.As(err, &mc):
		data, _ := json.Marshal(protocol.MergeConflictData{Conflicts: wireConflicts(mc.Conflicts), Paths: mc.Paths, Sent: mc.Sent, Via: mc.Via})
		return &protocol.Error{Code: protocol.CodeMergeConflict, Message: err.Error() + ": nothing was changed; resolve them on the session branch (or ask the agent to), then merge again", Data: data}
	case errors.As(err, &td):
		data, _ := json.Marshal(td)
		return &protocol.Error{Code: protocol.CodeTargetDirty, Message: err.Error() + ": nothing was changed; commit or stash those changes in " + td.Worktree + ", then merge again", Data: data}
	case errors.Is(err, workspace.ErrUndoTooLate):
		return &protocol.Error{Code: protocol.CodeInvalid, Message: err.Error()}
	case errors.Is(err, workspace.ErrTargetMoved):
		return &protocol.Error{Code: protocol.CodeBusy, Message: err.Error() + " while merging: nothing was changed; run the merge again"}
	case errors.Is(err, workspace.ErrNothingToMerge), errors.Is(err, workspace.ErrBadPath), errors.Is(err, workspace.ErrNotFile):
		return &protocol.Error{Code: protocol.CodeInvalid, Message: err.Error()}
	case errors.Is(err, agents.ErrNotFound), errors.Is(err, workspace.ErrNoDir):
		return &protocol.Error{Code: protocol.CodeNotFound, Message: err.Error()}
	case errors.Is(err, agents.ErrInvalid),
		errors.Is(err, agents.ErrUncommitted),
		errors.Is(err, workspace.ErrBadRef),
		errors.Is(err, workspace.ErrNotRepo),
		errors.Is(err, workspace.ErrBare),
		errors.Is(err, workspace.ErrNoCommits):
		return &protocol.Error{Code: protocol.CodeInvalid, Message: err.Error()}
	case errors.Is(err, agents.ErrUntrusted):
		return &protocol.Error{Code: protocol.CodeUntrusted, Message: err.Error()}
	case errors.Is(err, agents.ErrBusy), errors.Is(err, workspace.ErrLocked):
		return &protocol.Error{Code: protocol.CodeBusy, Message: err.Error()}
	case errors.Is(err, workspace.ErrGitMissing), errors.As(err, &gv):
		return &protocol.Error{Code: protocol.CodeGit, Message: err.Error()}
	case errors.Is(err, context.Canceled):
		return &protocol.Error{Code: protocol.CodeRequestCancelled, Message: "request cancelled"}
	}
	return &protocol.Error{Code: protocol.CodeInternal, Message: err.Error()}
}
