package protocol

// Requests served by the daemon. docs/protocol.md documents each one; a test
// keeps that page and this list in step.
const (
	MethodHello      = "studio/hello"
	MethodSpawn      = "studio/spawn"
	MethodSessions   = "studio/sessions"
	MethodSession    = "studio/session"
	MethodSend       = "studio/send"
	MethodAnswer     = "studio/answer"
	MethodOutput     = "studio/output"
	MethodResize     = "studio/resize"
	MethodStop       = "studio/stop"
	MethodRemove     = "studio/remove"
	MethodHook       = "studio/hook"
	MethodDiff       = "studio/diff"
	MethodFile       = "studio/file"
	MethodComment    = "studio/comment"
	MethodComments   = "studio/comments"
	MethodFeedback   = "studio/feedback"
	MethodConflicts  = "studio/conflicts"
	MethodWho        = "studio/who"
	MethodNote       = "studio/note"
	MethodMerge      = "studio/merge"
	MethodUndo       = "studio/undo"
	MethodPreview    = "studio/preview"
	MethodLand       = "studio/land"
	MethodUndoLand   = "studio/undoLand"
	MethodSync       = "studio/sync"
	MethodSubscribe  = "studio/subscribe"
	MethodStatus     = "studio/status"
	MethodTrust      = "studio/trust"
	MethodPool       = "studio/pool"
	MethodFsmonitor  = "studio/fsmonitor"
	MethodPlanCheck  = "studio/planCheck"
	MethodPlanRun    = "studio/planRun"
	MethodPlans      = "studio/plans"
	MethodPlanCancel = "studio/planCancel"
	MethodReviewBy   = "studio/reviewBy"
	MethodShutdown   = "studio/shutdown"
)

// Notifications sent by the daemon to subscribed connections.
const (
	NotifySessionChanged   = "studio/sessionChanged"
	NotifyConflictsChanged = "studio/conflictsChanged"
	NotifyOutput           = "studio/output"
	NotifyPreviewChanged   = "studio/previewChanged"
	NotifySessionActivity  = "studio/sessionActivity"
)

// Commands offered to editors through workspace/executeCommand. Each takes one
// object argument with the fields of the request it maps to.
const (
	CommandSpawn    = "studio.spawn"
	CommandReview   = "studio.review"
	CommandMerge    = "studio.merge"
	CommandStop     = "studio.stop"
	CommandRemove   = "studio.remove"
	CommandSend     = "studio.send"
	CommandFeedback = "studio.feedback"
	CommandUndo     = "studio.undo"
	CommandPreview  = "studio.preview"
	CommandLand     = "studio.land"
	CommandSync     = "studio.sync"
)

// CommandOpen is served by the daemon's LSP adapter alone: it asks the
// editor (window/showDocument) to open a file, selecting lines. Its object
// argument has "file" (absolute path) and optional 1-based "line" and
// "endLine". Code actions use it to open the other side of a conflict.
const CommandOpen = "studio.open"

// Methods lists every request, in the order of docs/protocol.md.
var Methods = []string{
	MethodHello, MethodSpawn, MethodSessions, MethodSession, MethodSend, MethodAnswer,
	MethodOutput, MethodResize, MethodStop, MethodRemove, MethodHook,
	MethodDiff, MethodFile, MethodComment, MethodComments, MethodFeedback,
	MethodConflicts, MethodWho, MethodNote, MethodMerge, MethodUndo,
	MethodPreview, MethodLand, MethodUndoLand, MethodSync, MethodSubscribe, MethodStatus,
	MethodTrust, MethodPool, MethodFsmonitor, MethodPlanCheck, MethodPlanRun, MethodPlans, MethodPlanCancel, MethodReviewBy, MethodShutdown,
}

// Notifications lists every notification the daemon sends.
var Notifications = []string{NotifySessionChanged, NotifyConflictsChanged, NotifyOutput, NotifyPreviewChanged, NotifySessionActivity, NotifyProgress}

// Commands lists every editor command.
var Commands = []string{
	CommandSpawn, CommandReview, CommandMerge, CommandStop, CommandRemove,
	CommandSend, CommandFeedback, CommandUndo, CommandPreview, CommandLand, CommandSync,
}
