package agents

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	acp "github.com/coder/acp-go-sdk"
)

// An ACP agent asks the person questions through its client with
// elicitation/create in form mode (claude-agent-acp asks AskUserQuestion's
// questions so). studiod asks the form's fields one after the other, as the
// session's waiting question: a field with choices is answered by an
// option's number or label, a text field by text. Once every field is
// answered the form is accepted with them; reject declines it. Optional
// text fields beside choices are not asked.

// acpElicitCaps is the elicitation studiod offers as an ACP client.
var acpElicitCaps = &acp.ElicitationCapabilities{Form: &acp.ElicitationFormCapabilities{}}

// acpElicit is an open elicitation/create request of the agent.
type acpElicit struct {
	key     string          // its JSON-RPC id
	raw     json.RawMessage // the whole message, to hand the SDK again after a restart
	message string
	fields  []elicitField
	// answers are the fields answered so far, by name: given by the
	// person through the driver, not read from the log.
	answers map[string]any
}

// elicitField is one field of a form.
type elicitField struct {
	name, title, question string
	options               []Option // its choices; none for a text field
	multi                 bool     // an array of choices: one is picked
}

// parseElicit reads a form request; ok is false for other modes.
func parseElicit(key string, raw, params json.RawMessage) (acpElicit, bool) {
	var p struct {
		Mode    string `json:"mode"`
		Message string `json:"message"`
		Schema  struct {
			Properties json.RawMessage `json:"properties"`
			Required   []string        `json:"required"`
		} `json:"requestedSchema"`
	}
	if json.Unmarshal(params, &p) != nil || p.Mode != "form" {
		return acpElicit{}, false
	}
	e := acpElicit{key: key, raw: raw, message: oneLine(p.Message)}
	for _, kv := range orderedObject(p.Schema.Properties) {
		var f struct {
			Type        string   `json:"type"`
			Title       string   `json:"title"`
			Description string   `json:"description"`
			Enum        []string `json:"enum"`
			OneOf       []choice `json:"oneOf"`
			Items       struct {
				AnyOf []choice `json:"anyOf"`
				Enum  []string `json:"enum"`
			} `json:"items"`
		}
		if json.Unmarshal(kv.value, &f) != nil {
			continue
		}
		field := elicitField{name: kv.key, title: oneLine(f.Title), question: oneLine(f.Description)}
		choices := f.OneOf
		enum := f.Enum
		if f.Type == "array" {
			field.multi, choices, enum = true, f.Items.AnyOf, f.Items.Enum
		}
		for _, v := range enum {
			choices = append(choices, choice{Const: v})
		}
		for i, c := range choices {
			label := oneLine(cmp.Or(c.Title, c.Const))
			if d := oneLine(c.Description); d != "" {
				label += " — " + d
			}
			field.options = append(field.options, Option{ID: strconv.Itoa(i + 1), Label: label})
		}
		e.fields = append(e.fields, field)
	}
	// A text field beside choices (claude-agent-acp's "Other" beside each
	// question) is left out unless the form requires it.
	var choices bool
	for _, f := range e.fields {
		choices = choices || len(f.options) > 0
	}
	if choices {
		e.fields = slices.DeleteFunc(e.fields, func(f elicitField) bool {
			return len(f.options) == 0 && !slices.Contains(p.Schema.Required, f.name)
		})
	}
	return e, true
}

type choice struct {
	Const       string `json:"const"`
	Title       string `json:"title"`
	Description string `json:"description"`
}

type keyValue struct {
	key   string
	value json.RawMessage
}

// orderedObject lists a JSON object's members in their order: a form's
// fields are asked as the agent wrote them.
func orderedObject(b json.RawMessage) []keyValue {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var out []keyValue
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return out
		}
		k, _ := t.(string)
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return out
		}
		out = append(out, keyValue{k, v})
	}
	return out
}

// next is the first field not answered yet; ok is false when all are.
func (e *acpElicit) next() (f elicitField, i int, ok bool) {
	for i, f := range e.fields {
		if _, done := e.answers[f.name]; !done {
			return f, i, true
		}
	}
	return elicitField{}, 0, false
}

// ask is what the form asks the person now: its next field.
func (e *acpElicit) ask() *Ask {
	a := &Ask{Kind: WaitQuestion, Tool: "elicitation", Source: "acp", Question: e.message}
	f, i, ok := e.next()
	if !ok {
		return a
	}
	a.Question = cmp.Or(f.question, e.message)
	a.Subject = f.title
	if n := len(e.fields); n > 1 {
		a.Subject = strings.TrimSpace(fmt.Sprintf("%s (%d of %d)", f.title, i+1, n))
	}
	a.Options = append(append([]Option(nil), f.options...), Option{ID: AnswerReject, Kind: AnswerReject, Label: "Decline to answer"})
	if len(f.options) == 0 {
		a.Question += " (answer with text)"
	}
	return a
}

// answerElicit answers the next field of the open form with an option's
// id or a text; once all are answered it accepts the form, and with
// reject it declines it. It returns what was recorded.
func (d *acpConn) answerElicit(ctx context.Context, answer, text string) (string, Delivery, error) {
	dl := Delivery{Via: "acp"}
	d.mu.Lock()
	if len(d.st.elicits) == 0 {
		d.mu.Unlock()
		return "", dl, invalidf("session %s has no open question", d.name)
	}
	e := &d.st.elicits[0]
	f, _, _ := e.next()
	var value any
	recorded := answer
	switch {
	case answer == AnswerReject && text == "":
		value = nil
	case len(f.options) == 0:
		if text == "" {
			d.mu.Unlock()
			return "", dl, invalidf("session %s asks %q: answer with text", d.name, cmp.Or(f.question, e.message))
		}
		value, recorded = text, "text: "+clip(oneLine(text), 200)
	default:
		var picked *Option
		for i, o := range f.options {
			if o.ID == answer {
				picked = &f.options[i]
			}
		}
		if picked == nil || text != "" {
			d.mu.Unlock()
			return "", dl, invalidf("answer %q: %s asks %q; choose %s", cmp.Or(answer, text), d.name, cmp.Or(f.question, e.message), choiceLabels(Ask{Options: f.options}))
		}
		label, _, _ := strings.Cut(picked.Label, " — ")
		value = label
		if f.multi {
			value = []string{label}
		}
	}
	var resp *acp.UnstableCreateElicitationResponse
	if value == nil {
		resp = &acp.UnstableCreateElicitationResponse{Decline: &acp.UnstableCreateElicitationDecline{Action: "decline"}}
	} else {
		if e.answers == nil {
			e.answers = map[string]any{}
		}
		e.answers[f.name] = value
		if _, _, more := e.next(); !more {
			resp = &acp.UnstableCreateElicitationResponse{Accept: &acp.UnstableCreateElicitationAccept{Action: "accept", Content: e.answers}}
		}
	}
	key := e.key
	d.signal()
	d.mu.Unlock()
	if resp == nil {
		d.publish() // the next field
		dl.Confirmed = true
		return recorded, dl, nil
	}
	select {
	case d.elicitWaiter() <- *resp:
	default:
		return "", dl, invalidf("session %s: this question was answered already", d.name)
	}
	wctx, cancel := context.WithTimeout(ctx, answerWait)
	defer cancel()
	if d.wait(wctx, func() bool { return !d.st.hasElicit(key) || d.st.exited }) {
		dl.Confirmed = !d.stExited()
	}
	if !dl.Confirmed {
		dl.Note = fmt.Sprintf("the answer did not reach the agent (it may have exited): see `studiod logs %s`", d.name)
	}
	return recorded, dl, nil
}

func (st *acpState) hasElicit(key string) bool {
	for _, e := range st.elicits {
		if e.key == key {
			return true
		}
	}
	return false
}

// elicitWaiter is where the answer to the oldest open form goes: the
// agent's requests reach the SDK's handler in the order the log has them.
func (d *acpConn) elicitWaiter() chan acp.UnstableCreateElicitationResponse {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.elicitCh == nil {
		d.elicitCh = make(chan acp.UnstableCreateElicitationResponse, 1)
	}
	return d.elicitCh
}

// UnstableCreateElicitation is the SDK's handler of elicitation/create: it
// waits for the person's answers.
func (d *acpConn) UnstableCreateElicitation(ctx context.Context, p acp.UnstableCreateElicitationRequest) (acp.UnstableCreateElicitationResponse, error) {
	if p.Form == nil {
		return acp.UnstableCreateElicitationResponse{Decline: &acp.UnstableCreateElicitationDecline{Action: "decline"}}, nil
	}
	select {
	case r := <-d.elicitWaiter():
		return r, nil
	case <-ctx.Done():
		return acp.UnstableCreateElicitationResponse{}, ctx.Err()
	}
}

// cancelElicits answers the open forms as cancelled (the turn ends).
func (d *acpConn) cancelElicits(n int) {
	for range n {
		select {
		case d.elicitWaiter() <- acp.UnstableCreateElicitationResponse{Cancel: &acp.UnstableCreateElicitationCancel{Action: "cancel"}}:
		case <-time.After(time.Second):
			return
		}
	}
}

// answerForm answers an ACP session's open form, a field at a time.
func (drv acpDriver) answerForm(ctx context.Context, s Session, ask Ask, answer, text, by string) (Session, Delivery, error) {
	m := drv.m
	sv := m.supervisorOf(s.ID)
	if sv == nil || sv.acp == nil {
		return s, Delivery{}, fmt.Errorf("session %s: no ACP connection to its agent yet: try again in a moment", s.Name)
	}
	rec, d, err := sv.acp.answerElicit(ctx, answer, text)
	if err != nil {
		return s, d, err
	}
	if err := m.store.addAnswer(m.ctx, s.ID, &ask, rec, by, time.Now().UTC()); err != nil {
		m.log.Warn("record answer", "session", s.Name, "err", err)
	}
	s, err = m.Lookup(Ref{Session: s.ID})
	return s, d, err
}
