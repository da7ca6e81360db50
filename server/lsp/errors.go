package lsp

import (
	"errors"

	"github.com/studiod/studiod/protocol"
)

// editorError words a daemon error for the editor: the daemon's message,
// then what to do in an editor's words (its commands where it has them),
// from the error's data, which goes along unchanged.
func editorError(err error) error {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		return err
	}
	d, ok := protocol.DataOf(pe)
	if !ok {
		return pe
	}
	fix := editorFix(d)
	if fix == "" {
		return pe
	}
	return &protocol.Error{Code: pe.Code, Message: pe.Message + ": " + fix, Data: pe.Data}
}

// editorFix words what to do about an error for a person in an editor.
func editorFix(d protocol.ErrorData) string {
	in := func(dir string) string {
		if dir == "" {
			return ""
		}
		return " in " + dir
	}
	switch d.Fix {
	case protocol.FixListSessions:
		return "see the list of sessions"
	case protocol.FixOtherName:
		return "pick another name, or remove that session first"
	case protocol.FixStopFirst:
		return "stop it first (Stop Session), or remove it with force"
	case protocol.FixAnswerFirst:
		return "answer it (Answer Session) and let it finish its turn, or force"
	case protocol.FixResolveSync:
		return "nothing was changed; resolve them on the session branch (Sync Session with Target gives them to its agent), then sync again"
	case protocol.FixAskPerson:
		return "only the person may do this, from their own shell (outside any session)"
	case protocol.FixRaiseBudget:
		return "it used its budget: raise or clear the budget first"
	case protocol.FixReview:
		return "start a reviewer on it, or force"
	case protocol.FixWaitIdle:
		return "wait until it is idle or waiting, or stop it (Stop Session)"
	case protocol.FixTrust:
		return "review it, then trust the repository (`studiod trust`" + in(d.Repo) + ", in a terminal)"
	case protocol.FixResolve:
		return "nothing was changed; resolve them on the session branch (Sync Session with Target gives them to its agent), then merge again"
	case protocol.FixSyncSend:
		return "Sync Session with Target gives the conflict to its agent"
	case protocol.FixCommitTarget:
		return "nothing was changed; commit or stash those changes" + in(d.Path) + ", then merge again"
	case protocol.FixRetry:
		return "nothing was changed; try again"
	case protocol.FixAddComments:
		return "add some with Add Review Comment"
	case protocol.FixCleanUp:
		return "remove the session with force to clean up (the branch keeps committed work)"
	case protocol.FixAnswerInTerminal:
		return "answer in its terminal (Attach Terminal)"
	case protocol.FixCheckCommand:
		return "set [check] command" + in(d.Path) + " or in your config.toml"
	case protocol.FixLandID:
		return "give the land's ID, or last"
	case protocol.FixRestartDaemon:
		return "restart studiod"
	case protocol.FixRecordStop:
		return "stop it again to record it"
	case protocol.FixInstallGit:
		return "install git 2.38 or later"
	}
	return ""
}
