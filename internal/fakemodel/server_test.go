package fakemodel

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// post sends body to the server and returns the status and the response.
func post(t *testing.T, s *Server, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// events parses an SSE body into (event name, data) pairs.
func events(t *testing.T, body string) [][2]string {
	t.Helper()
	var out [][2]string
	var name string
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			out = append(out, [2]string{name, strings.TrimPrefix(line, "data: ")})
			name = ""
		}
	}
	return out
}

// writeScript is the scenario the package exists for: the prompt makes the
// model write hello.py; once the tool result comes back it says it is done.
func writeScript(tool string) Script {
	return Script{Turns: []Turn{
		{UserContains: "hello.py", Text: "I'll create it.", Tool: Call(tool, map[string]string{"file_path": "hello.py", "content": "print('hello')\n"})},
		{AfterToolResult: true, Text: "Done: hello.py is written."},
	}}
}

func TestAnthropicStream(t *testing.T) {
	s := New(writeScript("Write"))
	defer s.Close()

	code, body := post(t, s, "/v1/messages?beta=true", `{"model":"claude-x","stream":true,
		"tools":[{"name":"Write"},{"name":"Bash"}],
		"messages":[{"role":"user","content":[{"type":"text","text":"<system-reminder>x</system-reminder>"},{"type":"text","text":"Create hello.py"}]}]}`)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	var names []string
	var text, input, stop string
	for _, ev := range events(t, body) {
		names = append(names, ev[0])
		var d struct {
			Type         string `json:"type"`
			ContentBlock struct {
				Type, Name, ID string
			} `json:"content_block"`
			Delta struct {
				Type        string `json:"type"`
				Text        string `json:"text"`
				PartialJSON string `json:"partial_json"`
				StopReason  string `json:"stop_reason"`
			} `json:"delta"`
		}
		if err := json.Unmarshal([]byte(ev[1]), &d); err != nil {
			t.Fatalf("event %s: %v", ev[0], err)
		}
		if d.Type != ev[0] {
			t.Errorf("event %s carries type %q", ev[0], d.Type)
		}
		text += d.Delta.Text
		input += d.Delta.PartialJSON
		if d.Delta.StopReason != "" {
			stop = d.Delta.StopReason
		}
		if d.ContentBlock.Type == "tool_use" && (d.ContentBlock.Name != "Write" || d.ContentBlock.ID == "") {
			t.Errorf("tool_use block %+v, want Write with an id", d.ContentBlock)
		}
	}
	want := "message_start ping content_block_start content_block_delta content_block_stop content_block_start"
	if got := strings.Join(names, " "); !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "content_block_stop message_delta message_stop") {
		t.Errorf("events %s, want %s … content_block_stop message_delta message_stop", got, want)
	}
	if text != "I'll create it." {
		t.Errorf("text %q", text)
	}
	var in map[string]string
	if err := json.Unmarshal([]byte(input), &in); err != nil || in["file_path"] != "hello.py" {
		t.Errorf("tool input %q (%v), want file_path hello.py", input, err)
	}
	if stop != "tool_use" {
		t.Errorf("stop_reason %q, want tool_use", stop)
	}

	// The tool result comes back: the second turn answers and ends the turn.
	code, body = post(t, s, "/v1/messages", `{"model":"claude-x","stream":true,"tools":[{"name":"Write"}],"messages":[
		{"role":"user","content":"Create hello.py"},
		{"role":"assistant","content":[{"type":"tool_use","id":"call_fake_1","name":"Write","input":{}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_fake_1","content":"File created"}]}]}`)
	if code != http.StatusOK || !strings.Contains(body, `"stop_reason":"end_turn"`) || !strings.Contains(body, "Done: hello.py") {
		t.Errorf("after tool result: %d %s", code, body)
	}

	reqs := s.Requests()
	if len(reqs) != 2 {
		t.Fatalf("got %d requests logged, want 2", len(reqs))
	}
	if got := reqs[0].LastUserText(); !strings.Contains(got, "Create hello.py") {
		t.Errorf("LastUserText %q", got)
	}
	if reqs[0].Turn != 0 || reqs[1].Turn != 1 {
		t.Errorf("turns %d, %d, want 0, 1", reqs[0].Turn, reqs[1].Turn)
	}
	if res := reqs[1].LastToolResults(); len(res) != 1 || res[0].ID != "call_fake_1" || res[0].Output != "File created" {
		t.Errorf("LastToolResults %+v", res)
	}
}

func TestAnthropicPlainAndCount(t *testing.T) {
	s := New(Script{Default: "side answer"})
	defer s.Close()

	code, body := post(t, s, "/v1/messages/count_tokens", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	if code != http.StatusOK || !strings.Contains(body, `"input_tokens"`) {
		t.Errorf("count_tokens: %d %s", code, body)
	}
	// No tools: a side query, answered with Default, not streamed.
	code, body = post(t, s, "/v1/messages", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"title?"}]}`)
	var m struct {
		Content []struct{ Type, Text string }
		Stop    string `json:"stop_reason"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil || code != http.StatusOK {
		t.Fatalf("plain message: %d %s (%v)", code, body, err)
	}
	if len(m.Content) != 1 || m.Content[0].Text != "side answer" || m.Stop != "end_turn" {
		t.Errorf("plain message %+v", m)
	}
}

func TestResponsesStream(t *testing.T) {
	s := New(writeScript("exec_command"))
	defer s.Close()

	code, body := post(t, s, "/v1/responses", `{"model":"gpt-x","stream":true,"instructions":"be brief",
		"tools":[{"type":"function","name":"exec_command"},{"type":"web_search"}],
		"input":[{"type":"message","role":"developer","content":[{"type":"input_text","text":"perms"}]},
		         {"type":"message","role":"user","content":[{"type":"input_text","text":"Create hello.py"}]}]}`)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	var types []string
	var call map[string]any
	var completed bool
	for _, ev := range events(t, body) {
		var d map[string]any
		if err := json.Unmarshal([]byte(ev[1]), &d); err != nil {
			t.Fatal(err)
		}
		types = append(types, d["type"].(string))
		if d["type"] == "response.output_item.done" {
			if item := d["item"].(map[string]any); item["type"] == "function_call" {
				call = item
			}
		}
		if d["type"] == "response.completed" {
			completed = d["response"].(map[string]any)["usage"] != nil
		}
	}
	if types[0] != "response.created" || types[len(types)-1] != "response.completed" || !completed {
		t.Errorf("events %v: want response.created first, response.completed with usage last", types)
	}
	if call == nil || call["name"] != "exec_command" || call["call_id"] == "" || !strings.Contains(call["arguments"].(string), "hello.py") {
		t.Errorf("function_call item %v", call)
	}

	code, body = post(t, s, "/responses", `{"model":"gpt-x","stream":true,"tools":[{"type":"function","name":"exec_command"}],"input":[
		{"type":"message","role":"user","content":[{"type":"input_text","text":"Create hello.py"}]},
		{"type":"function_call","name":"exec_command","arguments":"{}","call_id":"call_fake_1"},
		{"type":"function_call_output","call_id":"call_fake_1","output":"ok"}]}`)
	if code != http.StatusOK || !strings.Contains(body, "Done: hello.py") {
		t.Errorf("after function_call_output: %d %s", code, body)
	}
	if r := s.Requests()[0]; r.System != "be brief" || !r.Offers("web_search") || r.Messages[0].Role != "system" {
		t.Errorf("decoded request: system %q tools %v first role %q", r.System, r.Tools, r.Messages[0].Role)
	}
}

// TestChatUsage: a turn's usage is reported OpenAI's way, the cached
// tokens counted in the prompt's, on the last chunk of a stream.
func TestChatUsage(t *testing.T) {
	s := New(Script{Turns: []Turn{{Text: "Hi.", Usage: &Usage{Input: 1200, Output: 30, CacheRead: 400}}}})
	defer s.Close()
	code, body := post(t, s, "/v1/chat/completions", `{"model":"fake","stream":true,
		"tools":[{"type":"function","function":{"name":"write"}}],"messages":[{"role":"user","content":"hello"}]}`)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	evs := events(t, body)
	var last struct {
		Usage map[string]any `json:"usage"`
	}
	if err := json.Unmarshal([]byte(evs[len(evs)-2][1]), &last); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"prompt_tokens": 1600.0, "completion_tokens": 30.0, "total_tokens": 1630.0,
		"prompt_tokens_details": map[string]any{"cached_tokens": 400.0}}
	if !reflect.DeepEqual(last.Usage, want) {
		t.Errorf("usage %v, want %v", last.Usage, want)
	}
}

func TestChatStream(t *testing.T) {
	s := New(writeScript("write"))
	defer s.Close()

	code, body := post(t, s, "/v1/chat/completions", `{"model":"fake","stream":true,
		"tools":[{"type":"function","function":{"name":"write"}}],
		"messages":[{"role":"system","content":"sys"},{"role":"user","content":[{"type":"text","text":"Create hello.py"}]}]}`)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	evs := events(t, body)
	if last := evs[len(evs)-1][1]; last != "[DONE]" {
		t.Errorf("last data %q, want [DONE]", last)
	}
	if !strings.Contains(body, `"finish_reason":"tool_calls"`) || !strings.Contains(body, `"name":"write"`) {
		t.Errorf("no tool call in %s", body)
	}

	code, body = post(t, s, "/chat/completions", `{"model":"fake","tools":[{"type":"function","function":{"name":"write"}}],"messages":[
		{"role":"user","content":"Create hello.py"},
		{"role":"assistant","content":null,"tool_calls":[{"id":"call_fake_1","type":"function","function":{"name":"write","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"call_fake_1","content":"Wrote file"}]}`)
	var m struct {
		Choices []struct {
			Message      struct{ Content string }
			FinishReason string `json:"finish_reason"`
		}
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil || code != http.StatusOK || len(m.Choices) != 1 {
		t.Fatalf("plain completion: %d %s (%v)", code, body, err)
	}
	if c := m.Choices[0]; c.Message.Content != "Done: hello.py is written." || c.FinishReason != "stop" {
		t.Errorf("plain completion %+v", c)
	}

	resp, err := http.Get(s.URL() + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/models: %d", resp.StatusCode)
	}
}

func TestGemini(t *testing.T) {
	s := New(writeScript("write_file"))
	defer s.Close()

	// The model router asks for structured output and offers no tools.
	code, body := post(t, s, "/v1beta/models/flash-lite:generateContent", `{"contents":[{"role":"user","parts":[{"text":"Create hello.py"}]}],
		"generationConfig":{"responseMimeType":"application/json","responseJsonSchema":{"type":"OBJECT","properties":{
			"complexity_reasoning":{"type":"STRING"},"complexity_score":{"type":"INTEGER"}},"required":["complexity_reasoning","complexity_score"]}}}`)
	var g struct {
		Candidates []struct {
			Content struct {
				Parts []struct{ Text string }
			}
			FinishReason string
		}
	}
	if err := json.Unmarshal([]byte(body), &g); err != nil || code != http.StatusOK {
		t.Fatalf("generateContent: %d %s (%v)", code, body, err)
	}
	var routed struct {
		Reasoning string `json:"complexity_reasoning"`
		Score     int    `json:"complexity_score"`
	}
	if err := json.Unmarshal([]byte(g.Candidates[0].Content.Parts[0].Text), &routed); err != nil || routed.Score == 0 {
		t.Errorf("structured answer %q (%v)", g.Candidates[0].Content.Parts[0].Text, err)
	}

	code, body = post(t, s, "/v1beta/models/flash:streamGenerateContent?alt=sse", `{"contents":[{"role":"user","parts":[{"text":"Create hello.py"}]}],
		"tools":[{"functionDeclarations":[{"name":"write_file"},{"name":"run_shell_command"}]}]}`)
	evs := events(t, body)
	if code != http.StatusOK || len(evs) < 2 {
		t.Fatalf("stream: %d %s", code, body)
	}
	last := evs[len(evs)-1][1]
	if !strings.Contains(last, `"functionCall"`) || !strings.Contains(last, `"finishReason":"STOP"`) || !strings.Contains(last, `"usageMetadata"`) {
		t.Errorf("last event %s: want the functionCall with finishReason and usage", last)
	}

	_, body = post(t, s, "/v1beta/models/flash:streamGenerateContent?alt=sse", `{"contents":[
		{"role":"user","parts":[{"text":"Create hello.py"}]},
		{"role":"model","parts":[{"functionCall":{"name":"write_file","args":{}}}]},
		{"role":"user","parts":[{"functionResponse":{"name":"write_file","response":{"output":"ok"}}}]}],
		"tools":[{"functionDeclarations":[{"name":"write_file"}]}]}`)
	if !strings.Contains(body, "Done: hello.py") {
		t.Errorf("after functionResponse: %s", body)
	}
	if code, body := post(t, s, "/v1beta/models/flash:countTokens", `{"contents":[]}`); code != http.StatusOK || !strings.Contains(body, "totalTokens") {
		t.Errorf("countTokens: %d %s", code, body)
	}
	if r := s.Requests()[1]; r.Model != "flash" || !r.Stream || len(r.Tools) != 2 {
		t.Errorf("decoded: model %q stream %v tools %v", r.Model, r.Stream, r.Tools)
	}
}

func TestTurnSelection(t *testing.T) {
	tools := `"tools":[{"name":"Write"}]`
	msg := func(text string) string {
		return `{"model":"m",` + tools + `,"messages":[{"role":"user","content":"` + text + `"}]}`
	}
	tests := []struct {
		name   string
		script Script
		bodies []string
		want   []int // Request.Turn per request
	}{
		{
			name:   "first unused match wins",
			script: Script{Turns: []Turn{{UserContains: "a", Text: "1"}, {UserContains: "a", Text: "2"}}},
			bodies: []string{msg("a"), msg("a"), msg("a")},
			want:   []int{0, 1, -1},
		},
		{
			name:   "repeat stays",
			script: Script{Turns: []Turn{{UserContains: "a", Text: "1", Repeat: true}}},
			bodies: []string{msg("a"), msg("a")},
			want:   []int{0, 0},
		},
		{
			name:   "side query without tools gets the default",
			script: Script{Turns: []Turn{{Text: "1"}}},
			bodies: []string{`{"model":"m","messages":[{"role":"user","content":"a"}]}`, msg("a")},
			want:   []int{-1, 0},
		},
		{
			name:   "tool turn needs its tool offered",
			script: Script{Turns: []Turn{{Tool: Call("Bash", map[string]string{"command": "ls"})}, {Text: "plain"}}},
			bodies: []string{msg("a")},
			want:   []int{1},
		},
		{
			name:   "after tool result",
			script: Script{Turns: []Turn{{AfterToolResult: true, Text: "done"}, {Text: "first"}}},
			bodies: []string{msg("a"), `{"model":"m",` + tools + `,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"x","content":"ok"}]}]}`},
			want:   []int{1, 0},
		},
		{
			name:   "match func",
			script: Script{Turns: []Turn{{Match: func(r *Request) bool { return r.Model == "other" }, Text: "x"}}},
			bodies: []string{msg("a"), `{"model":"other",` + tools + `,"messages":[]}`},
			want:   []int{-1, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.script)
			defer s.Close()
			for _, b := range tt.bodies {
				post(t, s, "/v1/messages", b)
			}
			var got []int
			for _, r := range s.Requests() {
				got = append(got, r.Turn)
			}
			if !equal(got, tt.want) {
				t.Errorf("got turns %v, want %v", got, tt.want)
			}
		})
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFail(t *testing.T) {
	s := New(Script{Turns: []Turn{{UserContains: "boom", Fail: http.StatusBadRequest, Text: "scripted failure"}}})
	defer s.Close()
	code, body := post(t, s, "/v1/messages", `{"model":"m","tools":[{"name":"Write"}],"messages":[{"role":"user","content":"boom"}]}`)
	if code != http.StatusBadRequest || !strings.Contains(body, `"invalid_request_error"`) || !strings.Contains(body, "scripted failure") {
		t.Errorf("got %d %s", code, body)
	}
}

func TestUnknownPathIsLogged(t *testing.T) {
	s := New(Script{})
	defer s.Close()
	code, _ := post(t, s, "/api/oauth/whatever", `{}`)
	if code != http.StatusNotFound {
		t.Errorf("status %d, want 404", code)
	}
	if r := s.Requests(); len(r) != 1 || r[0].API != Unknown || r[0].Path != "/api/oauth/whatever" {
		t.Errorf("log %+v", r)
	}
}

func TestWait(t *testing.T) {
	s := New(Script{})
	defer s.Close()
	done := make(chan Request)
	go func() {
		r, err := s.Wait(t.Context(), func(r *Request) bool { return strings.Contains(r.LastUserText(), "second") })
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	post(t, s, "/v1/messages", `{"messages":[{"role":"user","content":"first"}]}`)
	post(t, s, "/v1/messages", `{"messages":[{"role":"user","content":"second"}]}`)
	if r := <-done; r.LastUserText() != "second" {
		t.Errorf("Wait returned %q", r.LastUserText())
	}
}

func TestExample(t *testing.T) {
	tests := []struct{ schema, want string }{
		{`{"type":"object","properties":{"a":{"type":"string"},"n":{"type":"integer"},"b":{"type":"boolean"},"l":{"type":"array"}}}`, `{"a":"example","b":false,"l":[],"n":1}`},
		{`{"type":"OBJECT","properties":{"next_speaker":{"type":"STRING","enum":["user","model"]}}}`, `{"next_speaker":"user"}`},
		{`{"anyOf":[{"type":"string"},{"type":"null"}]}`, `"example"`},
		{`not json`, `{}`},
	}
	for _, tt := range tests {
		if got := string(Example(json.RawMessage(tt.schema))); got != tt.want {
			t.Errorf("Example(%s) = %s, want %s", tt.schema, got, tt.want)
		}
	}
}

func TestSplitJSON(t *testing.T) {
	in := json.RawMessage(`{"file_path": "/tmp/héllo.py", "content": "print('hello, wörld')\n"}`)
	var b bytes.Buffer
	for _, p := range splitJSON(in) {
		b.WriteString(p)
	}
	var v map[string]string
	if err := json.Unmarshal(b.Bytes(), &v); err != nil || v["file_path"] != "/tmp/héllo.py" {
		t.Errorf("pieces rejoin to %s (%v)", b.String(), err)
	}
}
