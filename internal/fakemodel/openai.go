package fakemodel

import (
	"fmt"
	"net/http"
	"time"
)

// serveResponses answers the OpenAI Responses API as a stream:
// response.created, then per output item output_item.added, text deltas and
// output_item.done, then response.completed with usage. A tool call is a
// function_call item. Without "stream": true the final response object is
// returned as JSON.
func serveResponses(w http.ResponseWriter, r *Request, t Turn) {
	model := r.Model
	if model == "" {
		model = "gpt-fake"
	}
	id := fmt.Sprintf("resp_fake_%d", len(r.Body))
	var output []map[string]any
	if t.Text != "" {
		output = append(output, map[string]any{
			"type": "message", "id": "msg_" + id, "role": "assistant", "status": "completed",
			"content": []any{map[string]any{"type": "output_text", "text": t.Text, "annotations": []any{}}},
		})
	}
	if t.Tool != nil {
		output = append(output, map[string]any{
			"type": "function_call", "id": "fc_" + id, "call_id": t.Tool.ID, "name": t.Tool.Name,
			"arguments": string(t.Tool.Input), "status": "completed",
		})
	}
	in, out, cached := tokens(r.Body), tokens([]byte(t.Text))+1, 0
	if u := t.Usage; u != nil {
		// OpenAI counts the cached tokens in the input.
		in, out, cached = u.Input+u.CacheRead, u.Output, u.CacheRead
	}
	resp := func(status string, output []map[string]any) map[string]any {
		m := map[string]any{
			"id": id, "object": "response", "created_at": time.Now().Unix(), "status": status,
			"model": model, "output": output,
		}
		if status == "completed" {
			m["usage"] = map[string]any{
				"input_tokens": in, "input_tokens_details": map[string]any{"cached_tokens": cached},
				"output_tokens": out, "output_tokens_details": map[string]any{"reasoning_tokens": 0},
				"total_tokens": in + out,
			}
		}
		return m
	}
	if !r.Stream {
		writeJSON(w, http.StatusOK, resp("completed", output))
		return
	}
	e := newSSE(w)
	seq := 0
	emit := func(typ string, fields map[string]any) {
		fields["type"] = typ
		fields["sequence_number"] = seq
		seq++
		e.event(typ, fields)
	}
	emit("response.created", map[string]any{"response": resp("in_progress", []map[string]any{})})
	emit("response.in_progress", map[string]any{"response": resp("in_progress", []map[string]any{})})
	for i, item := range output {
		switch item["type"] {
		case "message":
			itemID := item["id"]
			emit("response.output_item.added", map[string]any{"output_index": i, "item": map[string]any{
				"type": "message", "id": itemID, "role": "assistant", "status": "in_progress", "content": []any{}}})
			emit("response.content_part.added", map[string]any{"output_index": i, "item_id": itemID, "content_index": 0,
				"part": map[string]any{"type": "output_text", "text": "", "annotations": []any{}}})
			for _, c := range chunks(t.Text) {
				emit("response.output_text.delta", map[string]any{"output_index": i, "item_id": itemID, "content_index": 0, "delta": c})
			}
			emit("response.output_text.done", map[string]any{"output_index": i, "item_id": itemID, "content_index": 0, "text": t.Text})
			emit("response.content_part.done", map[string]any{"output_index": i, "item_id": itemID, "content_index": 0,
				"part": map[string]any{"type": "output_text", "text": t.Text, "annotations": []any{}}})
		case "function_call":
			added := map[string]any{}
			for k, v := range item {
				added[k] = v
			}
			added["arguments"], added["status"] = "", "in_progress"
			emit("response.output_item.added", map[string]any{"output_index": i, "item": added})
			emit("response.function_call_arguments.delta", map[string]any{"output_index": i, "item_id": item["id"], "delta": item["arguments"]})
			emit("response.function_call_arguments.done", map[string]any{"output_index": i, "item_id": item["id"], "arguments": item["arguments"]})
		}
		emit("response.output_item.done", map[string]any{"output_index": i, "item": item})
	}
	emit("response.completed", map[string]any{"response": resp("completed", output)})
}

// serveChat answers Chat Completions, streamed as chat.completion.chunk
// events ending in "data: [DONE]", or as one chat.completion object; the
// last chunk carries the usage.
// GET /models lists one model.
func serveChat(w http.ResponseWriter, r *Request, t Turn) {
	if r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{
			map[string]any{"id": "fake", "object": "model", "created": 0, "owned_by": "fakemodel"},
		}})
		return
	}
	model := r.Model
	if model == "" {
		model = "fake"
	}
	id := fmt.Sprintf("chatcmpl-fake-%d", len(r.Body))
	created := time.Now().Unix()
	finish := "stop"
	var calls []any
	if t.Tool != nil {
		finish = "tool_calls"
		calls = []any{map[string]any{"index": 0, "id": t.Tool.ID, "type": "function",
			"function": map[string]any{"name": t.Tool.Name, "arguments": string(t.Tool.Input)}}}
	}
	in, out := tokens(r.Body), tokens([]byte(t.Text))+1
	usage := map[string]any{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out}
	if u := t.Usage; u != nil {
		// As in the Responses API, the input counts the cached tokens;
		// Chat Completions has no count of tokens written to the cache.
		in, out = u.Input+u.CacheRead, u.Output
		usage = map[string]any{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out,
			"prompt_tokens_details": map[string]any{"cached_tokens": u.CacheRead}}
	}
	if !r.Stream {
		msg := map[string]any{"role": "assistant", "content": t.Text}
		if calls != nil {
			msg["tool_calls"] = calls
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": model,
			"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
			"usage":   usage,
		})
		return
	}
	e := newSSE(w)
	chunk := func(delta map[string]any, finish any, usage any) {
		m := map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
		if usage != nil {
			m["usage"] = usage
		}
		e.event("", m)
	}
	chunk(map[string]any{"role": "assistant", "content": ""}, nil, nil)
	for _, c := range chunks(t.Text) {
		chunk(map[string]any{"content": c}, nil, nil)
	}
	if calls != nil {
		chunk(map[string]any{"tool_calls": calls}, nil, nil)
	}
	chunk(map[string]any{}, finish, usage)
	e.event("", "[DONE]")
}
