package fakemodel

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// API names the wire format of a request.
type API string

// The APIs the server speaks.
const (
	Anthropic       API = "anthropic"        // Messages API
	OpenAIResponses API = "openai-responses" // Responses API
	OpenAIChat      API = "openai-chat"      // Chat Completions API
	Gemini          API = "gemini"           // Generative Language API
	Unknown         API = "unknown"          // anything else: logged, answered 404
)

// Request is one HTTP request the server received, with the conversation it
// carries decoded into a vendor-neutral form.
type Request struct {
	// Time is when the request arrived.
	Time   time.Time
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte

	API    API
	Model  string
	Stream bool
	// Tools are the names of the tools the request offers the model.
	Tools []string
	// System is the system prompt or instructions, concatenated.
	System   string
	Messages []Message
	// Schema is the JSON schema the answer must follow, when the request
	// asks for structured output (Gemini responseJsonSchema, OpenAI
	// json_schema formats). Side queries such as Gemini CLI's model router
	// ask for it.
	Schema json.RawMessage

	// Turn is the index in Script.Turns of the turn that answered, or -1
	// when the request was answered with Script.Default or an error.
	Turn int
}

// Message is one entry of a conversation. Role is "user", "assistant",
// "system" or "tool" (an OpenAI tool output).
type Message struct {
	Role        string
	Text        string
	ToolCalls   []ToolCall
	ToolResults []ToolResult
}

// ToolResult is the output of a tool call sent back to the model.
type ToolResult struct {
	ID     string
	Name   string // when the API names it (Gemini, opencode)
	Output string
}

// LastUserText returns the text of the last user message that has text.
// Tool results do not count as text.
func (r *Request) LastUserText() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if m := r.Messages[i]; m.Role == "user" && strings.TrimSpace(m.Text) != "" {
			return m.Text
		}
	}
	return ""
}

// UserTexts returns the text of every user message, in order.
func (r *Request) UserTexts() []string {
	var out []string
	for _, m := range r.Messages {
		if m.Role == "user" && m.Text != "" {
			out = append(out, m.Text)
		}
	}
	return out
}

// LastToolResults returns the tool results carried by the trailing messages
// of the conversation: the model's previous tool calls have been answered
// and nothing else has been said since.
func (r *Request) LastToolResults() []ToolResult {
	var out []ToolResult
	for i := len(r.Messages) - 1; i >= 0; i-- {
		m := r.Messages[i]
		if len(m.ToolResults) == 0 {
			break
		}
		out = append(m.ToolResults, out...)
	}
	return out
}

// Offers reports whether the request offers the named tool.
func (r *Request) Offers(tool string) bool {
	for _, t := range r.Tools {
		if t == tool {
			return true
		}
	}
	return false
}

// decode fills the conversation fields from the body, per API. A body that
// does not decode leaves them empty; the raw body is always kept.
func (r *Request) decode() {
	switch r.API {
	case Anthropic:
		r.decodeAnthropic()
	case OpenAIResponses:
		r.decodeResponses()
	case OpenAIChat:
		r.decodeChat()
	case Gemini:
		r.decodeGemini()
	}
}

// textOf flattens the many shapes of "content" into text: a string, or a
// list of parts with a "text" field (Anthropic text blocks, OpenAI
// input_text/output_text/text parts).
func textOf(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Text == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(p.Text)
	}
	return b.String()
}

func (r *Request) decodeAnthropic() {
	var body struct {
		Model    string          `json:"model"`
		Stream   bool            `json:"stream"`
		System   json.RawMessage `json:"system"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if json.Unmarshal(r.Body, &body) != nil {
		return
	}
	r.Model, r.Stream, r.System = body.Model, body.Stream, textOf(body.System)
	for _, t := range body.Tools {
		r.Tools = append(r.Tools, t.Name)
	}
	for _, m := range body.Messages {
		msg := Message{Role: m.Role, Text: textOf(m.Content)}
		var blocks []struct {
			Type      string          `json:"type"`
			ID        string          `json:"id"`
			Name      string          `json:"name"`
			Input     json.RawMessage `json:"input"`
			ToolUseID string          `json:"tool_use_id"`
			Content   json.RawMessage `json:"content"`
		}
		if json.Unmarshal(m.Content, &blocks) == nil {
			for _, b := range blocks {
				switch b.Type {
				case "tool_use":
					msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: b.ID, Name: b.Name, Input: b.Input})
				case "tool_result":
					msg.ToolResults = append(msg.ToolResults, ToolResult{ID: b.ToolUseID, Output: textOf(b.Content)})
				}
			}
		}
		r.Messages = append(r.Messages, msg)
	}
}

func (r *Request) decodeResponses() {
	var body struct {
		Model        string `json:"model"`
		Stream       bool   `json:"stream"`
		Instructions string `json:"instructions"`
		Input        []struct {
			Type      string          `json:"type"`
			Role      string          `json:"role"`
			Content   json.RawMessage `json:"content"`
			Name      string          `json:"name"`
			Arguments string          `json:"arguments"`
			Input     string          `json:"input"`
			CallID    string          `json:"call_id"`
			Output    json.RawMessage `json:"output"`
		} `json:"input"`
		Tools []struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"tools"`
		Text struct {
			Format struct {
				Type   string          `json:"type"`
				Schema json.RawMessage `json:"schema"`
			} `json:"format"`
		} `json:"text"`
	}
	if json.Unmarshal(r.Body, &body) != nil {
		return
	}
	if body.Text.Format.Type == "json_schema" {
		r.Schema = body.Text.Format.Schema
	}
	r.Model, r.Stream, r.System = body.Model, body.Stream, body.Instructions
	for _, t := range body.Tools {
		name := t.Name
		if name == "" {
			name = t.Type // local_shell, web_search, …
		}
		r.Tools = append(r.Tools, name)
	}
	for _, it := range body.Input {
		switch it.Type {
		case "message", "":
			role := it.Role
			if role == "developer" {
				role = "system"
			}
			r.Messages = append(r.Messages, Message{Role: role, Text: textOf(it.Content)})
		case "function_call", "custom_tool_call", "local_shell_call":
			in := json.RawMessage(it.Arguments)
			if it.Type == "custom_tool_call" {
				in, _ = json.Marshal(it.Input)
			}
			r.appendCall("assistant", ToolCall{ID: it.CallID, Name: it.Name, Input: in})
		case "function_call_output", "custom_tool_call_output", "local_shell_call_output":
			out := textOf(it.Output)
			if out == "" {
				out = string(it.Output)
			}
			r.appendResult(ToolResult{ID: it.CallID, Output: out})
		}
	}
}

// appendCall adds a tool call to the trailing assistant message, or starts one.
func (r *Request) appendCall(role string, c ToolCall) {
	if n := len(r.Messages); n > 0 && r.Messages[n-1].Role == role && len(r.Messages[n-1].ToolResults) == 0 {
		r.Messages[n-1].ToolCalls = append(r.Messages[n-1].ToolCalls, c)
		return
	}
	r.Messages = append(r.Messages, Message{Role: role, ToolCalls: []ToolCall{c}})
}

// appendResult adds a tool result to the trailing "tool" message, or starts one.
func (r *Request) appendResult(res ToolResult) {
	if n := len(r.Messages); n > 0 && r.Messages[n-1].Role == "tool" {
		r.Messages[n-1].ToolResults = append(r.Messages[n-1].ToolResults, res)
		return
	}
	r.Messages = append(r.Messages, Message{Role: "tool", ToolResults: []ToolResult{res}})
}

func (r *Request) decodeChat() {
	var body struct {
		Model    string `json:"model"`
		Stream   bool   `json:"stream"`
		Messages []struct {
			Role       string          `json:"role"`
			Content    json.RawMessage `json:"content"`
			ToolCallID string          `json:"tool_call_id"`
			Name       string          `json:"name"`
			ToolCalls  []struct {
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"messages"`
		Tools []struct {
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		} `json:"tools"`
		ResponseFormat struct {
			Type       string `json:"type"`
			JSONSchema struct {
				Schema json.RawMessage `json:"schema"`
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	if json.Unmarshal(r.Body, &body) != nil {
		return
	}
	switch body.ResponseFormat.Type {
	case "json_schema":
		r.Schema = body.ResponseFormat.JSONSchema.Schema
	case "json_object":
		r.Schema = json.RawMessage(`{"type":"object"}`)
	}
	r.Model, r.Stream = body.Model, body.Stream
	for _, t := range body.Tools {
		r.Tools = append(r.Tools, t.Function.Name)
	}
	for _, m := range body.Messages {
		text := textOf(m.Content)
		switch m.Role {
		case "system", "developer":
			if r.System != "" {
				r.System += "\n"
			}
			r.System += text
			r.Messages = append(r.Messages, Message{Role: "system", Text: text})
		case "tool":
			r.appendResult(ToolResult{ID: m.ToolCallID, Name: m.Name, Output: text})
		default:
			msg := Message{Role: m.Role, Text: text}
			for _, c := range m.ToolCalls {
				msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: c.ID, Name: c.Function.Name, Input: json.RawMessage(c.Function.Arguments)})
			}
			r.Messages = append(r.Messages, msg)
		}
	}
}

func (r *Request) decodeGemini() {
	// The model and method are in the path: /v1beta/models/{model}:{method}.
	if i := strings.LastIndex(r.Path, "/models/"); i >= 0 {
		r.Model, _, _ = strings.Cut(r.Path[i+len("/models/"):], ":")
	}
	r.Stream = strings.HasSuffix(r.Path, ":streamGenerateContent")
	type part struct {
		Text         string `json:"text"`
		Thought      bool   `json:"thought"`
		FunctionCall *struct {
			ID   string          `json:"id"`
			Name string          `json:"name"`
			Args json.RawMessage `json:"args"`
		} `json:"functionCall"`
		FunctionResponse *struct {
			ID       string          `json:"id"`
			Name     string          `json:"name"`
			Response json.RawMessage `json:"response"`
		} `json:"functionResponse"`
	}
	type content struct {
		Role  string `json:"role"`
		Parts []part `json:"parts"`
	}
	var body struct {
		Contents          []content `json:"contents"`
		SystemInstruction *content  `json:"systemInstruction"`
		Tools             []struct {
			FunctionDeclarations []struct {
				Name string `json:"name"`
			} `json:"functionDeclarations"`
		} `json:"tools"`
		GenerationConfig struct {
			ResponseMimeType   string          `json:"responseMimeType"`
			ResponseJSONSchema json.RawMessage `json:"responseJsonSchema"`
			ResponseSchema     json.RawMessage `json:"responseSchema"`
		} `json:"generationConfig"`
	}
	if json.Unmarshal(r.Body, &body) != nil {
		return
	}
	if g := body.GenerationConfig; g.ResponseMimeType == "application/json" {
		r.Schema = g.ResponseJSONSchema
		if r.Schema == nil {
			r.Schema = g.ResponseSchema
		}
		if r.Schema == nil {
			r.Schema = json.RawMessage(`{"type":"object"}`)
		}
	}
	for _, t := range body.Tools {
		for _, f := range t.FunctionDeclarations {
			r.Tools = append(r.Tools, f.Name)
		}
	}
	join := func(c content) string {
		var texts []string
		for _, p := range c.Parts {
			if p.Text != "" && !p.Thought {
				texts = append(texts, p.Text)
			}
		}
		return strings.Join(texts, "\n")
	}
	if body.SystemInstruction != nil {
		r.System = join(*body.SystemInstruction)
	}
	for _, c := range body.Contents {
		role := c.Role
		if role == "model" {
			role = "assistant"
		}
		msg := Message{Role: role, Text: join(c)}
		for _, p := range c.Parts {
			if f := p.FunctionCall; f != nil {
				msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: f.ID, Name: f.Name, Input: f.Args})
			}
			if f := p.FunctionResponse; f != nil {
				msg.ToolResults = append(msg.ToolResults, ToolResult{ID: f.ID, Name: f.Name, Output: string(f.Response)})
			}
		}
		r.Messages = append(r.Messages, msg)
	}
}
