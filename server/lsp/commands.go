package lsp

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	lsp "go.lsp.dev/protocol"
	"go.lsp.dev/uri"

	"github.com/studiod/studiod/protocol"
)

// command runs one editor command: its one object argument is the params
// of the studio/* request it maps to, with the editor's workspace folder as
// the repository when it names none.
type command func(ctx context.Context, s *server, d Daemon, arg json.RawMessage, pr *workProgress) (any, error)

// commands maps each editor command to its typed request.
var commands = map[string]command{
	protocol.CommandSpawn: typed(Daemon.Spawn, func(p *protocol.SpawnParams, e env) string {
		p.Repo = cmp.Or(p.Repo, e.root)
		p.WorkDoneToken = e.token
		return strings.TrimSpace("Spawning a session " + p.Name)
	}),
	protocol.CommandReview: typed(Daemon.Diff, func(p *protocol.DiffParams, e env) string {
		p.Repo = cmp.Or(p.Repo, e.root)
		return ""
	}),
	protocol.CommandMerge: typed(Daemon.Merge, func(p *protocol.MergeParams, e env) string {
		p.Repo = cmp.Or(p.Repo, e.root)
		p.WorkDoneToken = e.token
		return "Merging session " + p.Session
	}),
	protocol.CommandStop: typed(Daemon.Stop, func(p *protocol.StopParams, e env) string {
		p.Repo = cmp.Or(p.Repo, e.root)
		return ""
	}),
	protocol.CommandRemove: typed(Daemon.Remove, func(p *protocol.RemoveParams, e env) string {
		p.Repo = cmp.Or(p.Repo, e.root)
		return ""
	}),
	protocol.CommandSend: typed(Daemon.Send, func(p *protocol.SendParams, e env) string {
		p.Repo = cmp.Or(p.Repo, e.root)
		return ""
	}),
	protocol.CommandFeedback: typed(Daemon.Feedback, func(p *protocol.SessionRef, e env) string {
		p.Repo = cmp.Or(p.Repo, e.root)
		return ""
	}),
	protocol.CommandUndo: typed(Daemon.Undo, func(p *protocol.SessionRef, e env) string {
		p.Repo = cmp.Or(p.Repo, e.root)
		return ""
	}),
	protocol.CommandPreview: typed(Daemon.Preview, func(p *protocol.PreviewParams, e env) string {
		p.Repo = cmp.Or(p.Repo, e.root)
		return ""
	}),
	protocol.CommandLand: typed(Daemon.Land, func(p *protocol.LandParams, e env) string {
		p.Repo = cmp.Or(p.Repo, e.root)
		p.WorkDoneToken = e.token
		return "Landing sessions"
	}),
	protocol.CommandSync: typed(Daemon.Sync, func(p *protocol.SyncParams, e env) string {
		p.Repo = cmp.Or(p.Repo, e.root)
		return ""
	}),
}

// env is what a command's params are completed with.
type env struct {
	root  string // the editor's workspace folder
	token string // the daemon-side progress token, for requests that take one
}

// typed makes a command of an API method. prepare completes the params and
// returns the title of the command's progress, "" for none.
func typed[P, R any](f func(Daemon, context.Context, P) (*R, error), prepare func(*P, env) string) command {
	return func(ctx context.Context, s *server, d Daemon, arg json.RawMessage, pr *workProgress) (any, error) {
		p, err := protocol.Decode[P](arg)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		e := env{root: s.root}
		s.mu.Unlock()
		e.token = fmt.Sprintf("lsp-%d", s.nextToken.Add(1))
		title := prepare(&p, e)
		var done func(error)
		if title != "" && pr != nil {
			done = pr.begin(e.token, title)
		}
		r, err := f(d, ctx, p)
		if done != nil {
			done(err)
		}
		if err != nil {
			return nil, err
		}
		return r, nil
	}
}

func (s *server) executeCommand(ctx context.Context, params json.RawMessage) (any, error) {
	p, err := decode[lsp.ExecuteCommandParams](params)
	if err != nil {
		return nil, err
	}
	arg := json.RawMessage("{}")
	if len(p.Arguments) > 0 {
		arg = json.RawMessage(p.Arguments[0])
	}
	if p.Command == protocol.CommandOpen {
		return s.openCommand(ctx, arg)
	}
	run, ok := commands[p.Command]
	if !ok {
		return nil, protocol.Errorf(protocol.CodeInvalidParams, "unknown command %q", p.Command)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(arg, &obj); err != nil {
		return nil, protocol.Errorf(protocol.CodeInvalidParams, "command %s: want one object argument: %v", p.Command, err)
	}
	d, err := s.daemonConn(ctx)
	if err != nil {
		return nil, err
	}
	return run(ctx, s, d, arg, &workProgress{s: s, ctx: ctx, token: p.WorkDoneToken})
}

// ---- progress --------------------------------------------------------------

// progressSink receives the daemon's progress for one request.
type progressSink func(protocol.WorkDone)

// daemonProgress runs on the daemon connection's read goroutine.
func (s *server) daemonProgress(p protocol.ProgressParams) {
	tok, _ := p.Token.(string)
	s.mu.Lock()
	sink := s.tokens[tok]
	s.mu.Unlock()
	if sink != nil {
		sink(p.Value)
	}
}

// workProgress reports a command as LSP work-done progress, on the token
// the editor gave or one made with window/workDoneProgress/create.
type workProgress struct {
	s     *server
	ctx   context.Context
	token lsp.ProgressToken
}

// begin starts the progress and routes the daemon's reports on daemonToken
// to it; the returned func ends it with the request's outcome.
func (p *workProgress) begin(daemonToken, title string) (end func(error)) {
	s := p.s
	token := p.token
	if token == nil {
		s.mu.Lock()
		ok := s.caps.progress
		s.mu.Unlock()
		if !ok {
			return nil
		}
		token = lsp.String(fmt.Sprintf("studiod-%d-%d", time.Now().UnixNano(), s.nextToken.Add(1)))
		cctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
		err := s.call(cctx, methodProgressCreate, lsp.WorkDoneProgressCreateParams{Token: token}, nil)
		cancel()
		if err != nil {
			s.log.Debug("create progress", "err", err)
			return nil
		}
	}
	send := func(v any) {
		raw, err := encode(v)
		if err != nil {
			return
		}
		params, err := encode(lsp.ProgressParams{Token: token, Value: lsp.LSPAny(raw)})
		if err != nil {
			return
		}
		// Written at once rather than queued, so that the end reaches the
		// editor before the command's reply does.
		if err := s.editor.Notify(s.ctx, methodProgress, params); err != nil {
			s.log.Debug("progress", "err", err)
		}
	}
	send(lsp.WorkDoneProgressBegin{Kind: "begin", Title: title})
	s.mu.Lock()
	s.tokens[daemonToken] = func(w protocol.WorkDone) {
		if w.Kind == "report" && w.Message != "" {
			msg := w.Message
			send(lsp.WorkDoneProgressReport{Kind: "report", Message: &msg})
		}
	}
	s.mu.Unlock()
	return func(err error) {
		s.mu.Lock()
		delete(s.tokens, daemonToken)
		s.mu.Unlock()
		msg := "done"
		if err != nil {
			msg = "failed: " + editorError(err).Error()
		}
		send(lsp.WorkDoneProgressEnd{Kind: "end", Message: &msg})
	}
}

// ---- studio.open -------------------------------------------------------------

// openArg is studio.open's argument.
type openArg struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	EndLine int    `json:"endLine,omitempty"`
}

// openCommand asks the editor to show a file, selecting lines.
func (s *server) openCommand(ctx context.Context, arg json.RawMessage) (any, error) {
	a, err := protocol.Decode[openArg](arg)
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(a.File) {
		return nil, protocol.Errorf(protocol.CodeInvalidParams, "studio.open: file %q is not an absolute path", a.File)
	}
	ok, err := s.showDocument(ctx, filepath.Clean(a.File), a.Line, a.EndLine)
	if err != nil {
		return nil, err
	}
	return map[string]bool{"success": ok}, nil
}

// showDocument asks the editor to open file with lines [line, endLine]
// (1-based; 0 selects nothing) selected.
func (s *server) showDocument(ctx context.Context, file string, line, endLine int) (bool, error) {
	yes := true
	p := lsp.ShowDocumentParams{URI: uri.File(file), TakeFocus: &yes}
	if line > 0 {
		r := s.lines().lspRange(file, protocol.Range{Start: line, End: max(endLine, line)})
		p.Selection = &r
	}
	var res lsp.ShowDocumentResult
	if err := s.call(ctx, methodShowDocument, p, &res); err != nil {
		return false, err
	}
	return res.Success, nil
}

// ---- code actions --------------------------------------------------------------

// codeAction offers, on the lines of a conflict: open the other side's
// version, review a session's changes, send an agent a note.
func (s *server) codeAction(ctx context.Context, params json.RawMessage) (any, error) {
	p, err := decode[lsp.CodeActionParams](params)
	if err != nil {
		return nil, err
	}
	file := docPath(p.TextDocument.URI)
	actions := []lsp.CodeAction{}
	if file == "" {
		return encode(actions)
	}
	quickfix := lsp.CodeActionKindQuickFix
	action := func(title, command string, arg any) lsp.CodeAction {
		return lsp.CodeAction{Title: title, Kind: &quickfix, Command: lsp.Command{Title: title, Command: command, Arguments: args(arg)}}
	}
	lines := s.lines()
	for _, x := range s.conflictsIn(file) {
		if !touches(lines, file, x.self.Ranges, p.Range) {
			continue
		}
		other := orWhole(x.other.Ranges)
		first, last := other[0], other[len(other)-1]
		actions = append(actions, action(
			fmt.Sprintf("Open %s's version of %s", sideName(x.other), x.other.Path),
			protocol.CommandOpen, openArg{File: x.other.File, Line: first.Start, EndLine: max(last.End, last.Start)}))
		for _, side := range []protocol.Side{x.other, x.self} {
			if side.Session == protocol.TargetSide {
				continue
			}
			actions = append(actions, action(
				fmt.Sprintf("Review session %s's changes to %s", side.Session, side.Path),
				protocol.CommandReview, protocol.DiffParams{SessionRef: protocol.SessionRef{Session: side.Session, Repo: x.cf.Repo}, Paths: []string{side.Path}}))
		}
		for _, pair := range [][2]protocol.Side{{x.self, x.other}, {x.other, x.self}} {
			to, with := pair[0], pair[1]
			if to.Session == protocol.TargetSide {
				continue
			}
			word := "conflict"
			if x.cf.Severity == protocol.SeverityOverlap {
				word = "overlap"
			}
			note := fmt.Sprintf("Note from the editor: your changes to %s of %s %s with %s (%s of %s). Please coordinate or keep clear of those lines.",
				protocol.FormatRanges(to.Ranges), to.Path, word, s.sideLabel(x.cf.Repo, with, to), protocol.FormatRanges(with.Ranges), with.Path)
			actions = append(actions, action(
				fmt.Sprintf("Send session %s a note about %s", to.Session, protocol.FormatRanges(to.Ranges)),
				protocol.CommandSend, protocol.SendParams{SessionRef: protocol.SessionRef{Session: to.Session, Repo: x.cf.Repo}, Text: note}))
		}
	}
	// In the user's copy of a file two sessions contest: open either side,
	// review either session.
	for _, cf := range s.userConflictsIn(file) {
		ranges, ok := contested(lines, cf, file)
		if !ok || !touches(lines, file, ranges, p.Range) {
			continue
		}
		for _, side := range byName(cf) {
			rs := orWhole(side.Ranges)
			first, last := rs[0], rs[len(rs)-1]
			actions = append(actions, action(
				fmt.Sprintf("Open %s's version of %s", sideName(side), side.Path),
				protocol.CommandOpen, openArg{File: side.File, Line: first.Start, EndLine: max(last.End, last.Start)}))
		}
		for _, side := range byName(cf) {
			actions = append(actions, action(
				fmt.Sprintf("Review session %s's changes to %s", side.Session, side.Path),
				protocol.CommandReview, protocol.DiffParams{SessionRef: protocol.SessionRef{Session: side.Session, Repo: cf.Repo}, Paths: []string{side.Path}}))
		}
	}
	return encode(actions)
}

// args makes a command's one object argument.
func args(arg any) []lsp.LSPAny {
	b, err := json.Marshal(arg)
	if err != nil {
		return nil
	}
	return []lsp.LSPAny{lsp.LSPAny(b)}
}

// touches reports whether any of ranges meets the requested LSP range.
func touches(lines *fileLines, file string, ranges []protocol.Range, want lsp.Range) bool {
	for _, r := range orWhole(ranges) {
		lr := lines.lspRange(file, r)
		if lr.Start.Line <= want.End.Line && want.Start.Line <= lr.End.Line {
			return true
		}
	}
	return false
}

// ---- code lenses -----------------------------------------------------------------

// codeLens heads a file that sessions are changing: "2 sessions edit this
// file: auth +12 −3 · api +5", then one "Review <session>" lens each. The
// daemon says who edits it (studio/who).
func (s *server) codeLens(ctx context.Context, params json.RawMessage) (any, error) {
	p, err := decode[lsp.CodeLensParams](params)
	if err != nil {
		return nil, err
	}
	lenses := []lsp.CodeLens{}
	file := docPath(p.TextDocument.URI)
	d, err := s.daemonConn(ctx)
	if file == "" || err != nil {
		return encode(lenses)
	}
	who, err := d.Who(ctx, protocol.WhoParams{Path: file})
	if err != nil || len(who.Sessions) == 0 {
		// A file outside every repository with sessions has no lenses.
		return encode(lenses)
	}
	var parts []string
	for _, e := range who.Sessions {
		part := fmt.Sprintf("%s +%d", e.Session, e.Additions)
		if e.Deletions > 0 {
			part += fmt.Sprintf(" −%d", e.Deletions)
		}
		parts = append(parts, part)
	}
	what := "1 session edits"
	if len(who.Sessions) > 1 {
		what = fmt.Sprintf("%d sessions edit", len(who.Sessions))
	}
	top := lsp.Range{}
	// The summary is informational: its command is empty.
	lenses = append(lenses, lsp.CodeLens{Range: top, Command: lsp.Command{Title: what + " this file: " + strings.Join(parts, " · ")}})
	for _, e := range who.Sessions {
		lenses = append(lenses, lsp.CodeLens{Range: top, Command: lsp.Command{
			Title:     "Review " + e.Session,
			Command:   protocol.CommandReview,
			Arguments: args(protocol.DiffParams{SessionRef: protocol.SessionRef{Session: e.Session, Repo: who.Repo}, Paths: []string{who.Path}}),
		}})
	}
	return encode(lenses)
}

// refreshLenses asks the editor to fetch code lenses again, once for any
// number of changes queued before the request goes out.
func (s *server) refreshLenses() {
	s.mu.Lock()
	ok := s.caps.lensRefresh && s.ready
	s.mu.Unlock()
	if !ok || s.refreshQueued.Swap(true) {
		return
	}
	s.queue(func() {
		s.refreshQueued.Store(false)
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		defer cancel()
		if err := s.call(ctx, methodCodeLensRefresh, nil, nil); err != nil {
			s.log.Debug("code lens refresh", "err", err)
		}
	})
}

// ---- waiting sessions ----------------------------------------------------------

// Actions offered when a session waits for input.
const (
	actionAttach = "Attach"
	actionReview = "Review"
)

// waiting asks the person about a session that starts waiting for input,
// once per question, unless the editor said it tells them itself.
func (s *server) waiting(sess protocol.Session) {
	s.mu.Lock()
	if sess.State != protocol.StateWaiting {
		delete(s.asked, sess.ID)
		s.mu.Unlock()
		return
	}
	if q, ok := s.asked[sess.ID]; !s.ready || s.opts.ShowsWaiting || ok && q == sess.Detail {
		s.mu.Unlock()
		return
	}
	s.asked[sess.ID] = sess.Detail
	s.mu.Unlock()
	// The question waits for the person: it runs on its own goroutine.
	s.wg.Go(func() { s.askWaiting(sess) })
}

// askWaiting asks with window/showMessageRequest and acts on the answer:
// Attach shows the agent's output log, Review opens the first file the
// session changed.
func (s *server) askWaiting(sess protocol.Session) {
	msg := fmt.Sprintf("Session %s (%s) is waiting for input", sess.Name, sess.Agent)
	if sess.Detail != "" {
		msg += ": " + sess.Detail
	}
	var item *lsp.MessageActionItem
	err := s.call(s.ctx, methodShowMessageRequest, lsp.ShowMessageRequestParams{
		Type: lsp.MessageTypeInfo, Message: msg,
		Actions: []lsp.MessageActionItem{{Title: actionAttach}, {Title: actionReview}},
	}, &item)
	if err != nil || item == nil {
		return
	}
	switch item.Title {
	case actionAttach:
		if _, err := s.showDocument(s.ctx, sess.Log, 0, 0); err != nil {
			s.log.Debug("show log", "session", sess.Name, "err", err)
		}
	case actionReview:
		d, err := s.daemonConn(s.ctx)
		if err != nil {
			return
		}
		diff, err := d.Diff(s.ctx, protocol.DiffParams{SessionRef: protocol.SessionRef{Session: sess.ID}, Stat: true})
		if err != nil || len(diff.Files) == 0 {
			s.notifyLSP(methodShowMessage, lsp.ShowMessageParams{Type: lsp.MessageTypeInfo,
				Message: fmt.Sprintf("Session %s has no changes to review yet.", sess.Name)})
			return
		}
		s.showDocument(s.ctx, filepath.Join(sess.Worktree, filepath.FromSlash(diff.Files[0].Path)), 0, 0)
	}
}
