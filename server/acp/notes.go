package acp

import (
	"fmt"
	"strings"

	sdk "github.com/coder/acp-go-sdk"

	"github.com/studiod/studiod/protocol"
)

// note tells the client something only studiod knows, as a completed
// tool call of kind "other" (clients show it apart from the agent's
// messages, with locations the person can open); a later note with the
// same key changes it.
func (s *Server) note(th *thread, key, title string, locs []sdk.ToolCallLocation) {
	id := sdk.ToolCallId("studiod-" + key)
	if _, ok := th.noted[key]; ok {
		s.update(th, sdk.UpdateToolCall(id, sdk.WithUpdateTitle(title), sdk.WithUpdateLocations(locs)))
		return
	}
	th.noted[key] = title
	s.update(th, sdk.StartToolCall(id, title, sdk.WithStartKind(sdk.ToolKindOther),
		sdk.WithStartStatus(sdk.ToolCallStatusCompleted), sdk.WithStartLocations(locs)))
}

// sessionChanged follows a session's record: how far its branch is behind
// its target, a stream to restart when its agent runs again, and, for a
// terminal agent, its turns and questions.
func (s *Server) sessionChanged(sess protocol.Session) {
	s.mu.Lock()
	th := s.byID[sess.ID]
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if th == nil {
		return
	}
	if sess.Behind != th.behind {
		th.behind = sess.Behind
		if sess.Behind > 0 {
			how := "merges cleanly"
			if sess.WouldConflict {
				how = "would conflict"
			}
			s.note(th, "behind", fmt.Sprintf("studiod: %s is %d commit%s behind %s; merging now %s", sess.Name, sess.Behind, plural(sess.Behind), sess.Target, how), nil)
		} else {
			s.note(th, "behind", fmt.Sprintf("studiod: %s is up to date with %s", sess.Name, sess.Target), nil)
		}
	}
	prev := th.state
	th.state = sess.State
	if th.acp {
		if sess.State == protocol.StateWaiting && sess.Waiting != nil && sess.Waiting.Kind == protocol.WaitBudget && prev != sess.State {
			// The agent's turn ends cancelled; the note says why.
			s.note(th, "budget", "studiod: "+sess.Waiting.Question, nil)
		}
		if sess.State.Live() && !th.streaming {
			if err := s.startStream(s.ctx, th); err != nil {
				s.cfg.Log.Warn("follow", "session", th.name, "err", err)
			}
		}
		return
	}
	s.terminalTurn(th, sess, prev)
}

// terminalTurn follows a terminal agent's turn from its states: working
// starts it, idle (or the end of the agent) ends it; a permission or a
// question it waits on goes to the client.
func (s *Server) terminalTurn(th *thread, sess protocol.Session, prev protocol.State) {
	s.mu.Lock()
	var t *turn
	if len(th.turns) > 0 {
		t = th.turns[0]
	}
	ask := th.ask
	s.mu.Unlock()
	if ask != nil && sess.State != protocol.StateWaiting {
		s.mu.Lock()
		cancel := ask.cancel
		th.ask = nil
		s.mu.Unlock()
		if cancel != nil {
			cancel()
		}
	}
	budget := sess.State == protocol.StateWaiting && sess.Waiting != nil && sess.Waiting.Kind == protocol.WaitBudget
	if budget {
		// Nothing for the client to answer: the person raises the budget.
		s.note(th, "budget", "studiod: "+sess.Waiting.Question, nil)
	} else if sess.State == protocol.StateWaiting && sess.Waiting != nil && ask == nil {
		s.askTerminal(th, *sess.Waiting)
	}
	if t == nil {
		return
	}
	switch {
	case budget:
		t.end(sdk.PromptResponse{StopReason: sdk.StopReasonCancelled}, nil)
	case sess.State == protocol.StateWorking:
		t.started = true
	case !sess.State.Live():
		t.end(sdk.PromptResponse{}, &sdk.RequestError{Code: -32603, Message: fmt.Sprintf("the agent of session %s is %s: %s", sess.Name, sess.State, sess.Detail)})
	case sess.State == protocol.StateIdle && (t.started || prev == protocol.StateWorking):
		s.update(th, sdk.UpdateAgentMessageText(fmt.Sprintf("(%s, a terminal agent, finished its turn: %d files changed, +%d −%d; its words are in `studiod attach %s`)",
			sess.Agent, sess.Changes.Files, sess.Changes.Additions, sess.Changes.Deletions, sess.Name)))
		t.end(sdk.PromptResponse{StopReason: sdk.StopReasonEndTurn}, nil)
	}
}

// askTerminal puts a terminal agent's question to the client as a
// permission request with its options (allow and reject when it names
// none).
func (s *Server) askTerminal(th *thread, w protocol.Waiting) {
	opts := w.Options
	if len(opts) == 0 {
		opts = []protocol.Option{{ID: "allow", Kind: protocol.AnswerAllow, Label: "Allow"}, {ID: "reject", Kind: protocol.AnswerReject, Label: "Reject"}}
	}
	kinds := map[protocol.Answer]sdk.PermissionOptionKind{protocol.AnswerAllow: sdk.PermissionOptionKindAllowOnce,
		protocol.AnswerAlways: sdk.PermissionOptionKindAllowAlways, protocol.AnswerReject: sdk.PermissionOptionKindRejectOnce,
		protocol.AnswerNever: sdk.PermissionOptionKindRejectAlways}
	var req sdk.RequestPermissionRequest
	for _, o := range opts {
		k, ok := kinds[o.Kind]
		if !ok {
			k = sdk.PermissionOptionKindAllowOnce
		}
		req.Options = append(req.Options, sdk.PermissionOption{OptionId: sdk.PermissionOptionId(o.ID), Name: o.Label, Kind: k})
	}
	kind := sdk.ToolKindOther
	req.ToolCall = sdk.ToolCallUpdate{ToolCallId: sdk.ToolCallId("studiod-ask-" + th.id), Title: ptr(w.Question), Kind: &kind}
	p := &perm{key: "terminal", req: req}
	s.mu.Lock()
	th.ask = p
	s.mu.Unlock()
	s.ask(th, p)
}

// conflictsChanged tells each thread of the conflicts it is in, and of
// those resolved.
func (s *Server) conflictsChanged(n protocol.ConflictsChanged) {
	s.mu.Lock()
	for _, c := range append(n.Added, n.Updated...) {
		s.conflicts[c.ID] = c
	}
	for _, id := range n.Resolved {
		delete(s.conflicts, id)
	}
	var ths []*thread
	for _, th := range s.byID {
		ths = append(ths, th)
	}
	s.mu.Unlock()
	for _, th := range ths {
		for _, c := range append(n.Added, n.Updated...) {
			s.noteConflict(th, c)
		}
		for _, id := range n.Resolved {
			if title, ok := th.noted["conflict-"+id]; ok {
				s.note(th, "conflict-"+id, "resolved: "+strings.TrimPrefix(title, "studiod: "), nil)
			}
		}
	}
}

// noteConflicts tells a thread just opened of the conflicts it is in.
func (s *Server) noteConflicts(th *thread) {
	s.mu.Lock()
	var cs []protocol.Conflict
	for _, c := range s.conflicts {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		s.noteConflict(th, c)
	}
}

// noteConflict tells th of c when th's session is one of its sides:
// "session billing changes lines 40–52 of auth.go you are editing".
func (s *Server) noteConflict(th *thread, c protocol.Conflict) {
	if c.Repo != th.repo {
		return
	}
	mine, other := c.A, c.B
	if other.Session == th.name {
		mine, other = other, mine
	}
	if mine.Session != th.name {
		return
	}
	who := "session " + other.Session
	if other.Session == protocol.TargetSide {
		who = "the target branch"
	}
	what := "a conflict"
	if c.Severity == protocol.SeverityOverlap {
		what = "an overlap that merges cleanly"
	}
	title := fmt.Sprintf("studiod: %s changes %s of %s you are editing (%s) — %s", who, lines(other.Ranges), c.Path, lines(mine.Ranges), what)
	if c.Kind != protocol.KindContent && c.Kind != protocol.KindOverlap {
		title += " (" + string(c.Kind) + ")"
	}
	var locs []sdk.ToolCallLocation
	if mine.File != "" {
		l := sdk.ToolCallLocation{Path: mine.File}
		if len(mine.Ranges) > 0 && mine.Ranges[0].Start > 0 {
			l.Line = ptr(mine.Ranges[0].Start)
		}
		locs = append(locs, l)
	}
	if other.File != "" {
		l := sdk.ToolCallLocation{Path: other.File}
		if len(other.Ranges) > 0 && other.Ranges[0].Start > 0 {
			l.Line = ptr(other.Ranges[0].Start)
		}
		locs = append(locs, l)
	}
	if th.noted["conflict-"+c.ID] == title {
		return
	}
	s.note(th, "conflict-"+c.ID, title, locs)
	th.noted["conflict-"+c.ID] = title
}

// previewChanged tells each thread of the repository where its session
// stands in the integration preview: its place in the landing order, or
// why it is left out.
func (s *Server) previewChanged(pv protocol.Preview) {
	s.mu.Lock()
	var ths []*thread
	for _, th := range s.byID {
		if th.repo == pv.Repo {
			ths = append(ths, th)
		}
	}
	s.mu.Unlock()
	for _, th := range ths {
		for _, ps := range pv.Sessions {
			if ps.ID != th.id {
				continue
			}
			var title string
			if ps.Position > 0 {
				title = fmt.Sprintf("studiod: integration preview: %s lands cleanly on %s, #%d of %d in the landing order", th.name, pv.Target, ps.Position, len(pv.Order))
			} else {
				title = fmt.Sprintf("studiod: integration preview: %s is left out (%s)", th.name, firstLine(ps.Reason))
				if len(ps.With) > 0 {
					title += ": with " + strings.Join(ps.With, ", ")
				}
			}
			if th.noted["preview"] != title {
				s.note(th, "preview", title, nil)
				th.noted["preview"] = title
			}
		}
	}
}

// lines says which lines ranges cover: "lines 40–52", "line 7, lines 9–12".
func lines(rs []protocol.Range) string {
	if len(rs) == 0 {
		return "the file"
	}
	var parts []string
	for _, r := range rs {
		switch {
		case r.End < r.Start:
			parts = append(parts, fmt.Sprintf("a deletion before line %d", r.Start))
		case r.End == r.Start:
			parts = append(parts, fmt.Sprintf("line %d", r.Start))
		default:
			parts = append(parts, fmt.Sprintf("lines %d–%d", r.Start, r.End))
		}
	}
	return strings.Join(parts, ", ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
