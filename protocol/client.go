package protocol

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/sourcegraph/jsonrpc2"
)

// Client is a typed connection to the daemon.
type Client struct {
	conn   *jsonrpc2.Conn
	notify func(method string, params json.RawMessage)
}

// NotifyFunc receives notifications. It runs on the read goroutine: it must
// not block or call the client.
type NotifyFunc func(method string, params json.RawMessage)

// ErrClosed reports that the connection closed before the reply came.
var ErrClosed = jsonrpc2.ErrClosed

// ErrNoDaemon reports that nothing listens on the socket.
var ErrNoDaemon = errors.New("studiod is not running")

// Dial connects to the daemon's socket.
func Dial(ctx context.Context, socket string, notify NotifyFunc) (*Client, error) {
	if len(socket) > 107 {
		return nil, fmt.Errorf("socket path %s is %d bytes, over the 107 unix sockets allow: use a shorter STUDIOD_HOME (or XDG_RUNTIME_DIR)", socket, len(socket))
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, fmt.Errorf("%w (socket %s)", ErrNoDaemon, socket)
		}
		return nil, fmt.Errorf("connect to studiod at %s: %w", socket, err)
	}
	return NewClient(nc, notify), nil
}

// NewClient speaks the protocol over an established connection.
func NewClient(nc net.Conn, notify NotifyFunc) *Client {
	c := &Client{notify: notify}
	h := jsonrpc2.HandlerWithError(func(ctx context.Context, _ *jsonrpc2.Conn, req *jsonrpc2.Request) (any, error) {
		if req.Notif && c.notify != nil {
			var p json.RawMessage
			if req.Params != nil {
				p = *req.Params
			}
			c.notify(req.Method, p)
			return nil, nil
		}
		return nil, &jsonrpc2.Error{Code: CodeMethodNotFound, Message: "client serves no requests"}
	})
	c.conn = jsonrpc2.NewConn(context.Background(), NewStream(nc), h, jsonrpc2.SetLogger(discardLogger{}))
	return c
}

// DialOrStart connects to the daemon, starting it with start when nothing
// listens, and waits up to wait for it to come up.
func DialOrStart(ctx context.Context, socket string, notify NotifyFunc, start func() error, wait time.Duration) (*Client, error) {
	c, err := Dial(ctx, socket, notify)
	if err == nil || !errors.Is(err, ErrNoDaemon) || start == nil {
		return c, err
	}
	if err := start(); err != nil {
		return nil, fmt.Errorf("start studiod: %w", err)
	}
	deadline := time.Now().Add(wait)
	for delay := 5 * time.Millisecond; ; delay = min(delay*2, 100*time.Millisecond) {
		c, err = Dial(ctx, socket, notify)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("studiod did not start within %s: %w", wait, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
	}
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Done is closed when the connection ends.
func (c *Client) Done() <-chan struct{} { return c.conn.DisconnectNotify() }

// Call sends any request; the typed methods below wrap it.
func (c *Client) Call(ctx context.Context, method string, params, result any) error {
	err := c.conn.Call(ctx, method, params, result)
	if err != nil && !errors.Is(err, ErrClosed) && lostPeer(err) {
		// The request could not be written: the daemon is gone, which a
		// client learns as for a connection closed under a reply.
		return fmt.Errorf("%w: %v", ErrClosed, err)
	}
	return fromRPC(err)
}

// lostPeer reports whether err says the other end of the connection is
// gone.
func lostPeer(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe)
}

func call[R any](ctx context.Context, c *Client, method string, params any) (*R, error) {
	var r R
	if err := c.Call(ctx, method, params, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
