package mcp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/studiod/studiod/protocol"
)

// TestStdioLineLimit: a 20 MB message on stdio is answered with a JSON-RPC
// error carrying its id, and the server goes on to answer the next one.
func TestStdioLineLimit(t *testing.T) {
	m := New(Config{Dial: func(context.Context, protocol.NotifyFunc) (*protocol.Client, error) {
		return nil, errors.New("no daemon in this test")
	}})
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- m.ServeStdio(t.Context(), inR, outW, io.Discard) }()
	go func() {
		inW.Write([]byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"spawn","arguments":{"prompt":"` + strings.Repeat("x", 20<<20) + `"}}}` + "\n"))
		inW.Write([]byte(initBody + "\n"))
	}()
	out := bufio.NewReader(outR)
	var got []map[string]any
	for len(got) < 2 {
		line, err := out.ReadBytes('\n')
		if err != nil {
			t.Fatal(err)
		}
		var msg map[string]any
		if err := json.Unmarshal(line, &msg); err != nil {
			t.Fatalf("%v: %.200s", err, line)
		}
		got = append(got, msg)
	}
	refused, _ := got[0]["error"].(map[string]any)
	if got[0]["id"] != float64(7) || refused == nil || refused["code"] != float64(-32600) || !strings.Contains(refused["message"].(string), "over 4 MiB") {
		t.Errorf("the 20 MB message got %v; want an error for id 7", got[0])
	}
	if got[1]["id"] != float64(1) || got[1]["result"] == nil {
		t.Errorf("the next message got %v; want initialize's result", got[1])
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Errorf("ServeStdio: %v", err)
	}
}

// TestLeadingID: the id of a message cut short is read when it comes
// first, and null otherwise.
func TestLeadingID(t *testing.T) {
	for in, want := range map[string]string{
		`{"jsonrpc":"2.0","id":"a\"b","params":{"x":"yyy`: `"a\"b"`,
		`{"id":12,"params":`:                              `12`,
		`{"params":{"x":"yyyyy`:                           `null`,
		`[1,2`:                                            `null`,
	} {
		if got := string(leadingID([]byte(in))); got != want {
			t.Errorf("leadingID(%s) = %s, want %s", in, got, want)
		}
	}
}
