package protocol

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	return fromRPC(c.conn.Call(ctx, method, params, result))
}

func call[R any](ctx context.Context, c *Client, method string, params any) (*R, error) {
	var r R
	if err := c.Call(ctx, method, params, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

var _ API = (*Client)(nil)

func (c *Client) Hello(ctx context.Context, p HelloParams) (*HelloResult, error) {
	return call[HelloResult](ctx, c, MethodHello, p)
}

func (c *Client) Spawn(ctx context.Context, p SpawnParams) (*Session, error) {
	return call[Session](ctx, c, MethodSpawn, p)
}

func (c *Client) Sessions(ctx context.Context, p SessionsParams) (*SessionsResult, error) {
	return call[SessionsResult](ctx, c, MethodSessions, p)
}

func (c *Client) Session(ctx context.Context, p SessionRef) (*Session, error) {
	return call[Session](ctx, c, MethodSession, p)
}

func (c *Client) Send(ctx context.Context, p SendParams) (*SendResult, error) {
	return call[SendResult](ctx, c, MethodSend, p)
}

func (c *Client) Answer(ctx context.Context, p AnswerParams) (*AnswerResult, error) {
	return call[AnswerResult](ctx, c, MethodAnswer, p)
}

func (c *Client) Output(ctx context.Context, p OutputParams) (*OutputResult, error) {
	return call[OutputResult](ctx, c, MethodOutput, p)
}

func (c *Client) Resize(ctx context.Context, p ResizeParams) (*Session, error) {
	return call[Session](ctx, c, MethodResize, p)
}

func (c *Client) Stop(ctx context.Context, p StopParams) (*Session, error) {
	return call[Session](ctx, c, MethodStop, p)
}

func (c *Client) Remove(ctx context.Context, p RemoveParams) (*RemoveResult, error) {
	return call[RemoveResult](ctx, c, MethodRemove, p)
}

func (c *Client) Hook(ctx context.Context, p HookParams) (*HookResult, error) {
	return call[HookResult](ctx, c, MethodHook, p)
}

func (c *Client) Diff(ctx context.Context, p DiffParams) (*DiffResult, error) {
	return call[DiffResult](ctx, c, MethodDiff, p)
}

func (c *Client) File(ctx context.Context, p FileParams) (*FileResult, error) {
	return call[FileResult](ctx, c, MethodFile, p)
}

func (c *Client) Comment(ctx context.Context, p CommentParams) (*Comment, error) {
	return call[Comment](ctx, c, MethodComment, p)
}

func (c *Client) Comments(ctx context.Context, p SessionRef) (*CommentsResult, error) {
	return call[CommentsResult](ctx, c, MethodComments, p)
}

func (c *Client) Feedback(ctx context.Context, p SessionRef) (*FeedbackResult, error) {
	return call[FeedbackResult](ctx, c, MethodFeedback, p)
}

func (c *Client) Conflicts(ctx context.Context, p ConflictsParams) (*ConflictsResult, error) {
	return call[ConflictsResult](ctx, c, MethodConflicts, p)
}

func (c *Client) Who(ctx context.Context, p WhoParams) (*WhoResult, error) {
	return call[WhoResult](ctx, c, MethodWho, p)
}

func (c *Client) Note(ctx context.Context, p NoteParams) (*Session, error) {
	return call[Session](ctx, c, MethodNote, p)
}

func (c *Client) Merge(ctx context.Context, p MergeParams) (*MergeResult, error) {
	return call[MergeResult](ctx, c, MethodMerge, p)
}

func (c *Client) Undo(ctx context.Context, p SessionRef) (*UndoResult, error) {
	return call[UndoResult](ctx, c, MethodUndo, p)
}

func (c *Client) Subscribe(ctx context.Context, p SubscribeParams) (*Empty, error) {
	return call[Empty](ctx, c, MethodSubscribe, p)
}

func (c *Client) Status(ctx context.Context, p Empty) (*StatusResult, error) {
	return call[StatusResult](ctx, c, MethodStatus, p)
}

func (c *Client) Trust(ctx context.Context, p TrustParams) (*TrustResult, error) {
	return call[TrustResult](ctx, c, MethodTrust, p)
}

func (c *Client) Pool(ctx context.Context, p PoolParams) (*PoolResult, error) {
	return call[PoolResult](ctx, c, MethodPool, p)
}

func (c *Client) Fsmonitor(ctx context.Context, p FsmonitorParams) (*FsmonitorResult, error) {
	return call[FsmonitorResult](ctx, c, MethodFsmonitor, p)
}

func (c *Client) PlanCheck(ctx context.Context, p PlanCheckParams) (*PlanReport, error) {
	return call[PlanReport](ctx, c, MethodPlanCheck, p)
}

func (c *Client) PlanRun(ctx context.Context, p PlanRunParams) (*Plan, error) {
	return call[Plan](ctx, c, MethodPlanRun, p)
}

func (c *Client) Plans(ctx context.Context, p PlansParams) (*PlansResult, error) {
	return call[PlansResult](ctx, c, MethodPlans, p)
}

func (c *Client) PlanCancel(ctx context.Context, p PlanCancelParams) (*Plan, error) {
	return call[Plan](ctx, c, MethodPlanCancel, p)
}

func (c *Client) ReviewBy(ctx context.Context, p ReviewByParams) (*Session, error) {
	return call[Session](ctx, c, MethodReviewBy, p)
}

func (c *Client) Shutdown(ctx context.Context, p Empty) (*Empty, error) {
	return call[Empty](ctx, c, MethodShutdown, p)
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
