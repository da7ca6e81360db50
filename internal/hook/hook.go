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
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/studiod/studiod/internal/home"
	"github.com/studiod/studiod/protocol"
)

// Timeout bounds a hook's call: an agent waits for its hooks.
const Timeout = 5 * time.Second

// ErrPayload reports a payload that is not JSON.
var ErrPayload = errors.New("the hook payload is not JSON")

// Payload is an agent hook's payload: the arguments (Codex's notify
// program gets it as one), or else stdin, at most 4 MiB.
func Payload(args []string, stdin io.Reader) (json.RawMessage, error) {
	var b []byte
	if len(args) > 0 {
		b = []byte(strings.Join(args, " "))
	} else {
		var err error
		b, err = io.ReadAll(io.LimitReader(stdin, 4<<20))
		if err != nil {
			return nil, fmt.Errorf("read the hook payload: %w", err)
		}
	}
	if !json.Valid(b) {
		return nil, ErrPayload
	}
	return json.RawMessage(b), nil
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
// refuses the report, from $STUDIO_SESSION_TOKEN. It prints what the agent should read and
// returns the exit status: 2 for a wrong command line or payload, else 0.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "--agent" || args[1] == "" {
		fmt.Fprintln(stderr, "usage: studiod-hook --agent claude|codex|codex-notify|gemini [PAYLOAD]")
		return 2
	}
	session := os.Getenv("STUDIO_SESSION_ID")
	if session == "" {
		fmt.Fprintln(stderr, "studiod-hook: no STUDIO_SESSION_ID in the environment: agents run it under studiod")
		return 2
	}
	payload, err := Payload(args[2:], stdin)
	if err != nil {
		fmt.Fprintf(stderr, "studiod-hook: %v\n", err)
		return 2
	}
	r := Call(context.Background(), Socket(), protocol.HookParams{
		SessionRef: protocol.SessionRef{Session: session}, Agent: args[1], Payload: payload,
		Token: os.Getenv("STUDIO_SESSION_TOKEN")})
	if r != nil && len(r.Output) > 0 {
		stdout.Write(append(r.Output, '\n'))
	}
	return 0
}
