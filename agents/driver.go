package agents

import (
	"context"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/vocab"
)

// driver is how the sessions of one protocol are driven: how their agent
// is started, told things, answered and stopped, and where their state
// comes from. terminalDriver types into the agent's terminal and reads its
// hooks and its rendered screen; acpDriver speaks the Agent Client Protocol
// over the agent's pipes. The rest of the Manager does not tell them apart.
type driver interface {
	// mode is how the agent's process is connected.
	mode() host.Mode
	// command is profile p's argv for a spawn with prompt, and the text
	// to type once the agent runs.
	command(p Profile, prompt string) (argv []string, typed string)
	// typed is what to type into an agent started with an explicit
	// command.
	typed(prompt string) string
	// startedState is the state of a session whose agent has just
	// started; "" keeps the state it has.
	startedState() vocab.State
	// begin runs once a spawned agent is supervised: it gives the agent
	// its prompt. step says what failed.
	begin(ctx context.Context, sv *supervisor, s Session, prompt, typed string, progress Progress) (_ Session, step string, err error)

	// supervise readies sv to follow s's agent, before follow runs.
	supervise(sv *supervisor, s Session, p Profile)
	// follow follows the agent until it is gone, and records its end.
	follow(ctx context.Context, sv *supervisor)
	// exited readies sv to record the end of an agent that exited while
	// no daemon watched it.
	exited(sv *supervisor, s Session, p Profile)
	// ending says, for an agent that has exited, a note for the record
	// (or "") and whether it got far enough that an early exit is not a
	// failed spawn.
	ending(sv *supervisor) (note string, opened bool)

	// send gives the running (or, if the driver can, exited) agent a
	// message; submit sends it as a prompt.
	send(ctx context.Context, s Session, text string, submit bool) (Session, Delivery, error)
	// answer answers what the waiting session asks.
	answer(ctx context.Context, s Session, ask Ask, answer, text, by string) (Session, Delivery, error)
	// resume starts an exited agent again on its conversation, with
	// message as its prompt.
	resume(ctx context.Context, s Session, message string) (Delivery, error)
	// resize sizes the agent's terminal, if it has one.
	resize(ctx context.Context, s Session, rows, cols int) error
	// interrupt asks a running agent to end its turn, before it is sent
	// SIGTERM.
	interrupt(ctx context.Context, sv *supervisor)
	// cancel ends the running turn of a live session's agent and leaves
	// the agent running.
	cancel(ctx context.Context, s Session) (Session, error)

	// signIn says, for doctor, whose sign-in an agent of profile p (named
	// name) uses: the hooks kind and the program of the CLI it is or
	// wraps; state, when not empty, is where its state comes from.
	signIn(name string, p Profile) (hooks, program, state string)
}

// driverFor is the driver of sessions speaking protocol: the one place the
// two are told apart.
func (m *Manager) driverFor(protocol string) driver { return newDriver(m, protocol) }

func (m *Manager) driverOf(s Session) driver { return m.driverFor(s.Protocol) }

// newDriver is protocol's driver over m; a nil m serves only what needs
// no sessions (signIn).
func newDriver(m *Manager, protocol string) driver {
	if protocol == ProtocolACP {
		return acpDriver{m}
	}
	return terminalDriver{m}
}
