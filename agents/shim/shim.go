// Package shim holds one agent's pseudo-terminal (or, in ModePipes, its
// stdio pipes) for the lifetime of the agent, independently of the daemon. The daemon starts `studiod shim` as a
// detached process (its own session); the shim starts the agent on a PTY,
// appends every byte the agent writes to the session's log, serves attach,
// input, resize and signal requests on its own unix socket, and records the
// agent's exit status in a file before it goes away. A daemon that crashed or
// restarted finds live shims by their sockets and finished ones by their exit
// files, so no agent and no output byte is lost.
//
// The shim is also the agent's terminal (term.go): a VT emulator renders the
// output, so the screen, the title and the modes the agent set survive a
// daemon restart (the screen op, and the last words in the exit file); it
// answers the agent's terminal queries whether or not anyone is attached, and
// drops the answers of attached clients' own terminals (replies.go).
//
// Run is the shim process's main; Client is how the daemon and the CLI talk
// to it. The shim's goroutines are owned by Run and end with it.
package shim

import (
	"encoding/json"
	"time"
)

// Spec is what the daemon asks a shim to run. It is written as JSON to the
// session directory and passed by path.
type Spec struct {
	Argv []string `json:"argv"`
	Dir  string   `json:"dir"`
	Env  []string `json:"env"` // full environment of the agent
	Rows int      `json:"rows"`
	Cols int      `json:"cols"`
	// Log receives every output byte, appended (see log.go).
	Log string `json:"log"`
	// LogLimit caps the bytes the log keeps: older output is rotated out.
	// 0 keeps everything.
	LogLimit int64 `json:"logLimit,omitempty"`
	// Socket is where the shim listens.
	Socket string `json:"socket"`
	// Exit is where the shim writes the agent's Exit status.
	Exit string `json:"exit"`
	// Mode is "" for a terminal, or ModePipes.
	Mode string `json:"mode,omitempty"`
}

// Exit is the agent's exit status as recorded by the shim.
type Exit struct {
	Code   int       `json:"code"`   // -1 when killed by a signal
	Signal string    `json:"signal"` // signal name, if killed by one
	At     time.Time `json:"at"`
	Size   int64     `json:"size"` // final log size (offset after the last byte)
	// Last holds the last rows of the screen that were not blank when the
	// agent exited: its last words, such as why it gave up.
	Last []string `json:"last,omitempty"`
}

// request is the first line a client sends on a new connection.
type request struct {
	Op     string `json:"op"` // attach, input, resize, signal, status, screen
	Offset int64  `json:"offset,omitempty"`
	Data   []byte `json:"data,omitempty"`
	Rows   int    `json:"rows,omitempty"`
	Cols   int    `json:"cols,omitempty"`
	Signal int    `json:"signal,omitempty"`
}

// Status is the shim's answer to a status request.
type Status struct {
	PID  int   `json:"pid"`
	Size int64 `json:"size"` // offset after the last byte logged
}

type reply struct {
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
	Status Status `json:"status"`
	// Offset is where an attach stream starts.
	Offset int64 `json:"offset"`
	// Screen answers a screen request.
	Screen *ScreenState `json:"screen,omitempty"`
}

func encode(v any) []byte {
	b, _ := json.Marshal(v)
	return append(b, '\n')
}
