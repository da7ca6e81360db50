package shim

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// stringFilter sits between the PTY and the VT emulator. It removes every
// control string (OSC, DCS, APC, PM, SOS) from the agent's output and hands
// the emulator only ASCII, 7-bit escape sequences and valid UTF-8.
//
// The emulator's parser (charmbracelet/x/ansi) treats the bytes 0x80–0x9F as
// C1 controls even inside an OSC string, and those are UTF-8 continuation
// bytes: "ESC ] 0 ; ✳ Claude Code BEL" (✳ is E2 9C B3, and 0x9C is ST) would
// end the title early and print "Claude Code" on the screen. The filter reads
// the stream as UTF-8, the way a terminal with LANG=C.UTF-8 does: a string
// ends only at BEL (OSC), ESC \ or ESC followed by anything else, and is
// cancelled by CAN or SUB. Outside strings, a byte that is not part of a
// well-formed UTF-8 sequence becomes U+FFFD, so no raw C1 byte ever reaches
// the emulator.
//
// What the strings carried and the screen needs is kept: an OSC 0 or 2 sets
// the title (OnTitle), and OSC 10/11/12 colour queries are passed on to the
// emulator, which answers them (they are ASCII). Everything else in a string
// (hyperlinks, clipboard, notifications, images) has no effect on the text
// of the screen.
//
// State carries over between calls, so sequences split across reads are
// handled. The zero value is ready to use; it is not safe for concurrent use.
type stringFilter struct {
	st   int
	kind byte // the string's introducer: ] P _ ^ X

	// osc holds an OSC string's payload, up to maxOSC bytes; longer ones
	// (images, clipboard) are skipped to their end without being kept.
	osc      []byte
	overflow bool

	// u holds an incomplete UTF-8 sequence in the ground state; need is how
	// many continuation bytes it still wants.
	u    []byte
	need int

	// OnTitle receives the title set by OSC 0 or 2.
	OnTitle func(string)
}

const (
	fGround = iota
	fEsc
	fString
	fStringEsc
)

// maxOSC is the longest OSC payload kept; titles and colour queries are far
// shorter.
const maxOSC = 4096

const (
	bel = 0x07
	esc = 0x1b
	can = 0x18
	sub = 0x1a
)

var replacement = []byte(string(utf8.RuneError))

// Filter appends to dst what p leaves for the emulator and returns it.
func (f *stringFilter) Filter(dst, p []byte) []byte {
	for i := 0; i < len(p); i++ {
		b := p[i]
		switch f.st {
		case fGround:
			if b == esc {
				dst = f.breakUTF8(dst)
				f.st = fEsc
				continue
			}
			dst = f.ground(dst, b)
		case fEsc:
			switch b {
			case ']', 'P', '_', '^', 'X':
				f.st, f.kind = fString, b
				f.osc, f.overflow = f.osc[:0], false
			case esc:
				// ESC ESC: the first one introduces nothing.
				dst = append(dst, esc)
			default:
				dst = append(dst, esc)
				f.st = fGround
				dst = f.ground(dst, b)
			}
		case fString:
			switch {
			case b == bel && f.kind == ']':
				dst = f.endString(dst)
				f.st = fGround
			case b == esc:
				f.st = fStringEsc
			case b == can || b == sub:
				f.st = fGround
			case f.kind == ']':
				if len(f.osc) < maxOSC {
					f.osc = append(f.osc, b)
				} else {
					f.overflow = true
				}
			}
		case fStringEsc:
			// ESC \ is the string terminator; ESC followed by anything else
			// ends the string too (as in xterm) and starts a new sequence.
			dst = f.endString(dst)
			f.st = fGround
			if b != '\\' {
				f.st = fEsc
				i-- // read b again as the byte after ESC
			}
		}
	}
	return dst
}

// ground handles one byte outside any escape sequence: ASCII and C0
// controls pass, UTF-8 sequences pass once complete, anything malformed
// becomes U+FFFD.
func (f *stringFilter) ground(dst []byte, b byte) []byte {
	if f.need > 0 {
		if b&0xC0 == 0x80 {
			f.u = append(f.u, b)
			f.need--
			if f.need == 0 {
				if utf8.Valid(f.u) {
					dst = append(dst, f.u...)
				} else {
					dst = append(dst, replacement...) // overlong or surrogate
				}
				f.u = f.u[:0]
			}
			return dst
		}
		dst = f.breakUTF8(dst)
	}
	switch {
	case b < 0x80:
		return append(dst, b)
	case b >= 0xC2 && b <= 0xDF:
		f.u, f.need = append(f.u[:0], b), 1
	case b >= 0xE0 && b <= 0xEF:
		f.u, f.need = append(f.u[:0], b), 2
	case b >= 0xF0 && b <= 0xF4:
		f.u, f.need = append(f.u[:0], b), 3
	default:
		// A continuation byte with no lead (this is where raw C1 controls
		// land) or a byte that never occurs in UTF-8.
		dst = append(dst, replacement...)
	}
	return dst
}

// breakUTF8 ends an incomplete UTF-8 sequence with U+FFFD.
func (f *stringFilter) breakUTF8(dst []byte) []byte {
	if f.need > 0 {
		dst = append(dst, replacement...)
		f.u, f.need = f.u[:0], 0
	}
	return dst
}

// endString acts on a complete string: a title goes to OnTitle, a colour
// query to the emulator (appended to dst). Only OSC strings matter.
func (f *stringFilter) endString(dst []byte) []byte {
	if f.kind != ']' || f.overflow {
		return dst
	}
	cmd, arg, _ := bytes.Cut(f.osc, []byte{';'})
	switch string(cmd) {
	case "0", "2":
		if f.OnTitle != nil {
			f.OnTitle(cleanTitle(arg))
		}
	case "10", "11", "12":
		if string(arg) == "?" {
			dst = append(dst, esc, ']')
			dst = append(dst, f.osc...)
			dst = append(dst, esc, '\\')
		}
	}
	return dst
}

// cleanTitle makes a title printable: valid UTF-8, no controls, no padding.
func cleanTitle(b []byte) string {
	s := strings.ToValidUTF8(string(b), string(utf8.RuneError))
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}
