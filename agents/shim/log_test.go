package shim

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogRotation: a capped log keeps the most recent output, at least half
// its limit and at most the limit (plus one write), at offsets that never
// move; reopening it to append (a resumed agent) goes on from its end.
func TestLogRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "output.log")
	const limit = 4096
	var all bytes.Buffer
	write := func(w *logWriter, from, to int) {
		for i := from; i < to; i++ {
			line := fmt.Sprintf("line %d\n", i)
			if n, err := w.Write([]byte(line)); err != nil || n != len(line) {
				t.Fatalf("write: %d, %v", n, err)
			}
			all.WriteString(line)
		}
	}
	w, err := openLogWriter(path, limit)
	if err != nil {
		t.Fatal(err)
	}
	write(w, 1, 2000)
	w.Close()
	w, err = openLogWriter(path, limit)
	if err != nil {
		t.Fatal(err)
	}
	if w.end() != int64(all.Len()) {
		t.Fatalf("reopened at %d, want %d", w.end(), all.Len())
	}
	write(w, 2000, 3000)
	w.Close()

	r, err := OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.End() != int64(all.Len()) {
		t.Errorf("end %d, want %d", r.End(), all.Len())
	}
	kept := r.End() - r.Start()
	if kept < limit/2 || kept > limit+64 {
		t.Errorf("kept %d bytes, want between %d and %d", kept, limit/2, limit)
	}
	got, err := io.ReadAll(r.Section(0))
	if err != nil {
		t.Fatal(err)
	}
	if want := all.Bytes()[r.Start():]; !bytes.Equal(got, want) {
		t.Errorf("kept output differs from the last %d bytes written", len(want))
	}
	if _, err := r.ReadAt(make([]byte, 1), r.Start()-1); err == nil {
		t.Error("read from before the first byte kept")
	}
	files, _ := filepath.Glob(path + "*")
	if len(files) != 2 {
		t.Errorf("log files: %v, want the active one and one older segment", files)
	}
	if err := RemoveLog(path); err != nil {
		t.Fatal(err)
	}
	if files, _ := filepath.Glob(path + "*"); len(files) != 0 {
		t.Errorf("left after RemoveLog: %v", files)
	}
}

// TestLogRotationCutShort: a crash between the two steps of a rotation
// (the active file renamed, no new one yet) leaves a readable log.
func TestLogRotationCutShort(t *testing.T) {
	path := filepath.Join(t.TempDir(), "output.log")
	os.WriteFile(path+".0", []byte("old\n"), 0o600)
	r, err := OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r.Section(0))
	r.Close()
	if string(got) != "old\n" || r.End() != 4 {
		t.Errorf("got %q (end %d)", got, r.End())
	}
	w, err := openLogWriter(path, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("new\n"))
	w.Close()
	r, _ = OpenLog(path)
	got, _ = io.ReadAll(r.Section(0))
	r.Close()
	if string(got) != "old\nnew\n" {
		t.Errorf("after appending: %q", got)
	}
}

// TestShimAttachAfterRotation: attaching from an offset that was rotated
// out starts at the first byte kept, and the reply says where.
func TestShimAttachAfterRotation(t *testing.T) {
	ctx := t.Context()
	spec := Spec{
		// Output in large writes: a client that lags by too many chunks
		// is dropped (and reattaches, which this test does not).
		Argv: []string{"sh", "-c", `seq -f 'line %g' 0 2999 | cat; echo done; read x`},
		Env:  append(os.Environ(), "TERM=dumb"), LogLimit: 8192,
	}
	done := runShim(t, &spec)
	st, err := Attach(ctx, spec.Socket, 0)
	if err != nil {
		t.Fatal(err)
	}
	readUntil(t, st, "done")
	st.Close()
	st, err = Attach(ctx, spec.Socket, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Offset == 0 {
		t.Errorf("attach from 0 after rotation: offset 0, want the first byte kept")
	}
	got := readUntil(t, st, "done")
	st.Close()
	if strings.Contains(got, "line 0\r\n") || !strings.Contains(got, "line 2999") {
		t.Errorf("replay after rotation: %d bytes, from %q", len(got), got[:min(len(got), 40)])
	}
	Input(ctx, spec.Socket, []byte("\r"))
	<-done
	ex, _ := ReadExit(spec.Exit)
	r, _ := OpenLog(spec.Log)
	defer r.Close()
	if ex.Size != r.End() || r.End() < 3000*8 {
		t.Errorf("exit size %d, log end %d", ex.Size, r.End())
	}
}
