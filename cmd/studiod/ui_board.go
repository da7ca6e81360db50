package main

// The board's model and view (Bubble Tea): the sessions in the order a
// person deals with them, a status line, a prompt for the verbs that take
// words, and the last verb's output.

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/studiod/studiod/protocol"
)

// boardRank orders states: what needs the person first, then what went
// wrong, then work in progress, then the rest.
func boardRank(s protocol.State) int {
	switch s {
	case protocol.StateWaiting:
		return 0
	case protocol.StateFailed:
		return 1
	case protocol.StateWorking, protocol.StateStarting:
		return 2
	case protocol.StateIdle:
		return 3
	}
	return 4
}

// boardOrder is the sessions the board shows, in its order: by rank, then
// oldest first. Removed sessions are left out.
func boardOrder(list []protocol.Session) []protocol.Session {
	out := make([]protocol.Session, 0, len(list))
	for _, s := range list {
		if s.State != protocol.StateRemoved {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b protocol.Session) int {
		return cmp.Or(cmp.Compare(boardRank(a.State), boardRank(b.State)), a.Created.Compare(b.Created), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// prompt is a line the person types for a verb.
type prompt struct {
	label string
	value []rune
	then  func(string) tea.Cmd
}

type board struct {
	repo string // "" for every repository
	self string // studiod's executable, for attach, diff and logs

	c        *protocol.Client // nil while disconnected
	pid      int              // the daemon's, to tell a restart
	conn     string           // what is wrong with the connection; "" when connected
	sessions map[string]protocol.Session
	plans    []protocol.Plan
	selID    string // the selected session's ID

	// The plans are asked again when a session changes (a plan moves only
	// with its sessions): one request at a time, and once more after it
	// when a change came meanwhile.
	plansBusy, plansStale bool

	width, height int
	status        string
	out           []string // the last verb's output
	input         *prompt
}

func newBoard(repo, self string) *board {
	return &board{repo: repo, self: self, sessions: map[string]protocol.Session{}, conn: "connecting to the daemon…", width: 80, height: 24}
}

func (b *board) Init() tea.Cmd { return nil }

// layout is the board's entries in order (boardLayout).
func (b *board) layout() []item {
	list := make([]protocol.Session, 0, len(b.sessions))
	for _, s := range b.sessions {
		list = append(list, s)
	}
	return boardLayout(list, b.plans)
}

// ordered is the sessions in the board's order: the ones keys act on.
func (b *board) ordered() []protocol.Session {
	var list []protocol.Session
	for _, it := range b.layout() {
		if it.session != nil {
			list = append(list, *it.session)
		}
	}
	return list
}

// plansMsg: the plans, asked again.
type plansMsg struct {
	plans []protocol.Plan
	err   error
}

// refreshPlans asks for the plans again, unless a request is under way
// (then once more after it).
func (b *board) refreshPlans() tea.Cmd {
	if b.c == nil {
		return nil
	}
	if b.plansBusy {
		b.plansStale = true
		return nil
	}
	b.plansBusy = true
	c, repo := b.c, b.repo
	return func() tea.Msg {
		res, err := c.Plans(context.Background(), protocol.PlansParams{Repo: repo})
		if err != nil {
			return plansMsg{err: err}
		}
		return plansMsg{plans: res.Plans}
	}
}

// selected is the selected session: the one chosen, else the first.
func (b *board) selected() (protocol.Session, bool) {
	list := b.ordered()
	for _, s := range list {
		if s.ID == b.selID {
			return s, true
		}
	}
	if len(list) > 0 {
		return list[0], true
	}
	return protocol.Session{}, false
}

// keep records s unless the board has a newer record of it.
func (b *board) keep(s protocol.Session) {
	if old, ok := b.sessions[s.ID]; ok && old.Updated.After(s.Updated) {
		return
	}
	b.sessions[s.ID] = s
}

func (b *board) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		b.width, b.height = msg.Width, msg.Height
	case connectedMsg:
		restarted := b.pid != 0 && msg.pid != b.pid
		reconnected := b.conn != "" && b.pid != 0
		b.c, b.pid, b.conn = msg.c, msg.pid, ""
		b.plans, b.plansBusy, b.plansStale = msg.plans, false, false
		b.sessions = map[string]protocol.Session{}
		for _, s := range msg.sessions {
			b.keep(s)
		}
		switch {
		case restarted:
			b.status = fmt.Sprintf("the daemon restarted (pid %d): the board is live again", msg.pid)
		case reconnected:
			b.status = "reconnected to the daemon"
		}
	case sessionMsg:
		if b.c != nil {
			b.keep(protocol.Session(msg))
			return b, b.refreshPlans()
		}
	case plansMsg:
		b.plansBusy = false
		if msg.err == nil {
			b.plans = msg.plans
		}
		if b.plansStale {
			b.plansStale = false
			return b, b.refreshPlans()
		}
	case lostMsg:
		if b.c != nil || b.conn == "" {
			b.status = ""
		}
		b.c = nil
		b.conn = "the daemon is not running: waiting for it (any studiod command starts it)"
		if msg.err != nil && b.pid == 0 {
			b.conn = "cannot reach the daemon: " + firstLine(msg.err.Error()) + " (retrying)"
		}
	case doneMsg:
		b.status, b.out = msg.text, msg.lines
	case tea.KeyPressMsg:
		if b.input != nil {
			return b, b.typed(msg)
		}
		return b, b.key(msg)
	}
	return b, nil
}

// typed edits the prompt.
func (b *board) typed(k tea.KeyPressMsg) tea.Cmd {
	in := b.input
	switch k.String() {
	case "esc", "ctrl+c":
		b.input, b.status = nil, "cancelled"
	case "enter":
		b.input = nil
		return in.then(string(in.value))
	case "backspace":
		if len(in.value) > 0 {
			in.value = in.value[:len(in.value)-1]
		}
	default:
		in.value = append(in.value, []rune(k.Text)...)
	}
	return nil
}

// ask opens a prompt.
func (b *board) ask(label string, then func(string) tea.Cmd) {
	b.input = &prompt{label: label, then: then}
}

// confirm asks before a verb that changes a branch or ends an agent.
func (b *board) confirm(what string, then func() tea.Cmd) {
	b.ask(what+"? y to go ahead:", func(v string) tea.Cmd {
		if strings.EqualFold(strings.TrimSpace(v), "y") {
			return then()
		}
		b.status = "left alone"
		return nil
	})
}

// key runs the verb of a key.
func (b *board) key(k tea.KeyPressMsg) tea.Cmd {
	list := b.ordered()
	sel := -1
	if s, ok := b.selected(); ok {
		sel = slices.IndexFunc(list, func(x protocol.Session) bool { return x.ID == s.ID })
	}
	move := func(i int) {
		if len(list) > 0 {
			b.selID = list[max(0, min(len(list)-1, i))].ID
		}
	}
	switch k.String() {
	case "q", "ctrl+c":
		return tea.Quit
	case "up", "k":
		move(sel - 1)
		return nil
	case "down", "j":
		move(sel + 1)
		return nil
	case "home", "g":
		move(0)
		return nil
	case "end", "G":
		move(len(list) - 1)
		return nil
	case "esc":
		b.out, b.status = nil, ""
		return nil
	case "p":
		return b.preview()
	case "L":
		b.confirm("land every session that fits onto its target", b.land)
		return nil
	case "n":
		b.ask("spawn (a prompt, or -- and a command):", b.spawn)
		return nil
	}
	s, ok := b.selected()
	if !ok {
		if k.String() == "enter" || (len(k.String()) == 1 && strings.Contains("asdcfmuyxlt", k.String())) {
			b.status = "no session: n spawns one"
		}
		return nil
	}
	switch k.String() {
	case "enter", "t":
		return b.external(s, "attach", false)
	case "d":
		return b.external(s, "diff", true)
	case "l":
		return b.external(s, "logs", true)
	case "a":
		if s.State != protocol.StateWaiting {
			b.status = s.Name + " is not waiting for an answer"
			return nil
		}
		label := "answer " + s.Name + ":"
		if w := s.Waiting; w != nil && len(w.Options) > 0 {
			label = fmt.Sprintf("answer %s (1-%d, or words):", s.Name, len(w.Options))
		}
		b.ask(label, func(v string) tea.Cmd {
			if strings.TrimSpace(v) == "" {
				b.status = "no answer given"
				return nil
			}
			return b.answer(s, strings.TrimSpace(v))
		})
	case "s":
		b.ask("send to "+s.Name+":", func(v string) tea.Cmd {
			if v == "" {
				b.status = "nothing to send"
				return nil
			}
			return b.send(s, v)
		})
	case "c":
		b.ask("comment on "+s.Name+" (PATH:LINE[-END] text):", func(v string) tea.Cmd { return b.comment(s, v) })
	case "f":
		return b.feedback(s)
	case "m":
		b.confirm("merge "+s.Name+" into "+s.Target, func() tea.Cmd { return b.merge(s) })
	case "u":
		b.confirm("undo the last merge of "+s.Name, func() tea.Cmd { return b.undo(s) })
	case "y":
		return b.sync(s)
	case "x":
		b.confirm("stop "+s.Name, func() tea.Cmd { return b.stop(s) })
	}
	return nil
}

// ---- view -------------------------------------------------------------------

const (
	sgrReverse = "\x1b[7m"
	sgrBold    = "\x1b[1m"
	sgrDim     = "\x1b[2m"
	sgrReset   = "\x1b[0m"
)

func stateColour(s protocol.State) string {
	switch s {
	case protocol.StateWaiting:
		return "\x1b[33m" // yellow
	case protocol.StateFailed:
		return "\x1b[31m"
	case protocol.StateWorking, protocol.StateStarting:
		return "\x1b[32m"
	case protocol.StateIdle:
		return "\x1b[36m"
	}
	return sgrDim
}

// row is one session's first line: state, name, branch, then what the
// person weighs: changes, conflicts, how far behind.
func (b *board) row(s protocol.Session, nameW, branchW int) string {
	var facts []string
	if c := s.Changes; c.Files > 0 {
		facts = append(facts, fmt.Sprintf("+%d -%d in %d file%s", c.Additions, c.Deletions, c.Files, plural(c.Files, "", "s")))
	} else {
		facts = append(facts, "no changes")
	}
	if s.Conflicts > 0 {
		facts = append(facts, fmt.Sprintf("%d conflict%s", s.Conflicts, plural(s.Conflicts, "", "s")))
	}
	if s.Behind > 0 {
		t := fmt.Sprintf("%d behind", s.Behind)
		if s.WouldConflict {
			t += ", would conflict"
		}
		facts = append(facts, t)
	}
	if u := usageFact(s.Usage); u != "" {
		facts = append(facts, u)
	}
	if b.repo == "" {
		facts = append(facts, filepath.Base(s.Repo))
	}
	return fmt.Sprintf("%s%-8s%s %-*s %-*s %s", stateColour(s.State), s.State, sgrReset,
		nameW, ansi.Truncate(s.Name, nameW, "…"), branchW, ansi.Truncate(s.Branch, branchW, "…"), strings.Join(facts, " · "))
}

// usageFact is what a session's model used, in a few characters; "" before
// it reported any.
func usageFact(u *protocol.Usage) string {
	if u == nil {
		return ""
	}
	return u.Short()
}

// detail is what a session says below its row: a waiting session's
// question and options, a failed session's reason.
func detail(s protocol.Session) []string {
	switch s.State {
	case protocol.StateWaiting:
		q := s.Detail
		var opts []string
		if w := s.Waiting; w != nil {
			q = cmp.Or(w.Question, q)
			for i, o := range w.Options {
				opts = append(opts, fmt.Sprintf("%d) %s", i+1, cmp.Or(o.Label, o.ID)))
			}
		}
		out := []string{"? " + cmp.Or(q, "(waiting for you)")}
		if len(opts) > 0 {
			out = append(out, strings.Join(opts, "  "))
		}
		return out
	case protocol.StateFailed:
		if s.Detail != "" {
			return []string{"! " + s.Detail}
		}
	}
	return nil
}

const boardHelp = "↑↓ select  enter attach  a answer  s send  d diff  c comment  f feedback  m merge  u undo  y sync  x stop  l logs  p preview  L land  n spawn  q quit"

func (b *board) View() tea.View {
	v := tea.NewView(b.screen())
	v.AltScreen = true
	return v
}

// screen is the board's text, one line per terminal row.
func (b *board) screen() string {
	w, h := max(b.width, 20), max(b.height, 6)
	list := b.ordered()
	var head strings.Builder
	where := "every repository"
	if b.repo != "" {
		where = b.repo
	}
	waiting := 0
	for _, s := range list {
		if s.State == protocol.StateWaiting {
			waiting++
		}
	}
	fmt.Fprintf(&head, "%sstudiod%s · %s · %d session%s", sgrBold, sgrReset, where, len(list), plural(len(list), "", "s"))
	if waiting > 0 {
		fmt.Fprintf(&head, " · %s%d waiting%s", stateColour(protocol.StateWaiting), waiting, sgrReset)
	}
	top := []string{head.String()}
	if b.conn != "" {
		top = append(top, stateColour(protocol.StateFailed)+b.conn+sgrReset)
	}

	// The bottom: the last verb's output, the status or prompt, the keys.
	var bottom []string
	if len(b.out) > 0 {
		n := min(len(b.out), max(2, h/3))
		bottom = append(bottom, b.out[:n]...)
		if n < len(b.out) {
			bottom = append(bottom, sgrDim+fmt.Sprintf("… %d more line(s) (esc clears)", len(b.out)-n)+sgrReset)
		}
	}
	switch {
	case b.input != nil:
		bottom = append(bottom, sgrBold+b.input.label+sgrReset+" "+string(b.input.value)+"█")
	case b.status != "":
		bottom = append(bottom, b.status)
	}
	bottom = append(bottom, wrapWords(sgrDim, boardHelp, w)...)

	// The sessions, scrolled to keep the selected one in view.
	room := h - len(top) - len(bottom) - 1
	nameW, branchW := 14, 22
	if w >= 120 {
		nameW, branchW = 24, 34
	}
	sel, _ := b.selected()
	var lines []string
	selAt := 0
	if len(list) == 0 && b.conn == "" {
		lines = append(lines, sgrDim+"no sessions: n spawns one (or run `studiod spawn` anywhere)"+sgrReset)
	}
	for _, it := range b.layout() {
		indent := ""
		if it.plan != nil {
			indent = "  "
		}
		switch {
		case it.task == nil && it.session == nil:
			lines = append(lines, sgrBold+planHeading(it.plan)+sgrReset)
			continue
		case it.session == nil:
			// A task not started (or whose session is gone): its state and
			// what it waits for.
			t := it.task
			var facts []string
			switch {
			case t.State == protocol.TaskWaiting:
				facts = []string{waitsFor(t)}
			case t.Detail != "":
				facts = append([]string{t.Detail}, taskRelations(t)...)
			default:
				facts = taskRelations(t)
			}
			lines = append(lines, fmt.Sprintf("  %s%s%-8s %-*s %s%s", indent, sgrDim, t.State, nameW, ansi.Truncate(t.Name, nameW, "…"),
				strings.Join(facts, " · "), sgrReset))
			continue
		}
		s := *it.session
		mark := "  "
		r := b.row(s, nameW, branchW)
		if it.task != nil {
			if rel := taskRelations(it.task); len(rel) > 0 {
				r += " · " + strings.Join(rel, " · ")
			}
		}
		if s.ID == sel.ID {
			selAt = len(lines)
			mark = sgrReverse + ">" + sgrReset + " "
		}
		lines = append(lines, mark+indent+r)
		for _, d := range detail(s) {
			lines = append(lines, "           "+indent+d)
		}
	}
	start := 0
	if selAt >= room {
		start = selAt - room + 1
	}
	lines = lines[start:]
	if len(lines) > room {
		lines = lines[:max(room, 0)]
	}

	var out []string
	out = append(out, top...)
	out = append(out, "")
	out = append(out, lines...)
	for len(out)+len(bottom) < h {
		out = append(out, "")
	}
	out = append(out, bottom...)
	for i, l := range out {
		out[i] = ansi.Truncate(l, w, "…")
	}
	return strings.Join(out[:min(len(out), h)], "\n")
}

// wrapWords breaks text at spaces into lines of at most w columns, each
// in the style sgr.
func wrapWords(sgr, text string, w int) []string {
	var lines []string
	var cur string
	for _, word := range strings.Split(text, "  ") {
		switch {
		case cur == "":
			cur = word
		case ansi.StringWidth(cur)+2+ansi.StringWidth(word) <= w:
			cur += "  " + word
		default:
			lines = append(lines, sgr+cur+sgrReset)
			cur = word
		}
	}
	if cur != "" {
		lines = append(lines, sgr+cur+sgrReset)
	}
	return lines
}
