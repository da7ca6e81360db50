package fakemodel

import (
	"net/http"
	"strings"
)

// serveGemini answers the Generative Language API: :countTokens,
// :generateContent (one GenerateContentResponse) and
// :streamGenerateContent (with alt=sse, one response per SSE event; without
// it, a JSON array of them). A tool call is a functionCall part.
func serveGemini(w http.ResponseWriter, r *Request, t Turn) {
	in := tokens(r.Body)
	if strings.HasSuffix(r.Path, ":countTokens") {
		writeJSON(w, http.StatusOK, map[string]any{"totalTokens": in})
		return
	}
	model := r.Model
	if model == "" {
		model = "gemini-fake"
	}
	out := tokens([]byte(t.Text)) + 1
	usage := map[string]any{"promptTokenCount": in, "candidatesTokenCount": out, "totalTokenCount": in + out}
	if u := t.Usage; u != nil {
		// Gemini counts the cached tokens in the prompt's.
		usage = map[string]any{"promptTokenCount": u.Input + u.CacheRead, "cachedContentTokenCount": u.CacheRead,
			"candidatesTokenCount": u.Output, "totalTokenCount": u.Input + u.CacheRead + u.Output}
	}
	response := func(parts []any, finish string) map[string]any {
		cand := map[string]any{"content": map[string]any{"role": "model", "parts": parts}, "index": 0}
		m := map[string]any{"candidates": []any{cand}, "modelVersion": model}
		if finish != "" {
			cand["finishReason"] = finish
			m["usageMetadata"] = usage
		}
		return m
	}
	var textParts []string
	if t.Text != "" {
		textParts = chunks(t.Text)
	}
	var last []any
	if t.Tool != nil {
		last = []any{map[string]any{"functionCall": map[string]any{"name": t.Tool.Name, "args": t.Tool.Input}}}
	}
	if !r.Stream {
		var parts []any
		if t.Text != "" {
			parts = append(parts, map[string]any{"text": t.Text})
		}
		writeJSON(w, http.StatusOK, response(append(parts, last...), "STOP"))
		return
	}
	// Every event but the last carries a piece of text; the last carries
	// the tool call (or the last piece) and the finish reason.
	var events []map[string]any
	for i, c := range textParts {
		if i == len(textParts)-1 && last == nil {
			events = append(events, response([]any{map[string]any{"text": c}}, "STOP"))
			break
		}
		events = append(events, response([]any{map[string]any{"text": c}}, ""))
	}
	if last != nil || len(textParts) == 0 {
		if last == nil {
			last = []any{map[string]any{"text": ""}}
		}
		events = append(events, response(last, "STOP"))
	}
	if !strings.Contains(r.Query, "alt=sse") {
		writeJSON(w, http.StatusOK, events)
		return
	}
	e := newSSE(w)
	for _, ev := range events {
		e.event("", ev)
	}
}
