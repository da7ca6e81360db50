package shim

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func startShim(t *testing.T, argv ...string) (Spec, chan error) {
	t.Helper()
	spec := Spec{Argv: argv, Env: append(os.Environ(), "TERM=dumb")}
	return spec, runShim(t, &spec)
}

// runShim runs a shim for spec, its files in a temporary directory, and
// returns once it says it started; the channel gets what Run returns.
func runShim(t *testing.T, spec *Spec) chan error {
	t.Helper()
	dir := t.TempDir()
	spec.Dir = dir
	spec.Log = filepath.Join(dir, "out.log")
	spec.Socket = filepath.Join(dir, "s.sock")
	spec.Exit = filepath.Join(dir, "exit.json")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Run(*spec, pw) }()
	line, _ := io.ReadAll(pr)
	if !strings.HasPrefix(string(line), "ok ") {
		t.Fatalf("shim did not start: %q", line)
	}
	return done
}

func readUntil(t *testing.T, r io.Reader, want string) string {
	t.Helper()
	var got bytes.Buffer
	buf := make([]byte, 4096)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(got.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %q; got %q", want, got.String())
		}
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if !strings.Contains(got.String(), want) {
		t.Fatalf("stream ended without %q; got %q", want, got.String())
	}
	return got.String()
}

func TestShimAttachInputExit(t *testing.T) {
	ctx := t.Context()
	spec, done := startShim(t, "sh", "-c", `echo hello; read x; echo "got $x"; exit 7`)

	st, err := Attach(ctx, spec.Socket, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	readUntil(t, st, "hello")
	if err := Input(ctx, spec.Socket, []byte("abc\r")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, st, "got abc")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ex, err := ReadExit(spec.Exit)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Code != 7 {
		t.Errorf("exit code: got %d, want 7", ex.Code)
	}
	log, _ := os.ReadFile(spec.Log)
	if int64(len(log)) != ex.Size || !strings.Contains(string(log), "got abc") {
		t.Errorf("log (%d bytes, exit says %d): %q", len(log), ex.Size, log)
	}
	if _, err := Attach(ctx, spec.Socket, 0); err != ErrGone {
		t.Errorf("attach after exit: got %v, want ErrGone", err)
	}
}

func TestShimReplayFromOffset(t *testing.T) {
	ctx := t.Context()
	spec, done := startShim(t, "sh", "-c", `printf 'one\n'; read x; printf 'two\n'`)
	st, err := Attach(ctx, spec.Socket, 0)
	if err != nil {
		t.Fatal(err)
	}
	readUntil(t, st, "one")
	st.Close()
	// A second client from offset 0 sees everything again, then live output.
	st2, err := Attach(ctx, spec.Socket, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	readUntil(t, st2, "one")
	Input(ctx, spec.Socket, []byte("\r"))
	readUntil(t, st2, "two")
	<-done
}

func TestShimSignal(t *testing.T) {
	ctx := t.Context()
	spec, done := startShim(t, "sh", "-c", `echo ready; sleep 100`)
	st, err := Attach(ctx, spec.Socket, 0)
	if err != nil {
		t.Fatal(err)
	}
	readUntil(t, st, "ready")
	if err := Signal(ctx, spec.Socket, 15); err != nil {
		t.Fatal(err)
	}
	<-done
	ex, err := ReadExit(spec.Exit)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Signal == "" {
		t.Errorf("exit after SIGTERM: got %+v, want a signal", ex)
	}
}

func TestShimMissingCommand(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Argv: []string{"studiod-no-such-agent"}, Dir: dir, Log: filepath.Join(dir, "l"), Socket: filepath.Join(dir, "s"), Exit: filepath.Join(dir, "e")}
	pr, pw, _ := os.Pipe()
	err := Run(spec, pw)
	line, _ := io.ReadAll(pr)
	if err == nil || !strings.Contains(string(line), "not found") {
		t.Errorf("got err %v, ready %q; want a not-found error", err, line)
	}
}
