// Package fsmonitor is git's fsmonitor hook (protocol version 2) as a
// client of the daemon: git runs it in a worktree with the protocol version
// and its last token, and reads back a new token and the paths changed
// since, NUL-separated. The daemon answers from its file watcher
// (studio/fsmonitor). The hook never starts a daemon, and whatever goes
// wrong it answers "/" (every path may have changed), so git looks at
// everything itself: slower, never wrong.
//
// It imports protocol only, so that the small studiod-fsmonitor binary
// that git runs at every status starts in a few milliseconds.
package fsmonitor

import (
	"bufio"
	"context"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/studiod/studiod/protocol"
)

// Main is the hook's command line: `--socket SOCKET VERSION TOKEN`. It
// answers on stdout and returns the exit status.
func Main(args []string) int {
	socket := ""
	if len(args) >= 2 && args[0] == "--socket" {
		socket, args = args[1], args[2:]
	}
	return Run(context.Background(), socket, args, os.Stdout)
}

// Run answers one query from git: args are the protocol version and the
// token. It returns the exit status: 1 for a protocol version other than 2
// (git then scans everything itself), else 0.
func Run(ctx context.Context, socket string, args []string, w io.Writer) int {
	if len(args) != 2 || args[0] != "2" {
		return 1
	}
	res := query(ctx, socket, args[1])
	out := bufio.NewWriter(w)
	out.WriteString(res.Token)
	out.WriteByte(0)
	if res.Full {
		out.WriteString("/")
		out.WriteByte(0)
	} else {
		for _, p := range res.Paths {
			out.WriteString(p)
			out.WriteByte(0)
		}
	}
	if out.Flush() != nil {
		return 1
	}
	return 0
}

// query asks the daemon about the working directory, the worktree git runs
// the hook in; any failure is a full answer with a token no daemon knows,
// so that the next question gets a full answer too.
func query(ctx context.Context, socket, token string) *protocol.FsmonitorResult {
	down := &protocol.FsmonitorResult{Token: "studiod:down:" + strconv.FormatInt(time.Now().UnixNano(), 10), Full: true}
	dir, err := os.Getwd()
	if err != nil || socket == "" {
		return down
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := protocol.Dial(ctx, socket, nil)
	if err != nil {
		return down
	}
	defer c.Close()
	res, err := c.Fsmonitor(ctx, protocol.FsmonitorParams{Worktree: dir, Token: token})
	if err != nil || res.Token == "" {
		return down
	}
	return res
}
