package main

import (
	"github.com/studiod/studiod/protocol"
)

// cliMessage is the CLI's sentence for an error: the daemon's message,
// then what to do, in the CLI's verbs, from the error's data.
func cliMessage(err error) string {
	msg := err.Error()
	d, ok := protocol.DataOf(err)
	if !ok {
		return msg
	}
	if fix := cliFix(d); fix != "" {
		msg += ": " + fix
	}
	return msg
}

// cliFix words what to do about an error with the CLI's verbs.
func cliFix(d protocol.ErrorData) string {
	name := d.Session
	if name == "" {
		name = "NAME"
	}
	in := func(dir string) string {
		if dir == "" {
			return ""
		}
		return " in " + dir
	}
	switch d.Fix {
	case protocol.FixListSessions:
		return "see `studiod ls`"
	case protocol.FixOtherName:
		return "pick another --name or remove it with `studiod rm " + name + "`"
	case protocol.FixStopFirst:
		return "stop it first (`studiod stop " + name + "`) or pass --force"
	case protocol.FixAnswerFirst:
		return "answer it (`studiod answer " + name + "`) and let it finish its turn, or pass --force"
	case protocol.FixResolveSync:
		return "nothing was changed; resolve them on the session branch (`studiod sync " + name + " --send` gives them to its agent), then sync again"
	case protocol.FixAskPerson:
		return "only the person may do this, from their own shell (outside any session)"
	case protocol.FixRaiseBudget:
		return "raise its budget (`studiod budget " + name + " AMOUNT`) or clear it (`studiod budget " + name + " --clear`)"
	case protocol.FixReview:
		return "start a reviewer (`studiod review-by " + name + "`), or pass --force"
	case protocol.FixWaitIdle:
		return "wait until it is idle or waiting (`studiod show " + name + "`), or stop it (`studiod stop " + name + "`)"
	case protocol.FixTrust:
		return "review it, then run `studiod trust`" + in(d.Repo)
	case protocol.FixResolve:
		return "nothing was changed; resolve them on the session branch (`studiod sync " + name + " --send` gives them to its agent), then merge again"
	case protocol.FixSyncSend:
		return "`studiod sync " + name + " --send` gives the conflict to its agent"
	case protocol.FixCommitTarget:
		return "nothing was changed; commit or stash those changes" + in(d.Path) + ", then merge again"
	case protocol.FixRetry:
		return "nothing was changed; run it again"
	case protocol.FixAddComments:
		return "add some with `studiod comment`"
	case protocol.FixCleanUp:
		return "`studiod rm " + name + " --force` cleans up (the branch keeps committed work)"
	case protocol.FixAnswerInTerminal:
		return "answer in its terminal (`studiod attach " + name + "`)"
	case protocol.FixCheckCommand:
		where := "[check] command"
		if d.Path != "" {
			where += " in " + d.Path + " (then `studiod trust`) or"
		}
		return "set " + where + " in your config.toml, or pass --check-command"
	case protocol.FixLandID:
		return "give the ID `studiod land` printed, or last"
	case protocol.FixRestartDaemon:
		return "restart the daemon (`studiod shutdown`, then any command starts it)"
	case protocol.FixRecordStop:
		return "run `studiod stop " + name + "` again to record it"
	case protocol.FixInstallGit:
		return "install git 2.38 or later (`studiod doctor` checks)"
	}
	return ""
}
