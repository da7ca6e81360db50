package hook

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestPayload: a payload is read whole, whatever its size, and passed on
// as the same JSON with only its long strings cut; one that is not JSON
// is ErrPayload.
func TestPayload(t *testing.T) {
	big := strings.Repeat("é", MaxString) // twice MaxString bytes
	in := `{"tool_name":"Write","n":1.50,"ok":true,"none":null,"tool_input":{"file_path":"/w/a.txt","content":"` + big + `","edits":[{"old_string":"x"},{}]},"list":[1,[2,{}],"s"]}`
	got, err := Payload(nil, strings.NewReader(in+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		ToolName  string `json:"tool_name"`
		N         json.Number
		ToolInput struct {
			FilePath string `json:"file_path"`
			Content  string
			Edits    []map[string]string
		} `json:"tool_input"`
		List []any
	}
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("%v: %.200s", err, got)
	}
	if v.ToolName != "Write" || v.N != "1.50" || v.ToolInput.FilePath != "/w/a.txt" || len(v.ToolInput.Edits) != 2 || len(v.List) != 3 {
		t.Errorf("payload changed: %.300s", got)
	}
	if c := v.ToolInput.Content; len(c) > MaxString || !strings.HasPrefix(big, c) || len(c) < MaxString-4 {
		t.Errorf("content: %d bytes, want the first %d of it", len(c), MaxString)
	}
	small := `{"a":[1,2],"b":{"c":"d"}}`
	if got, err := Payload([]string{small}, nil); err != nil || string(got) != small {
		t.Errorf("payload as an argument: %s, %v", got, err)
	}
	for _, bad := range []string{"", "not json", in[:len(in)/2], `{"a":}`} {
		if _, err := Payload(nil, strings.NewReader(bad)); !errors.Is(err, ErrPayload) {
			t.Errorf("Payload(%.20q): %v, want ErrPayload", bad, err)
		}
	}
}
