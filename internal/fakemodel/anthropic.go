package fakemodel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// serveAnthropic answers the Messages API: count_tokens, a plain message, or
// an SSE stream (message_start, content_block_start/delta/stop for each
// block, message_delta with the stop reason, message_stop).
func serveAnthropic(w http.ResponseWriter, r *Request, t Turn) {
	in := tokens(r.Body)
	if strings.HasSuffix(r.Path, "/count_tokens") {
		writeJSON(w, http.StatusOK, map[string]any{"input_tokens": in})
		return
	}
	model := r.Model
	if model == "" {
		model = "claude-fake"
	}
	id := fmt.Sprintf("msg_fake_%d", len(r.Body))
	stop := "end_turn"
	if t.Tool != nil {
		stop = "tool_use"
	}
	out := tokens([]byte(t.Text)) + 1
	if t.Tool != nil {
		out += tokens(t.Tool.Input)
	}
	u := Usage{Input: in, Output: out}
	if t.Usage != nil {
		u = *t.Usage
	}
	usage := map[string]any{"input_tokens": u.Input, "output_tokens": u.Output,
		"cache_creation_input_tokens": u.CacheWrite, "cache_read_input_tokens": u.CacheRead}
	if !r.Stream {
		var content []any
		if t.Text != "" {
			content = append(content, map[string]any{"type": "text", "text": t.Text})
		}
		if t.Tool != nil {
			content = append(content, map[string]any{"type": "tool_use", "id": t.Tool.ID, "name": t.Tool.Name, "input": t.Tool.Input})
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"id": id, "type": "message", "role": "assistant", "model": model,
			"content": content, "stop_reason": stop, "stop_sequence": nil,
			"usage": usage,
		})
		return
	}
	e := newSSE(w)
	e.event("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": model,
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": u.Input, "output_tokens": 1,
			"cache_creation_input_tokens": u.CacheWrite, "cache_read_input_tokens": u.CacheRead},
	}})
	e.event("ping", map[string]any{"type": "ping"})
	index := 0
	if t.Text != "" {
		e.event("content_block_start", map[string]any{"type": "content_block_start", "index": index,
			"content_block": map[string]any{"type": "text", "text": ""}})
		for _, c := range chunks(t.Text) {
			e.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": index,
				"delta": map[string]any{"type": "text_delta", "text": c}})
		}
		e.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": index})
		index++
	}
	if t.Tool != nil {
		e.event("content_block_start", map[string]any{"type": "content_block_start", "index": index,
			"content_block": map[string]any{"type": "tool_use", "id": t.Tool.ID, "name": t.Tool.Name, "input": map[string]any{}}})
		for _, c := range splitJSON(t.Tool.Input) {
			e.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": index,
				"delta": map[string]any{"type": "input_json_delta", "partial_json": c}})
		}
		e.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": index})
	}
	e.event("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": usage})
	e.event("message_stop", map[string]any{"type": "message_stop"})
}

// splitJSON cuts compact JSON into pieces of a few characters, as the real
// API streams tool input; the pieces concatenate to the whole.
func splitJSON(raw json.RawMessage) []string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		b.Reset()
		b.Write(raw)
	}
	var out []string
	var piece []rune
	for _, c := range b.String() {
		piece = append(piece, c)
		if len(piece) == 16 {
			out = append(out, string(piece))
			piece = piece[:0]
		}
	}
	return append(out, string(piece))
}
