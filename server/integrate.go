package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/workspace"
)

// Integration requests: studio/preview, studio/land, studio/undoLand and
// studio/sync, and the studio/previewChanged fan-out.

func (a *core) Preview(ctx context.Context, p protocol.PreviewParams) (*protocol.Preview, error) {
	pv, err := a.m.Preview(ctx, agents.PreviewRequest{Repo: p.Repo, Sessions: p.Sessions, Target: p.Target, Check: p.Check, CheckCommand: p.CheckCommand})
	if err != nil {
		return nil, err
	}
	return ptr(wirePreview(pv)), nil
}

func (a *core) Land(ctx context.Context, p protocol.LandParams) (*protocol.LandResult, error) {
	refs := make([]protocol.SessionRef, len(p.Sessions))
	for i, name := range p.Sessions {
		refs[i] = protocol.SessionRef{Session: name, Repo: p.Repo}
	}
	if p.Resume != "" {
		refs = nil
	}
	if err := a.actsOn(ctx, "land", refs...); err != nil {
		return nil, err
	}
	pr := connOf(ctx).progress(p.WorkDoneToken, "Landing sessions")
	defer pr.end()
	// A land is a queue of transactions: once started it goes on (or
	// stops at a merge boundary) whatever happens to the client.
	l, err := a.m.Land(context.WithoutCancel(ctx), agents.LandRequest{
		Repo: p.Repo, Sessions: p.Sessions, Strategy: string(p.Strategy), Check: p.Check, CheckCommand: p.CheckCommand,
		SendFailures: p.SendFailures, Force: p.Force, Resume: p.Resume, Progress: pr.report,
	})
	if err != nil {
		return nil, err
	}
	return ptr(a.wireLand(l)), nil
}

func (a *core) UndoLand(ctx context.Context, p protocol.UndoLandParams) (*protocol.UndoLandResult, error) {
	if p.Land == "" {
		return nil, problem(protocol.CodeInvalid, protocol.FixLandID, "no land named")
	}
	if err := a.actsOn(ctx, "undo a land"); err != nil {
		return nil, err
	}
	res, err := a.m.UndoLand(context.WithoutCancel(ctx), p.Repo, p.Land)
	if err != nil {
		return nil, err
	}
	out := &protocol.UndoLandResult{ID: res.Land.ID, Target: res.Land.Target, Restored: res.Restored, Undone: res.Undone, Sessions: []string{}}
	for _, d := range res.Land.Landed {
		out.Sessions = append(out.Sessions, d.Name)
	}
	return out, nil
}

func (a *core) Sync(ctx context.Context, p protocol.SyncParams) (*protocol.SyncResult, error) {
	if err := a.actsOn(ctx, "sync", p.SessionRef); err != nil {
		return nil, err
	}
	s, res, err := a.m.Sync(context.WithoutCancel(ctx), ref(p.SessionRef), agents.SyncRequest{Strategy: string(p.Strategy), Send: p.Send, Force: p.Force})
	if err != nil {
		return nil, err
	}
	return &protocol.SyncResult{Session: wireSession(s), Strategy: protocol.Strategy(res.Strategy), Target: s.Target, TargetTip: res.TargetTip,
		Old: res.Old, New: res.New, Backup: res.Backup, Checkpoint: res.Checkpoint, UpToDate: res.UpToDate}, nil
}

func wirePreview(p agents.Preview) protocol.Preview {
	out := protocol.Preview{Repo: p.Repo, Target: p.Target, Tip: p.Tip, Generation: p.Generation, Computed: p.Computed,
		DurationMs: p.Duration.Milliseconds(), Commit: p.Commit, Tree: p.Tree, Order: []string{},
		Sessions: []protocol.PreviewSession{}, Conflicts: wireConflicts(p.Conflicts)}
	for _, ps := range p.Sessions {
		w := protocol.PreviewSession{Session: ps.Session.Name, ID: ps.Session.ID, State: protocol.State(ps.Session.State),
			Commit: ps.Commit, Status: protocol.PreviewStatus(ps.Status), Position: ps.Position,
			With: ps.With, Check: protocol.CheckStatus(ps.Check)}
		for _, f := range ps.Files {
			w.Paths = append(w.Paths, f.Path)
		}
		w.Reason = previewReason(p, ps)
		if ps.Left == workspace.LeftTarget || ps.Left == workspace.LeftSession {
			w.Fix = protocol.FixSyncSend
		}
		if ps.Position > 0 {
			out.Order = append(out.Order, ps.Session.Name)
		}
		out.Sessions = append(out.Sessions, w)
	}
	if p.Check != nil {
		out.Check = wireCheckRun(*p.Check)
	}
	return out
}

// previewReason says for people why a session is left out of the order,
// with lines written as every face writes them.
func previewReason(p agents.Preview, ps agents.PreviewSession) string {
	files := func() string {
		var parts []string
		for _, f := range ps.Files {
			// A is the side left out: its own lines.
			if len(f.A.Ranges) > 0 {
				parts = append(parts, fmt.Sprintf("%s (%s)", f.Path, protocol.FormatRanges(wireRanges(f.A.Ranges))))
				continue
			}
			parts = append(parts, f.Path)
		}
		if len(parts) == 0 {
			return "their changes"
		}
		return strings.Join(parts, ", ")
	}
	switch ps.Left {
	case "":
		return ""
	case workspace.LeftEmpty:
		return "nothing to merge: " + p.Target + " has all of it"
	case workspace.LeftError:
		return "cannot be merged: " + ps.Err
	case workspace.LeftTarget:
		return "conflicts with " + p.Target + " in " + files()
	case workspace.LeftSession:
		return "conflicts with " + strings.Join(ps.With, ", ") + " in " + files() + "; it can be synced once they have landed"
	case workspace.LeftCombination:
		return "conflicts with the combination of " + strings.Join(ps.With, ", ") + " in " + files()
	case agents.LeftCheck:
		if len(ps.With) > 0 {
			return "the check fails when it is combined with " + strings.Join(ps.With, ", ")
		}
		return "the check fails with it on " + p.Target
	}
	return ps.Left
}

func wireCheckTry(t agents.CheckTry) protocol.CheckTry {
	names := t.Sessions
	if names == nil {
		names = []string{}
	}
	return protocol.CheckTry{Sessions: names, Commit: t.Commit, Status: protocol.CheckStatus(t.Status), ExitCode: t.ExitCode,
		Log: t.Log, Tail: t.Tail, DurationMs: t.Duration.Milliseconds()}
}

func wireCheckRun(r agents.CheckRun) *protocol.CheckRun {
	out := &protocol.CheckRun{Command: r.Command, Status: protocol.CheckStatus(r.Status), Started: r.Started,
		Tries: []protocol.CheckTry{}, Culprit: r.Culprit, Reason: r.Reason, Log: r.Log, Tail: r.Tail}
	if !r.Finished.IsZero() {
		f := r.Finished
		out.Finished = &f
	}
	for _, t := range r.Tries {
		out.Tries = append(out.Tries, wireCheckTry(t))
	}
	return out
}

func (a *core) wireLand(l *agents.Land) protocol.LandResult {
	out := protocol.LandResult{ID: l.ID, Repo: l.Repo, Target: l.Target, Status: protocol.LandStatus(l.Status),
		Old: l.Old, New: l.New(), Landed: []protocol.LandedSession{}, Started: l.Started.In(time.UTC)}
	for _, d := range l.Landed {
		ls := protocol.LandedSession{Session: d.Name, ID: d.Session, Strategy: protocol.Strategy(d.Strategy), Old: d.Old, New: d.New, Backup: d.Backup}
		if d.Check != nil {
			t := wireCheckTry(*d.Check)
			ls.Check = &t
		}
		out.Landed = append(out.Landed, ls)
	}
	if st := l.Stopped; st != nil {
		ws := &protocol.LandStop{Session: st.Name, ID: st.Session, Reason: protocol.StopReason(st.Reason), Message: st.Message,
			Conflicts: wireConflicts(st.Conflicts), Paths: st.Paths, Sent: st.Sent, Via: st.Via}
		if st.Check != nil {
			t := wireCheckTry(*st.Check)
			ws.Check = &t
		}
		out.Stopped = ws
	}
	for _, id := range l.Remaining() {
		if s, err := a.m.Lookup(agents.Ref{Session: id}); err == nil {
			out.Remaining = append(out.Remaining, s.Name)
		}
	}
	return out
}
