package protocol

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

// Notifications lists every notification the daemon sends.
var Notifications = []string{NotifySessionChanged, NotifyConflictsChanged, NotifyOutput, NotifyPreviewChanged, NotifySessionActivity, NotifyProgress}

// Commands lists every editor command.
var Commands = []string{
	CommandSpawn, CommandReview, CommandMerge, CommandStop, CommandRemove,
	CommandSend, CommandFeedback, CommandUndo, CommandPreview, CommandLand, CommandSync,
}
