package protocol

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/studiod/studiod/vocab"
)

type jsonRaw = json.RawMessage

// Version is the protocol version exchanged in studio/hello. Clients refuse a
// daemon with a different major version.
const Version = "2"

// State is a session's state. A session moves through the states as
// docs/architecture.md draws.
type State = vocab.State

// Session states.
const (
	StateStarting = vocab.StateStarting
	StateWorking  = vocab.StateWorking
	StateWaiting  = vocab.StateWaiting
	StateIdle     = vocab.StateIdle
	StateExited   = vocab.StateExited
	StateFailed   = vocab.StateFailed
	StateStopped  = vocab.StateStopped
	StateMerged   = vocab.StateMerged
	StateRemoved  = vocab.StateRemoved
	// StateDisconnected: the session's host cannot be reached; its agent
	// may run on there, and the session reattaches when the host answers.
	StateDisconnected = vocab.StateDisconnected
)

// States lists every state, in the order above.
var States = []State{StateStarting, StateWorking, StateWaiting, StateIdle, StateExited, StateFailed, StateStopped, StateMerged, StateRemoved, StateDisconnected}

// Session is one agent working in its own worktree on its own branch.
type Session struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Repo     string   `json:"repo"` // main worktree
	Branch   string   `json:"branch"`
	Base     string   `json:"base"` // commit the branch started from
	Target   string   `json:"target"`
	Worktree string   `json:"worktree"`
	Agent    string   `json:"agent"`
	Command  []string `json:"command,omitempty"`
	// PermissionMode is the permission mode the agent was started in
	// (its profile's permission_mode, or its flag in the command); empty:
	// the agent's own default.
	PermissionMode string `json:"permissionMode,omitempty"`
	Prompt         string `json:"prompt,omitempty"`
	State          State  `json:"state"`
	Detail         string `json:"detail,omitempty"` // waiting question, failure reason
	// Waiting says what a waiting session needs from the person.
	Waiting *Waiting `json:"waiting,omitempty"`
	// Conversation is the agent's own id for this session's conversation,
	// when it has one (feedback after exit resumes exactly that one).
	Conversation string `json:"conversation,omitempty"`
	// Usage is what the session's agent reports its model used, from the
	// agent's own figures; absent until the agent reports any.
	Usage *Usage `json:"usage,omitempty"`
	// Budget is how much the session's model may use; absent: no limit.
	// A live session that used it all waits (kind budget) until the
	// person raises or clears it.
	Budget *Budget `json:"budget,omitempty"`
	// Scope is the area the session is meant to work in: path globs
	// relative to the repository ("web/**"); empty means anywhere.
	Scope []string `json:"scope,omitempty"`
	// OutOfScope lists the paths the session changed outside its scope.
	OutOfScope []string `json:"outOfScope,omitempty"`
	// Note says what the session is doing, for the other agents and the
	// person: seeded from the prompt, updated by the agent or the person.
	Note string `json:"note,omitempty"`
	// ReviewedBy lists the reviewers of the session's work (review-by,
	// a plan's reviewer); Reviews names the session a reviewer reviews.
	// Both are filled by studio/session.
	ReviewedBy []Review `json:"reviewedBy,omitempty"`
	Reviews    string   `json:"reviews,omitempty"`
	// Gate is how the session's agent hears of other sessions' work on
	// what it is about to write.
	Gate     GateMode  `json:"gate,omitempty"`
	PID      int       `json:"pid,omitempty"`
	ExitCode *int      `json:"exitCode,omitempty"`
	Port     int       `json:"port,omitempty"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	Changes  Changes   `json:"changes"`
	// Conflicts counts the predicted conflicts and overlaps this session is in.
	Conflicts int `json:"conflicts"`
	// Behind counts the target's commits the session's branch does not
	// have; WouldConflict says whether merging (or syncing) it now would
	// conflict with the target.
	Behind        int  `json:"behind,omitempty"`
	WouldConflict bool `json:"wouldConflict,omitempty"`
	// Socket is the shim's socket: attach here for a raw terminal.
	Socket string `json:"socket,omitempty"`
	// Log is the file holding every byte the agent has written.
	Log string `json:"log,omitempty"`
	// Protocol is "acp" for an agent driven over the Agent Client
	// Protocol (its log is then JSON lines, one message each); empty for a
	// terminal agent.
	Protocol string `json:"protocol,omitempty"`
	// Host is the configured host the session runs on (config.toml's
	// [hosts.NAME]); empty: the daemon's machine. Its worktree is then the
	// daemon's copy of the host's latest snapshot.
	Host string `json:"host,omitempty"`
}

// ProtocolACP is the Protocol of a session or profile whose agent is
// driven over the Agent Client Protocol.
const ProtocolACP = vocab.ProtocolACP

// Terminal reports whether the session's agent runs on a terminal: its
// output is a terminal's bytes and attach shows its screen. Otherwise
// (ACP) its output is JSON records, one per line.
func (s Session) Terminal() bool { return s.Protocol != ProtocolACP }

// Changes summarizes a session's work against its base, uncommitted included.
type Changes struct {
	Files     int `json:"files"`
	Additions int `json:"additions"`
	Deletions int `json:"deletions"`
}

// Usage is what a session's model used, summed over the session: tokens
// sent besides the prompt cache's (Input), tokens answered (Output),
// tokens read from the prompt cache (CacheRead) and written to it
// (CacheWrite), and the cost in US dollars when the agent reports one.
// Context is how many tokens the model's context holds after its last
// answer (what it read for it and the answer), ContextWindow how many it
// can hold, where the agent says; a sum of sessions' usage has neither.
type Usage struct {
	Input         int64    `json:"input"`
	Output        int64    `json:"output"`
	CacheRead     int64    `json:"cacheRead"`
	CacheWrite    int64    `json:"cacheWrite"`
	Cost          *float64 `json:"cost,omitempty"`
	Context       int64    `json:"context,omitempty"`
	ContextWindow int64    `json:"contextWindow,omitempty"`
}

// String says the usage in words: "1200 tokens in, 340 out, 5000 read
// from the cache, 800 written to it, $0.0123".
func (u Usage) String() string {
	s := fmt.Sprintf("%d tokens in, %d out, %d read from the cache, %d written to it", u.Input, u.Output, u.CacheRead, u.CacheWrite)
	if u.Cost != nil {
		s += fmt.Sprintf(", $%.4f", *u.Cost)
	}
	if c := u.ContextText(); c != "" {
		s += "; context " + c
	}
	return s
}

// ContextText says how full the model's context is: "41.2k of 200k
// tokens (21%)", "41.2k tokens" when its size is unknown, "" when nothing
// is known.
func (u Usage) ContextText() string {
	switch {
	case u.Context <= 0:
		return ""
	case u.ContextWindow <= 0:
		return tokenCount(u.Context) + " tokens"
	}
	return fmt.Sprintf("%s of %s tokens (%d%%)", tokenCount(u.Context), tokenCount(u.ContextWindow), u.Context*100/u.ContextWindow)
}

// Budget is a limit on what a session's model uses: tokens (sent, cache
// reads and writes included, and answered) or US dollars (where the agent
// reports its cost); one of the two is set. Text is how a person writes it
// ("200k tokens", "$5.00"); Spent is the share of it used so far (1 is all
// of it), absent while unknown (a budget in dollars of an agent that
// reports no cost).
type Budget struct {
	Tokens int64    `json:"tokens,omitempty"`
	Cost   float64  `json:"cost,omitempty"`
	Text   string   `json:"text"`
	Spent  *float64 `json:"spent,omitempty"`
}

// BudgetParams gives a session a budget ("200k", "1.5M tokens", "$5"), or
// clears it. A session waiting on its budget goes back to idle once the
// budget covers what it used.
type BudgetParams struct {
	SessionRef
	Budget string `json:"budget,omitempty"`
	Clear  bool   `json:"clear,omitempty"`
}

// Short says the usage in a few characters, as the faces' rows show it:
// the tokens sent (cache reads and writes included) and answered, and the
// cost where reported, and how full the model's context is where known
// (its share of the window, or its tokens): "11.2k in 66 out $0.02 ctx 21%".
func (u Usage) Short() string {
	t := fmt.Sprintf("%s in %s out", tokenCount(u.Input+u.CacheRead+u.CacheWrite), tokenCount(u.Output))
	if u.Cost != nil {
		t += fmt.Sprintf(" $%.2f", *u.Cost)
	}
	switch {
	case u.Context > 0 && u.ContextWindow > 0:
		t += fmt.Sprintf(" ctx %d%%", u.Context*100/u.ContextWindow)
	case u.Context > 0:
		t += " ctx " + tokenCount(u.Context)
	}
	return t
}

// Add adds v to u; the cost is the sum of the costs reported.
func (u *Usage) Add(v Usage) {
	u.Input += v.Input
	u.Output += v.Output
	u.CacheRead += v.CacheRead
	u.CacheWrite += v.CacheWrite
	if v.Cost != nil {
		c := *v.Cost
		if u.Cost != nil {
			c += *u.Cost
		}
		u.Cost = &c
	}
}

// tokenCount is a token count as a person reads it: 950, 12.3k, 4.1M.
func tokenCount(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprint(n)
	case n < 1_000_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1fM", float64(n)/1e6)
}

// WaitKind says what kind of answer a waiting session needs.
type WaitKind = vocab.WaitKind

// Kinds of waiting.
const (
	WaitPermission = vocab.WaitPermission // a tool asks to run
	WaitQuestion   = vocab.WaitQuestion   // the agent asks the person something
	WaitTrust      = vocab.WaitTrust      // the agent asks whether to trust the folder
	WaitLogin      = vocab.WaitLogin      // the agent needs signing in or a provider
	WaitBudget     = vocab.WaitBudget     // the session used its budget: raise or clear it
)

// Answer is how a person answers a waiting session: one of these kinds,
// an offered option's ID, or (for a question) free text.
type Answer = vocab.Answer

// Answers.
const (
	AnswerAllow  = vocab.AnswerAllow  // allow once; for trust and login screens, go ahead
	AnswerAlways = vocab.AnswerAlways // allow, and do not ask again for this
	AnswerReject = vocab.AnswerReject // refuse once
	AnswerNever  = vocab.AnswerNever  // refuse, and do not ask again for this
)

// Waiting is what a waiting session needs from the person.
type Waiting struct {
	Kind WaitKind `json:"kind"`
	// Question is what to show the person, one line.
	Question string `json:"question"`
	// Tool and Subject say what a permission is for: Write and hello.py,
	// Bash and `npm test`.
	Tool    string `json:"tool,omitempty"`
	Subject string `json:"subject,omitempty"`
	// Options are the answers offered, when the agent names them.
	Options []Option `json:"options,omitempty"`
	// Source says how studiod knows: "hook", "screen" or "acp".
	Source string `json:"source,omitempty"`
}

// Option is one answer a waiting session offers.
type Option struct {
	ID    string `json:"id"`
	Kind  Answer `json:"kind,omitempty"`
	Label string `json:"label"`
}

// SessionRef names a session: by ID, or by name within a repo. Repo may be
// any directory inside the repository; empty means the only session of that
// name.
type SessionRef struct {
	Session string `json:"session"`
	Repo    string `json:"repo,omitempty"`
}

// HelloParams opens a connection.
type HelloParams struct {
	Client string `json:"client"` // who is calling: "studiod-cli", "vscode", …
	// Version is the protocol version the client speaks (Version here); a
	// different major version is refused.
	Version string `json:"version"`
	// Token is the secret of the session the client runs in
	// ($STUDIO_SESSION_TOKEN), if any: a caller inside a session may
	// change only that session (docs/security.md).
	Token string `json:"token,omitempty"`
}

// HelloResult describes the daemon.
type HelloResult struct {
	Version         string `json:"version"` // studiod build version
	ProtocolVersion string `json:"protocolVersion"`
	PID             int    `json:"pid"`
}

// GateMode is how an agent hears, before it writes a file, that other
// sessions work on it.
type GateMode string

// Gate modes.
const (
	GateOff    GateMode = "off"    // say nothing
	GateInform GateMode = "inform" // the agent gets the reason as context and goes on
	GateAsk    GateMode = "ask"    // the write becomes a permission the person answers
	GateDeny   GateMode = "deny"   // the write is refused, with the reason
)

// SpawnParams starts a session. Command is honoured only from the CLI (and
// tests): MCP clients can pick an agent profile by name, never a command.
type SpawnParams struct {
	Repo    string   `json:"repo"`
	Name    string   `json:"name,omitempty"`
	Agent   string   `json:"agent,omitempty"`
	Base    string   `json:"base,omitempty"`
	Target  string   `json:"target,omitempty"`
	Prompt  string   `json:"prompt,omitempty"`
	Command []string `json:"command,omitempty"`
	Rows    int      `json:"rows,omitempty"`
	Cols    int      `json:"cols,omitempty"`
	// Scopes are path globs of the area the session works in.
	Scopes []string `json:"scopes,omitempty"`
	// Note says what the session is for (default: the prompt's first line).
	Note string `json:"note,omitempty"`
	// Gate overrides the repository's gate mode for this session.
	Gate GateMode `json:"gate,omitempty"`
	// Host runs the session on a configured host ([hosts.NAME]).
	Host string `json:"host,omitempty"`
	// Budget limits what the session's model may use: tokens ("200k")
	// or US dollars ("$5"); absent: its agent profile's budget, if any.
	Budget string `json:"budget,omitempty"`
	// WorkDoneToken, when set, asks for $/progress notifications on this
	// connection as the spawn goes through its steps (as in LSP).
	WorkDoneToken any `json:"workDoneToken,omitempty"`
}

// NotifyProgress is LSP's progress notification, used for slow requests
// that carry a workDoneToken.
const NotifyProgress = "$/progress"

// ProgressParams is a $/progress notification.
type ProgressParams struct {
	Token any      `json:"token"`
	Value WorkDone `json:"value"`
}

// WorkDone is one step of LSP's work-done progress: kind "begin" (with a
// title), "report" or "end".
type WorkDone struct {
	Kind    string `json:"kind"`
	Title   string `json:"title,omitempty"`
	Message string `json:"message,omitempty"`
}

// SessionsParams filters the session list.
type SessionsParams struct {
	Repo string `json:"repo,omitempty"`
	All  bool   `json:"all,omitempty"` // include removed and failed sessions
}

// SessionsResult lists sessions, newest last.
type SessionsResult struct {
	Sessions []Session `json:"sessions"`
}

// SendParams types text into the agent. Submit (default true) presses Enter
// after it.
type SendParams struct {
	SessionRef
	Text   string `json:"text"`
	Submit *bool  `json:"submit,omitempty"`
}

// OutputParams reads the agent's output log from Offset. Limit caps the bytes
// returned (default 1 MiB). A negative Offset counts back from the end.
type OutputParams struct {
	SessionRef
	Offset int64 `json:"offset"`
	Limit  int   `json:"limit,omitempty"`
}

// OutputResult is a slice of the output log. Data is base64 on the wire.
// Offsets count every byte the agent wrote; the log keeps the most recent
// (a per-session limit), and a read from before Start begins at Start.
type OutputResult struct {
	Data   []byte `json:"data"`
	Offset int64  `json:"offset"`          // where Data starts
	Next   int64  `json:"next"`            // offset after Data
	Size   int64  `json:"size"`            // log size when read
	Done   bool   `json:"done"`            // the agent has exited and Next == Size
	Start  int64  `json:"start,omitempty"` // first byte kept: output before it was rotated out
}

// ResizeParams sets the agent terminal's size.
type ResizeParams struct {
	SessionRef
	Rows int `json:"rows"`
	Cols int `json:"cols"`
}

// StopParams stops the agent: SIGTERM to its process group, SIGKILL after a
// grace period, at once with Force.
type StopParams struct {
	SessionRef
	Force bool `json:"force,omitempty"`
}

// RemoveParams removes a session's worktree and, when merged or forced, its
// branch.
type RemoveParams struct {
	SessionRef
	KeepBranch bool `json:"keepBranch,omitempty"`
	Force      bool `json:"force,omitempty"`
}

// RemoveResult says what remove did.
type RemoveResult struct {
	Session       Session `json:"session"`
	BranchDeleted bool    `json:"branchDeleted"`
	// BranchKept says why the branch stayed, when it did.
	BranchKept string `json:"branchKept,omitempty"`
	// Salvage is where the session's work was kept (`studiod restore`),
	// nil when it had none beyond its base.
	Salvage *Salvage `json:"salvage,omitempty"`
}

// SalvageParams lists what removed sessions of a repository left.
type SalvageParams struct {
	Repo string `json:"repo"`
}

// SalvageResult lists salvages, newest first.
type SalvageResult struct {
	Salvages []Salvage `json:"salvages"`
}

// Salvage is what a removed session left: its last snapshot, uncommitted
// work included, kept as Ref until it is pruned ([defaults] salvage_days).
type Salvage struct {
	Name        string    `json:"name"` // what studio/restore takes
	Ref         string    `json:"ref"`
	Commit      string    `json:"commit"`
	Session     string    `json:"session"` // the removed session's name
	SessionID   string    `json:"sessionId"`
	Agent       string    `json:"agent,omitempty"`
	Branch      string    `json:"branch"`
	Target      string    `json:"target"`
	Base        string    `json:"base"`
	When        time.Time `json:"when"`
	Uncommitted bool      `json:"uncommitted"` // it holds work never committed
	Changes     Changes   `json:"changes"`     // against base
}

// RestoreParams brings a salvage back: as a new session named As (default:
// the removed session's name), whose branch starts at the salvage, with
// the removed session's agent unless Agent or Command say otherwise; or as
// a new Branch.
type RestoreParams struct {
	Repo   string `json:"repo"`
	Name   string `json:"name"`
	As     string `json:"as,omitempty"`
	Branch string `json:"branch,omitempty"`
	Agent  string `json:"agent,omitempty"`
	// Command is any argv, as in SpawnParams: only the CLI sends one.
	Command []string `json:"command,omitempty"`
}

// RestoreResult is what the restore made: a session or a branch.
type RestoreResult struct {
	Salvage Salvage  `json:"salvage"`
	Session *Session `json:"session,omitempty"`
	Branch  string   `json:"branch,omitempty"`
}

// HookParams reports an agent's own view of its state, from `studiod hook`
// inside the agent's environment: either a generic Event (working,
// waiting, idle) with an optional Message, or an agent's own hook payload
// (Agent names its format: claude, codex, gemini, opencode).
type HookParams struct {
	SessionRef
	Event   string          `json:"event,omitempty"`
	Message string          `json:"message,omitempty"`
	Agent   string          `json:"agent,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
	// Token is the session's secret ($STUDIO_SESSION_TOKEN in its agent's
	// environment): a hook without it is refused.
	Token string `json:"token,omitempty"`
}

// HookResult is the session after the hook, and what the hook prints for
// the agent to read (the agent's own hook output format), if anything.
type HookResult struct {
	Session Session         `json:"session"`
	Output  json.RawMessage `json:"output,omitempty"`
}

// Delivery says how text reached an agent, and whether the agent confirmed
// it received it as a prompt.
type Delivery struct {
	Via string `json:"via"` // typed, resume
	// Confirmed is true once the agent said it took the text as a prompt
	// (its prompt-submitted hook fired).
	Confirmed bool `json:"confirmed"`
	// Note says what to do when the delivery is not confirmed.
	Note string `json:"note,omitempty"`
	// Queued says the agent is busy with a turn: the text becomes its
	// next prompt when that one ends (ACP agents).
	Queued bool `json:"queued,omitempty"`
}

// SendResult is the session after a send, and the delivery.
type SendResult struct {
	Session  Session  `json:"session"`
	Delivery Delivery `json:"delivery"`
}

// AnswerParams answers a waiting session.
type AnswerParams struct {
	SessionRef
	// Answer is allow, always, reject, never, or an offered option's ID.
	Answer Answer `json:"answer,omitempty"`
	// Text answers a question in the agent's words.
	Text string `json:"text,omitempty"`
}

// AnswerResult is the session after the answer and how it was delivered.
type AnswerResult struct {
	Session  Session  `json:"session"`
	Delivery Delivery `json:"delivery"`
}

// SubscribeParams chooses the notifications this connection receives. Each
// call replaces the previous choice.
type SubscribeParams struct {
	Sessions  bool `json:"sessions,omitempty"`
	Conflicts bool `json:"conflicts,omitempty"`
	// Preview asks for studio/previewChanged.
	Preview bool `json:"preview,omitempty"`
	// Output lists session IDs whose output to stream, each from an offset.
	Output []OutputSubscription `json:"output,omitempty"`
	// Activity asks for studio/sessionActivity: ACP sessions' tool calls
	// and plans.
	Activity bool `json:"activity,omitempty"`
	// Snapshot asks for the current state of what is subscribed (sessions,
	// conflicts, previews) in the result, taken atomically with the
	// subscription: the studio/sessionChanged, studio/conflictsChanged and
	// studio/previewChanged that follow are every change after it, in
	// order, none lost and none repeated. The daemon writes the reply
	// before any of them; a client that handles notifications apart from
	// replies holds those that arrive while the call is in flight and
	// applies the ones with a Seq above the result's.
	Snapshot bool `json:"snapshot,omitempty"`
}

// SubscribeResult is the state the subscribed notifications continue from,
// when the params asked for a Snapshot.
type SubscribeResult struct {
	// Seq is the sequence number of the last change the snapshot includes.
	// Session, conflict and preview notifications share one sequence.
	Seq int64 `json:"seq"`
	// Sessions are every session but removed ones, oldest first (when
	// subscribed to sessions).
	Sessions []Session `json:"sessions,omitempty"`
	// Conflicts are every predicted conflict (when subscribed to
	// conflicts).
	Conflicts []Conflict `json:"conflicts,omitempty"`
	// Previews are the last live preview of each repository that has one
	// (when subscribed to previews).
	Previews []Preview `json:"previews,omitempty"`
}

// OutputSubscription streams one session's output from Offset (-1: from now).
type OutputSubscription struct {
	Session string `json:"session"`
	Offset  int64  `json:"offset"`
}

// SessionChanged is sent whenever a session's record changes.
type SessionChanged struct {
	Session Session `json:"session"`
	Seq     int64   `json:"seq,omitempty"` // see SubscribeResult.Seq
}

// OutputNotification carries agent output bytes starting at Offset.
type OutputNotification struct {
	Session string `json:"session"`
	Offset  int64  `json:"offset"`
	Data    []byte `json:"data"`
	Done    bool   `json:"done,omitempty"`
}

// SessionActivity says what an ACP session's agent is doing: a tool call
// that started or changed, or the plan, sent whole each time it changes.
type SessionActivity struct {
	Session string     `json:"session"` // ID
	Tool    *ToolCall  `json:"tool,omitempty"`
	Plan    []PlanStep `json:"plan,omitempty"`
}

// ToolCall is an ACP agent's tool call. Kind and Status are ACP's: read,
// edit, delete, move, search, execute, think, fetch, other; pending,
// in_progress, completed, failed.
type ToolCall struct {
	ID     string   `json:"id"`
	Title  string   `json:"title"`
	Kind   string   `json:"kind,omitempty"`
	Status string   `json:"status"`
	Files  []string `json:"files,omitempty"` // relative to the worktree when inside it
}

// PlanStep is one entry of an ACP agent's plan: status pending,
// in_progress or completed; priority high, medium or low.
type PlanStep struct {
	Content  string `json:"content"`
	Status   string `json:"status"`
	Priority string `json:"priority,omitempty"`
}

// StatusResult describes the running daemon.
type StatusResult struct {
	Version  string         `json:"version"`
	PID      int            `json:"pid"`
	Socket   string         `json:"socket"`
	Log      string         `json:"log"`
	State    string         `json:"state"` // state directory
	Started  time.Time      `json:"started"`
	Sessions map[string]int `json:"sessions"` // count by state
	Watch    WatchStatus    `json:"watch"`
}

// WatchStatus reports the file watcher's health for `studiod doctor`.
type WatchStatus struct {
	Watches  int      `json:"watches"`
	Degraded []string `json:"degraded,omitempty"` // worktrees rescanned instead of watched
	Reason   string   `json:"reason,omitempty"`
	// Unwatched counts the directories of the degraded worktrees left
	// without a watch: that many more watches would watch them all.
	Unwatched int `json:"unwatched,omitempty"`
}

// TrustParams records (or with Revoke, forgets) trust in a repo's .studio.toml.
type TrustParams struct {
	Repo   string `json:"repo"`
	Revoke bool   `json:"revoke,omitempty"`
	// Check only reports whether the config is trusted, changing nothing.
	Check bool `json:"check,omitempty"`
}

// TrustResult says what was trusted.
type TrustResult struct {
	Path     string   `json:"path"`
	Hash     string   `json:"hash"`
	Trusted  bool     `json:"trusted"`
	Commands []string `json:"commands"` // what trusting allows to run
}

// ConflictsParams filters predicted conflicts.
type ConflictsParams struct {
	Repo    string `json:"repo,omitempty"`
	Session string `json:"session,omitempty"`
	Path    string `json:"path,omitempty"`
}

// Kind says how two sides collide on a path.
type Kind = vocab.Kind

// Conflict kinds.
const (
	KindContent      = vocab.KindContent
	KindModifyDelete = vocab.KindModifyDelete
	KindAddAdd       = vocab.KindAddAdd
	KindRename       = vocab.KindRename
	KindBinary       = vocab.KindBinary
	KindMode         = vocab.KindMode
	KindOverlap      = vocab.KindOverlap // both sides change the file; it merges cleanly
)

// Severity says whether a collision fails a merge.
type Severity = vocab.Severity

// Severities.
const (
	SeverityConflict = vocab.SeverityConflict // the merge would fail
	SeverityOverlap  = vocab.SeverityOverlap  // both sides change the file; it merges cleanly
)

// TargetSide is the Side.Session of a conflict's target-branch side.
const TargetSide = vocab.TargetSide

// Conflict is one predicted collision between two sides on one path. A side
// is a session name or "target".
type Conflict struct {
	ID       string   `json:"id"` // stable while the conflict lasts
	Repo     string   `json:"repo"`
	Path     string   `json:"path"`
	Kind     Kind     `json:"kind"`
	Severity Severity `json:"severity"`
	A        Side     `json:"a"`
	B        Side     `json:"b"`
}

// Side is one party to a conflict, with the lines it changed in its own file.
type Side struct {
	Session string  `json:"session"` // session name, or TargetSide
	Path    string  `json:"path"`    // path on this side (differs after a rename)
	File    string  `json:"file"`    // absolute path of this side's copy
	Ranges  []Range `json:"ranges"`
}

// Range is a 1-based, inclusive line range. End < Start marks a pure deletion
// before line Start.
type Range struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// ConflictsResult is the full set.
type ConflictsResult struct {
	Conflicts []Conflict `json:"conflicts"`
}

// ConflictsChanged carries a delta, never the whole set again.
type ConflictsChanged struct {
	Added    []Conflict `json:"added,omitempty"`
	Updated  []Conflict `json:"updated,omitempty"`
	Resolved []string   `json:"resolved,omitempty"` // IDs
	Seq      int64      `json:"seq,omitempty"`      // see SubscribeResult.Seq
}

// DiffParams asks for a session's changes.
type DiffParams struct {
	SessionRef
	Against string   `json:"against,omitempty"` // "base" (default) or "target"
	Paths   []string `json:"paths,omitempty"`
	Stat    bool     `json:"stat,omitempty"` // no hunks
}

// DiffResult is a session's changes, uncommitted work included.
type DiffResult struct {
	From  string     `json:"from"` // commit compared against
	To    string     `json:"to"`   // snapshot commit of the worktree
	Files []FileDiff `json:"files"`
	Stats Changes    `json:"stats"`
}

// FileDiff is one changed file.
type FileDiff struct {
	Path    string `json:"path"`
	OldPath string `json:"oldPath,omitempty"`
	Status  string `json:"status"` // added, modified, deleted, renamed
	// OldMode and NewMode are git's file modes on each side ("100644",
	// "100755", "120000" for a link, "160000" for a submodule); empty on
	// the side where the file does not exist.
	OldMode   string `json:"oldMode,omitempty"`
	NewMode   string `json:"newMode,omitempty"`
	Binary    bool   `json:"binary,omitempty"`
	Additions int    `json:"additions"`
	Deletions int    `json:"deletions"`
	Hunks     []Hunk `json:"hunks,omitempty"`
}

// Hunk is one unified-diff hunk.
type Hunk struct {
	OldStart int      `json:"oldStart"`
	OldLines int      `json:"oldLines"`
	NewStart int      `json:"newStart"`
	NewLines int      `json:"newLines"`
	Header   string   `json:"header,omitempty"`
	Lines    []string `json:"lines"` // each prefixed with ' ', '+' or '-'
}

// FileVersion names a version of a session's file.
type FileVersion string

// File versions.
const (
	FileBase     FileVersion = "base"     // at the commit the session started from
	FileTarget   FileVersion = "target"   // at the target branch's tip
	FileWorktree FileVersion = "worktree" // in the session's worktree now
	FileSnapshot FileVersion = "snapshot" // in the newest snapshot of the worktree
)

// FileParams asks for one version of a file.
type FileParams struct {
	SessionRef
	Path    string      `json:"path"`
	Version FileVersion `json:"version"`
	// MaxSize, when set, caps the content: a larger file comes back
	// TooLarge, without it.
	MaxSize int64 `json:"maxSize,omitempty"`
}

// FileResult is the file's content; Missing when it does not exist there.
type FileResult struct {
	Content  string `json:"content"`
	Missing  bool   `json:"missing,omitempty"`
	Binary   bool   `json:"binary,omitempty"`
	TooLarge bool   `json:"tooLarge,omitempty"` // larger than the MaxSize asked
}

// CommentParams adds a review comment on lines of a file.
type CommentParams struct {
	SessionRef
	Path      string `json:"path"`
	StartLine int    `json:"startLine"`
	EndLine   int    `json:"endLine,omitempty"`
	Body      string `json:"body"`
	// By is the session making the comment (its ID or name: the CLI and
	// the MCP face fill it from STUDIO_SESSION_ID inside a session).
	By string `json:"by,omitempty"`
}

// Comment is a stored review comment.
type Comment struct {
	ID        int64      `json:"id"`
	Session   string     `json:"session"`
	Path      string     `json:"path"`
	StartLine int        `json:"startLine"`
	EndLine   int        `json:"endLine"`
	Body      string     `json:"body"`
	Created   time.Time  `json:"created"`
	Sent      *time.Time `json:"sent,omitempty"`
	By        string     `json:"by,omitempty"` // the reviewer session's name
}

// CommentsResult lists a session's comments.
type CommentsResult struct {
	Comments []Comment `json:"comments"`
}

// FeedbackResult says what was delivered to the agent.
type FeedbackResult struct {
	Sent     int      `json:"sent"`
	Message  string   `json:"message"`
	Delivery Delivery `json:"delivery"`
}

// Strategy is how a session's work lands on its target.
type Strategy string

// Merge strategies.
const (
	StrategyMerge  Strategy = "merge"  // a merge commit (no fast-forward)
	StrategySquash Strategy = "squash" // one commit with the session's changes
	StrategyRebase Strategy = "rebase" // the session's commits replayed on the target
)

// MergeParams merges a session into its target.
type MergeParams struct {
	SessionRef
	Strategy Strategy `json:"strategy,omitempty"`
	Message  string   `json:"message,omitempty"`
	Cleanup  bool     `json:"cleanup,omitempty"`
	DryRun   bool     `json:"dryRun,omitempty"`
	Force    bool     `json:"force,omitempty"`
	// WorkDoneToken, when set, asks for $/progress notifications on this
	// connection as the merge goes through its steps.
	WorkDoneToken any `json:"workDoneToken,omitempty"`
}

// MergeResult describes a merge that happened (or would, with DryRun).
type MergeResult struct {
	Session  Session  `json:"session"`
	Strategy Strategy `json:"strategy"`
	Target   string   `json:"target"`
	Old      string   `json:"old"`    // target tip before
	New      string   `json:"new"`    // target tip after
	Backup   string   `json:"backup"` // backup ref of the old tip
	DryRun   bool     `json:"dryRun,omitempty"`
	Files    int      `json:"files"`
}

// MergeConflictData is the data of a CodeMergeConflict error.
type MergeConflictData struct {
	ErrorData
	Conflicts []Conflict `json:"conflicts"`
	// Paths are the conflicted paths, also when no prediction was at hand.
	Paths []string `json:"paths"`
	// Sent reports that the conflict list went to the agent (studio/sync
	// with send), and Via how (typed or resume).
	Sent bool   `json:"sent,omitempty"`
	Via  string `json:"via,omitempty"`
}

// TargetDirtyData is the data of CodeTargetDirty: the target's worktree
// and the paths with local changes in the merge's way.
type TargetDirtyData struct {
	ErrorData
	Worktree string   `json:"worktree"`
	Paths    []string `json:"paths"`
}

// WhoParams asks which sessions are changing a file, optionally only
// those whose changes touch lines Start to End (1-based, inclusive) of it.
type WhoParams struct {
	Repo  string `json:"repo,omitempty"`
	Path  string `json:"path"` // repository-relative, or absolute inside the repo or a session worktree
	Start int    `json:"start,omitempty"`
	End   int    `json:"end,omitempty"`
}

// WhoResult lists the sessions changing a file.
type WhoResult struct {
	Repo     string     `json:"repo"`
	Path     string     `json:"path"` // repository-relative
	Sessions []Presence `json:"sessions"`
}

// Presence is one session's work on a file, uncommitted included.
type Presence struct {
	Session   string `json:"session"` // name
	ID        string `json:"id"`
	Agent     string `json:"agent"`
	State     State  `json:"state"`
	Status    string `json:"status"` // added, modified, deleted, renamed
	Additions int    `json:"additions"`
	Deletions int    `json:"deletions"`
	// Ranges are the lines the session changed, in its own copy.
	Ranges []Range  `json:"ranges"`
	Scope  []string `json:"scope,omitempty"`
	// InScope says the path is inside the session's scope (always true
	// for a session without one).
	InScope bool   `json:"inScope"`
	Note    string `json:"note,omitempty"`
}

// NoteParams sets a session's intent note.
type NoteParams struct {
	SessionRef
	Note string `json:"note"`
}

// Empty is the params or result of a request that has none.
type Empty struct{}

// UndoResult says what undo restored.
type UndoResult struct {
	Target   string `json:"target"`
	Restored string `json:"restored"`
	Undone   string `json:"undone"`
}

// PoolParams asks for the warm pools of ready worktrees: of the repository
// containing Repo (every repository the pool follows when empty). Prune
// removes their worktrees first (no refill until the next spawn there);
// Wait answers once their pending work (checkouts, prepare commands,
// refreshes) is done.
type PoolParams struct {
	Repo  string `json:"repo,omitempty"`
	Prune bool   `json:"prune,omitempty"`
	Wait  bool   `json:"wait,omitempty"`
}

// PoolResult lists the pools.
type PoolResult struct {
	Repos []PoolRepo `json:"repos"`
}

// PoolRepo is one repository's pool.
type PoolRepo struct {
	Repo     string     `json:"repo"`
	Target   string     `json:"target"` // the branch its trees follow
	Tip      string     `json:"tip"`    // that branch's commit
	Size     int        `json:"size"`   // trees wanted ([pool] size, or the default)
	Bytes    int64      `json:"bytes"`  // on disk, all its trees
	MaxBytes int64      `json:"maxBytes"`
	Note     string     `json:"note,omitempty"` // why it has fewer trees than wanted
	Trees    []PoolTree `json:"trees"`
}

// PoolTree is one ready (or soon ready) worktree.
type PoolTree struct {
	ID     string        `json:"id"`
	Path   string        `json:"path"`
	State  PoolTreeState `json:"state"`
	Commit string        `json:"commit"`
	Bytes  int64         `json:"bytes"`
}

// PoolTreeState is what a pool tree is doing.
type PoolTreeState string

// Pool tree states.
const (
	PoolReady      PoolTreeState = "ready"      // at the tip, prepared, clean: a spawn takes it
	PoolPreparing  PoolTreeState = "preparing"  // being checked out or prepared
	PoolRefreshing PoolTreeState = "refreshing" // being moved to the new tip, or cleaned
	PoolRemoving   PoolTreeState = "removing"   // being removed (pruned, or too many)
)

// FsmonitorParams is git's fsmonitor hook question (protocol version 2),
// relayed by `studiod fsmonitor`: what changed in Worktree since Token?
type FsmonitorParams struct {
	Worktree string `json:"worktree"` // absolute
	Token    string `json:"token"`
}

// FsmonitorResult answers it: the paths changed since the token
// (directories end in "/"), and the token for now; Full means everything
// may have changed (git then looks at everything itself).
type FsmonitorResult struct {
	Token string   `json:"token"`
	Paths []string `json:"paths"`
	Full  bool     `json:"full,omitempty"`
}

// HostsParams asks about the configured hosts, or one of them.
type HostsParams struct {
	Host string `json:"host,omitempty"`
}

// HostsResult lists the hosts of the user's config.
type HostsResult struct {
	Hosts []Host `json:"hosts"`
}

// Host is a configured machine sessions can run on, as it answered now.
type Host struct {
	Name      string `json:"name"`
	SSH       string `json:"ssh"`
	Dir       string `json:"dir"`
	Reachable bool   `json:"reachable"`
	// Error says why the host cannot hold sessions (unreachable, no git).
	Error   string `json:"error,omitempty"`
	Version string `json:"version,omitempty"` // studiod's there
	Build   string `json:"build,omitempty"`
	Git     string `json:"git,omitempty"`
	Load    string `json:"load,omitempty"` // its load averages
	// Sessions counts the agents running on the host; Here those of this
	// daemon's sessions that are live there.
	Sessions int `json:"sessions"`
	Here     int `json:"here"`
}
