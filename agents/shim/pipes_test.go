package shim

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestPipes: an agent on pipes gets each input message as a line on its
// stdin; the log and the attach stream hold every line both ways, tagged,
// in order; stderr and non-JSON lines are kept as text; the exit is
// recorded.
func TestPipes(t *testing.T) {
	ctx := t.Context()
	spec := Spec{
		Argv: []string{"sh", "-c", `echo '{"hello":1}'; echo oops >&2; read x; echo "$x"; echo 'not json'; exit 3`},
		Env:  os.Environ(), Mode: ModePipes,
	}
	done := runShim(t, &spec)
	st, err := Attach(ctx, spec.Socket, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	br := bufio.NewReader(st)
	next := func() Record {
		t.Helper()
		line, err := br.ReadBytes('\n')
		if err != nil {
			t.Fatalf("attach stream: %v", err)
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("record %q: %v", line, err)
		}
		return r
	}
	if r := next(); r.From != FromShim || !strings.HasPrefix(r.Text, "started pid ") {
		t.Fatalf("first record: %+v", r)
	}
	// stdout and stderr are read concurrently: take the two next records
	// in either order.
	got := map[string]Record{}
	for range 2 {
		r := next()
		got[r.From] = r
	}
	if string(got[FromAgent].Msg) != `{"hello":1}` || got[FromStderr].Text != "oops" {
		t.Fatalf("first records: %+v", got)
	}
	if err := Input(ctx, spec.Socket, []byte(`{"ping": true}`+"\n")); err != nil {
		t.Fatal(err)
	}
	if err := Input(ctx, spec.Socket, []byte("bad")); err == nil {
		t.Error("a non-JSON input was accepted")
	}
	if r := next(); r.From != FromClient || string(r.Msg) != `{"ping":true}` {
		t.Fatalf("input record: %+v", r)
	}
	if r := next(); r.From != FromAgent || string(r.Msg) != `{"ping":true}` {
		t.Fatalf("echo record: %+v", r)
	}
	if r := next(); r.From != FromAgent || r.Text != "not json" || r.Msg != nil {
		t.Fatalf("malformed line: %+v", r)
	}
	if r := next(); r.From != FromShim || r.Text != "exited with code 3" {
		t.Fatalf("last record: %+v", r)
	}
	if _, err := br.ReadBytes('\n'); err != io.EOF {
		t.Fatalf("stream after exit: %v, want EOF", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ex, err := ReadExit(spec.Exit)
	if err != nil || ex.Code != 3 {
		t.Fatalf("exit: %+v, %v", ex, err)
	}
	b, _ := os.ReadFile(spec.Log)
	if n := strings.Count(string(b), "\n"); n != 7 || ex.Size != int64(len(b)) {
		t.Errorf("log has %d records, %d bytes (exit says %d):\n%s", n, len(b), ex.Size, b)
	}
}

// TestPipesRotation: a pipes log is capped like a terminal's, rotated at
// record boundaries, while the running process's handshake (its records up
// to the first prompt) stays whole in the head file.
func TestPipesRotation(t *testing.T) {
	ctx := t.Context()
	spec := Spec{
		Argv: []string{"sh", "-c", `echo '{"jsonrpc":"2.0","id":0,"result":{"caps":1}}'; read x; ` +
			`seq -f '{"jsonrpc":"2.0","method":"session/update","params":{"n":%g}}' 0 2999; echo '{"done":true}'; read y`},
		Env: os.Environ(), Mode: ModePipes, LogLimit: 8192,
	}
	done := runShim(t, &spec)
	st, err := Attach(ctx, spec.Socket, 0)
	if err != nil {
		t.Fatal(err)
	}
	readUntil(t, st, `"caps"`)
	if err := Input(ctx, spec.Socket, []byte(`{"jsonrpc":"2.0","id":1,"method":"session/prompt","params":{}}`+"\n")); err != nil {
		t.Fatal(err)
	}
	st.Close() // a client reading this slowly is dropped: watch the log instead
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r, err := OpenLog(spec.Log)
		if err != nil {
			t.Fatal(err)
		}
		tail := make([]byte, min(r.End()-r.Start(), 200))
		r.ReadAt(tail, r.End()-int64(len(tail)))
		r.Close()
		if strings.Contains(string(tail), `{"done":true}`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log never got the last record; it ends %q", tail)
		}
	}

	head, err := os.ReadFile(HeadFile(spec.Log))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(head), "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"text":"started pid `) || !strings.Contains(lines[1], `"caps":1`) {
		t.Errorf("head: %q, want the start and the handshake's response", head)
	}
	// Attached from 0, the stream starts at the first record kept.
	st, err = Attach(ctx, spec.Socket, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Offset == 0 {
		t.Error("attach from 0 after rotation: offset 0, want the first record kept")
	}
	br := bufio.NewReader(st)
	first, err := br.ReadBytes('\n')
	if err != nil || !json.Valid(first) {
		t.Errorf("first record kept %q (%v): not a whole record", first, err)
	}
	st.Close()
	Input(ctx, spec.Socket, []byte(`{}`+"\n"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ex, _ := ReadExit(spec.Exit)
	r, err := OpenLog(spec.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if ex.Size != r.End() || r.Start() == 0 || r.End()-r.Start() > spec.LogLimit+512 {
		t.Errorf("exit size %d; log keeps [%d, %d): want rotated, at most the limit %d", ex.Size, r.Start(), r.End(), spec.LogLimit)
	}
	if err := RemoveLog(spec.Log); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(HeadFile(spec.Log)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("RemoveLog left the head file: %v", err)
	}
}
