package shim

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
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

// TestShimEndsWhileTerminalHeldOpen: a process the agent left behind keeps
// the terminal open (nothing ends it: an in-process shim is no subreaper).
// The shim still records the agent's exit and ends its clients' streams,
// though no read of the terminal ever returns on its own.
func TestShimEndsWhileTerminalHeldOpen(t *testing.T) {
	ctx := t.Context()
	pidFile := filepath.Join(t.TempDir(), "holder")
	spec, done := startShim(t, "sh", "-c", `sleep 1000 & echo $! > `+pidFile+`; echo started; read x; exit 3`)
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	st, err := Attach(ctx, spec.Socket, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	readUntil(t, st, "started")
	if err := Input(ctx, spec.Socket, []byte("\r")); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, st) // ends when the shim lets its clients go
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the shim never ended: it waits for the terminal that the agent's child holds")
	}
	ex, err := ReadExit(spec.Exit)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Code != 3 {
		t.Errorf("exit code %d, want 3", ex.Code)
	}
	if _, err := os.Stat(pidFile); err != nil {
		t.Fatalf("the agent's child did not start: %v", err)
	}
}

// TestPollableCloseEndsRead: closing the terminal's master ends a read in
// progress, though its other side is open and silent, and a resize keeps
// it so. A read blocked in the kernel would hold the shim for good (a
// missed wake-up of the master at the agent's end leaves it so).
func TestPollableCloseEndsRead(t *testing.T) {
	m, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	m, err = pollable(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := setsize(m, 30, 100); err != nil {
		t.Fatal(err)
	}
	if ws, err := pty.GetsizeFull(tty); err != nil || ws.Rows != 30 || ws.Cols != 100 {
		t.Fatalf("size %+v, %v; want 30x100", ws, err)
	}
	rc, err := m.SyscallConn()
	if err != nil {
		t.Fatalf("the master is not on the poller: %v", err)
	}
	var flags int
	rc.Control(func(fd uintptr) { flags, err = unix.FcntlInt(fd, unix.F_GETFL, 0) })
	if err != nil || flags&unix.O_NONBLOCK == 0 {
		t.Fatalf("the master is blocking (flags %#o, %v): a read in the kernel would not end at its close", flags, err)
	}
	ended := make(chan error, 1)
	go func() {
		_, err := m.Read(make([]byte, 64))
		ended <- err
	}()
	m.Close()
	select {
	case err := <-ended:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("read ended with %v, want the file closed", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("closing the master did not end the read")
	}
}
