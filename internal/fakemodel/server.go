package fakemodel

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Script says how the model answers.
type Script struct {
	// Turns are tried in order for each request that offers tools; the
	// first unused one whose conditions hold answers it.
	Turns []Turn `json:"turns"`
	// Default is the text answering side queries (requests that offer no
	// tools, such as title generation) and requests no turn matches.
	// Empty means "OK". A request that asks for structured output gets
	// Example(its schema) instead.
	Default string `json:"default,omitempty"`
}

// Turn is one scripted answer of the model: text, a tool call, or text
// followed by a tool call. Its conditions (the non-zero fields among
// UserContains, AfterToolResult and Match) must all hold.
type Turn struct {
	// UserContains, when set, must occur in the last user message that has
	// text (Request.LastUserText).
	UserContains string `json:"user_contains,omitempty"`
	// AfterToolResult, when set, requires the conversation to end with tool
	// results: the model's tool call has been answered.
	AfterToolResult bool `json:"after_tool_result,omitempty"`
	// Match, when set, must return true.
	Match func(*Request) bool `json:"-"`
	// Repeat keeps the turn available after it answered once.
	Repeat bool `json:"repeat,omitempty"`

	Text string `json:"text,omitempty"`
	// Fail, when set, is an HTTP status (such as 400 or 529) the server
	// answers with instead, with an error body in the request's API and Text
	// as the message.
	Fail int `json:"fail,omitempty"`
	// Tool, when set, is a tool call the model makes after Text. A turn with
	// a tool call answers only requests that offer that tool.
	Tool *ToolCall `json:"tool,omitempty"`
	// Usage, when set, are the token counts the answer reports, given the
	// Anthropic API's way and reported in each API's (the OpenAI APIs and
	// Gemini count the cached tokens in the input; Chat Completions and
	// Gemini have no count of tokens written to the cache); otherwise they
	// are estimated from the sizes of the request and the answer.
	Usage *Usage `json:"usage,omitempty"`
	// Hold, when set, holds the answer until it is closed or the client
	// goes away (an agent whose turn was interrupted).
	Hold <-chan struct{} `json:"-"`
}

// Usage is the token counts of one answer, as the Anthropic API reports
// them: input excludes the cached tokens read (CacheRead) and written
// (CacheWrite).
type Usage struct {
	Input      int `json:"input_tokens"`
	Output     int `json:"output_tokens"`
	CacheRead  int `json:"cache_read_input_tokens"`
	CacheWrite int `json:"cache_creation_input_tokens"`
}

// ToolCall is a call of a tool by the model. Input is the JSON object of
// arguments, as the tool's schema in the request describes it.
type ToolCall struct {
	ID    string          `json:"id,omitempty"` // set by the server when empty
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

// Call is a convenience for building a ToolCall from a Go value.
func Call(name string, input any) *ToolCall {
	b, err := json.Marshal(input)
	if err != nil {
		panic(fmt.Sprintf("fakemodel.Call %s: %v", name, err))
	}
	return &ToolCall{Name: name, Input: b}
}

func (t *Turn) matches(r *Request) bool {
	if t.Tool != nil && !r.Offers(t.Tool.Name) {
		return false
	}
	if t.UserContains != "" && !strings.Contains(r.LastUserText(), t.UserContains) {
		return false
	}
	if t.AfterToolResult && len(r.LastToolResults()) == 0 {
		return false
	}
	if t.Match != nil && !t.Match(r) {
		return false
	}
	return true
}

// Server is a running fake model server on 127.0.0.1.
type Server struct {
	ln  net.Listener
	srv *http.Server
	wg  sync.WaitGroup

	// mu guards the fields below it. It is never held while writing a
	// response.
	mu       sync.Mutex
	script   Script
	used     []bool
	requests []*Request
	changed  chan struct{} // closed and replaced when a request is logged
	calls    int           // tool call ids handed out
}

// New starts a server answering with script. It panics if it cannot listen
// on loopback, as httptest.NewServer does.
func New(script Script) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("fakemodel: listen: %v", err))
	}
	s := &Server{
		ln:      ln,
		script:  script,
		used:    make([]bool, len(script.Turns)),
		changed: make(chan struct{}),
	}
	s.srv = &http.Server{Handler: s}
	s.wg.Go(func() { _ = s.srv.Serve(ln) })
	return s
}

// URL is the server's base URL, http://127.0.0.1:PORT, without a trailing
// slash and without an API version.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the server, ending open streams, and waits for it.
func (s *Server) Close() {
	_ = s.srv.Close()
	s.wg.Wait()
}

// SetScript replaces the script; every turn of the new one is unused.
func (s *Server) SetScript(script Script) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = script
	s.used = make([]bool, len(script.Turns))
}

// Requests returns a copy of the log of every request received, in order of
// arrival.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = *r
	}
	return out
}

// Wait blocks until a request for which cond returns true has been logged
// (including one logged before the call), and returns it. It fails only when
// ctx ends.
func (s *Server) Wait(ctx context.Context, cond func(*Request) bool) (Request, error) {
	seen := 0
	for {
		s.mu.Lock()
		for ; seen < len(s.requests); seen++ {
			if r := s.requests[seen]; cond(r) {
				s.mu.Unlock()
				return *r, nil
			}
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return Request{}, fmt.Errorf("wait for model request: %w", context.Cause(ctx))
		case <-ch:
		}
	}
}

// ServeHTTP logs the request, picks the answer and writes it in the
// request's API.
func (s *Server) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	body, _ := io.ReadAll(hr.Body)
	r := &Request{
		Time:   time.Now(),
		Method: hr.Method,
		Path:   hr.URL.Path,
		Query:  hr.URL.RawQuery,
		Header: hr.Header.Clone(),
		Body:   body,
		API:    route(hr.Method, hr.URL.Path),
		Turn:   -1,
	}
	r.decode()

	s.mu.Lock()
	var reply Turn
	if countOnly(r.Path) || r.Method != http.MethodPost {
		// count_tokens, countTokens, model listings: no turn.
	} else if len(r.Tools) > 0 {
		for i := range s.script.Turns {
			if t := &s.script.Turns[i]; !s.used[i] && t.matches(r) {
				reply, r.Turn = *t, i
				s.used[i] = !t.Repeat
				break
			}
		}
	}
	if r.Turn < 0 {
		reply = Turn{Text: s.script.Default}
		if reply.Text == "" {
			reply.Text = "OK"
		}
		if r.Schema != nil {
			reply.Text = string(Example(r.Schema))
		}
	}
	if reply.Tool != nil {
		tc := *reply.Tool
		if tc.ID == "" {
			s.calls++
			tc.ID = fmt.Sprintf("call_fake_%d", s.calls)
		}
		if len(tc.Input) == 0 {
			tc.Input = json.RawMessage("{}")
		}
		reply.Tool = &tc
	}
	s.requests = append(s.requests, r)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()

	if reply.Hold != nil {
		select {
		case <-reply.Hold:
		case <-hr.Context().Done():
			return
		}
	}
	if reply.Fail != 0 {
		serveError(w, r, reply)
		return
	}
	switch r.API {
	case Anthropic:
		serveAnthropic(w, r, reply)
	case OpenAIResponses:
		serveResponses(w, r, reply)
	case OpenAIChat:
		serveChat(w, r, reply)
	case Gemini:
		serveGemini(w, r, reply)
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{
			"error": map[string]any{"type": "not_found_error", "message": "fakemodel: no route for " + r.Method + " " + r.Path},
		})
	}
}

// serveError answers with the turn's HTTP status and an error body shaped
// as the request's API shapes errors.
func serveError(w http.ResponseWriter, r *Request, t Turn) {
	msg := t.Text
	if msg == "" {
		msg = http.StatusText(t.Fail)
	}
	var body any
	switch r.API {
	case Anthropic:
		typ := "api_error"
		switch t.Fail {
		case http.StatusBadRequest:
			typ = "invalid_request_error"
		case http.StatusUnauthorized:
			typ = "authentication_error"
		case http.StatusTooManyRequests:
			typ = "rate_limit_error"
		case 529:
			typ = "overloaded_error"
		}
		body = map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}}
	case Gemini:
		body = map[string]any{"error": map[string]any{"code": t.Fail, "message": msg, "status": "INVALID_ARGUMENT"}}
	default:
		body = map[string]any{"error": map[string]any{"type": "invalid_request_error", "message": msg, "code": nil}}
	}
	writeJSON(w, t.Fail, body)
}

// route tells the API from the path. Paths are accepted with and without a
// /v1 prefix, since base URL conventions differ between clients.
func route(method, path string) API {
	p := strings.TrimPrefix(path, "/v1")
	switch {
	case p == "/messages" || p == "/messages/count_tokens":
		return Anthropic
	case p == "/responses":
		return OpenAIResponses
	case p == "/chat/completions", method == http.MethodGet && p == "/models":
		return OpenAIChat
	case strings.Contains(path, "/models/") && strings.Contains(path, ":"):
		return Gemini
	}
	return Unknown
}

func countOnly(path string) bool {
	return strings.HasSuffix(path, "/count_tokens") || strings.HasSuffix(path, ":countTokens")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// sse writes Server-Sent Events and flushes after each.
type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

func newSSE(w http.ResponseWriter) *sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return &sse{w: w, f: f}
}

// event writes one event; an empty name writes a data-only event.
func (e *sse) event(name string, data any) {
	var b []byte
	switch d := data.(type) {
	case string:
		b = []byte(d)
	default:
		b, _ = json.Marshal(d)
	}
	if name != "" {
		fmt.Fprintf(e.w, "event: %s\n", name)
	}
	fmt.Fprintf(e.w, "data: %s\n\n", b)
	if e.f != nil {
		e.f.Flush()
	}
}

// chunks splits text into a few pieces, so clients see real deltas.
func chunks(text string) []string {
	words := strings.SplitAfter(text, " ")
	var out []string
	for i := 0; i < len(words); i += 4 {
		out = append(out, strings.Join(words[i:min(i+4, len(words))], ""))
	}
	return out
}

// tokens is a rough token count: enough for clients that display usage.
func tokens(b []byte) int { return len(b)/4 + 1 }
