package shim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
)

// ErrGone reports that no shim listens on the socket: the agent has exited
// (read its exit file) or the shim was killed.
var ErrGone = errors.New("shim not running")

func dial(ctx context.Context, socket string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, ErrGone
		}
		return nil, err
	}
	return c, nil
}

func roundTrip(ctx context.Context, socket string, req request) (reply, error) {
	c, err := dial(ctx, socket)
	if err != nil {
		return reply{}, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	} else {
		c.SetDeadline(time.Now().Add(10 * time.Second))
	}
	if _, err := c.Write(encode(req)); err != nil {
		return reply{}, err
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return reply{}, fmt.Errorf("shim %s: %w", socket, err)
	}
	var r reply
	if err := json.Unmarshal(line, &r); err != nil {
		return reply{}, err
	}
	if r.Error != "" {
		return r, errors.New(r.Error)
	}
	return r, nil
}

// Input types data into the agent's terminal.
func Input(ctx context.Context, socket string, data []byte) error {
	_, err := roundTrip(ctx, socket, request{Op: "input", Data: data})
	return err
}

// Resize sets the agent terminal's size.
func Resize(ctx context.Context, socket string, rows, cols int) error {
	_, err := roundTrip(ctx, socket, request{Op: "resize", Rows: rows, Cols: cols})
	return err
}

// Signal sends sig to the agent's process group.
func Signal(ctx context.Context, socket string, sig syscall.Signal) error {
	_, err := roundTrip(ctx, socket, request{Op: "signal", Signal: int(sig)})
	return err
}

// Stat asks a shim for the agent's pid and the log size.
func Stat(ctx context.Context, socket string) (Status, error) {
	r, err := roundTrip(ctx, socket, request{Op: "status"})
	return r.Status, err
}

// Screen returns the agent's screen as the shim's terminal renders it, with
// the title and the modes the agent set.
func Screen(ctx context.Context, socket string) (ScreenState, error) {
	r, err := roundTrip(ctx, socket, request{Op: "screen"})
	if err != nil {
		return ScreenState{}, err
	}
	if r.Screen == nil {
		return ScreenState{}, fmt.Errorf("shim %s: no screen in the answer (an older shim?)", socket)
	}
	return *r.Screen, nil
}

// Stream is an attached connection: Read yields output from Offset on, Write
// types into the terminal. Read returns io.EOF once the agent has exited and
// everything was delivered, or when the shim dropped a client that lagged.
type Stream struct {
	net.Conn
	r      *bufio.Reader
	Offset int64
}

func (s *Stream) Read(p []byte) (int, error) { return s.r.Read(p) }

// Attach opens an output stream from offset (negative: from the end).
func Attach(ctx context.Context, socket string, offset int64) (*Stream, error) {
	c, err := dial(ctx, socket)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(encode(request{Op: "attach", Offset: offset})); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReader(c)
	line, err := br.ReadBytes('\n')
	if err != nil {
		c.Close()
		if errors.Is(err, io.EOF) {
			return nil, ErrGone
		}
		return nil, err
	}
	var r reply
	if err := json.Unmarshal(line, &r); err != nil || !r.OK {
		c.Close()
		return nil, fmt.Errorf("attach %s: %s", socket, r.Error)
	}
	return &Stream{Conn: c, r: br, Offset: r.Offset}, nil
}
