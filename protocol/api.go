package protocol

import (
	"bytes"
	"context"
	"encoding/json"
)

// API is the daemon's typed surface: one method per studio/* request, named
// as the request is ("studio/" + the method's name in lower camel case). The
// daemon core implements it, and so does Client, so a face (the CLI, the LSP
// and MCP adapters, tests) holds the same API whether it runs in the daemon
// or talks to it over a socket.
//
// Requests that concern the calling connection (Subscribe, and progress for
// the requests that take a WorkDoneToken) act on the connection the call
// arrived on.
type API interface {
	Hello(context.Context, HelloParams) (*HelloResult, error)
	Spawn(context.Context, SpawnParams) (*Session, error)
	Sessions(context.Context, SessionsParams) (*SessionsResult, error)
	Session(context.Context, SessionRef) (*Session, error)
	Send(context.Context, SendParams) (*SendResult, error)
	Answer(context.Context, AnswerParams) (*AnswerResult, error)
	Cancel(context.Context, SessionRef) (*Session, error)
	Output(context.Context, OutputParams) (*OutputResult, error)
	Resize(context.Context, ResizeParams) (*Session, error)
	Stop(context.Context, StopParams) (*Session, error)
	Remove(context.Context, RemoveParams) (*RemoveResult, error)
	Hook(context.Context, HookParams) (*HookResult, error)
	Diff(context.Context, DiffParams) (*DiffResult, error)
	File(context.Context, FileParams) (*FileResult, error)
	Comment(context.Context, CommentParams) (*Comment, error)
	Comments(context.Context, SessionRef) (*CommentsResult, error)
	Feedback(context.Context, SessionRef) (*FeedbackResult, error)
	Conflicts(context.Context, ConflictsParams) (*ConflictsResult, error)
	Who(context.Context, WhoParams) (*WhoResult, error)
	Note(context.Context, NoteParams) (*Session, error)
	Budget(context.Context, BudgetParams) (*Session, error)
	Merge(context.Context, MergeParams) (*MergeResult, error)
	Undo(context.Context, SessionRef) (*UndoResult, error)
	Preview(context.Context, PreviewParams) (*Preview, error)
	Land(context.Context, LandParams) (*LandResult, error)
	UndoLand(context.Context, UndoLandParams) (*UndoLandResult, error)
	Sync(context.Context, SyncParams) (*SyncResult, error)
	Subscribe(context.Context, SubscribeParams) (*SubscribeResult, error)
	Status(context.Context, Empty) (*StatusResult, error)
	Trust(context.Context, TrustParams) (*TrustResult, error)
	Pool(context.Context, PoolParams) (*PoolResult, error)
	Fsmonitor(context.Context, FsmonitorParams) (*FsmonitorResult, error)
	Salvage(context.Context, SalvageParams) (*SalvageResult, error)
	Restore(context.Context, RestoreParams) (*RestoreResult, error)
	PlanCheck(context.Context, PlanCheckParams) (*PlanReport, error)
	PlanRun(context.Context, PlanRunParams) (*Plan, error)
	Plans(context.Context, PlansParams) (*PlansResult, error)
	PlanCancel(context.Context, PlanCancelParams) (*Plan, error)
	ReviewBy(context.Context, ReviewByParams) (*Session, error)
	Shutdown(context.Context, Empty) (*Empty, error)
	Profiles(context.Context, ProfilesParams) (*ProfilesResult, error)
	Hosts(context.Context, HostsParams) (*HostsResult, error)
}

// Handler serves one request from its raw params.
type Handler func(ctx context.Context, params json.RawMessage) (any, error)

// route wraps one API method: absent or null params are P's zero value;
// params of the wrong shape are an invalid-params error naming the field.
func route[P, R any](f func(context.Context, P) (*R, error)) Handler {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		p, err := Decode[P](raw)
		if err != nil {
			return nil, err
		}
		r, err := f(ctx, p)
		if err != nil {
			return nil, err
		}
		return r, nil
	}
}

// Decode unmarshals params into a P, reporting values of the wrong type as
// an invalid-params error. Unknown fields are ignored, so older daemons take
// requests from newer clients.
func Decode[P any](raw json.RawMessage) (P, error) {
	var p P
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return p, nil
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return p, &Error{Code: CodeInvalidParams, Message: "invalid params: " + err.Error()}
	}
	return p, nil
}

// Events routes the daemon's notifications to typed handlers. A nil handler
// ignores its notifications, as do all handlers for a notification that does
// not decode. Use its Notify method as a Client's NotifyFunc.
type Events struct {
	SessionChanged   func(SessionChanged)
	ConflictsChanged func(ConflictsChanged)
	Output           func(OutputNotification)
	PreviewChanged   func(PreviewChanged)
	SessionActivity  func(SessionActivity)
	Progress         func(ProgressParams)
}

// Notify decodes one notification and calls its handler.
func (e *Events) Notify(method string, params json.RawMessage) {
	switch method {
	case NotifySessionChanged:
		dispatch(params, e.SessionChanged)
	case NotifyConflictsChanged:
		dispatch(params, e.ConflictsChanged)
	case NotifyOutput:
		dispatch(params, e.Output)
	case NotifyPreviewChanged:
		dispatch(params, e.PreviewChanged)
	case NotifySessionActivity:
		dispatch(params, e.SessionActivity)
	case NotifyProgress:
		dispatch(params, e.Progress)
	}
}

func dispatch[T any](params json.RawMessage, fn func(T)) {
	if fn == nil {
		return
	}
	var v T
	if json.Unmarshal(params, &v) == nil {
		fn(v)
	}
}
