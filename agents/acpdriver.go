package agents

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/vocab"
)

// shimWriter takes the SDK's messages to the shim's input op, whole lines
// at a time.
type shimWriter struct {
	ctx  context.Context
	proc host.Proc

	// mu guards buf and closed.
	mu     sync.Mutex
	buf    []byte
	closed bool
}

func (w *shimWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, errWriterClosed
	}
	w.buf = append(w.buf, p...)
	i := bytes.LastIndexByte(w.buf, '\n')
	if i < 0 {
		return len(p), nil
	}
	msg := w.buf[:i+1]
	w.buf = append([]byte(nil), w.buf[i+1:]...)
	if err := w.proc.Input(w.ctx, msg); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *shimWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// runACP follows an ACP session: it rebuilds the state from the log when
// the daemon picks up a running agent, then reads the shim's stream,
// records each message's effect and passes the agent's messages to the SDK,
// until the agent exits.
func (sv *supervisor) runACP(ctx context.Context) {
	d := sv.acp
	offset := sv.from
	if offset < 0 {
		st, err := sv.proc.Status(ctx)
		if err == nil {
			s, _ := sv.m.Lookup(Ref{Session: sv.id})
			if err := d.replay(sv.proc, st.Size); err != nil {
				d.log.Warn("replay the session log", "err", err)
			}
			offset = st.Size
			// The terminals of a daemon that died are unknown to this
			// one: what they still run ends.
			if n := host.SweepMarked(termSessionMark(sv.id)); n > 0 {
				d.log.Warn("ended the commands an earlier daemon ran for the agent", "processes", n)
			}
			d.reopen(ctx, s)
		} else {
			offset = 0
		}
	}
	defer d.close()
	d.publish()
	sv.m.wg.Go(d.resumeOpen)
	sv.m.wg.Go(func() { d.runTurns(ctx) })
	sv.follow(ctx, offset, func(r io.Reader) (read int64) {
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			// A line cut short is read again from its start next time.
			line, err := br.ReadBytes('\n')
			if len(line) > 0 && line[len(line)-1] == '\n' {
				read += int64(len(line))
				d.record(line, true)
				sv.touch()
			}
			if err != nil {
				return read
			}
		}
	}, func() {
		d.close()
		sv.finish(ctx)
	})
}

// touch schedules a refresh of the session's change stats.
func (sv *supervisor) touch() {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if sv.changes == nil {
		sv.changes = time.AfterFunc(700*time.Millisecond, func() { sv.m.refreshChanges(sv.m.ctx, sv.id) })
	} else {
		sv.changes.Reset(700 * time.Millisecond)
	}
}

// reopen finishes what a daemon that stopped in the middle of a spawn left
// undone, once the log is replayed: a live agent with no session open gets
// one, and the spawn's prompt is sent when its first process never got a
// prompt. An agent whose session cannot be opened is ended, saying why.
func (d *acpConn) reopen(ctx context.Context, s Session) {
	d.mu.Lock()
	open := d.st.sessionID == "" && d.st.fatal == "" && !d.st.authNeeded && !d.st.exited
	resend := d.st.prompts == 0 && d.st.starts == 1 && s.Prompt != ""
	d.mu.Unlock()
	if resend {
		d.enqueue(s.Prompt)
	}
	if !open {
		return
	}
	d.log.Info("the daemon stopped before the ACP session was open: opening it")
	d.m.wg.Go(func() {
		octx, cancel := context.WithTimeout(ctx, acpOpenTimeout)
		defer cancel()
		err := d.open(octx, "", func(string) {})
		if err == nil || ctx.Err() != nil {
			return
		}
		d.mu.Lock()
		authNeeded := d.st.authNeeded
		if !authNeeded {
			d.st.fatal = "the daemon stopped while the agent was starting, and its ACP session could not be opened again: " + err.Error()
		}
		d.mu.Unlock()
		if !authNeeded {
			d.log.Warn("open the ACP session after a restart", "err", err)
			d.proc.Signal(ctx, syscall.SIGTERM)
		}
	})
}

// readACPState rebuilds a session's ACP state from its whole log.
func readACPState(p host.Proc, s Session) *acpState {
	d := &acpConn{st: newACPState(s.Worktree), changed: make(chan struct{}), log: slog.New(slog.DiscardHandler)}
	d.replay(p, math.MaxInt64)
	return d.st
}

// send sends text as a new prompt turn, queued behind a running one;
// to an exited agent that can load its conversation, it starts the agent
// again on it first.
func (drv acpDriver) send(ctx context.Context, s Session, text string, submit bool) (Session, Delivery, error) {
	m := drv.m
	if !submit {
		return s, Delivery{}, invalidf("session %s speaks ACP: text goes as a whole prompt, drop --no-enter", s.Name)
	}
	if strings.TrimSpace(text) == "" {
		return s, Delivery{}, invalidf("empty prompt")
	}
	if !live(s.State) {
		d, err := drv.resume(ctx, s, text)
		if err != nil {
			return s, d, err
		}
		s, err = m.Lookup(Ref{Session: s.ID})
		return s, d, err
	}
	sv := m.supervisorOf(s.ID)
	if sv == nil || sv.acp == nil {
		return s, Delivery{}, fmt.Errorf("session %s: no ACP connection to its agent yet: try again in a moment", s.Name)
	}
	d := sv.acp.prompt(ctx, text)
	s, err := m.Lookup(Ref{Session: s.ID})
	return s, d, err
}

// resume starts an exited ACP agent again, loads the session's
// conversation (session/load, or session/resume, whichever the agent
// advertised) and sends text as its next prompt.
func (drv acpDriver) resume(ctx context.Context, s Session, text string) (Delivery, error) {
	m := drv.m
	if !active(s.State) {
		return Delivery{}, invalidf("session %s is %s: there is no agent to continue", s.Name, s.State)
	}
	if !m.hasWorktree(ctx, s) {
		return Delivery{}, invalidf("session %s has no worktree any more", s.Name)
	}
	caps := readACPState(m.proc(s.ID), s).caps()
	if !caps.LoadSession && caps.SessionCapabilities.Resume == nil {
		return Delivery{}, invalidf("session %s has exited, and agent %q advertised neither session/load nor session/resume: its conversation cannot be continued; spawn a new session", s.Name, s.Agent)
	}
	if s.Conversation == "" {
		return Delivery{}, invalidf("session %s has no ACP session id recorded: spawn a new session", s.Name)
	}
	cfg, rc, err := m.effectiveConfig(ctx, s.Repo)
	if err != nil {
		return Delivery{}, err
	}
	if !rc.Trusted {
		return Delivery{}, &Problem{Kind: ErrUntrusted, What: rc.Path + " changed since it was trusted", Repo: s.Repo, Path: rc.Path, Fix: FixTrust}
	}
	p := cfg.Agents[s.Agent]
	if s.LogLimit, err = ParseSize(cfg.Defaults.LogLimit); err != nil {
		return Delivery{}, invalidf("log_limit: %v", err)
	}
	proc := m.proc(s.ID)
	var from int64
	if r, err := proc.OpenLog(); err == nil {
		from = r.End()
		r.Close()
	}
	proc.ClearExit()
	pid, err := m.start(ctx, &s, m.agentEnv(&s, p), 0, 0)
	if err != nil {
		return Delivery{}, fmt.Errorf("resume %s: %w", s.Name, err)
	}
	started, err := m.update(s.ID, func(r *Session) bool {
		r.PID, r.State, r.Detail, r.ExitCode = pid, Starting, "", nil
		return true
	})
	if err != nil {
		return Delivery{}, err
	}
	sv := m.superviseFrom(started, p, false, from)
	m.conf.track(ctx, started)
	before, _ := sv.acp.enqueue(text)
	octx, cancel := context.WithTimeout(ctx, acpOpenTimeout)
	err = sv.acp.open(octx, s.Conversation, func(string) {})
	cancel()
	if err != nil {
		proc.Signal(ctx, syscall.SIGKILL)
		return Delivery{}, fmt.Errorf("resume %s: %w", s.Name, err)
	}
	return sv.acp.confirm(ctx, before, Delivery{Via: "resume"}), nil
}

// acpDriver drives an agent over the Agent Client Protocol on its pipes:
// prompts, permissions and the agent's state are protocol messages, kept
// by the session's acpConn.
type acpDriver struct{ m *Manager }

func (acpDriver) mode() host.Mode { return host.Pipes }

// command is the profile's command as it is: the prompt goes as
// session/prompt.
func (acpDriver) command(p Profile, prompt string) ([]string, string) {
	return append([]string(nil), p.Command...), ""
}

func (acpDriver) typed(prompt string) string { return "" }

// startedState keeps the session starting: an ACP session is working
// once it has a prompt.
func (acpDriver) startedState() vocab.State { return "" }

func (drv acpDriver) begin(ctx context.Context, sv *supervisor, s Session, prompt, typed string, progress Progress) (Session, string, error) {
	if prompt != "" {
		sv.acp.enqueue(prompt)
	}
	octx, cancel := context.WithTimeout(ctx, acpOpenTimeout)
	err := sv.acp.open(octx, "", progress)
	cancel()
	if err != nil {
		return s, "open the ACP session", err
	}
	s, err = drv.m.Lookup(Ref{Session: s.ID})
	return s, "", err
}

func (drv acpDriver) supervise(sv *supervisor, s Session, p Profile) {
	sv.acp = newACPConn(drv.m, s, p)
	// Connected before anyone can call it; fed once the stream runs.
	sv.acp.connect(drv.m.ctx)
}

func (acpDriver) follow(ctx context.Context, sv *supervisor) { sv.runACP(ctx) }

func (drv acpDriver) exited(sv *supervisor, s Session, p Profile) {
	sv.acp = newACPConn(drv.m, s, p)
	sv.acp.st = readACPState(sv.proc, s)
}

func (acpDriver) ending(sv *supervisor) (string, bool) {
	return sv.acp.exitNote(), sv.acp.opened()
}

// resize does nothing: the agent has no terminal to size.
func (acpDriver) resize(ctx context.Context, s Session, rows, cols int) error { return nil }

// interrupt ends the turn as the protocol says, before the process ends.
func (acpDriver) interrupt(ctx context.Context, sv *supervisor) { sv.acp.cancel(ctx) }

// cancel sends session/cancel; the agent's open permission requests are
// answered as cancelled, as the protocol asks.
func (drv acpDriver) cancel(ctx context.Context, s Session) (Session, error) {
	sv := drv.m.supervisorOf(s.ID)
	if sv == nil || sv.acp == nil {
		return s, invalidf("session %s: no ACP connection to its agent yet: try again in a moment", s.Name)
	}
	sv.acp.cancel(ctx)
	return drv.m.Lookup(Ref{Session: s.ID})
}

// signIn: an ACP agent signs in as the CLI it runs or wraps does; its
// state comes from the protocol.
func (acpDriver) signIn(name string, p Profile) (hooks, program, state string) {
	program = filepath.Base(p.Command[0])
	hooks = map[string]string{"claude-agent-acp": HooksClaude, "codex-acp": HooksCodex, "gemini": HooksGemini}[program]
	return hooks, program, "acp"
}
