package main

import (
	"bytes"
	"io"
	"unicode/utf8"
)

// textWriter renders a terminal session's output as text for `studiod
// logs`: escape sequences and control strings (colours, titles, cursor
// moves, hyperlinks) are dropped, a carriage return goes back to the start
// of the line, so that a progress line that redraws itself shows its last
// state, and a cursor move to another row starts a new line. It keeps its
// state across writes, so sequences split between them are handled; Close
// writes the line still open.
type textWriter struct {
	w    io.Writer
	st   int
	line []rune // the current line
	col  int    // the cursor's column in line
	u    []byte // an incomplete UTF-8 sequence
	csi  []byte // a CSI sequence's parameters so far
}

const (
	tGround = iota
	tEsc
	tCSI
	tString    // OSC, DCS, APC, PM, SOS: up to BEL or ESC \
	tStringEsc // ESC inside a string
)

func newTextWriter(w io.Writer) *textWriter { return &textWriter{w: w} }

func (t *textWriter) Write(p []byte) (int, error) {
	var out bytes.Buffer
	for _, b := range p {
		switch t.st {
		case tEsc:
			switch {
			case b == '[':
				t.st, t.csi = tCSI, t.csi[:0]
			case b == ']' || b == 'P' || b == '_' || b == '^' || b == 'X':
				t.st = tString
			case b >= 0x20 && b <= 0x2f:
				// An intermediate byte (ESC ( B): the final byte follows.
			default:
				t.st = tGround
			}
			continue
		case tCSI:
			if b >= 0x40 && b <= 0x7e {
				t.csiDone(b, &out)
				t.st = tGround
			} else {
				t.csi = append(t.csi, b)
			}
			continue
		case tString:
			switch b {
			case 0x07:
				t.st = tGround
			case 0x1b:
				t.st = tStringEsc
			}
			continue
		case tStringEsc:
			t.st = tString
			if b == '\\' {
				t.st = tGround
			}
			continue
		}
		if b >= 0x80 {
			t.u = append(t.u, b)
			if utf8.FullRune(t.u) {
				r, _ := utf8.DecodeRune(t.u)
				t.put(r) // U+FFFD for a byte that starts no character
				t.u = t.u[:0]
			}
			continue
		}
		if len(t.u) > 0 {
			t.put(utf8.RuneError) // a character cut short
			t.u = t.u[:0]
		}
		switch b {
		case 0x1b:
			t.st = tEsc
		case '\n':
			t.newline(&out)
		case '\r':
			t.col = 0
		case '\b':
			t.col = max(0, t.col-1)
		case '\t':
			t.put('\t')
		default:
			if b >= 0x20 && b != 0x7f {
				t.put(rune(b))
			}
		}
	}
	_, err := t.w.Write(out.Bytes())
	return len(p), err
}

// put writes r at the cursor, over what was there.
func (t *textWriter) put(r rune) {
	for len(t.line) < t.col {
		t.line = append(t.line, ' ')
	}
	if t.col < len(t.line) {
		t.line[t.col] = r
	} else {
		t.line = append(t.line, r)
	}
	t.col++
}

func (t *textWriter) newline(out *bytes.Buffer) {
	out.WriteString(string(t.line))
	out.WriteByte('\n')
	t.line, t.col = t.line[:0], 0
}

// csiDone applies a CSI sequence that changes the text: erasing to the
// end of the line, moving along it, or moving to another row (a new line
// here, when the current one has text). Colours and modes change nothing.
func (t *textWriter) csiDone(final byte, out *bytes.Buffer) {
	n := 0
	for _, c := range t.csi {
		if c < '0' || c > '9' {
			n = -1
			break
		}
		n = n*10 + int(c-'0')
	}
	switch final {
	case 'K':
		if n <= 0 && t.col < len(t.line) {
			t.line = t.line[:t.col]
		}
	case 'C':
		t.col += max(n, 1)
	case 'D':
		t.col = max(0, t.col-max(n, 1))
	case 'G':
		t.col = max(n, 1) - 1
	case 'A', 'B', 'E', 'F', 'H', 'f', 'd':
		if len(t.line) > 0 {
			t.newline(out)
		}
		t.col = 0
	}
}

// Close writes the line still open.
func (t *textWriter) Close() error {
	if len(t.line) == 0 {
		return nil
	}
	_, err := io.WriteString(t.w, string(t.line)+"\n")
	t.line, t.col = t.line[:0], 0
	return err
}
