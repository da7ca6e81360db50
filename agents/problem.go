package agents

import "errors"

// Problem is a failure the person can act on, as data: what failed, on
// which session, and what to do as a Fix code that each face words its own
// way (the CLI names its verbs, MCP its tools). Its text names no command.
type Problem struct {
	Kind    error  // the sentinel it is (ErrNotFound, ErrInvalid, ErrBusy, ErrUntrusted, ErrStateLost), or nil
	What    string // what failed
	Cause   error  // the underlying error, or nil
	Session string // the session's name
	Repo    string
	Path    string // the file or worktree the fix concerns
	Fix     string // one of the Fix constants
}

// What to do about a Problem. The server maps each to its protocol.Fix
// namesake (a test keeps them in step).
const (
	FixListSessions     = "listSessions"
	FixOtherName        = "otherName"
	FixStopFirst        = "stopFirst"
	FixTrust            = "trust"
	FixAddComments      = "addComments"
	FixCleanUp          = "cleanUp"
	FixAnswerInTerminal = "answerInTerminal"
	FixCheckCommand     = "checkCommand"
	FixLandID           = "landID"
	FixRestartDaemon    = "restartDaemon"
	FixRecordStop       = "recordStop"
	FixAnswerFirst      = "answerFirst"
	FixAskPerson        = "askPerson"
	FixRaiseBudget      = "raiseBudget"
)

func (p *Problem) Error() string {
	s := p.What
	if p.Kind != nil {
		s = p.Kind.Error() + ": " + s
	}
	if p.Cause != nil {
		s += " (" + p.Cause.Error() + ")"
	}
	return s
}

func (p *Problem) Unwrap() []error {
	var out []error
	for _, e := range []error{p.Kind, p.Cause} {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}

// ProblemOf returns the Problem in err's chain.
func ProblemOf(err error) (*Problem, bool) {
	var p *Problem
	ok := errors.As(err, &p)
	return p, ok
}
