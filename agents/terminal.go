package agents

import (
	"context"
	"fmt"
	"time"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/vocab"
)

// terminalDriver drives an agent through its terminal: messages and
// answers are typed, its state comes from its hooks and from the screen
// its shim renders (supervise.go, hooks.go, prompts.go, deliver.go).
type terminalDriver struct{ m *Manager }

func (terminalDriver) mode() host.Mode { return host.Terminal }

func (terminalDriver) command(p Profile, prompt string) ([]string, string) {
	return expand(p.Command, "{prompt}", prompt)
}

func (terminalDriver) typed(prompt string) string { return prompt }

func (terminalDriver) startedState() vocab.State { return Working }

func (drv terminalDriver) begin(ctx context.Context, sv *supervisor, s Session, prompt, typed string, progress Progress) (Session, string, error) {
	if typed != "" {
		// Agents whose command has no place for the prompt get it typed,
		// once they have had a moment to draw their input box.
		drv.m.wg.Go(func() {
			select {
			case <-time.After(300 * time.Millisecond):
			case <-drv.m.ctx.Done():
				return
			}
			sv.proc.Input(drv.m.ctx, []byte(typed+"\r"))
		})
	}
	return s, "", nil
}

// supervise: an agent given a prompt as it starts is working until its
// screen shows the prompt taken, when its kind has a mark for that: the
// silence of an agent still starting is not the silence of one done.
// opencode's usage is read from its database each time its screen is.
func (terminalDriver) supervise(sv *supervisor, s Session, p Profile) {
	sv.usageDB = opencodeUsageDB(s, p)
	if _, marked := showsTaken(p.Screen, nil); marked && s.Prompt != "" && s.State == Working {
		sv.untaken = true
	}
}

func (terminalDriver) follow(ctx context.Context, sv *supervisor) {
	if !sv.fresh {
		// Taken back after a restart while working: an agent that says
		// nothing more is idle after the idle time, its screen looked at
		// as usual (no output may come to start the timers).
		if s, err := sv.m.Lookup(Ref{Session: sv.id}); err == nil && s.State == Working {
			sv.poke()
		}
	}
	sv.run(ctx)
}

func (terminalDriver) exited(sv *supervisor, s Session, p Profile) {}

func (terminalDriver) ending(sv *supervisor) (string, bool) { return "", false }

func (drv terminalDriver) resume(ctx context.Context, s Session, message string) (Delivery, error) {
	if err := drv.relaunch(ctx, s, message); err != nil {
		return Delivery{}, err
	}
	return Delivery{Via: "resume", Note: "the agent was started again on its conversation with the message as its prompt"}, nil
}

func (drv terminalDriver) resize(ctx context.Context, s Session, rows, cols int) error {
	return drv.m.proc(s.ID).Resize(ctx, rows, cols)
}

func (terminalDriver) interrupt(ctx context.Context, sv *supervisor) {}

// cancel types Escape, which stops the turn of every agent studiod knows.
func (drv terminalDriver) cancel(ctx context.Context, s Session) (Session, error) {
	if s.State != Working && s.State != Waiting {
		return s, nil
	}
	if err := drv.m.proc(s.ID).Input(ctx, []byte("\x1b")); err != nil {
		return s, fmt.Errorf("cancel %s: %w", s.Name, err)
	}
	return drv.m.Lookup(Ref{Session: s.ID})
}

// signIn: a terminal agent is the CLI itself, its state from its hooks.
func (terminalDriver) signIn(name string, p Profile) (hooks, program, state string) {
	return p.Hooks, name, ""
}
