package shim

import (
	"slices"
	"testing"
)

// filterAll runs p through a fresh stringFilter in the given pieces.
func filterAll(pieces ...[]byte) (out string, titles []string) {
	var f stringFilter
	f.OnTitle = func(s string) { titles = append(titles, s) }
	var dst []byte
	for _, p := range pieces {
		dst = f.Filter(dst, p)
	}
	return string(dst), titles
}

func TestStringFilter(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		out    string
		titles []string
	}{
		{"plain text and CSI pass", "a\x1b[1;31mb\x1b[0m\r\n", "a\x1b[1;31mb\x1b[0m\r\n", nil},
		{"title with BEL", "x\x1b]0;✳ Claude Code\x07y", "xy", []string{"✳ Claude Code"}},
		{"title with ST", "\x1b]2;◇  Ready (repo)   \x1b\\z", "z", []string{"◇  Ready (repo)"}},
		{"title with semicolons", "\x1b]0;a;b\x07", "", []string{"a;b"}},
		{"icon name is not the title", "\x1b]1;icon\x07", "", nil},
		{"0x9C inside an OSC is not ST", "\x1b]0;\xe2\x9c\xb3 x\x07after", "after", []string{"✳ x"}},
		{"OSC ended by another escape", "\x1b]0;t\x1b[2Jx", "\x1b[2Jx", []string{"t"}},
		{"CAN cancels a string", "\x1b]0;t\x18x", "x", nil},
		{"hyperlink stripped", "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link", nil},
		{"DCS stripped", "\x1bP>|xterm(1)\x1b\\a", "a", nil},
		{"APC, PM, SOS stripped", "\x1b_Gi=1;\xe2\x9c\xb3\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\b", "b", nil},
		{"BEL does not end a DCS", "\x1bPq\x07#\x1b\\c", "c", nil},
		{"colour queries reach the emulator", "\x1b]10;?\x07\x1b]11;?\x1b\\", "\x1b]10;?\x1b\\\x1b]11;?\x1b\\", nil},
		{"other OSC queries do not", "\x1b]7501;?\x07\x1b]4;1;?\x07", "", nil},
		{"UTF-8 passes", "─ ❯ ✳ 日本 🙂", "─ ❯ ✳ 日本 🙂", nil},
		{"raw C1 becomes U+FFFD", "a\x9b2Jb\x9dc", "a\uFFFD2Jb\uFFFDc", nil},
		{"broken UTF-8 becomes U+FFFD", "\xe2\x9cx\xe2\x1b[m", "\uFFFDx\uFFFD\x1b[m", nil},
		{"invalid bytes become U+FFFD", "\xc0\xaf\xff", "\uFFFD\uFFFD\uFFFD", nil},
		{"surrogate becomes U+FFFD", "\xed\xa0\x80", "\uFFFD", nil},
		{"ESC ESC", "\x1b\x1b[m", "\x1b\x1b[m", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, titles := filterAll([]byte(tt.in))
			if out != tt.out || !slices.Equal(titles, tt.titles) {
				t.Fatalf("whole: got %q %q, want %q %q", out, titles, tt.out, tt.titles)
			}
			// Split at every byte boundary, and into single bytes.
			in := []byte(tt.in)
			for i := range len(in) + 1 {
				out, titles := filterAll(in[:i], in[i:])
				if out != tt.out || !slices.Equal(titles, tt.titles) {
					t.Fatalf("split at %d: got %q %q, want %q %q", i, out, titles, tt.out, tt.titles)
				}
			}
			var bytes [][]byte
			for i := range in {
				bytes = append(bytes, in[i:i+1])
			}
			if out, titles := filterAll(bytes...); out != tt.out || !slices.Equal(titles, tt.titles) {
				t.Fatalf("byte by byte: got %q %q, want %q %q", out, titles, tt.out, tt.titles)
			}
		})
	}
}

func TestStringFilterLongOSC(t *testing.T) {
	long := "\x1b]0;" + string(make([]byte, maxOSC+10)) + "\x07"
	out, titles := filterAll([]byte(long + "\x1b]0;short\x07x"))
	if out != "x" || !slices.Equal(titles, []string{"short"}) {
		t.Fatalf("got %q %q, want %q and only the short title", out, titles, "x")
	}
}
