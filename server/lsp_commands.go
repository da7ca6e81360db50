package server

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	lsp "go.lsp.dev/protocol"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/workspace"
)

// commandMethods maps each editor command to the studio/* request it runs.
// Commands go through the route table, so a request wired into the daemon
// becomes a command with no change here.
var commandMethods = map[string]string{
	protocol.CommandSpawn:    protocol.MethodSpawn,
	protocol.CommandReview:   protocol.MethodDiff,
	protocol.CommandMerge:    protocol.MethodMerge,
	protocol.CommandStop:     protocol.MethodStop,
	protocol.CommandRemove:   protocol.MethodRemove,
	protocol.CommandSend:     protocol.MethodSend,
	protocol.CommandFeedback: protocol.MethodFeedback,
	protocol.CommandUndo:     protocol.MethodUndo,
}

func (s *Server) executeCommand(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := lspDecode[lsp.ExecuteCommandParams](params)
	if err != nil {
		return nil, err
	}
	arg := json.RawMessage("{}")
	if len(p.Arguments) > 0 {
		arg = json.RawMessage(p.Arguments[0])
	}
	if p.Command == protocol.CommandOpen {
		return s.openCommand(ctx, c, arg)
	}
	method, ok := commandMethods[p.Command]
	if !ok {
		return nil, protocol.Errorf(protocol.CodeInvalidParams, "unknown command %q", p.Command)
	}
	h, ok := s.routes[method]
	if !ok {
		return nil, &protocol.Error{Code: protocol.CodeMethodNotFound,
			Message: fmt.Sprintf("command %s is not available: this daemon does not serve %s yet", p.Command, method)}
	}
	arg, err = c.withRoot(arg)
	if err != nil {
		return nil, err
	}
	var title string
	switch p.Command {
	case protocol.CommandSpawn:
		title = "Spawning a session"
	case protocol.CommandMerge:
		title = "Merging a session"
	default:
		return h(ctx, c, arg)
	}
	if name := argName(arg); name != "" {
		title += " " + name
	}
	pr := c.beginProgress(ctx, p.WorkDoneToken, title)
	res, err := h(withProgress(ctx, pr.report), c, arg)
	if err != nil {
		pr.end("failed: " + err.Error())
		return nil, err
	}
	pr.end("done")
	return res, nil
}

// argName finds the session name a command argument mentions.
func argName(arg json.RawMessage) string {
	var a struct {
		Name    string `json:"name"`
		Session string `json:"session"`
	}
	json.Unmarshal(arg, &a)
	if a.Name != "" {
		return a.Name
	}
	return a.Session
}

// withRoot fills in the editor's workspace folder as "repo" when the
// argument names none, so "spawn" from an editor means "in this project".
func (c *conn) withRoot(arg json.RawMessage) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(arg, &obj); err != nil {
		return nil, protocol.Errorf(protocol.CodeInvalidParams, "command argument: want one object: %v", err)
	}
	c.lsp.mu.Lock()
	root := c.lsp.root
	c.lsp.mu.Unlock()
	if _, ok := obj["repo"]; ok || root == "" {
		return arg, nil
	}
	obj["repo"], _ = json.Marshal(root)
	return json.Marshal(obj)
}

// progressKey carries an agents.Progress through a route's context.
type progressKey struct{}

func withProgress(ctx context.Context, p agents.Progress) context.Context {
	return context.WithValue(ctx, progressKey{}, p)
}

// progressFrom returns the progress reporter a caller attached, or nil.
func progressFrom(ctx context.Context) agents.Progress {
	p, _ := ctx.Value(progressKey{}).(agents.Progress)
	return p
}

// workProgress reports one operation as LSP work-done progress. A nil
// *workProgress reports nothing.
type workProgress struct {
	c     *conn
	token lsp.ProgressToken
}

// beginProgress starts progress on the client's token, or on one created
// with window/workDoneProgress/create when the client supports that.
func (c *conn) beginProgress(ctx context.Context, token lsp.ProgressToken, title string) *workProgress {
	if token == nil {
		c.lsp.mu.Lock()
		ok := c.lsp.progress
		c.lsp.mu.Unlock()
		if !ok {
			return nil
		}
		token = lsp.String(fmt.Sprintf("studiod-%d-%d", time.Now().UnixNano(), c.lsp.tokens.Add(1)))
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.lspCall(cctx, lspProgressCreate, lsp.WorkDoneProgressCreateParams{Token: token}, nil)
		cancel()
		if err != nil {
			c.s.log.Debug("create progress", "err", err)
			return nil
		}
	}
	p := &workProgress{c: c, token: token}
	p.send(lsp.WorkDoneProgressBegin{Kind: "begin", Title: title})
	return p
}

func (p *workProgress) report(msg string) {
	if p != nil {
		p.send(lsp.WorkDoneProgressReport{Kind: "report", Message: &msg})
	}
}

func (p *workProgress) end(msg string) {
	if p != nil {
		p.send(lsp.WorkDoneProgressEnd{Kind: "end", Message: &msg})
	}
}

func (p *workProgress) send(v any) {
	raw, err := lspEncode(v)
	if err != nil {
		return
	}
	params, err := lspEncode(lsp.ProgressParams{Token: p.token, Value: lsp.LSPAny(raw)})
	if err != nil {
		return
	}
	// Written here rather than queued, so that the end reaches the client
	// before the command's reply does.
	if err := p.c.rpc.Notify(p.c.ctx, lspProgress, params); err != nil {
		p.c.s.log.Debug("progress", "err", err)
	}
}

// openArg is studio.open's argument.
type openArg struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	EndLine int    `json:"endLine,omitempty"`
}

// openCommand asks the editor to show a file, selecting lines.
func (s *Server) openCommand(ctx context.Context, c *conn, arg json.RawMessage) (any, error) {
	a, err := decode[openArg](arg)
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(a.File) {
		return nil, protocol.Errorf(protocol.CodeInvalidParams, "studio.open: file %q is not an absolute path", a.File)
	}
	ok, err := c.showDocument(ctx, filepath.Clean(a.File), a.Line, a.EndLine)
	if err != nil {
		return nil, err
	}
	return map[string]bool{"success": ok}, nil
}

// showDocument asks the editor to open file with lines [line, endLine]
// (1-based; 0 selects nothing) selected.
func (c *conn) showDocument(ctx context.Context, file string, line, endLine int) (bool, error) {
	yes := true
	p := lsp.ShowDocumentParams{URI: fileURI(file), TakeFocus: &yes}
	if line > 0 {
		r := fileLines{}.lspRange(file, protocol.Range{Start: line, End: max(endLine, line)})
		p.Selection = &r
	}
	var res lsp.ShowDocumentResult
	if err := c.lspCall(ctx, lspShowDocument, p, &res); err != nil {
		return false, err
	}
	return res.Success, nil
}

// codeAction offers, on the lines of a conflict: open the other side's
// version, review a session's changes, send an agent a note.
func (s *Server) codeAction(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
	p, err := lspDecode[lsp.CodeActionParams](params)
	if err != nil {
		return nil, err
	}
	file := docPath(p.TextDocument.URI)
	actions := []lsp.CodeAction{}
	if file == "" {
		return lspEncode(actions)
	}
	quickfix := lsp.CodeActionKindQuickFix
	action := func(title, command string, arg any) lsp.CodeAction {
		return lsp.CodeAction{Title: title, Kind: &quickfix, Command: lsp.Command{Title: title, Command: command, Arguments: lspArgs(arg)}}
	}
	lines := fileLines{}
	for _, x := range s.conflictsIn(file) {
		if !touches(lines, file, x.self.Ranges, p.Range) {
			continue
		}
		first := orWhole(x.other.Ranges)[0]
		last := orWhole(x.other.Ranges)[len(orWhole(x.other.Ranges))-1]
		actions = append(actions, action(
			fmt.Sprintf("Open %s's version of %s", sideName(x.other), x.other.Path),
			protocol.CommandOpen, openArg{File: x.other.File, Line: first.Start, EndLine: max(last.End, last.Start)}))
		for _, side := range []protocol.Side{x.other, x.self} {
			if side.Session == workspace.TargetSide {
				continue
			}
			actions = append(actions, action(
				fmt.Sprintf("Review session %s's changes to %s", side.Session, side.Path),
				protocol.CommandReview, map[string]any{"session": side.Session, "repo": x.cf.Repo, "paths": []string{side.Path}}))
		}
		for _, pair := range [][2]protocol.Side{{x.self, x.other}, {x.other, x.self}} {
			to, with := pair[0], pair[1]
			if to.Session == workspace.TargetSide {
				continue
			}
			word := "conflict"
			if x.cf.Severity == workspace.SeverityOverlap {
				word = "overlap"
			}
			note := fmt.Sprintf("Note from the editor: your changes to %s of %s %s with %s (%s of %s). Please coordinate or keep clear of those lines.",
				linesText(to.Ranges), to.Path, word, s.sideLabel(x.cf.Repo, with, to), linesText(with.Ranges), with.Path)
			actions = append(actions, action(
				fmt.Sprintf("Send session %s a note about %s", to.Session, linesText(to.Ranges)),
				protocol.CommandSend, map[string]any{"session": to.Session, "repo": x.cf.Repo, "text": note}))
		}
	}
	return lspEncode(actions)
}

// touches reports whether any of ranges meets the requested LSP range.
func touches(lines fileLines, file string, ranges []protocol.Range, want lsp.Range) bool {
	for _, r := range orWhole(ranges) {
		lr := lines.lspRange(file, r)
		if lr.Start.Line <= want.End.Line && want.Start.Line <= lr.End.Line {
			return true
		}
	}
	return false
}

// lspSessionChanged prompts LSP clients when a session starts waiting for
// input and refreshes their lenses. It runs in the manager's fan-out: it
// only queues work.
func (s *Server) lspSessionChanged(ev agents.Event) {
	for _, c := range s.lspConns() {
		c.sessionEvent(ev.Session)
		c.refreshLenses()
	}
}

// sessionEvent queues one prompt per waiting question.
func (c *conn) sessionEvent(sess agents.Session) {
	c.lsp.mu.Lock()
	if sess.State != agents.Waiting {
		delete(c.lsp.asked, sess.ID)
		c.lsp.mu.Unlock()
		return
	}
	if q, ok := c.lsp.asked[sess.ID]; ok && q == sess.Detail {
		c.lsp.mu.Unlock()
		return
	}
	c.lsp.asked[sess.ID] = sess.Detail
	c.lsp.mu.Unlock()
	// The worker is counted by the connection's WaitGroup, so it may add
	// the prompt, which waits for the person, as its own goroutine.
	c.lspQueue(func() { c.wg.Go(func() { c.promptWaiting(sess) }) })
}

// Actions offered when a session waits for input.
const (
	actionAttach = "Attach"
	actionReview = "Review"
)

// promptWaiting asks the person about a waiting session with
// window/showMessageRequest and acts on the answer: Attach shows the
// agent's output log, Review opens the first file the session changed.
func (c *conn) promptWaiting(sess agents.Session) {
	ctx := c.ctx
	msg := fmt.Sprintf("Session %s (%s) is waiting for input", sess.Name, sess.Agent)
	if sess.Detail != "" {
		msg += ": " + sess.Detail
	}
	var item *lsp.MessageActionItem
	err := c.lspCall(ctx, lspShowMessageRequest, lsp.ShowMessageRequestParams{
		Type: lsp.MessageTypeInfo, Message: msg,
		Actions: []lsp.MessageActionItem{{Title: actionAttach}, {Title: actionReview}},
	}, &item)
	if err != nil || item == nil {
		return
	}
	switch item.Title {
	case actionAttach:
		if _, err := c.showDocument(ctx, sess.Log(), 0, 0); err != nil {
			c.s.log.Debug("show log", "session", sess.Name, "err", err)
		}
	case actionReview:
		c.openFirstChange(ctx, sess)
	}
}

// openFirstChange opens the first file of the session's diff in its
// worktree, when the daemon serves diffs.
func (c *conn) openFirstChange(ctx context.Context, sess agents.Session) {
	h, ok := c.s.routes[protocol.MethodDiff]
	if !ok {
		c.lspNotify(lspShowMessage, lsp.ShowMessageParams{Type: lsp.MessageTypeInfo,
			Message: fmt.Sprintf("Review session %s: run `studiod diff %s`", sess.Name, sess.Name)})
		return
	}
	arg, _ := json.Marshal(protocol.DiffParams{SessionRef: protocol.SessionRef{Session: sess.ID}, Stat: true})
	res, err := h(ctx, c, arg)
	if err != nil {
		c.s.log.Debug("diff for review", "session", sess.Name, "err", err)
		return
	}
	var d protocol.DiffResult
	if b, err := json.Marshal(res); err != nil || json.Unmarshal(b, &d) != nil || len(d.Files) == 0 {
		return
	}
	c.showDocument(ctx, filepath.Join(sess.Worktree, filepath.FromSlash(d.Files[0].Path)), 0, 0)
}
