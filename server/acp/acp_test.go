package acp

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/studiod/studiod/protocol"
)

func TestLines(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ranges []protocol.Range
		want   string
	}{
		{"none", nil, "the file"},
		{"one line", []protocol.Range{{Start: 7, End: 7}}, "line 7"},
		{"a range", []protocol.Range{{Start: 40, End: 52}}, "lines 40–52"},
		{"a deletion", []protocol.Range{{Start: 3, End: 2}}, "a deletion before line 3"},
		{"several", []protocol.Range{{Start: 1, End: 1}, {Start: 9, End: 12}}, "line 1, lines 9–12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := lines(tc.ranges); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestFilterMalformed: messages pass through whole; what is not one is
// answered with JSON-RPC's error and goes no further.
func TestFilterMalformed(t *testing.T) {
	in := strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`,
		`not json at all`,
		``,
		`[1,2,3]`,
		`{"jsonrpc":"2.0"}`,
		`{"jsonrpc":"2.0","method":"session/cancel","params":{"sessionId":"x"}}`,
	}, "\n") + "\n"
	var pass, out bytes.Buffer
	filterMalformed(strings.NewReader(in), &pass, &out)
	wantPass := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}` + "\n" +
		`{"jsonrpc":"2.0","method":"session/cancel","params":{"sessionId":"x"}}` + "\n"
	if pass.String() != wantPass {
		t.Errorf("passed on:\n%s\nwant:\n%s", pass.String(), wantPass)
	}
	var codes []int
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m struct {
			ID    json.RawMessage `json:"id"`
			Error struct {
				Code int `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil || string(m.ID) != "null" {
			t.Fatalf("answer %q: %v (want id null)", l, err)
		}
		codes = append(codes, m.Error.Code)
	}
	if want := []int{-32700, -32600, -32600}; !slices.Equal(codes, want) {
		t.Errorf("codes %v, want %v", codes, want)
	}
}
