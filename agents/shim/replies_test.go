package shim

import "testing"

func TestReplyFilter(t *testing.T) {
	tests := []struct {
		name string
		in   string
		out  string
	}{
		{"typed text", "hello\r", "hello\r"},
		{"DA1 answer", "a\x1b[?62;1;6;22cb", "ab"},
		{"DA2 answer", "\x1b[>1;10;0c", ""},
		{"cursor report", "\x1b[12;40R", ""},
		{"cursor report at row 1 col 1", "\x1b[1;1R", ""},
		{"extended cursor report", "\x1b[?12;40;1R", ""},
		{"modified F3 is a key", "\x1b[1;5R", "\x1b[1;5R"},
		{"DECRPM", "\x1b[?2004;2$y\x1b[4;2$y", ""},
		{"kitty flags", "\x1b[?0u", ""},
		{"kitty key event is a key", "\x1b[97;5u\x1b[13;2u", "\x1b[97;5u\x1b[13;2u"},
		{"DSR status", "\x1b[0n", ""},
		{"window report", "\x1b[8;40;120t", ""},
		{"XTVERSION answer", "\x1bP>|kitty(0.40)\x1b\\x", "x"},
		{"DA3 answer", "\x1bP!|00000000\x1b\\", ""},
		{"colour answers", "\x1b]11;rgb:0000/0000/0000\x07\x1b]10;rgb:ffff/ffff/ffff\x1b\\", ""},
		{"clipboard answer", "\x1b]52;c;aGk=\x07", ""},
		{"arrows and Enter", "\x1b[B\x1b[A\r", "\x1b[B\x1b[A\r"},
		{"SS3 keys", "\x1bOA\x1bOP", "\x1bOA\x1bOP"},
		{"alt+key", "\x1bx\x1b\x1b", "\x1bx\x1b"}, // the last ESC is held
		{"function keys", "\x1b[15~\x1b[1;2P", "\x1b[15~\x1b[1;2P"},
		{"SGR mouse", "\x1b[<0;10;5M\x1b[<0;10;5m", "\x1b[<0;10;5M\x1b[<0;10;5m"},
		{"focus", "\x1b[I\x1b[O", "\x1b[I\x1b[O"},
		{"paste is untouched", "\x1b[200~x\x1b[?62c\x1b]0;t\x07\x1b[201~\x1b[?62c", "\x1b[200~x\x1b[?62c\x1b]0;t\x07\x1b[201~"},
		{"paste with ESC before the end", "\x1b[200~\x1b\x1b[201~y", "\x1b[200~\x1b\x1b[201~y"},
		{"string ended by another escape", "\x1b]11;rgb:0/0/0\x1b[Az", "\x1b[Az"},
		{"overlong CSI is not an answer", "\x1b[1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16;17;18;19;20;21;22;23;24;25c", "\x1b[1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16;17;18;19;20;21;22;23;24;25c"},
		{"broken CSI passes", "\x1b[12\r", "\x1b[12\r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			for i := range len(in) + 1 {
				var f replyFilter
				out := f.Filter(nil, in[:i])
				out = f.Filter(out, in[i:])
				if string(out) != tt.out {
					t.Fatalf("split at %d: got %q, want %q", i, out, tt.out)
				}
			}
			var f replyFilter
			var out []byte
			for i := range in {
				out = f.Filter(out, in[i:i+1])
			}
			if string(out) != tt.out {
				t.Fatalf("byte by byte: got %q, want %q", out, tt.out)
			}
		})
	}
}

func TestReplyFilterFlush(t *testing.T) {
	var f replyFilter
	out := f.Filter(nil, []byte("a\x1b"))
	if string(out) != "a" || !f.Pending() {
		t.Fatalf("got %q pending %v, want %q held", out, f.Pending(), "a")
	}
	// Nothing followed: the ESC was a key.
	if out = f.Flush(out[:0]); string(out) != "\x1b" || f.Pending() {
		t.Fatalf("flush: got %q pending %v, want the ESC", out, f.Pending())
	}
	// An unfinished string stays dropped; what follows is read afresh.
	out = f.Filter(nil, []byte("\x1b]11;rgb:00"))
	out = f.Flush(out)
	out = f.Filter(out, []byte("b"))
	if string(out) != "b" {
		t.Fatalf("after an unfinished string: got %q, want %q", out, "b")
	}
	if got := string(stripAnswers([]byte("x\x1b[?62c\x1b[1"))); got != "x\x1b[1" {
		t.Fatalf("stripAnswers: got %q", got)
	}
}
