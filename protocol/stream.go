package protocol

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sourcegraph/jsonrpc2"
)

// MaxMessage caps the body of one message on any studiod connection. A peer
// that sends more is told why and disconnected.
const MaxMessage = 16 << 20

// ErrTooLarge is returned by ReadObject for a message over MaxMessage.
var ErrTooLarge = errors.New("message exceeds the size limit")

// Stream is a jsonrpc2.ObjectStream with LSP framing (Content-Length headers).
// Unlike the library's codec it answers malformed messages with a JSON-RPC
// error and goes on reading, and refuses oversized ones without reading them
// into memory.
type Stream struct {
	r     *bufio.Reader
	c     io.Closer
	limit int

	wmu sync.Mutex // guards w
	w   io.Writer

	// dmu guards the read timeouts (SetReadTimeouts) and waiting.
	dmu     sync.Mutex
	dl      ReadDeadliner
	idle    func() time.Duration
	message time.Duration
	waiting bool // ReadBody waits for a message's first byte
}

// ReadDeadliner is the part of a net.Conn that bounds reads.
type ReadDeadliner interface {
	SetReadDeadline(t time.Time) error
}

// ErrIdle ends a stream whose peer sent nothing for longer than its idle
// timeout allowed.
var ErrIdle = errors.New("connection idle: closed")

// SetReadTimeouts bounds how long the peer may take. idle, asked each time
// the stream starts waiting for a message (and on Rearm), is how long the
// peer may then send nothing; 0 is no limit. message bounds each message
// from its first byte to its last, headers and body; 0 is no limit. A peer
// that exceeds either is disconnected: a connection opened and left, or a
// message started and never finished, would otherwise hold a goroutine and
// a descriptor for good.
func (s *Stream) SetReadTimeouts(d ReadDeadliner, idle func() time.Duration, message time.Duration) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	s.dl, s.idle, s.message = d, idle, message
}

// Rearm asks idle again while the stream waits for a message, for a caller
// whose answer has changed (a request finished, a subscription ended).
func (s *Stream) Rearm() {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	if s.dl != nil && s.waiting {
		s.armIdleLocked()
	}
}

func (s *Stream) armIdleLocked() {
	var t time.Time
	if s.idle != nil {
		if d := s.idle(); d > 0 {
			t = time.Now().Add(d)
		}
	}
	s.dl.SetReadDeadline(t)
}

// awaitMessage waits for the first byte of the next message under the
// idle timeout, then starts the message timeout.
func (s *Stream) awaitMessage() error {
	s.dmu.Lock()
	if s.dl == nil {
		s.dmu.Unlock()
		return nil
	}
	if s.r.Buffered() == 0 {
		s.waiting = true
		s.armIdleLocked()
		s.dmu.Unlock()
		_, err := s.r.Peek(1)
		s.dmu.Lock()
		s.waiting = false
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = ErrIdle
		}
		if err != nil {
			s.dmu.Unlock()
			return err
		}
	}
	var t time.Time
	if s.message > 0 {
		t = time.Now().Add(s.message)
	}
	s.dl.SetReadDeadline(t)
	s.dmu.Unlock()
	return nil
}

// NewStream returns a Stream over rwc.
func NewStream(rwc io.ReadWriteCloser) *Stream {
	return &Stream{r: bufio.NewReaderSize(rwc, 64<<10), w: rwc, c: rwc, limit: MaxMessage}
}

// NewStreamPair returns a Stream reading r and writing w, closing c (which
// may be nil).
func NewStreamPair(r io.Reader, w io.Writer, c io.Closer) *Stream {
	if c == nil {
		c = io.NopCloser(nil)
	}
	return &Stream{r: bufio.NewReaderSize(r, 64<<10), w: w, c: c, limit: MaxMessage}
}

// WriteObject writes one framed message.
func (s *Stream) WriteObject(obj any) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return s.writeRaw(data)
}

func (s *Stream) writeRaw(data []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if _, err := fmt.Fprintf(s.w, "Content-Length: %d\r\n\r\n", len(data)); err != nil {
		return err
	}
	_, err := s.w.Write(data)
	return err
}

// ReadBody reads one framed message body. It is exported for forwarders that
// relay messages without decoding them.
func (s *Stream) ReadBody() ([]byte, error) {
	if err := s.awaitMessage(); err != nil {
		return nil, err
	}
	body, err := s.readBody()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.dmu.Lock()
		d := s.message
		s.dmu.Unlock()
		err = fmt.Errorf("message not complete within %s: %w", d, err)
	}
	return body, err
}

func (s *Stream) readBody() ([]byte, error) {
	n := -1
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("malformed header line %q", line)
		}
		if strings.EqualFold(strings.TrimSpace(name), "Content-Length") {
			if n >= 0 {
				// Two lengths: which one frames the body is anyone's
				// guess, and a wrong guess hangs or desynchronizes.
				return nil, errors.New("malformed message: more than one Content-Length header")
			}
			n, err = strconv.Atoi(strings.TrimSpace(value))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("malformed Content-Length %q", value)
			}
		}
	}
	if n < 0 {
		return nil, errors.New("missing Content-Length header")
	}
	if n > s.limit {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, s.limit)
	}
	// Memory grows with the bytes that arrive, not with the length
	// claimed: a peer announcing 16 MiB and sending nothing costs little.
	var buf bytes.Buffer
	buf.Grow(min(n, 64<<10))
	if _, err := io.CopyN(&buf, s.r, int64(n)); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteBody writes one message body as is.
func (s *Stream) WriteBody(body []byte) error { return s.writeRaw(body) }

// ReadObject reads the next well-formed message into v. Bodies that are not
// JSON, or not JSON-RPC messages, are answered with an error response and
// skipped; framing errors and oversized messages end the stream after the
// peer has been told why.
func (s *Stream) ReadObject(v any) error {
	for {
		body, err := s.ReadBody()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.ErrClosedPipe) && !errors.Is(err, ErrIdle) {
				code := int64(CodeParseError)
				if errors.Is(err, ErrTooLarge) {
					code = CodeInvalidRequest
				}
				s.replyError(nil, code, err.Error())
			}
			return err
		}
		if !json.Valid(body) {
			s.replyError(nil, CodeParseError, "parse error: message body is not valid JSON")
			continue
		}
		if err := json.Unmarshal(body, v); err != nil {
			var probe struct {
				ID *jsonrpc2.ID `json:"id"`
			}
			_ = json.Unmarshal(body, &probe)
			s.replyError(probe.ID, CodeInvalidRequest, "invalid request: "+err.Error())
			continue
		}
		return nil
	}
}

func (s *Stream) replyError(id *jsonrpc2.ID, code int64, msg string) {
	var b bytes.Buffer
	b.WriteString(`{"jsonrpc":"2.0","id":`)
	if id == nil {
		b.WriteString("null")
	} else {
		idj, _ := json.Marshal(id)
		b.Write(idj)
	}
	e, _ := json.Marshal(jsonrpc2.Error{Code: code, Message: msg})
	b.WriteString(`,"error":`)
	b.Write(e)
	b.WriteString("}")
	_ = s.writeRaw(b.Bytes())
}

// Close closes the underlying connection.
func (s *Stream) Close() error { return s.c.Close() }
