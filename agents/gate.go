package agents

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	acp "github.com/coder/acp-go-sdk"

	"github.com/studiod/studiod/workspace"
)

// The gate: before an agent writes a file, studiod tells it what the other
// sessions do there — changed the same lines (a conflict when both land),
// changed the same file, or claimed it in their scope — and whether the
// file is outside its own scope, with each other session's intent note.
// It reads the current prediction and the sessions' own diffs, never
// computing merges in the agent's hook path.

// writeTools are the tools that write a file named in their input, per hook
// kind.
var writeTools = map[string]map[string]bool{
	HooksClaude: {"Write": true, "Edit": true, "MultiEdit": true, "NotebookEdit": true},
	HooksCodex:  {"apply_patch": true, "Write": true, "Edit": true},
	HooksGemini: {"write_file": true, "replace": true},
}

// toolWrite is what a write tool is about to do.
type toolWrite struct {
	id    string // the tool call's id, to find it again after it ran
	tool  string
	input json.RawMessage
	// cwd is the agent's working directory, against which a relative
	// path is resolved ("": its worktree).
	cwd string
}

// gateFinding is one thing the agent should know before it writes.
type gateFinding struct {
	other string // another session's name; "" for the session's own scope
	text  string
}

// gateCheck lists what session s should know before tool writes: the path
// and lines it touches against the other sessions' work and scopes, and its
// own scope. It returns the path (repository-relative) and the findings.
func (m *Manager) gateCheck(ctx context.Context, s Session, w toolWrite) (string, []gateFinding) {
	var in struct {
		FilePath     string `json:"file_path"`
		NotebookPath string `json:"notebook_path"`
		Path         string `json:"path"`
		OldString    string `json:"old_string"`
		Edits        []struct {
			OldString string `json:"old_string"`
		} `json:"edits"`
	}
	if json.Unmarshal(w.input, &in) != nil {
		return "", nil
	}
	file := firstNonEmpty(in.FilePath, in.NotebookPath, in.Path)
	if file == "" {
		return "", nil
	}
	// The file the write really changes (gatepath.go); an agent on a
	// host names its files there.
	file = realPath(m.atHome(s, file), cmp.Or(w.cwd, s.Worktree))
	rel, ok := relWithin(realPath(s.Worktree, "/"), file)
	if !ok {
		return m.foreignWrite(s, file)
	}
	// The lines the write touches, in the session's copy: an edit's old
	// text; a whole-file write touches everything.
	var ours []workspace.Range
	olds := []string{in.OldString}
	for _, e := range in.Edits {
		olds = append(olds, e.OldString)
	}
	if v, err := m.files(s).ReadFile(ctx, filepath.ToSlash(rel)); err == nil && !v.Missing {
		for _, old := range olds {
			if r, ok := linesOf(string(v.Content), old); ok {
				ours = append(ours, r)
			}
		}
	}
	var findings []gateFinding
	if !inScope(s.Scope, rel) {
		findings = append(findings, gateFinding{text: fmt.Sprintf("%s is outside this session's scope (%s): keep to it, or tell the person why you need this file", rel, strings.Join(s.Scope, ", "))})
	}
	_, _, presences, err := m.Who(ctx, s.Repo, rel, 0, 0)
	if err != nil {
		m.log.Debug("gate: who", "session", s.Name, "path", rel, "err", err)
	}
	// Our own changes so far move our lines away from the base's: compare
	// on the base's lines.
	var ownHunks []workspace.Hunk
	for _, p := range presences {
		if p.Session.ID == s.ID {
			ownHunks = p.File.Hunks
		}
	}
	oursBase := toBase(ownHunks, ours)
	seen := map[string]bool{}
	for _, p := range presences {
		o := p.Session
		if o.ID == s.ID {
			continue
		}
		seen[o.ID] = true
		theirs := baseRanges(p.File.Hunks)
		who := sessionText(o)
		switch {
		case len(oursBase) > 0 && overlaps(oursBase, theirs):
			findings = append(findings, gateFinding{other: o.Name, text: fmt.Sprintf("%s changed %s of %s, which your edit touches: a conflict when both land. Change only what your task needs there, or coordinate", who, rangeList(p.Ranges), rel)})
		case len(oursBase) == 0:
			findings = append(findings, gateFinding{other: o.Name, text: fmt.Sprintf("%s changed %s of %s: rewriting the whole file will conflict when both land. Edit only your part", who, rangeList(p.Ranges), rel)})
		default:
			findings = append(findings, gateFinding{other: o.Name, text: fmt.Sprintf("%s also changed %s (%s, not the lines you touch): both merge cleanly if you keep to yours", who, rel, rangeList(p.Ranges))})
		}
	}
	for _, o := range m.List(s.Repo, false) {
		if o.ID == s.ID || seen[o.ID] || len(o.Scope) == 0 || !live(o.State) || !inScope(o.Scope, rel) {
			continue
		}
		findings = append(findings, gateFinding{other: o.Name, text: fmt.Sprintf("%s is inside the scope of %s: leave it to that session, or coordinate", rel, sessionText(o))})
	}
	return rel, findings
}

// sessionText names another session for an agent: "session `api` (scope
// server/**; working on: rename CheckToken to VerifyToken)".
func sessionText(o Session) string {
	var parts []string
	if len(o.Scope) > 0 {
		parts = append(parts, "scope "+strings.Join(o.Scope, ", "))
	}
	if o.Note != "" {
		parts = append(parts, "working on: "+o.Note)
	}
	t := fmt.Sprintf("session `%s`", o.Name)
	if len(parts) > 0 {
		t += " (" + strings.Join(parts, "; ") + ")"
	}
	return t
}

// gateReason is the findings as one message for the agent.
func gateReason(findings []gateFinding) string {
	var b strings.Builder
	b.WriteString("studiod: other agents work in this repository in parallel. ")
	for i, f := range findings {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(f.text + ".")
	}
	return b.String()
}

// linesOf finds old in content and returns its lines (1-based).
func linesOf(content, old string) (workspace.Range, bool) {
	if old == "" {
		return workspace.Range{}, false
	}
	i := strings.Index(content, old)
	if i < 0 {
		return workspace.Range{}, false
	}
	start := strings.Count(content[:i], "\n") + 1
	end := start + strings.Count(strings.TrimSuffix(old, "\n"), "\n")
	return workspace.Range{Start: start, End: end}, true
}

// baseRanges are the lines of the base a diff's hunks change: removed or
// replaced lines, and the line before which lines were added.
func baseRanges(hunks []workspace.Hunk) []workspace.Range {
	var out []workspace.Range
	for _, h := range hunks {
		line := h.OldStart
		start := 0
		flush := func(end int) {
			if start > 0 {
				out = append(out, workspace.Range{Start: start, End: end})
				start = 0
			}
		}
		for _, l := range h.Lines {
			switch {
			case strings.HasPrefix(l, "-"):
				if start == 0 {
					start = line
				}
				line++
			case strings.HasPrefix(l, "+"):
				if start == 0 {
					start = line
				}
			default:
				flush(max(line-1, start))
				line++
			}
		}
		flush(max(line-1, start))
	}
	return out
}

// toBase maps ranges of a file's lines after hunks onto the base's lines:
// a line the hunks kept maps to its base line, an added line to the base
// line it was added before.
func toBase(hunks []workspace.Hunk, rs []workspace.Range) []workspace.Range {
	if len(hunks) == 0 {
		return rs
	}
	mapLine := func(n int) int {
		delta := 0 // base lines minus our lines, before the current hunk
		for _, h := range hunks {
			if n < h.NewStart {
				break
			}
			if n < h.NewStart+h.NewLines {
				oldLine, newLine := h.OldStart, h.NewStart
				for _, l := range h.Lines {
					switch {
					case strings.HasPrefix(l, "-"):
						oldLine++
					case strings.HasPrefix(l, "+"):
						if newLine == n {
							return oldLine
						}
						newLine++
					default:
						if newLine == n {
							return oldLine
						}
						oldLine++
						newLine++
					}
				}
				return oldLine
			}
			delta += h.OldLines - h.NewLines
		}
		return n + delta
	}
	out := make([]workspace.Range, len(rs))
	for i, r := range rs {
		out[i] = workspace.Range{Start: mapLine(r.Start), End: max(mapLine(r.End), mapLine(r.Start))}
	}
	return out
}

func overlaps(a, b []workspace.Range) bool {
	for _, x := range a {
		if meets(b, x.Start, max(x.End, x.Start)) {
			return true
		}
	}
	return false
}

// rangeList says ranges for an agent: "lines 3–5, 9".
func rangeList(rs []workspace.Range) string {
	if len(rs) == 0 {
		return "the file"
	}
	var parts []string
	for _, r := range rs {
		switch {
		case r.End < r.Start:
			parts = append(parts, fmt.Sprintf("deletion before %d", r.Start))
		case r.End == r.Start:
			parts = append(parts, fmt.Sprint(r.Start))
		default:
			parts = append(parts, fmt.Sprintf("%d–%d", r.Start, r.End))
		}
	}
	if len(rs) == 1 && rs[0].End == rs[0].Start {
		return "line " + parts[0]
	}
	return "lines " + strings.Join(parts, ", ")
}

// gateHook runs the gate on a hook event: before a write it checks the
// other sessions' work and answers per the session's gate mode; after a
// tool ran it passes on what the gate said in inform mode; a permission
// question the gate raised carries the gate's reason. It returns what the
// hook prints for the agent.
func (m *Manager) gateHook(ctx context.Context, s Session, kind string, e *hookEvent) []byte {
	switch {
	case e.write != nil && writeTools[kind][e.write.tool]:
		mode := m.gateMode(ctx, s)
		if mode == GateOff {
			return nil
		}
		rel, findings := m.gateCheck(ctx, s, *e.write)
		if len(findings) == 0 {
			return nil
		}
		reason := gateReason(findings)
		m.log.Info("gate", "session", s.Name, "path", rel, "mode", mode, "findings", len(findings))
		if mode == GateInform || mode == GateAsk {
			m.gates.put(s.ID, gateNote{toolID: e.write.id, reason: reason})
		}
		return gateOutput(kind, mode, reason)
	case e.ranTool:
		if m.gateMode(ctx, s) != GateInform {
			m.gates.take(s.ID, e.ran)
			return nil
		}
		if reason, ok := m.gates.take(s.ID, e.ran); ok {
			return informOutput(kind, reason)
		}
	case e.ask != nil && e.ask.Kind == WaitPermission:
		if reason, ok := m.gates.peek(s.ID); ok && m.gateMode(ctx, s) == GateAsk {
			e.ask.Question = strings.TrimSpace(e.ask.Question + " " + reason)
		}
	}
	return nil
}

// gateNotes keeps, per session, what the gate said about a tool call that
// goes on (inform mode says it after the write; ask mode shows it with the
// permission question).
type gateNotes struct {
	// mu guards m.
	mu sync.Mutex
	m  map[string]gateNote // session ID → the last note
}

type gateNote struct {
	toolID, reason string
}

func (g *gateNotes) put(session string, n gateNote) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]gateNote{}
	}
	g.m[session] = n
}

// take returns and forgets the note for a tool call (any, with toolID "").
func (g *gateNotes) take(session, toolID string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n, ok := g.m[session]
	if !ok || toolID != "" && n.toolID != "" && n.toolID != toolID {
		return "", false
	}
	delete(g.m, session)
	return n.reason, true
}

// peek returns the note without forgetting it.
func (g *gateNotes) peek(session string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n, ok := g.m[session]
	return n.reason, ok
}

// gateOutput is what a PreToolUse-like hook prints for mode: the agent's
// own format for deny, ask or nothing (inform speaks after the write).
func gateOutput(kind, mode, reason string) []byte {
	var v any
	switch kind {
	case HooksClaude, HooksCodex:
		switch mode {
		case GateDeny, GateAsk:
			v = map[string]any{"hookSpecificOutput": map[string]any{
				"hookEventName": "PreToolUse", "permissionDecision": mode, "permissionDecisionReason": reason}}
		}
	case HooksGemini:
		switch mode {
		case GateDeny:
			v = map[string]any{"decision": "deny", "reason": reason}
		case GateAsk:
			// Gemini CLI then asks for confirmation as its settings
			// would, showing the message.
			v = map[string]any{"decision": "ask", "reason": reason, "systemMessage": reason}
		}
	}
	if v == nil {
		return nil
	}
	b, _ := json.Marshal(v)
	return b
}

// informOutput is what a post-tool hook prints to give the agent the gate's
// reason as context for its next step.
func informOutput(kind, reason string) []byte {
	var v any
	switch kind {
	case HooksClaude, HooksCodex:
		v = map[string]any{"hookSpecificOutput": map[string]any{"hookEventName": "PostToolUse", "additionalContext": reason}}
	case HooksGemini:
		v = map[string]any{"hookSpecificOutput": map[string]any{"hookEventName": "AfterTool", "additionalContext": reason}}
	}
	b, _ := json.Marshal(v)
	return b
}

// gatePerm runs the gate on an ACP agent's permission request to edit a
// file. In deny mode studiod rejects the edit itself and the agent gets the
// reason as its next prompt; in the other modes the person sees the reason
// with the question (an ACP agent cannot be told anything mid-turn).
func (d *acpConn) gatePerm(ctx context.Context, p acpPerm) {
	id := string(p.req.ToolCall.ToolCallId)
	d.mu.Lock()
	var t *ToolCall
	if tc := d.st.tools[id]; tc != nil {
		c := *tc
		t = &c
	}
	d.mu.Unlock()
	w, ok := acpWrite(p.req.ToolCall, t)
	if !ok {
		return
	}
	s, err := d.m.Lookup(Ref{Session: d.id})
	if err != nil {
		return
	}
	mode := d.m.gateMode(ctx, s)
	if mode == GateOff {
		return
	}
	rel, findings := d.m.gateCheck(ctx, s, w)
	if len(findings) == 0 {
		return
	}
	m := gateMark{reason: gateReason(findings), refuse: mode == GateDeny && rejectOption(p.req.Options) != ""}
	d.log.Info("gate", "path", rel, "mode", mode, "findings", len(findings), "refused", m.refuse)
	d.mu.Lock()
	d.st.mark(id, m)
	d.signal()
	d.mu.Unlock()
}

// acpWrite reads the file an ACP tool call is about to change, and the
// text it replaces, from the request (its diff, else its locations) or
// from the tool call as first reported.
func acpWrite(tc acp.ToolCallUpdate, t *ToolCall) (toolWrite, bool) {
	kind := ""
	if tc.Kind != nil {
		kind = string(*tc.Kind)
	} else if t != nil {
		kind = t.Kind
	}
	var in struct {
		Path      string `json:"path"`
		OldString string `json:"old_string,omitempty"`
	}
	for _, c := range tc.Content {
		if c.Diff != nil && c.Diff.Path != "" {
			in.Path = c.Diff.Path
			if c.Diff.OldText != nil {
				in.OldString = *c.Diff.OldText
			}
			break
		}
	}
	if in.Path == "" {
		switch acp.ToolKind(kind) {
		case acp.ToolKindEdit, acp.ToolKindDelete, acp.ToolKindMove:
		default:
			return toolWrite{}, false
		}
		switch {
		case len(tc.Locations) > 0:
			in.Path = tc.Locations[0].Path
		case t != nil && len(t.Files) > 0:
			in.Path = t.Files[0]
		default:
			return toolWrite{}, false
		}
	}
	b, _ := json.Marshal(in)
	return toolWrite{id: string(tc.ToolCallId), tool: kind, input: b}, true
}

// rejectOption is the option that rejects once (else always), "" when the
// agent offers none.
func rejectOption(opts []acp.PermissionOption) acp.PermissionOptionId {
	for _, k := range []acp.PermissionOptionKind{acp.PermissionOptionKindRejectOnce, acp.PermissionOptionKindRejectAlways} {
		for _, o := range opts {
			if o.Kind == k {
				return o.OptionId
			}
		}
	}
	return ""
}
