package fakemodel

import (
	"encoding/json"
	"strings"
)

// Example returns a JSON value that follows schema, a JSON Schema or the
// Gemini API's OpenAPI subset (upper-case type names): objects with every
// property, the first enum value, "example" for strings, 1 for numbers,
// false for booleans, empty arrays. It answers side queries that ask for
// structured output, such as Gemini CLI's model router, in a way their
// parsers accept.
func Example(schema json.RawMessage) json.RawMessage {
	var s map[string]any
	if json.Unmarshal(schema, &s) != nil {
		return json.RawMessage(`{}`)
	}
	b, _ := json.Marshal(example(s, 0))
	return b
}

func example(s map[string]any, depth int) any {
	if e, ok := s["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	if c, ok := s["const"]; ok {
		return c
	}
	for _, k := range []string{"anyOf", "oneOf", "allOf"} {
		if alts, ok := s[k].([]any); ok && len(alts) > 0 {
			if m, ok := alts[0].(map[string]any); ok {
				return example(m, depth+1)
			}
		}
	}
	typ, _ := s["type"].(string)
	if ts, ok := s["type"].([]any); ok && len(ts) > 0 {
		typ, _ = ts[0].(string)
	}
	switch strings.ToLower(typ) {
	case "string":
		return "example"
	case "integer", "number":
		return 1
	case "boolean":
		return false
	case "array":
		return []any{}
	case "null":
		return nil
	}
	out := map[string]any{}
	if depth > 8 {
		return out
	}
	props, _ := s["properties"].(map[string]any)
	for name, p := range props {
		if m, ok := p.(map[string]any); ok {
			out[name] = example(m, depth+1)
		}
	}
	return out
}
