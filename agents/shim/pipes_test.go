package shim

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPipes: an agent on pipes gets each input message as a line on its
// stdin; the log and the attach stream hold every line both ways, tagged,
// in order; stderr and non-JSON lines are kept as text; the exit is
// recorded.
func TestPipes(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	spec := Spec{
		Argv: []string{"sh", "-c", `echo '{"hello":1}'; echo oops >&2; read x; echo "$x"; echo 'not json'; exit 3`},
		Dir:  dir, Env: os.Environ(), Mode: ModePipes,
		Log: filepath.Join(dir, "out.log"), Socket: filepath.Join(dir, "s.sock"), Exit: filepath.Join(dir, "exit.json"),
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Run(spec, pw) }()
	if line, _ := io.ReadAll(pr); !strings.HasPrefix(string(line), "ok ") {
		t.Fatalf("shim did not start: %q", line)
	}
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
