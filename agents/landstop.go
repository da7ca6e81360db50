package agents

import (
	"errors"
	"fmt"
	"strings"

	"github.com/studiod/studiod/workspace"
)

// Why a land queue stopped, in words for the person and for the agent.

// landStop says why a merge of the queue failed.
func landStop(s Session, err error) *LandStop {
	stop := &LandStop{Session: s.ID, Name: s.Name, Reason: StopError, Message: err.Error()}
	var mc *MergeConflictError
	var td *workspace.TargetDirtyError
	switch {
	case errors.As(err, &mc):
		stop.Reason, stop.Conflicts, stop.Paths = StopConflict, mc.Conflicts, mc.Paths
		stop.Message = fmt.Sprintf("%s conflicts with %s in %s", s.Name, s.Target, strings.Join(mc.Paths, ", "))
	case errors.As(err, &td):
		stop.Reason = StopDirty
		stop.Message = err.Error() + ": commit or stash those changes in " + td.Worktree + ", then resume"
	case errors.Is(err, ErrBusy), errors.Is(err, workspace.ErrLocked):
		stop.Reason = StopBusy
	case errors.Is(err, workspace.ErrTargetMoved), errors.Is(err, errChangedWhileChecking):
		stop.Reason = StopMoved
		stop.Message = err.Error() + ": resume the land to try again"
	}
	return stop
}

func checkStopText(l *Land, s Session, t CheckTry, cc checkConfig) string {
	switch t.Status {
	case CheckFailed:
		with := ""
		if len(l.Landed) > 0 {
			var names []string
			for _, d := range l.Landed {
				names = append(names, d.Name)
			}
			with = " after " + strings.Join(names, ", ")
		}
		return fmt.Sprintf("the check fails with %s merged into %s%s (exit %d; log %s)", s.Name, l.Target, with, t.ExitCode, t.Log)
	case CheckTimeout:
		return fmt.Sprintf("the check of %s ran longer than %s and was killed (log %s)", s.Name, cc.timeout, t.Log)
	case CheckCancelled:
		return "the check was cancelled"
	}
	return "the check could not run: " + t.Err
}

// stopMessage is what the agent of the session a queue stopped at is told.
func stopMessage(l *Land, s Session, stop *LandStop) string {
	switch stop.Reason {
	case StopConflict:
		where := conflictLines(stop.Conflicts, s.Name)
		if where == "" {
			where = strings.Join(stop.Paths, ", ")
		}
		return fmt.Sprintf("studiod could not land your work on %s: it conflicts with %s in %s. Bring %s into your branch (git merge %s) and resolve the conflicts, keeping both sides' intent, then commit.",
			l.Target, l.Target, where, l.Target, l.Target)
	case StopCheck:
		out := ""
		if stop.Check != nil {
			out = strings.Join(strings.Fields(stop.Check.Tail), " ")
			if len(out) > 1500 {
				out = "…" + out[len(out)-1500:]
			}
		}
		return fmt.Sprintf("studiod could not land your work on %s: %s. Output: %s Please make your change work with the current %s and commit the fix.",
			l.Target, stop.Message, out, l.Target)
	}
	return fmt.Sprintf("studiod could not land your work on %s: %s", l.Target, stop.Message)
}
