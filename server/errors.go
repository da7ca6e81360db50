package server

import (
	"context"
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
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.Is(err, agents.ErrNotFound):
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
	case errors.Is(err, agents.ErrBusy):
		return &protocol.Error{Code: protocol.CodeBusy, Message: err.Error()}
	case errors.Is(err, workspace.ErrGitMissing), errors.As(err, &gv):
		return &protocol.Error{Code: protocol.CodeGit, Message: err.Error()}
	case errors.Is(err, context.Canceled):
		return &protocol.Error{Code: -32800, Message: "request cancelled"}
	}
	return &protocol.Error{Code: protocol.CodeInternal, Message: err.Error()}
}
