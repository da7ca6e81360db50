package shim

import (
	"io"
	"strings"
	"sync"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/vt"
)

// ScreenState is the agent's terminal as a person would see it now.
type ScreenState struct {
	// Rows holds every row of the screen, top to bottom, as text with
	// trailing blanks trimmed; wide characters take one entry.
	Rows []string `json:"rows"`
	Cols int      `json:"cols"`
	// CursorRow and CursorCol are 0-based.
	CursorRow     int  `json:"cursorRow"`
	CursorCol     int  `json:"cursorCol"`
	CursorVisible bool `json:"cursorVisible"`
	// Title is the last title the agent set (OSC 0 or 2), trimmed.
	Title string `json:"title"`
	// AltScreen is true while the agent draws on the alternate screen.
	AltScreen bool `json:"altScreen"`
	// BracketedPaste is true while the agent asked for bracketed paste
	// (ESC[?2004h): pasted text should be sent as ESC[200~ … ESC[201~.
	BracketedPaste bool `json:"bracketedPaste"`
	// Offset is the size of the log this screen reflects.
	Offset int64 `json:"offset"`
}

// lastWords is how many non-blank rows the exit file keeps.
const lastWords = 10

// xtversion is the shim's answer to XTVERSION (CSI > q): a DCS >| string.
const xtversion = "\x1bP>|studiod\x1b\\"

// term is the shim's terminal: the agent's output goes through a
// stringFilter into a VT emulator, which keeps the screen and answers the
// agent's terminal queries (DA1, CPR, DECRQM, OSC 10/11/12 colours,
// XTVERSION) by writing to the PTY, as a terminal would. It does not answer
// the kitty keyboard query (CSI ? u): like xterm, it does not speak that
// protocol, and the DA1 answer that follows tells the agent so.
//
// Write is called by the PTY pump only; screen, resize and lastRows by
// anyone. close stops the goroutines that deliver the answers; the owner
// calls it once the pump has stopped.
type term struct {
	// mu guards everything below. Never held while writing to the PTY.
	mu      sync.Mutex
	emu     *vt.Emulator
	filt    stringFilter
	buf     []byte
	title   string
	paste   bool
	offset  int64
	replies chan []byte

	wg sync.WaitGroup
}

// replyQueue is how many answers may wait for the PTY; more are dropped
// rather than stall the output pump when the agent does not read its input.
const replyQueue = 64

// newTerm makes a rows×cols terminal whose answers are written to pty and
// whose first byte is at offset in the log.
func newTerm(rows, cols int, pty io.Writer, offset int64) *term {
	t := &term{emu: vt.NewEmulator(cols, rows), offset: offset, replies: make(chan []byte, replyQueue)}
	t.emu.SetScrollbackSize(1) // the screen is all studiod reads
	t.emu.SetCallbacks(vt.Callbacks{
		EnableMode: func(m ansi.Mode) {
			if m == ansi.ModeBracketedPaste {
				t.paste = true
			}
		},
		DisableMode: func(m ansi.Mode) {
			if m == ansi.ModeBracketedPaste {
				t.paste = false
			}
		},
	})
	t.emu.RegisterCsiHandler(ansi.Command('>', 0, 'q'), func(params ansi.Params) bool {
		if n, _, _ := params.Param(0, 0); n != 0 {
			return false
		}
		io.WriteString(t.emu.InputPipe(), xtversion)
		return true
	})
	t.filt.OnTitle = func(s string) { t.title = s }

	// The emulator writes its answers into a synchronous pipe, inside
	// Write: one goroutine reads them at once into the queue, another
	// writes the queue to the PTY.
	t.wg.Go(func() {
		defer close(t.replies)
		buf := make([]byte, 1024)
		for {
			n, err := t.emu.Read(buf)
			if n > 0 {
				select {
				case t.replies <- append([]byte(nil), buf[:n]...):
				default:
				}
			}
			if err != nil {
				return
			}
		}
	})
	t.wg.Go(func() {
		for b := range t.replies {
			pty.Write(b)
		}
	})
	return t
}

// Write feeds output of the agent to the terminal.
func (t *term) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = t.filt.Filter(t.buf[:0], p)
	if len(t.buf) > 0 {
		t.emu.Write(t.buf)
	}
	t.offset += int64(len(p))
	return len(p), nil
}

func (t *term) resize(rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.emu.Resize(cols, rows)
}

func (t *term) screen() ScreenState {
	t.mu.Lock()
	defer t.mu.Unlock()
	pos := t.emu.CursorPosition()
	return ScreenState{
		Rows:           t.rows(),
		Cols:           t.emu.Width(),
		CursorRow:      pos.Y,
		CursorCol:      pos.X,
		CursorVisible:  !t.emu.CursorHidden(),
		Title:          t.title,
		AltScreen:      t.emu.IsAltScreen(),
		BracketedPaste: t.paste,
		Offset:         t.offset,
	}
}

// lastRows returns the last n rows of the screen that are not blank.
func (t *term) lastRows(n int) []string {
	t.mu.Lock()
	rows := t.rows()
	t.mu.Unlock()
	var last []string
	for i := len(rows) - 1; i >= 0 && len(last) < n; i-- {
		if strings.TrimSpace(rows[i]) != "" {
			last = append(last, rows[i])
		}
	}
	for i, j := 0, len(last)-1; i < j; i, j = i+1, j-1 {
		last[i], last[j] = last[j], last[i]
	}
	return last
}

// rows renders the screen as text. t.mu must be held.
func (t *term) rows() []string {
	w, h := t.emu.Width(), t.emu.Height()
	rows := make([]string, h)
	var sb strings.Builder
	for y := range h {
		sb.Reset()
		for x := 0; x < w; x++ {
			c := t.emu.CellAt(x, y)
			switch {
			case c == nil || c.Content == "" && c.Width > 0:
				sb.WriteByte(' ')
			case c.IsZero():
				// The second column of a wide character.
			default:
				sb.WriteString(c.Content)
			}
		}
		rows[y] = strings.TrimRight(sb.String(), " ")
	}
	return rows
}

// close stops delivering answers and waits for the goroutines. The caller
// makes sure Write is no longer called.
func (t *term) close() {
	// Closing the pipe's writer ends the reader with EOF. Emulator.Close
	// would do the same but also sets a field that Emulator.Read reads
	// without a lock.
	if pw, ok := t.emu.InputPipe().(*io.PipeWriter); ok {
		pw.CloseWithError(io.EOF)
	} else {
		t.mu.Lock()
		t.emu.Close()
		t.mu.Unlock()
	}
	t.wg.Wait()
}
