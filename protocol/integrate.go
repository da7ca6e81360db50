package protocol

import (
	"time"

	"github.com/studiod/studiod/vocab"
)

// Integration: studio/preview folds sessions onto their target in memory,
// studio/land lands them as a merge queue, studio/undoLand takes a queue
// back, studio/sync brings the target into a session.

// PreviewStatus says where a session stands in a preview.
type PreviewStatus = vocab.PreviewStatus

// Preview statuses.
const (
	PreviewClean    = vocab.PreviewClean    // in the landing order: folds with no conflict
	PreviewConflict = vocab.PreviewConflict // left out: conflicts with the target or a session in the order
	PreviewBreaks   = vocab.PreviewBreaks   // left out: the check fails with it
	PreviewEmpty    = vocab.PreviewEmpty    // nothing to merge: the target has it all
	PreviewError    = vocab.PreviewError    // cannot be merged at all (see reason)
)

// CheckStatus is the state of a check run.
type CheckStatus = vocab.CheckStatus

// Check statuses.
const (
	CheckRunning   = vocab.CheckRunning
	CheckPassed    = vocab.CheckPassed
	CheckFailed    = vocab.CheckFailed
	CheckTimeout   = vocab.CheckTimeout   // killed after the configured timeout
	CheckCancelled = vocab.CheckCancelled // a newer preview replaced it
	CheckError     = vocab.CheckError     // it could not run (see reason)
)

// LandStatus is the state of a land queue.
type LandStatus = vocab.LandStatus

// Land statuses.
const (
	LandRunning     = vocab.LandRunning
	LandDone        = vocab.LandDone        // every session in the queue landed
	LandStopped     = vocab.LandStopped     // it stopped at a conflict or failed check (see stopped)
	LandInterrupted = vocab.LandInterrupted // the daemon died mid-queue; resume with resume: ID
	LandUndone      = vocab.LandUndone      // studio/undoLand put the target back
)

// StopReason says why a land queue stopped at a session.
type StopReason = vocab.StopReason

// Land stop reasons.
const (
	StopConflict = vocab.StopConflict // the session conflicts with the target as landed so far
	StopCheck    = vocab.StopCheck    // the check failed with the session
	StopBusy     = vocab.StopBusy     // the session's agent is working or waiting
	StopDirty    = vocab.StopDirty    // the target's checkout has uncommitted changes
	StopMoved    = vocab.StopMoved    // the target moved while the queue ran
	StopError    = vocab.StopError    // the merge could not be made (see message)
)

// PreviewParams asks for the fold of sessions onto their target.
type PreviewParams struct {
	Repo string `json:"repo,omitempty"`
	// Sessions (names or IDs) in order of preference; empty: every live or
	// finished session of the repository not yet merged, oldest first.
	Sessions []string `json:"sessions,omitempty"`
	// Target is the branch to fold onto; empty: the sessions' target (the
	// oldest session's when they differ). Sessions with another target
	// are not in the preview.
	Target string `json:"target,omitempty"`
	// Check runs the repository's check command ([check] command) on the
	// combination in a scratch worktree; the reply waits for it.
	Check bool `json:"check,omitempty"`
	// CheckCommand replaces the configured check command (the CLI's
	// --check-command; MCP clients cannot pass it).
	CheckCommand string `json:"checkCommand,omitempty"`
}

// Preview is the fold of a repository's sessions onto their target, done in
// memory from their snapshots (uncommitted work included). It is live:
// recomputed when a session or the target changes, and sent as
// studio/previewChanged to connections subscribed with preview.
type Preview struct {
	Repo   string `json:"repo"`
	Target string `json:"target"`
	Tip    string `json:"tip"` // the target's tip the sessions are folded onto
	// Generation grows with every recomputation of this repository's preview.
	Generation int64     `json:"generation"`
	Computed   time.Time `json:"computed"`
	DurationMs int64     `json:"durationMs"` // time the fold took, check excluded
	// Sessions are every session considered: the landing order first, then
	// the ones left out.
	Sessions []PreviewSession `json:"sessions"`
	// Order names the sessions of the landing order: the most that combine
	// with no conflict (and, once checked, pass the check), oldest preferred.
	Order []string `json:"order"`
	// Commit is the combination of the landing order (a commit no ref
	// points to); Tree its tree.
	Commit string `json:"commit"`
	Tree   string `json:"tree"`
	// Conflicts are the conflicts between the sessions, and with the
	// target, predicted pair by pair.
	Conflicts []Conflict `json:"conflicts"`
	Check     *CheckRun  `json:"check,omitempty"`
}

// PreviewSession is one session's place in a preview.
type PreviewSession struct {
	Session string        `json:"session"` // name
	ID      string        `json:"id"`
	State   State         `json:"state"`
	Commit  string        `json:"commit"` // the snapshot folded (uncommitted work included)
	Status  PreviewStatus `json:"status"`
	// Position is the 1-based place in the landing order; 0 when left out.
	Position int `json:"position,omitempty"`
	// Reason says, for people, why it is left out, naming no command; Fix
	// what would let it land, for each face to word.
	Reason string `json:"reason,omitempty"`
	Fix    Fix    `json:"fix,omitempty"`
	// With names the sessions (or "target") it conflicts or breaks with.
	With  []string `json:"with,omitempty"`
	Paths []string `json:"paths,omitempty"`
	// Check is the check's verdict on the order up to and including it.
	Check CheckStatus `json:"check,omitempty"`
}

// CheckRun is the check command run on a combination, bisected when it
// fails to the session or pair that breaks it.
type CheckRun struct {
	Command  string      `json:"command"`
	Status   CheckStatus `json:"status"`
	Started  time.Time   `json:"started"`
	Finished *time.Time  `json:"finished,omitempty"`
	// Tries are the combinations tried, in order.
	Tries []CheckTry `json:"tries"`
	// Culprit names the session, or the pair, that breaks the check.
	Culprit []string `json:"culprit,omitempty"`
	Reason  string   `json:"reason,omitempty"`
	// Log is the full log of the deciding try; Tail its last lines.
	Log  string `json:"log,omitempty"`
	Tail string `json:"tail,omitempty"`
}

// CheckTry is one run of the check command on the target with sessions
// merged in, in order.
type CheckTry struct {
	Sessions   []string    `json:"sessions"`
	Commit     string      `json:"commit"`
	Status     CheckStatus `json:"status"`
	ExitCode   int         `json:"exitCode"`
	Log        string      `json:"log"`
	Tail       string      `json:"tail,omitempty"`
	DurationMs int64       `json:"durationMs"`
}

// PreviewChanged is sent when a repository's preview was recomputed or its
// check moved on.
type PreviewChanged struct {
	Preview Preview `json:"preview"`
	Seq     int64   `json:"seq,omitempty"` // see SubscribeResult.Seq
}

// LandParams lands sessions as a merge queue: each session's merge is built,
// checked when asked, and only then moves the target (the merge
// transaction, with its backup ref and journal), stopping at the first
// conflict or failed check.
type LandParams struct {
	Repo string `json:"repo,omitempty"`
	// Sessions is the queue (names or IDs), in order; empty: the preview's
	// landing order, then the sessions it leaves out (so the queue stops at
	// the first of those, saying why).
	Sessions     []string `json:"sessions,omitempty"`
	Strategy     Strategy `json:"strategy,omitempty"`
	Check        bool     `json:"check,omitempty"`
	CheckCommand string   `json:"checkCommand,omitempty"`
	// SendFailures sends the conflict list or the failing check's output
	// to the agent of the session the queue stopped at.
	SendFailures bool `json:"sendFailures,omitempty"`
	// Force lands sessions whose agents are working.
	Force bool `json:"force,omitempty"`
	// Resume continues a queue cut short (by a crash) or stopped, by ID.
	Resume        string `json:"resume,omitempty"`
	WorkDoneToken any    `json:"workDoneToken,omitempty"`
}

// LandResult is what a land queue did.
type LandResult struct {
	ID     string     `json:"id"`
	Repo   string     `json:"repo"`
	Target string     `json:"target"`
	Status LandStatus `json:"status"`
	// Old and New are the target's tip before the queue and after it.
	Old       string          `json:"old"`
	New       string          `json:"new"`
	Landed    []LandedSession `json:"landed"`
	Stopped   *LandStop       `json:"stopped,omitempty"`
	Remaining []string        `json:"remaining,omitempty"` // not tried
	Started   time.Time       `json:"started"`
}

// LandedSession is one merge of a land queue.
type LandedSession struct {
	Session  string    `json:"session"`
	ID       string    `json:"id"`
	Strategy Strategy  `json:"strategy"`
	Old      string    `json:"old"`
	New      string    `json:"new"`
	Backup   string    `json:"backup"`
	Check    *CheckTry `json:"check,omitempty"`
}

// LandStop says where and why a land queue stopped.
type LandStop struct {
	Session   string     `json:"session"`
	ID        string     `json:"id"`
	Reason    StopReason `json:"reason"`
	Message   string     `json:"message"`
	Conflicts []Conflict `json:"conflicts,omitempty"`
	Paths     []string   `json:"paths,omitempty"`
	Check     *CheckTry  `json:"check,omitempty"`
	// Sent reports that the failure went to the session's agent, and Via how (typed or resume).
	Sent bool   `json:"sent,omitempty"`
	Via  string `json:"via,omitempty"`
}

// UndoLandParams takes a land queue back: the target returns to its tip
// before the queue, while it is still where the queue left it.
type UndoLandParams struct {
	Repo string `json:"repo,omitempty"`
	Land string `json:"land"` // a land ID, or "last" for the repository's latest
}

// UndoLandResult says what studio/undoLand restored.
type UndoLandResult struct {
	ID       string   `json:"id"`
	Target   string   `json:"target"`
	Restored string   `json:"restored"`
	Undone   string   `json:"undone"`
	Sessions []string `json:"sessions"` // the sessions whose merges were undone
}

// SyncParams brings the target's tip into a session's branch.
type SyncParams struct {
	SessionRef
	// Strategy is merge (default: a merge commit on the session branch) or
	// rebase (the session's commits replayed on the target).
	Strategy Strategy `json:"strategy,omitempty"`
	// Send gives the conflict list to the agent as a task when the sync is
	// refused.
	Send  bool `json:"send,omitempty"`
	Force bool `json:"force,omitempty"` // even while the agent works
}

// SyncResult says what studio/sync did. A refused sync is a
// CodeMergeConflict error whose data lists the conflicts.
type SyncResult struct {
	Session   Session  `json:"session"`
	Strategy  Strategy `json:"strategy"`
	Target    string   `json:"target"`
	TargetTip string   `json:"targetTip"`
	// Old and New are the session branch's tip before and after; Backup
	// keeps Old.
	Old    string `json:"old"`
	New    string `json:"new"`
	Backup string `json:"backup,omitempty"`
	// Checkpoint is the commit made of uncommitted work before the sync.
	Checkpoint string `json:"checkpoint,omitempty"`
	UpToDate   bool   `json:"upToDate,omitempty"`
}
