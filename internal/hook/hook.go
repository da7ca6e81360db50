// Package hook is what an agent runs at each of its lifecycle hooks (Claude
// Code's, Codex's, Gemini CLI's): it passes the hook's payload to the
// daemon (studio/hook) and prints what the agent should read, such as the
// gate's word before a write. It never starts a daemon and never fails the
// agent: when the daemon cannot be reached or does not answer in time it
// prints nothing, and notes why in the session's hooks log.
//
// It imports protocol and home only, so that the small studiod-hook binary,
// which an agent runs at every tool call, starts in a few milliseconds.
package hook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/studiod/studiod/internal/home"
	"github.com/studiod/studiod/protocol"
)

// Timeout bounds a hook's call: an agent waits for its hooks.
const Timeout = 5 * time.Second

// ErrPayload reports a payload that is not JSON.
var ErrPayload = errors.New("the hook payload is not JSON")

// MaxString bounds each string of a payload passed to the daemon: what it
// reads from a payload (a tool's name and path, an edit's old text, a
// prompt to recognise) fits, while the content of a large Write does not
// travel. A longer string is cut to its first MaxString bytes.
const MaxString = 256 << 10

// Payload is an agent hook's payload: the arguments (Codex's notify
// program gets it as one), or else stdin, read as a stream whatever its
// size, with strings over MaxString cut.
func Payload(args []string, stdin io.Reader) (json.RawMessage, error) {
	if len(args) > 0 {
		stdin = strings.NewReader(strings.Join(args, " "))
	}
	return compact(stdin)
}

// compact reads one JSON value from r token by token and writes it again
// with each string cut to MaxString bytes.
func compact(r io.Reader) (json.RawMessage, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var out bytes.Buffer
	type frame struct {
		obj bool
		n   int // tokens written in it: keys and values alike
	}
	var stack []frame
	sep := func() {
		if len(stack) == 0 {
			return
		}
		f := &stack[len(stack)-1]
		switch {
		case f.obj && f.n%2 == 1:
			out.WriteByte(':')
		case f.n > 0:
			out.WriteByte(',')
		}
		f.n++
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) && out.Len() == 0 {
				return nil, fmt.Errorf("%w: it is empty", ErrPayload)
			}
			return nil, fmt.Errorf("%w: %v", ErrPayload, err)
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				sep()
				stack = append(stack, frame{obj: v == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
			out.WriteByte(byte(v))
		case string:
			sep()
			b, _ := json.Marshal(cut(v, MaxString))
			out.Write(b)
		case json.Number:
			sep()
			out.WriteString(v.String())
		case bool:
			sep()
			out.WriteString(strconv.FormatBool(v))
		case nil:
			sep()
			out.WriteString("null")
		}
		if len(stack) == 0 {
			return json.RawMessage(out.Bytes()), nil
		}
	}
}

// cut shortens s to at most n bytes, on a character boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Socket is the daemon's socket: $STUDIOD_SOCKET, which studiod sets in
// its agents' environment, else the user's.
func Socket() string {
	if s := os.Getenv("STUDIOD_SOCKET"); s != "" {
		return s
	}
	return home.Resolve().Socket()
}

// Call passes p to the daemon at socket. It returns nil when the daemon
// cannot be reached or refuses, having noted why in the hooks log: the
// agent goes on unchecked.
func Call(ctx context.Context, socket string, p protocol.HookParams) *protocol.HookResult {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	c, err := protocol.Dial(ctx, socket, nil)
	if err != nil {
		Note("studiod unreachable: %v; the agent went on unchecked", err)
		return nil
	}
	defer c.Close()
	r, err := c.Hook(ctx, p)
	if err != nil {
		Note("%v; the agent went on unchecked", err)
		return nil
	}
	return r
}

// Note appends a line to the session's hooks log
// ($STUDIO_SESSION_DIR/hooks.log, which `studiod show` points at), so the
// person learns that an agent went on unchecked.
func Note(format string, args ...any) {
	dir := os.Getenv("STUDIO_SESSION_DIR")
	if dir == "" {
		return
	}
	f, err := os.OpenFile(filepath.Join(dir, "hooks.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s hook: %s\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

// Main is the studiod-hook command line, `--agent KIND [PAYLOAD]`, the
// session from $STUDIO_SESSION_ID and its secret, without which the daemon
// refuses the report, from $STUDIO_SESSION_TOKEN. It prints what the agent
// should read and returns the exit status: 2 for a command line no agent
// would run, else 0. A payload it cannot read, like a daemon it cannot
// reach, lets the agent go on (an agent takes exit 2 for "block the tool"),
// noted in the hooks log: only the daemon's decision, printed, stops a tool.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "--agent" || args[1] == "" {
		fmt.Fprintln(stderr, "usage: studiod-hook --agent claude|codex|codex-notify|gemini [PAYLOAD]")
		return 2
	}
	session := os.Getenv("STUDIO_SESSION_ID")
	if session == "" {
		fmt.Fprintln(stderr, "studiod-hook: no STUDIO_SESSION_ID in the environment: agents run it under studiod")
		return 0
	}
	payload, err := Payload(args[2:], stdin)
	if err != nil {
		Note("%v; the agent went on unchecked", err)
		fmt.Fprintf(stderr, "studiod-hook: %v\n", err)
		return 0
	}
	r := Call(context.Background(), Socket(), protocol.HookParams{
		SessionRef: protocol.SessionRef{Session: session}, Agent: args[1], Payload: payload,
		Token: os.Getenv("STUDIO_SESSION_TOKEN")})
	if r != nil && len(r.Output) > 0 {
		stdout.Write(append(r.Output, '\n'))
	}
	return 0
}
