package shim

import (
	"bufio"
	"errors"
	"net"
	"os"
	"time"
)

// replyFilter removes terminal answers from what a client types into the
// agent's terminal.
//
// The shim is the agent's terminal: its emulator answers the agent's
// queries whether or not anyone is attached. A person attached through
// `studiod attach`, or the editor terminal relaying keys through `send`,
// has a terminal of their own that sees the same queries in the relayed
// output (including queries replayed from the log, long after the agent
// asked) and answers them too. Those answers would reach the agent as a
// second, late answer or as stray keys, so the shim drops them: the agent
// sees exactly one terminal, the shim.
//
// Dropped: every control string (OSC, DCS, APC, PM, SOS: colour, XTVERSION,
// DECRQSS, XTGETTCAP and clipboard answers; keys never produce them), and
// the CSI answers DA1/DA2/DA3 (CSI ? … c, CSI > … c, CSI = … c), DECRPM
// (CSI … $ y), kitty keyboard flags (CSI ? … u), DSR answers (CSI 0 n,
// CSI 3 n, CSI ? … n), XTWINOPS reports (CSI … t), XTSMGRAPHICS (CSI ? … S)
// and cursor position reports (CSI row ; col R, CSI ? row ; col … R).
// One form is ambiguous: xterm sends F3 with modifiers as CSI 1 ; m R
// (m = 2…16), which is also a cursor report for row 1, columns 2 to 16;
// that form is kept as a key. Text inside a bracketed paste is never
// touched.
//
// A sequence split across reads is held until it is complete. A held
// prefix that stays incomplete (the person pressed Esc, and nothing
// followed) is let through by Flush, which the reader calls after a short
// quiet time (escapeWait). The zero value is ready; not safe for concurrent
// use.
type replyFilter struct {
	st  int
	seq []byte // the sequence being read, held (rEsc, rCSI)
	// pasteEnd is how much of the bracketed-paste end marker has been seen.
	pasteEnd int
}

const (
	rGround = iota
	rEsc
	rCSI
	rString    // inside a control string, dropped
	rStringEsc // ESC inside a control string
	rPaste     // inside a bracketed paste
)

// maxCSI is the longest CSI sequence held; anything longer is no answer.
const maxCSI = 64

const pasteEndMarker = "\x1b[201~"

// Filter appends to dst what p leaves for the agent and returns it.
func (f *replyFilter) Filter(dst, p []byte) []byte {
	for i := 0; i < len(p); i++ {
		b := p[i]
		switch f.st {
		case rGround:
			if b == esc {
				f.st, f.seq = rEsc, append(f.seq[:0], b)
				continue
			}
			dst = append(dst, b)
		case rEsc:
			switch b {
			case '[':
				f.st, f.seq = rCSI, append(f.seq, b)
			case ']', 'P', '_', '^', 'X':
				f.st, f.seq = rString, f.seq[:0]
			case esc:
				dst = append(dst, f.seq...) // a lone ESC, then another
				f.seq = append(f.seq[:0], b)
			default:
				dst = append(append(dst, f.seq...), b)
				f.st, f.seq = rGround, f.seq[:0]
			}
		case rCSI:
			switch {
			case b >= 0x40 && b <= 0x7e:
				f.seq = append(f.seq, b)
				if !isAnswer(f.seq) {
					dst = append(dst, f.seq...)
					if string(f.seq) == "\x1b[200~" {
						f.st, f.pasteEnd, f.seq = rPaste, 0, f.seq[:0]
						continue
					}
				}
				f.st, f.seq = rGround, f.seq[:0]
			case b >= 0x20 && b <= 0x3f && len(f.seq) < maxCSI:
				f.seq = append(f.seq, b)
			default:
				// Not a CSI sequence an answer would make: let it all
				// through and read b afresh.
				dst = append(dst, f.seq...)
				f.st, f.seq = rGround, f.seq[:0]
				i--
			}
		case rString:
			switch b {
			case bel:
				f.st = rGround
			case esc:
				f.st = rStringEsc
			case can, sub:
				f.st = rGround
			}
		case rStringEsc:
			f.st = rGround
			if b != '\\' {
				f.st, f.seq = rEsc, append(f.seq[:0], esc)
				i--
			}
		case rPaste:
			dst = append(dst, b)
			switch {
			case b == pasteEndMarker[f.pasteEnd]:
				f.pasteEnd++
				if f.pasteEnd == len(pasteEndMarker) {
					f.st = rGround
				}
			case b == esc:
				f.pasteEnd = 1
			default:
				f.pasteEnd = 0
			}
		}
	}
	return dst
}

// Pending reports whether the filter holds an incomplete sequence.
func (f *replyFilter) Pending() bool {
	return f.st == rEsc || f.st == rCSI || f.st == rString || f.st == rStringEsc
}

// Flush gives up on the incomplete sequence: held bytes are let through
// (an unfinished control string, already dropped, stays dropped).
func (f *replyFilter) Flush(dst []byte) []byte {
	if f.st == rEsc || f.st == rCSI {
		dst = append(dst, f.seq...)
	}
	if f.Pending() {
		f.st, f.seq = rGround, f.seq[:0]
	}
	return dst
}

// isAnswer reports whether a complete CSI sequence (ESC [ … final) is a
// terminal's answer to a query rather than a key, mouse or focus event.
func isAnswer(seq []byte) bool {
	body := seq[2 : len(seq)-1]
	final := seq[len(seq)-1]
	var prefix byte
	if len(body) > 0 && body[0] >= '<' && body[0] <= '?' {
		prefix, body = body[0], body[1:]
	}
	var params []byte
	var inter []byte
	for i, c := range body {
		if c >= 0x20 && c <= 0x2f {
			params, inter = body[:i], body[i:]
			break
		}
	}
	if inter == nil {
		params = body
	}
	switch {
	case string(inter) == "$" && final == 'y':
		return true // DECRPM
	case len(inter) > 0:
		return false
	}
	switch final {
	case 'c':
		return prefix == '?' || prefix == '>' || prefix == '='
	case 'u':
		return prefix == '?'
	case 'n':
		return prefix == '?' || (prefix == 0 && (string(params) == "0" || string(params) == "3"))
	case 't':
		return prefix == 0
	case 'S':
		return prefix == '?'
	case 'R':
		if prefix == '?' {
			return true
		}
		if prefix != 0 {
			return false
		}
		row, col, ok := twoNumbers(params)
		if !ok {
			return false
		}
		return !(row == 1 && col >= 2 && col <= 16) // modified F3 stays a key
	}
	return false
}

// twoNumbers parses "a;b".
func twoNumbers(p []byte) (a, b int, ok bool) {
	n, semis := 0, 0
	var v [2]int
	for _, c := range p {
		switch {
		case c >= '0' && c <= '9':
			if n > 6 {
				return 0, 0, false
			}
			v[semis] = v[semis]*10 + int(c-'0')
			n++
		case c == ';' && semis == 0 && n > 0:
			semis, n = 1, 0
		default:
			return 0, 0, false
		}
	}
	return v[0], v[1], semis == 1 && n > 0
}

// escapeWait is how long a held incomplete sequence waits for the rest
// before it is let through: a terminal writes an answer at once, and an Esc
// key press has nothing after it.
const escapeWait = 30 * time.Millisecond

// relayInput copies what an attached client types into the PTY, without
// the answers of the client's own terminal (see replyFilter). It returns
// when the client closes its side.
func relayInput(c net.Conn, r *bufio.Reader, pty *os.File) {
	var f replyFilter
	buf := make([]byte, 32<<10)
	var out []byte
	for {
		if f.Pending() {
			c.SetReadDeadline(time.Now().Add(escapeWait))
		} else {
			c.SetReadDeadline(time.Time{})
		}
		n, err := r.Read(buf)
		out = f.Filter(out[:0], buf[:n])
		if errors.Is(err, os.ErrDeadlineExceeded) {
			out = f.Flush(out)
			err = nil
		}
		if len(out) > 0 {
			if _, werr := pty.Write(out); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// stripAnswers removes terminal answers from one complete input message
// (the input op); an incomplete sequence at its end is kept as it is.
func stripAnswers(p []byte) []byte {
	var f replyFilter
	out := f.Filter(make([]byte, 0, len(p)), p)
	return f.Flush(out)
}
