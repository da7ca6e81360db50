package server

import (
	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/workspace"
)

// The one boundary where the domain's values become wire values. agents
// and workspace name states, kinds and severities as protocol does; the
// conversions below are where that holds (convert_test.go checks it).

func wireSession(s agents.Session) protocol.Session {
	p := protocol.Session{
		ID: s.ID, Name: s.Name, Repo: s.Repo, Branch: s.Branch, Base: s.Base, Target: s.Target,
		Worktree: s.Worktree, Agent: s.Agent, Command: s.Command, Prompt: s.Prompt, State: protocol.State(s.State),
		Detail: s.Detail, PID: s.PID, ExitCode: s.ExitCode, Port: s.Port, Created: s.Created, Updated: s.Updated,
		Changes:       protocol.Changes{Files: s.Changes.Files, Additions: s.Changes.Additions, Deletions: s.Changes.Deletions},
		Conflicts:     s.Conflicts,
		Behind:        s.Behind,
		WouldConflict: s.WouldConflict,
		Log:           s.Endpoints.Log,
	}
	if p.State.Live() {
		p.Socket = s.Endpoints.Socket
	}
	p.Conversation = s.Conversation
	if u := s.Usage; u != nil {
		p.Usage = &protocol.Usage{Input: u.Input, Output: u.Output, CacheRead: u.CacheRead, CacheWrite: u.CacheWrite, Cost: u.Cost,
			Context: u.Context, ContextWindow: u.ContextWindow}
	}
	if b := s.Budget; b != nil {
		p.Budget = &protocol.Budget{Tokens: b.Tokens, Cost: b.Cost, Text: b.String()}
		if share, known := b.Spent(s.Usage); known {
			p.Budget.Spent = &share
		}
	}
	p.Protocol = s.Protocol
	p.Host = s.Host
	p.PermissionMode = agents.PermissionMode(s.Command)
	p.Scope, p.OutOfScope, p.Note, p.Gate = s.Scope, s.OutOfScope, s.Note, protocol.GateMode(s.Gate)
	if a := s.Ask; a != nil {
		w := &protocol.Waiting{Kind: protocol.WaitKind(a.Kind), Question: a.Question, Tool: a.Tool, Subject: a.Subject, Source: a.Source}
		for _, o := range a.Options {
			w.Options = append(w.Options, protocol.Option{ID: o.ID, Kind: protocol.Answer(o.Kind), Label: o.Label})
		}
		p.Waiting = w
	}
	return p
}

func wireDelivery(d agents.Delivery) protocol.Delivery {
	return protocol.Delivery{Via: d.Via, Confirmed: d.Confirmed, Note: d.Note, Queued: d.Queued}
}

func ref(r protocol.SessionRef) agents.Ref { return agents.Ref{Session: r.Session, Repo: r.Repo} }

func wireRanges(rs []workspace.Range) []protocol.Range {
	out := make([]protocol.Range, len(rs))
	for i, r := range rs {
		out[i] = protocol.Range{Start: r.Start, End: r.End}
	}
	return out
}

func wireConflict(c workspace.Conflict) protocol.Conflict {
	side := func(s workspace.Side) protocol.Side {
		return protocol.Side{Session: s.Name, Path: s.Path, File: s.File, Ranges: wireRanges(s.Ranges)}
	}
	return protocol.Conflict{ID: c.ID, Repo: c.Repo, Path: c.Path, Kind: protocol.Kind(c.Kind),
		Severity: protocol.Severity(c.Severity), A: side(c.A), B: side(c.B)}
}

func wireConflicts(list []workspace.Conflict) []protocol.Conflict {
	out := make([]protocol.Conflict, len(list))
	for i, c := range list {
		out[i] = wireConflict(c)
	}
	return out
}

func wireFiles(files []workspace.FileDiff) []protocol.FileDiff {
	out := make([]protocol.FileDiff, len(files))
	for i, f := range files {
		hunks := make([]protocol.Hunk, len(f.Hunks))
		for j, h := range f.Hunks {
			hunks[j] = protocol.Hunk{OldStart: h.OldStart, OldLines: h.OldLines, NewStart: h.NewStart, NewLines: h.NewLines, Header: h.Header, Lines: h.Lines}
		}
		out[i] = protocol.FileDiff{Path: f.Path, OldPath: f.OldPath, Status: f.Status, OldMode: f.OldMode, NewMode: f.NewMode, Binary: f.Binary,
			Additions: f.Additions, Deletions: f.Deletions, Hunks: hunks}
	}
	return out
}

func wireComment(c agents.Comment) protocol.Comment {
	return protocol.Comment{ID: c.ID, Session: c.Session, Path: c.Path, StartLine: c.StartLine, EndLine: c.EndLine,
		Body: c.Body, Created: c.Created, Sent: c.Sent, By: c.By}
}

func wireActivity(a agents.Activity) protocol.SessionActivity {
	n := protocol.SessionActivity{Session: a.Session}
	if t := a.Tool; t != nil {
		n.Tool = &protocol.ToolCall{ID: t.ID, Title: t.Title, Kind: t.Kind, Status: t.Status, Files: t.Files}
	}
	for _, p := range a.Plan {
		n.Plan = append(n.Plan, protocol.PlanStep{Content: p.Content, Status: p.Status, Priority: p.Priority})
	}
	return n
}
