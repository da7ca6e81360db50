package agents

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// Usage is what a session's agent reports its model used, summed over the
// session: tokens sent (Input, besides the prompt cache's), tokens
// answered (Output), tokens read from the prompt cache (CacheRead) and
// written to it (CacheWrite), and the cost in US dollars when the agent
// reports one. Context is how many tokens the model's context holds
// after its last answer (what it read for it and the answer), and
// ContextWindow how many it can hold, where the agent says (0 when
// unknown).
type Usage struct {
	Input, Output, CacheRead, CacheWrite int64
	Cost                                 *float64 `json:",omitempty"`
	Context, ContextWindow               int64    `json:",omitempty"`
}

func (u *Usage) equal(v *Usage) bool {
	if u == nil || v == nil {
		return u == v
	}
	if (u.Cost == nil) != (v.Cost == nil) || u.Cost != nil && *u.Cost != *v.Cost {
		return false
	}
	return u.Input == v.Input && u.Output == v.Output && u.CacheRead == v.CacheRead && u.CacheWrite == v.CacheWrite &&
		u.Context == v.Context && u.ContextWindow == v.ContextWindow
}

// transcripts remembers how far each session's Claude Code transcript has
// been read, so that a hook reads only the lines added since the last.
type transcripts struct {
	mu sync.Mutex
	m  map[string]*tally // by session id
}

// usage returns the usage a session's transcript at path records so far.
func (ts *transcripts) usage(session, path string) (*Usage, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t := ts.m[session]
	if t == nil || t.path != path {
		if ts.m == nil {
			ts.m = map[string]*tally{}
		}
		t = &tally{path: path}
		ts.m[session] = t
	}
	if err := t.read(); err != nil {
		return nil, err
	}
	return t.sum(), nil
}

func (ts *transcripts) forget(session string) {
	ts.mu.Lock()
	delete(ts.m, session)
	ts.mu.Unlock()
}

// claudeUsage sums the usage of the model's answers in a Claude Code
// session transcript.
func claudeUsage(path string) (*Usage, error) {
	t := &tally{path: path}
	if err := t.read(); err != nil {
		return nil, err
	}
	return t.sum(), nil
}

// tally is what has been read of an agent's session transcript (JSON
// lines). Claude Code writes one line for each block of an answer, each
// with the answer's usage: an answer counts once, by its message id, with
// its last line's figures. Codex's rollout has token_count events with the
// session's totals so far: the last one counts.
type tally struct {
	path    string
	offset  int64 // the end of the last whole line read
	order   []string
	answers map[string]answer
	codex   *Usage
	// context is the last answer's tokens: the prompt it read, cached or
	// not, and the answer; window the model's context size, where the
	// transcript says.
	context, window int64
}

type answer struct {
	Input      int64 `json:"input_tokens"`
	Output     int64 `json:"output_tokens"`
	CacheRead  int64 `json:"cache_read_input_tokens"`
	CacheWrite int64 `json:"cache_creation_input_tokens"`
	cost       *float64
}

// read reads the whole lines added since the last read; a file shorter
// than what was read is another one, read from its start.
func (t *tally) read() error {
	if !filepath.IsAbs(t.path) {
		return fmt.Errorf("transcript path %q is not absolute", t.path)
	}
	f, err := os.Open(t.path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("transcript %s is not a file", t.path)
	}
	if fi.Size() < t.offset {
		*t = tally{path: t.path}
	}
	if _, err := f.Seek(t.offset, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReader(f)
	for {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return nil // a line still being written waits for the next read
		}
		if err != nil {
			return err
		}
		t.offset += int64(len(b))
		t.line(b)
	}
}

func (t *tally) line(b []byte) {
	if bytes.Contains(b, []byte(`"token_count"`)) && t.codexLine(b) {
		return
	}
	if bytes.Contains(b, []byte(`"tokens"`)) && t.geminiLine(b) {
		return
	}
	if !bytes.Contains(b, []byte(`"usage"`)) {
		return
	}
	var l struct {
		Type      string   `json:"type"`
		Sidechain bool     `json:"isSidechain"`
		Cost      *float64 `json:"costUSD"`
		Message   struct {
			ID    string  `json:"id"`
			Usage *answer `json:"usage"`
		} `json:"message"`
	}
	if json.Unmarshal(b, &l) != nil || l.Type != "assistant" || l.Message.ID == "" || l.Message.Usage == nil {
		return
	}
	a := *l.Message.Usage
	a.cost = l.Cost
	t.put(l.Message.ID, a)
	if !l.Sidechain { // a subagent's answers fill a context of their own
		t.context = a.Input + a.CacheRead + a.CacheWrite + a.Output
	}
}

// geminiLine reads a Gemini CLI chat line: a model message (type gemini)
// with its tokens, Gemini's way (input counting the cached ones; the
// thoughts billed as output). A message counts once, by its id.
func (t *tally) geminiLine(b []byte) bool {
	var l struct {
		ID     string `json:"id"`
		Type   string `json:"type"`
		Tokens *struct {
			Input    int64 `json:"input"`
			Output   int64 `json:"output"`
			Cached   int64 `json:"cached"`
			Thoughts int64 `json:"thoughts"`
			Total    int64 `json:"total"`
		} `json:"tokens"`
	}
	if json.Unmarshal(b, &l) != nil || l.Type != "gemini" || l.ID == "" || l.Tokens == nil {
		return false
	}
	tk := l.Tokens
	t.put(l.ID, answer{Input: max(tk.Input-tk.Cached, 0), CacheRead: tk.Cached, Output: tk.Output + tk.Thoughts})
	t.context = max(tk.Total, tk.Input+tk.Output+tk.Thoughts)
	return true
}

// put records an answer's usage: a later line of the same answer replaces
// an earlier one.
func (t *tally) put(id string, a answer) {
	if t.answers == nil {
		t.answers = map[string]answer{}
	}
	if _, ok := t.answers[id]; !ok {
		t.order = append(t.order, id)
	}
	t.answers[id] = a
}

// codexLine reads a Codex rollout line: a token_count event carries the
// session's totals so far, OpenAI's way (input_tokens counts the cached
// ones too; output_tokens the reasoning too).
func (t *tally) codexLine(b []byte) bool {
	var l struct {
		Type    string `json:"type"`
		Payload struct {
			Type string `json:"type"`
			Info *struct {
				Total *struct {
					Input  int64 `json:"input_tokens"`
					Cached int64 `json:"cached_input_tokens"`
					Output int64 `json:"output_tokens"`
				} `json:"total_token_usage"`
				Last *struct {
					Total int64 `json:"total_tokens"`
				} `json:"last_token_usage"`
				Window int64 `json:"model_context_window"`
			} `json:"info"`
		} `json:"payload"`
	}
	if json.Unmarshal(b, &l) != nil || l.Type != "event_msg" || l.Payload.Type != "token_count" {
		return false
	}
	if info := l.Payload.Info; info != nil && info.Total != nil {
		t.codex = &Usage{Input: max(info.Total.Input-info.Total.Cached, 0), CacheRead: info.Total.Cached, Output: info.Total.Output}
		if info.Last != nil {
			t.context = info.Last.Total
		}
		if info.Window > 0 {
			t.window = info.Window
		}
	}
	return true
}

// sum is the usage read so far; nil when no answer was.
func (t *tally) sum() *Usage {
	if t.codex != nil {
		u := *t.codex
		u.Context, u.ContextWindow = t.context, t.window
		return &u
	}
	if len(t.order) == 0 {
		return nil
	}
	u := Usage{Context: t.context, ContextWindow: t.window}
	for _, id := range t.order {
		a := t.answers[id]
		u.Input += a.Input
		u.Output += a.Output
		u.CacheRead += a.CacheRead
		u.CacheWrite += a.CacheWrite
		u.Cost = addCost(u.Cost, a.cost)
	}
	return &u
}
