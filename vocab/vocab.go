// Package vocab holds the words studiod's parts share: session states,
// kinds of waiting and answers, conflict kinds, severities and sides,
// integration statuses and land stop reasons. Each is declared once, here;
// agents, workspace and protocol (and through it the wire and the editors'
// generated copies) use these values and spell none of them again.
//
// It imports nothing; every package of ours may import it.
package vocab

// State is a session's state. docs/architecture.md draws the machine.
type State string

// Session states.
const (
	StateStarting State = "starting"
	StateWorking  State = "working"
	StateWaiting  State = "waiting"
	StateIdle     State = "idle"
	StateExited   State = "exited"
	StateFailed   State = "failed"
	StateStopped  State = "stopped"
	StateMerged   State = "merged"
	StateRemoved  State = "removed"
	// StateDisconnected: the session's host cannot be reached; its agent
	// may run on there, and the session reattaches when the host answers.
	StateDisconnected State = "disconnected"
)

// Live reports whether an agent process may still be running in state s.
func (s State) Live() bool {
	switch s {
	case StateStarting, StateWorking, StateWaiting, StateIdle, StateDisconnected:
		return true
	}
	return false
}

// Active reports whether a session in state s holds its name, worktree
// and branch.
func (s State) Active() bool { return s != StateFailed && s != StateRemoved && s != StateMerged }

// WaitKind says what kind of answer a waiting session needs.
type WaitKind string

// Kinds of waiting.
const (
	WaitPermission WaitKind = "permission" // a tool asks to run
	WaitQuestion   WaitKind = "question"   // the agent asks the person something
	WaitTrust      WaitKind = "trust"      // the agent asks whether to trust the folder
	WaitLogin      WaitKind = "login"      // the agent needs signing in or a provider
	WaitBudget     WaitKind = "budget"     // the session used its budget: raise or clear it
)

// Answer is how a person answers a waiting session: one of these kinds,
// an offered option's ID, or (for a question) free text.
type Answer string

// Answers.
const (
	AnswerAllow  Answer = "allow"  // allow once; for trust and login screens, go ahead
	AnswerAlways Answer = "always" // allow, and do not ask again for this
	AnswerReject Answer = "reject" // refuse once
	AnswerNever  Answer = "never"  // refuse, and do not ask again for this
)

// Kind says how two sides collide on a path.
type Kind string

// Conflict kinds.
const (
	KindContent      Kind = "content"
	KindModifyDelete Kind = "modify/delete"
	KindAddAdd       Kind = "add/add"
	KindRename       Kind = "rename"
	KindBinary       Kind = "binary"
	KindMode         Kind = "mode"
	KindOverlap      Kind = "overlap" // both sides change the file; it merges cleanly
)

// Severity says whether a collision fails a merge.
type Severity string

// Severities.
const (
	SeverityConflict Severity = "conflict" // the merge would fail
	SeverityOverlap  Severity = "overlap"  // both sides change the file; it merges cleanly
)

// TargetSide names the target branch's side of a conflict, where a
// session's side has the session's name.
const TargetSide = "target"

// PreviewStatus says where a session stands in a preview.
type PreviewStatus string

// Preview statuses.
const (
	PreviewClean    PreviewStatus = "clean"    // in the landing order: folds with no conflict
	PreviewConflict PreviewStatus = "conflict" // left out: conflicts with the target or a session in the order
	PreviewBreaks   PreviewStatus = "breaks"   // left out: the check fails with it
	PreviewEmpty    PreviewStatus = "empty"    // nothing to merge: the target has it all
	PreviewError    PreviewStatus = "error"    // cannot be merged at all (see reason)
)

// CheckStatus is the state of a check run.
type CheckStatus string

// Check statuses.
const (
	CheckRunning   CheckStatus = "running"
	CheckPassed    CheckStatus = "passed"
	CheckFailed    CheckStatus = "failed"
	CheckTimeout   CheckStatus = "timeout"   // killed after the configured timeout
	CheckCancelled CheckStatus = "cancelled" // a newer preview replaced it
	CheckError     CheckStatus = "error"     // it could not run (see reason)
)

// LandStatus is the state of a land queue.
type LandStatus string

// Land statuses.
const (
	LandRunning     LandStatus = "running"
	LandDone        LandStatus = "done"        // every session in the queue landed
	LandStopped     LandStatus = "stopped"     // it stopped at a conflict or failed check (see its stop)
	LandInterrupted LandStatus = "interrupted" // the daemon died mid-queue; resume it by ID
	LandUndone      LandStatus = "undone"      // the target was put back
)

// StopReason says why a land queue stopped at a session.
type StopReason string

// Land stop reasons.
const (
	StopConflict StopReason = "conflict" // the session conflicts with the target as landed so far
	StopCheck    StopReason = "check"    // the check failed with the session
	StopBusy     StopReason = "busy"     // the session's agent is working or waiting
	StopDirty    StopReason = "dirty"    // the target's checkout has uncommitted changes
	StopMoved    StopReason = "moved"    // the target moved while the queue ran
	StopError    StopReason = "error"    // the merge could not be made (see the detail)
)

// ProtocolACP is the protocol of a profile (and its sessions) whose agent
// is driven over the Agent Client Protocol; a terminal agent's is empty.
const ProtocolACP = "acp"

// The lists, in the order declared: what a client or a test iterates.
var (
	States          = []State{StateStarting, StateWorking, StateWaiting, StateIdle, StateExited, StateFailed, StateStopped, StateMerged, StateRemoved, StateDisconnected}
	WaitKinds       = []WaitKind{WaitPermission, WaitQuestion, WaitTrust, WaitLogin, WaitBudget}
	Answers         = []Answer{AnswerAllow, AnswerAlways, AnswerReject, AnswerNever}
	Kinds           = []Kind{KindContent, KindModifyDelete, KindAddAdd, KindRename, KindBinary, KindMode, KindOverlap}
	Severities      = []Severity{SeverityConflict, SeverityOverlap}
	PreviewStatuses = []PreviewStatus{PreviewClean, PreviewConflict, PreviewBreaks, PreviewEmpty, PreviewError}
	CheckStatuses   = []CheckStatus{CheckRunning, CheckPassed, CheckFailed, CheckTimeout, CheckCancelled, CheckError}
	LandStatuses    = []LandStatus{LandRunning, LandDone, LandStopped, LandInterrupted, LandUndone}
	StopReasons     = []StopReason{StopConflict, StopCheck, StopBusy, StopDirty, StopMoved, StopError}
)
