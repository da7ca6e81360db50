package shim

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	xterm "golang.org/x/term"
)

// The test binary doubles as a program that queries its terminal.
func TestMain(m *testing.M) {
	if os.Getenv("SHIM_TEST_QUERY") == "1" {
		os.Exit(queryProgram())
	}
	os.Exit(m.Run())
}

// queryProgram draws, asks its terminal for DA1 and the cursor position as
// agents do at start, waits for the answers, prints them, then echoes one
// typed line and exits with last words on the main screen.
func queryProgram() int {
	old, err := xterm.MakeRaw(0)
	if err != nil {
		fmt.Println("raw:", err)
		return 2
	}
	in := bufio.NewReader(os.Stdin)
	readTo := func(final byte) string {
		s, err := in.ReadString(final)
		if err != nil {
			fmt.Println("read:", err)
			os.Exit(2)
		}
		return s
	}
	fmt.Print("\x1b[?1049h\x1b[?2004h\x1b]0;✳ query\x07")
	fmt.Print("\x1b[5;10Hhello\x1b[6n")
	cpr := readTo('R')
	fmt.Print("\x1b[c")
	da1 := readTo('c')
	fmt.Printf("\x1b[7;1Hcpr=%q da1=%q\r\nready\r\n", cpr, da1)
	line := readTo('\r')
	fmt.Printf("typed=%q\r\n", line)
	xterm.Restore(0, old)
	fmt.Print("\x1b[?2004l\x1b[?1049l")
	fmt.Print("Unable to connect to Anthropic services\r\n\r\n")
	return 3
}

func TestShimAnswersQueriesAndRendersScreen(t *testing.T) {
	ctx := t.Context()
	t.Setenv("SHIM_TEST_QUERY", "1")
	spec, done := startShim(t, os.Args[0])
	st, err := Attach(ctx, spec.Socket, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// No client answers: the program gets its answers from the shim.
	readUntil(t, st, "ready")

	sc, err := Screen(ctx, spec.Socket)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Rows) != 40 || sc.Cols != 120 {
		t.Fatalf("screen is %dx%d, want 40x120", len(sc.Rows), sc.Cols)
	}
	wantRows := map[int]string{
		4: "         hello",
		6: `cpr="\x1b[5;15R" da1="\x1b[?62;1;6;22c"`,
		7: "ready",
	}
	for i, want := range wantRows {
		if sc.Rows[i] != want {
			t.Errorf("row %d: got %q, want %q", i, sc.Rows[i], want)
		}
	}
	if sc.CursorRow != 8 || sc.CursorCol != 0 {
		t.Errorf("cursor at %d,%d, want 8,0", sc.CursorRow, sc.CursorCol)
	}
	if sc.Title != "✳ query" || !sc.AltScreen || !sc.BracketedPaste || !sc.CursorVisible {
		t.Errorf("got title %q alt %v paste %v cursor %v, want ✳ query, alternate screen, bracketed paste, visible cursor",
			sc.Title, sc.AltScreen, sc.BracketedPaste, sc.CursorVisible)
	}
	if stat, err := Stat(ctx, spec.Socket); err != nil || sc.Offset != stat.Size {
		t.Errorf("screen offset %d, log size %d (%v)", sc.Offset, stat.Size, err)
	}

	// An attached terminal answers the same queries (here as it would when
	// the log is replayed to it); the shim drops those answers and lets the
	// typing through. (Answers split across reads: TestReplyFilter.)
	for _, p := range []string{"\x1b[?64;1c", "\x1b[5;15Rab", "c\x1b]11;rgb:0/0/0\x1b\\\r"} {
		if _, err := st.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	readUntil(t, st, `typed="abc\r"`)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ex, err := ReadExit(spec.Exit)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Code != 3 || len(ex.Last) == 0 || ex.Last[len(ex.Last)-1] != "Unable to connect to Anthropic services" {
		t.Errorf("exit: got code %d, last words %q; want 3 and the program's last line", ex.Code, ex.Last)
	}
	if slices.ContainsFunc(ex.Last, func(s string) bool { return strings.Contains(s, "hello") }) {
		t.Errorf("last words %q include the alternate screen", ex.Last)
	}
}

func TestShimScreenAfterResize(t *testing.T) {
	ctx := t.Context()
	spec, done := startShim(t, "sh", "-c", `read x; printf 'got:%s' "$x"; read y`)
	if err := Resize(ctx, spec.Socket, 10, 30); err != nil {
		t.Fatal(err)
	}
	st, err := Attach(ctx, spec.Socket, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	long := strings.Repeat("x", 45)
	Input(ctx, spec.Socket, []byte(long+"\r"))
	readUntil(t, st, "got:"+long)
	sc, err := Screen(ctx, spec.Socket)
	if err != nil {
		t.Fatal(err)
	}
	// The echo of the typed line and the printf wrap at 30 columns.
	if len(sc.Rows) != 10 || sc.Cols != 30 {
		t.Fatalf("screen is %dx%d, want 10x30", len(sc.Rows), sc.Cols)
	}
	got := got4(sc.Rows)
	want := [4]string{long[:30], long[30:], "got:" + long[:26], long[26:]}
	if got != want {
		t.Errorf("rows %q, want %q", got, want)
	}
	Input(ctx, spec.Socket, []byte("\r"))
	<-done
}

func got4(rows []string) (r [4]string) {
	copy(r[:], rows)
	return r
}
