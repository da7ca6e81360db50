package agents

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/studiod/studiod/agents/host"
)

// lostProc stands for the process of a session whose runtime could not be
// reached: every operation fails with why.
type lostProc struct {
	id  string
	err error
}

func (p lostProc) fail() error { return fmt.Errorf("session %s: %w", p.id, p.err) }

func (p lostProc) ID() string { return p.id }
func (p lostProc) PID() int   { return 0 }
func (p lostProc) Attach(context.Context, int64) (host.Stream, error) {
	return nil, p.fail()
}
func (p lostProc) Input(context.Context, []byte) error          { return p.fail() }
func (p lostProc) Resize(context.Context, int, int) error       { return p.fail() }
func (p lostProc) Signal(context.Context, syscall.Signal) error { return p.fail() }
func (p lostProc) Status(context.Context) (host.Status, error)  { return host.Status{}, p.fail() }
func (p lostProc) Screen(context.Context) (host.Screen, error)  { return host.Screen{}, p.fail() }
func (p lostProc) WaitGone(time.Duration)                       {}
func (p lostProc) Exit() (*host.Exit, error)                    { return nil, p.fail() }
func (p lostProc) ClearExit() error                             { return p.fail() }
func (p lostProc) OpenLog() (host.Log, error)                   { return nil, p.fail() }
func (p lostProc) Head() []byte                                 { return nil }
func (p lostProc) RemoveLog() error                             { return p.fail() }
func (p lostProc) Sweep() int                                   { return 0 }
func (p lostProc) Endpoints() host.Endpoints                    { return host.Endpoints{} }
