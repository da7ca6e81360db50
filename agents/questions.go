package agents

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// One call of Claude Code's AskUserQuestion can ask several questions. Its
// menu takes them one after the other (a digit picks an option and shows
// the next question), then shows the answers for review ("❯ 1. Submit
// answers / 2. Cancel"). The session waits on each question in its turn;
// once the person has answered the last, studiod submits the review they
// have in effect given.

// stepWait bounds the wait for the agent's menu to move on after a key.
var stepWait = 10 * time.Second

// answerStep types the key of the option answer picks for ask, one of
// several questions, and waits for the menu to move on: to the next
// question, which it returns, or, after the last, to the review, which it
// submits (next is nil).
func (drv terminalDriver) answerStep(ctx context.Context, s Session, ask Ask, answer string) (d Delivery, next *Ask, err error) {
	d = Delivery{Via: "typed"}
	if _, ok := choose(ask, answer); !ok {
		return d, nil, invalidf("answer %q: %s asks %q; choose %s", answer, s.Name, ask.Question, choiceLabels(ask))
	}
	proc := drv.m.proc(s.ID)
	if err := proc.Input(ctx, []byte(answer)); err != nil {
		return d, nil, err
	}
	if len(ask.Then) > 0 {
		n := ask.Then[0]
		if rest := ask.Then[1:]; len(rest) > 0 {
			n.Then = rest
		}
		d.Confirmed = drv.awaitRows(ctx, s, stepWait, func(rows string) bool { return strings.Contains(rows, n.Question) })
		if !d.Confirmed {
			d.Note = fmt.Sprintf("the option's key was typed, but the agent does not show the next question yet: see `studiod attach %s`", s.Name)
		}
		return d, &n, nil
	}
	var submit string
	if !drv.awaitRows(ctx, s, stepWait, func(rows string) bool {
		submit = submitKey(rows)
		return submit != ""
	}) {
		d.Note = fmt.Sprintf("the last answer was typed, but the agent shows no answers to submit: see `studiod attach %s`", s.Name)
		return d, nil, nil
	}
	time.Sleep(keyPause)
	if err := proc.Input(ctx, []byte(submit)); err != nil {
		return d, nil, err
	}
	d.Confirmed = true
	return d, nil, nil
}

// nextQuestion records the answer to ask and makes the session wait on
// next, the question that follows it in the same call.
func (drv terminalDriver) nextQuestion(s Session, ask, next Ask, answer, by string, d Delivery) (Session, Delivery, error) {
	m := drv.m
	if err := m.store.addAnswer(m.ctx, s.ID, &ask, answer, by, time.Now().UTC()); err != nil {
		m.log.Warn("record answer", "session", s.Name, "err", err)
	}
	s, err := m.update(s.ID, func(r *Session) bool {
		if r.State != Waiting || !sameAsk(r.Ask, &ask) {
			return false // the agent moved on in the meantime
		}
		r.Ask, r.Detail = &next, next.Question
		return true
	})
	return s, d, err
}

// submitRow is the review's option that submits the answers.
var submitRow = regexp.MustCompile(`(\d+)\.\s+Submit answers`)

// submitKey is the digit that picks "Submit answers" on a screen that shows
// it, "" otherwise.
func submitKey(rows string) string {
	if m := submitRow.FindStringSubmatch(rows); m != nil {
		return m[1]
	}
	return ""
}

// awaitRows waits until s's screen satisfies ok, or within passes.
func (drv terminalDriver) awaitRows(ctx context.Context, s Session, within time.Duration, ok func(rows string) bool) bool {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	proc := drv.m.proc(s.ID)
	for {
		if scr, err := proc.Screen(ctx); err == nil && ok(strings.Join(scr.Rows, "\n")) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}
