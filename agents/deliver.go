package agents

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Delivery says how text reached an agent.
type Delivery struct {
	Via       string // typed, resume
	Confirmed bool   // the agent's hook said it took the text as a prompt
	Note      string // what to do when not confirmed
	// Queued: the agent is busy with a turn; the text becomes its next
	// prompt when that one ends (ACP).
	Queued bool
}

// Bracketed paste markers: agents that enable the mode take what is
// between them as one paste, never as keystrokes.
const (
	pasteStart = "\x1b[200~"
	pasteEnd   = "\x1b[201~"
)

// Delivery timing. Enter goes as its own write after the text, so that an
// agent's paste detection cannot swallow it; without confirmation it is
// sent once more.
var (
	enterDelay   = 60 * time.Millisecond
	confirmAfter = 4 * time.Second
)

// deliver types text into s's terminal, then Enter when submit. For agents
// whose hooks report prompts it waits for that report, presses Enter once
// more if none comes, and says whether the agent confirmed.
func (drv terminalDriver) deliver(ctx context.Context, s Session, text string, submit bool) (Delivery, error) {
	m := drv.m
	p := m.profileOf(ctx, s)
	d := Delivery{Via: "typed"}
	confirms := submit && promptHooks(p.Hooks)
	var wait <-chan struct{}
	var done func()
	if confirms {
		wait, done = m.deliveries.expect(s.ID)
		defer done()
	}
	payload := text
	if p.Paste == "bracketed" && text != "" {
		payload = pasteStart + text + pasteEnd
	}
	if payload != "" {
		if err := m.proc(s.ID).Input(ctx, []byte(payload)); err != nil {
			return d, err
		}
	}
	if !submit {
		return d, nil
	}
	if payload != "" {
		time.Sleep(enterDelay)
	}
	if err := m.proc(s.ID).Input(ctx, []byte("\r")); err != nil {
		return d, err
	}
	if !confirms {
		d.Note = fmt.Sprintf("typed into the agent's terminal; agent %q does not report the prompts it takes, so the delivery is not confirmed: check `studiod logs %s`", s.Agent, s.Name)
		return d, nil
	}
	for try := 0; try < 2; try++ {
		select {
		case <-wait:
			d.Confirmed = true
			return d, nil
		case <-time.After(confirmAfter):
		case <-ctx.Done():
			return d, ctx.Err()
		}
		if try == 0 {
			// The text may sit in the input box: press Enter again.
			if err := m.proc(s.ID).Input(ctx, []byte("\r")); err != nil {
				return d, err
			}
		}
	}
	d.Note = fmt.Sprintf("typed, but the agent did not confirm it took the prompt (it may be busy, or showing a question): see `studiod attach %s`", s.Name)
	return d, nil
}

// promptHooks reports whether agents with hooks of kind report each prompt
// they take.
func promptHooks(kind string) bool {
	switch kind {
	case HooksClaude, HooksCodex, HooksGemini:
		return true
	}
	return false
}

// deliveries wait for agents to confirm the prompts typed into them.
type deliveries struct {
	// mu guards waiters.
	mu      sync.Mutex
	waiters map[string][]chan struct{} // session ID → one channel per delivery
}

// expect registers a delivery to s: the channel closes when the agent
// reports a prompt. done unregisters it.
func (d *deliveries) expect(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	d.mu.Lock()
	if d.waiters == nil {
		d.waiters = map[string][]chan struct{}{}
	}
	d.waiters[id] = append(d.waiters[id], ch)
	d.mu.Unlock()
	return ch, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		list := d.waiters[id]
		for i, c := range list {
			if c == ch {
				d.waiters[id] = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		if len(d.waiters[id]) == 0 {
			delete(d.waiters, id)
		}
	}
}

// confirm releases every delivery waiting on s: the agent took a prompt.
func (d *deliveries) confirm(id, text string) {
	d.mu.Lock()
	list := d.waiters[id]
	delete(d.waiters, id)
	d.mu.Unlock()
	for _, ch := range list {
		close(ch)
	}
}

// Answer answers a waiting session: answer is allow, always, reject, never
// or an offered option's ID; text answers a question in words. The first
// answer wins: a session that no longer waits refuses the others. by names
// who answered (the client), for the session's record.
func (m *Manager) Answer(ctx context.Context, ref Ref, answer, text, by string) (Session, Delivery, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return Session{}, Delivery{}, err
	}
	l, _ := m.answerLocks.LoadOrStore(s.ID, new(sync.Mutex))
	l.(*sync.Mutex).Lock()
	defer l.(*sync.Mutex).Unlock()
	if s, err = m.Lookup(Ref{Session: s.ID}); err != nil {
		return Session{}, Delivery{}, err
	}
	if s.State != Waiting || s.Ask == nil {
		return s, Delivery{}, fmt.Errorf("%w: session %s is %s, not waiting for an answer (someone may have answered it already)", ErrInvalid, s.Name, s.State)
	}
	if err := budgetRefusal(s); err != nil {
		return s, Delivery{}, err
	}
	if o, ok := choose(*s.Ask, cmp.Or(answer, text)); ok {
		answer, text = o.ID, ""
	} else if choices := choiceLabels(*s.Ask); choices != "" && !offersKind(*s.Ask, answer) {
		return s, Delivery{}, invalidf("answer %q: %s asks %q; choose %s", cmp.Or(answer, text), s.Name, s.Ask.Question, choices)
	}
	if sv := m.supervisorOf(s.ID); sv != nil {
		sv.mu.Lock()
		sv.answered = true
		sv.mu.Unlock()
	}
	return m.driverOf(s).answer(ctx, s, *s.Ask, answer, text, by)
}

// offersKind reports whether ask offers an option of the answer kind
// answer (a question that can be declined offers reject).
func offersKind(ask Ask, answer string) bool {
	for _, o := range ask.Options {
		if answer != "" && o.Kind == answer {
			return true
		}
	}
	return false
}

// choiceLabels lists a question's choices for a person: "1 (Red), 2
// (Green) or 3 (Blue)"; "" when it has none.
func choiceLabels(ask Ask) string {
	var l []string
	for _, o := range ask.Options {
		if o.Kind == "" {
			label, _, _ := strings.Cut(o.Label, " — ")
			l = append(l, fmt.Sprintf("%s (%s)", o.ID, label))
		}
	}
	switch len(l) {
	case 0:
		return ""
	case 1:
		return l[0]
	}
	return strings.Join(l[:len(l)-1], ", ") + " or " + l[len(l)-1]
}

// choose finds the option of a question with choices (options without an
// answer kind, as AskUserQuestion offers) that word names: its number
// (ID) or its label, in any case, with or without its description.
func choose(ask Ask, word string) (Option, bool) {
	word = strings.TrimSpace(word)
	for _, o := range ask.Options {
		if o.Kind != "" {
			continue
		}
		label, _, _ := strings.Cut(o.Label, " — ")
		if o.ID == word || strings.EqualFold(o.Label, word) || strings.EqualFold(label, word) {
			return o, true
		}
	}
	return Option{}, false
}

// answer is Answer for a terminal agent: the text, or the keys that
// give the answer at its prompt, typed into its terminal.
func (drv terminalDriver) answer(ctx context.Context, s Session, ask Ask, answer, text, by string) (Session, Delivery, error) {
	m := drv.m
	var d Delivery
	var err error
	switch {
	case text != "":
		if answer != "" {
			return s, d, invalidf("give an answer or a text, not both")
		}
		d, err = drv.deliver(ctx, s, text, true)
		answer = "text: " + clip(oneLine(text), 200)
	case len(ask.Then) > 0 || ask.Last:
		// One of several questions: the session waits on the next, or,
		// after the last, the agent goes on.
		var next *Ask
		if d, next, err = drv.answerStep(ctx, s, ask, answer); err == nil && next != nil {
			return drv.nextQuestion(s, ask, *next, answer, by, d)
		}
	default:
		var keys []string
		var pr *Prompt
		keys, pr, err = drv.answerKeys(ctx, s, ask, answer)
		if err == nil {
			d, err = drv.typeAnswer(ctx, s, keys, pr)
		}
		if err == nil && pr != nil && pr.Name == "gemini-trust" && answer == AnswerAllow {
			m.trust(s.Repo, "gemini")
		}
	}
	if err != nil {
		return s, d, err
	}
	if err := m.store.addAnswer(m.ctx, s.ID, &ask, answer, by, time.Now().UTC()); err != nil {
		m.log.Warn("record answer", "session", s.Name, "err", err)
	}
	// The agent goes on; its hooks (or its screen) say what comes next.
	guessed := false
	s, err = m.update(s.ID, func(r *Session) bool {
		if r.State != Waiting {
			return false
		}
		r.State, r.Detail = Working, ""
		guessed = true
		return true
	})
	if sv := m.supervisorOf(s.ID); guessed && sv != nil {
		sv.guess()
	}
	return s, d, err
}

// answerSettle is how long an agent may take to act on an answer before
// the keys are typed once more: an agent's hook can fire before its prompt
// takes keys, and keys typed then are lost.
var answerSettle = 2 * time.Second

// keyLost is how long an agent's screen stays exactly as it was after
// keys were typed at it before they count as never read (a busy machine
// can lose keys typed as a question is drawn).
var keyLost = 15 * time.Second

// untouched reports whether s's screen stays exactly before for keyLost
// and the session does not move meanwhile (went says it moved).
func (drv terminalDriver) untouched(ctx context.Context, s Session, before string, moved <-chan struct{}) (untouched, went bool) {
	changed := drv.awaitRows(ctx, s, keyLost, func(rows string) bool {
		select {
		case <-moved:
			went = true
			return true
		default:
		}
		return rows != before
	})
	return !changed && ctx.Err() == nil, went
}

// keyPause separates the writes of an answer: an agent takes several keys
// arriving in one read for a paste.
const keyPause = 150 * time.Millisecond

// typeAnswer types keys at s's prompt, one write after the other, and waits
// for the session to move on; if it still waits on the same question, the
// keys go once more, but only while the screen still shows the permission
// pr they were read from (nil: keys from the profile's table): keys typed
// again at whatever came next would answer what nobody was asked.
func (drv terminalDriver) typeAnswer(ctx context.Context, s Session, keys []string, pr *Prompt) (Delivery, error) {
	m := drv.m
	moved := make(chan struct{}, 1)
	unsub := m.Subscribe(func(ev Event) {
		if ev.Session.ID == s.ID && (ev.Session.State != Waiting || !sameAsk(ev.Session.Ask, s.Ask)) {
			select {
			case moved <- struct{}{}:
			default:
			}
		}
	})
	defer unsub()
	d := Delivery{Via: "typed"}
	proc := m.proc(s.ID)
	once := pr != nil && (pr.Kind == PromptTrust || pr.Kind == PromptLogin)
	var before string // the screen the keys were typed at
	if once {
		if scr, err := proc.Screen(ctx); err == nil {
			before = strings.Join(scr.Rows, "\n")
		}
	}
	for try := 0; try < 2; try++ {
		for i, k := range keys {
			if i > 0 {
				time.Sleep(keyPause)
			}
			if err := proc.Input(ctx, []byte(k)); err != nil {
				return d, err
			}
		}
		select {
		case <-moved:
			d.Confirmed = true
			return d, nil
		case <-time.After(answerSettle):
		case <-ctx.Done():
			return d, ctx.Err()
		}
		if len(keys) > 1 {
			break // typing a sequence twice may pick another choice
		}
		// A trust or sign-in answer makes agents start over or leave
		// (Gemini CLI redraws its trust question once more, then starts
		// itself again): typed again, the keys would answer the next
		// question, which nobody was asked. Only keys the agent never
		// read, its screen unchanged all the while, go again.
		if once {
			if before == "" {
				return d, nil
			}
			untouched, went := drv.untouched(ctx, s, before, moved)
			if !untouched {
				d.Confirmed = went
				return d, nil
			}
			continue
		}
		if pr != nil && !drv.showing(ctx, s, *pr) {
			return d, nil
		}
	}
	d.Note = fmt.Sprintf("keys typed at the agent's prompt, but it still shows the question: see `studiod attach %s`", s.Name)
	return d, nil
}

// answerKeys finds the keys that give answer at s's prompt, as writes to
// type one after the other: from the prompt its screen shows (the built-in
// prompts of its kind), else from the profile's table.
func (drv terminalDriver) answerKeys(ctx context.Context, s Session, ask Ask, answer string) ([]string, *Prompt, error) {
	m := drv.m
	switch answer {
	case AnswerAllow, AnswerAlways, AnswerReject, AnswerNever:
	case "":
		return nil, nil, invalidf("no answer: give allow, always, reject or never (or a text for a question)")
	default:
		// An offered option's ID names its kind; a choice (no kind) is
		// picked by its number, as Claude Code's question menu takes it.
		found := false
		for _, o := range ask.Options {
			if o.ID == answer {
				if o.Kind == "" {
					return []string{o.ID}, nil, nil
				}
				answer, found = o.Kind, true
				break
			}
		}
		if !found {
			return nil, nil, invalidf("answer %q: use allow, always, reject or never, or one of the options offered", answer)
		}
	}
	p := m.profileOf(ctx, s)
	if scr, err := m.proc(s.ID).Screen(ctx); err == nil {
		if pr, ok := matchPrompt(p.Screen, scr.Rows); ok {
			keys := pr.Keys[answer]
			if keys == nil && answer == AnswerNever {
				keys = pr.Keys[AnswerReject]
			}
			if keys != nil {
				return keys, &pr, nil
			}
		}
	}
	if keys, ok := p.Answers[string(ask.Kind)+"."+answer]; ok {
		return []string{unescapeKeys(keys)}, nil, nil
	}
	if keys, ok := p.Answers[answer]; ok && ask.Kind == WaitPermission {
		return []string{unescapeKeys(keys)}, nil, nil
	}
	return nil, nil, &Problem{Kind: ErrInvalid, What: fmt.Sprintf("agent %q has no keys for answering %q to a %s question (they are configured in [agents.%s.answers])", s.Agent, answer, ask.Kind, s.Agent),
		Session: s.Name, Repo: s.Repo, Fix: FixAnswerInTerminal}
}

// showing reports whether s's screen still shows the prompt pr.
func (drv terminalDriver) showing(ctx context.Context, s Session, pr Prompt) bool {
	scr, err := drv.m.proc(s.ID).Screen(ctx)
	if err != nil {
		return false
	}
	now, ok := matchPrompt(pr.Agent, scr.Rows)
	return ok && now.Name == pr.Name && now.Question == pr.Question
}

// unescapeKeys turns a key table entry into bytes: \r, \e, \t and \xNN.
func unescapeKeys(s string) string {
	r := strings.NewReplacer(`\r`, "\r", `\n`, "\n", `\t`, "\t", `\e`, "\x1b")
	s = r.Replace(s)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			var v byte
			if _, err := fmt.Sscanf(s[i+2:i+4], "%02x", &v); err == nil {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// profileOf is the profile a session runs with, from the current config.
func (m *Manager) profileOf(ctx context.Context, s Session) Profile {
	cfg, _, err := m.effectiveConfig(ctx, s.Repo)
	if err != nil {
		cfg = Builtin(m.opts.Self)
	}
	return cfg.Agents[s.Agent]
}

var errNoConversation = errors.New("no conversation recorded")

// answer answers an ACP session's permission request (or sign-in) with
// one of the options the agent offered.
func (drv acpDriver) answer(ctx context.Context, s Session, ask Ask, answer, text, by string) (Session, Delivery, error) {
	m := drv.m
	if ask.Tool == "elicitation" {
		return drv.answerForm(ctx, s, ask, answer, text, by)
	}
	if text != "" {
		var ids []string
		for _, o := range ask.Options {
			ids = append(ids, o.ID)
		}
		return s, Delivery{}, invalidf("session %s waits for a %s: answer with allow, always, reject, never or one of the options offered (%s), not text", s.Name, ask.Kind, strings.Join(ids, ", "))
	}
	if answer == "" {
		return s, Delivery{}, invalidf("no answer: give allow, always, reject, never or an option's id")
	}
	sv := m.supervisorOf(s.ID)
	if sv == nil || sv.acp == nil {
		return s, Delivery{}, fmt.Errorf("session %s: no ACP connection to its agent yet: try again in a moment", s.Name)
	}
	chosen, d, err := sv.acp.answer(ctx, answer)
	if err != nil {
		return s, d, err
	}
	rec := chosen
	if chosen != answer {
		rec = answer + " (" + chosen + ")"
	}
	if err := m.store.addAnswer(m.ctx, s.ID, &ask, rec, by, time.Now().UTC()); err != nil {
		m.log.Warn("record answer", "session", s.Name, "err", err)
	}
	s, err = m.Lookup(Ref{Session: s.ID})
	return s, d, err
}
