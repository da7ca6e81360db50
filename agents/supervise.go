package agents

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/studiod/studiod/agents/shim"
	"github.com/studiod/studiod/workspace"
)

// supervisor follows one live agent: it reads the terminal stream for
// activity, runs the status detection and records the exit.
type supervisor struct {
	m         *Manager
	id        string
	name      string
	socket    string
	patterns  []*regexp.Regexp
	idleAfter time.Duration
	started   time.Time
	fresh     bool // spawned by this daemon just now: an early failure rolls back
	done      chan struct{}

	// mu guards the fields below.
	mu      sync.Mutex
	hooked  bool   // the agent reports its own state; activity no longer decides
	stopReq bool   // an exit now means "stopped"
	tail    []byte // last output, for prompt patterns
	idle    *time.Timer
	changes *time.Timer
}

func (m *Manager) supervise(s Session, p Profile, fresh bool) {
	sv := &supervisor{
		m: m, id: s.ID, name: s.Name, socket: s.Socket, started: time.Now(), fresh: fresh,
		idleAfter: m.opts.IdleAfter, done: make(chan struct{}),
	}
	if p.IdleAfter.Duration > 0 {
		sv.idleAfter = p.IdleAfter.Duration
	}
	for _, pat := range p.Waiting {
		if re, err := regexp.Compile(pat); err == nil {
			sv.patterns = append(sv.patterns, re)
		} else {
			m.log.Warn("bad waiting pattern", "agent", s.Agent, "pattern", pat, "err", err)
		}
	}
	m.mu.Lock()
	m.sups[s.ID] = sv
	m.mu.Unlock()
	m.wg.Go(func() {
		defer close(sv.done)
		sv.run(m.ctx)
	})
}

func (m *Manager) supervisorOf(id string) *supervisor {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sups[id]
}

func (sv *supervisor) run(ctx context.Context) {
	defer func() {
		sv.mu.Lock()
		if sv.idle != nil {
			sv.idle.Stop()
		}
		if sv.changes != nil {
			sv.changes.Stop()
		}
		sv.mu.Unlock()
		sv.m.mu.Lock()
		if sv.m.sups[sv.id] == sv {
			delete(sv.m.sups, sv.id)
		}
		sv.m.mu.Unlock()
	}()
	offset := int64(-1)
	if sv.fresh {
		offset = 0
	}
	buf := make([]byte, 32<<10)
	for ctx.Err() == nil {
		st, err := shim.Attach(ctx, sv.socket, offset)
		if err != nil {
			if errors.Is(err, shim.ErrGone) {
				sv.finish(ctx)
				return
			}
			if ctx.Err() != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		stop := context.AfterFunc(ctx, func() { st.Close() })
		offset = st.Offset
		for {
			n, err := st.Read(buf)
			if n > 0 {
				offset += int64(n)
				sv.output(buf[:n])
			}
			if err != nil {
				break
			}
		}
		stop()
		st.Close()
		// The stream ends when the agent exits, or when the shim dropped
		// us for lagging: in that case reattach where we were.
		if _, err := shim.Stat(ctx, sv.socket); err != nil {
			if ctx.Err() != nil {
				return
			}
			waitGone(sv.socket, 2*time.Second)
			sv.finish(ctx)
			return
		}
	}
}

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-Z\\-_]`)

// lastLine returns the last non-blank line of terminal output, without
// escape sequences.
func lastLine(b []byte) string {
	s := ansiRE.ReplaceAllString(string(b), "")
	lines := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return ""
}

func (sv *supervisor) output(p []byte) {
	sv.mu.Lock()
	sv.tail = append(sv.tail, p...)
	if len(sv.tail) > 4096 {
		sv.tail = sv.tail[len(sv.tail)-4096:]
	}
	hooked := sv.hooked
	if sv.idle == nil {
		sv.idle = time.AfterFunc(sv.idleAfter, sv.quiet)
	} else {
		sv.idle.Reset(sv.idleAfter)
	}
	if sv.changes == nil {
		sv.changes = time.AfterFunc(700*time.Millisecond, func() { sv.m.refreshChanges(sv.m.ctx, sv.id) })
	} else {
		sv.changes.Reset(700 * time.Millisecond)
	}
	sv.mu.Unlock()
	if !hooked {
		sv.m.update(sv.id, func(s *Session) bool {
			if s.State != Idle && s.State != Waiting {
				return false
			}
			s.State, s.Detail = Working, ""
			return true
		})
	}
}

// quiet runs when the terminal has been silent for idleAfter: the agent is
// idle, or waiting when its last line looks like a question.
func (sv *supervisor) quiet() {
	sv.mu.Lock()
	hooked := sv.hooked
	line := lastLine(sv.tail)
	sv.mu.Unlock()
	if hooked {
		return
	}
	state, detail := Idle, ""
	for _, re := range sv.patterns {
		if re.MatchString(line) {
			state, detail = Waiting, line
			break
		}
	}
	sv.m.update(sv.id, func(s *Session) bool {
		if s.State != Working || (s.State == state && s.Detail == detail) {
			return false
		}
		s.State, s.Detail = state, detail
		return true
	})
}

// finish records the agent's end.
func (sv *supervisor) finish(ctx context.Context) {
	s, err := sv.m.Lookup(Ref{Session: sv.id})
	if err != nil {
		return
	}
	sv.m.refreshChanges(ctx, sv.id)
	sv.mu.Lock()
	stopReq := sv.stopReq
	tail := lastLine(sv.tail)
	sv.mu.Unlock()
	ex, err := shim.ReadExit(s.exitFile())
	if err != nil {
		sv.m.sweep(&s)
		sv.m.setState(sv.id, Failed, "agent lost: its shim ended without recording an exit status (killed?); what was left of the session was ended")
		return
	}
	code := ex.Code
	switch {
	case stopReq:
		sv.m.update(sv.id, func(s *Session) bool {
			s.State, s.Detail, s.ExitCode = Stopped, "", &code
			return true
		})
	case sv.fresh && code != 0 && ex.At.Sub(sv.started) < sv.m.opts.SpawnGrace:
		reason := fmt.Sprintf("agent exited with code %d right after starting", code)
		if tail != "" {
			reason += ": " + tail
		}
		sv.m.rollback(ctx, &s)
		sv.m.update(sv.id, func(s *Session) bool {
			s.State, s.Detail, s.ExitCode = Failed, reason, &code
			return true
		})
	default:
		detail := ""
		if ex.Signal != "" {
			detail = "killed by " + ex.Signal
		}
		sv.m.update(sv.id, func(s *Session) bool {
			s.State, s.Detail, s.ExitCode = Exited, detail, &code
			return true
		})
	}
}

// recover brings a stored session back under supervision after a restart.
func (m *Manager) recover(ctx context.Context, s Session) {
	if !live(s.State) {
		return
	}
	cfg, _, err := m.effectiveConfig(ctx, s.Repo)
	if err != nil {
		cfg = Builtin(m.opts.Self)
	}
	p := cfg.Agents[s.Agent]
	if _, err := shim.Stat(ctx, s.Socket); err == nil {
		if s.State == Starting {
			s, _ = m.setState(s.ID, Working, "")
		}
		m.supervise(s, p, false)
		return
	}
	if s.State == Starting {
		m.rollback(ctx, &s)
		m.setState(s.ID, Failed, "spawn interrupted: the daemon stopped before the agent started")
		return
	}
	// The agent finished while no daemon watched it.
	sv := &supervisor{m: m, id: s.ID, name: s.Name, socket: s.Socket, done: make(chan struct{})}
	sv.finish(ctx)
}

// Hook applies an agent's own report of its state.
func (m *Manager) Hook(ctx context.Context, ref Ref, event, message string) (Session, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return Session{}, err
	}
	var state string
	switch event {
	case "working", "busy", "start":
		state = Working
	case "waiting", "question", "permission":
		state = Waiting
	case "idle", "done", "stop":
		state = Idle
	default:
		return Session{}, invalidf("hook event %q: use working, waiting or idle", event)
	}
	if !live(s.State) {
		return s, invalidf("session %s is %s: hooks apply to running agents", s.Name, s.State)
	}
	if sv := m.supervisorOf(s.ID); sv != nil {
		sv.mu.Lock()
		sv.hooked = true
		sv.mu.Unlock()
	}
	if state != Waiting {
		message = ""
	}
	return m.update(s.ID, func(r *Session) bool {
		if r.State == state && r.Detail == message {
			return false
		}
		r.State, r.Detail = state, message
		return true
	})
}

// Send types text into the agent's terminal, with Enter when submit.
func (m *Manager) Send(ctx context.Context, ref Ref, text string, submit bool) (Session, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return Session{}, err
	}
	if !live(s.State) {
		return s, invalidf("session %s is %s: nothing runs to type into", s.Name, s.State)
	}
	data := text
	if submit {
		data += "\r"
	}
	if err := shim.Input(ctx, s.Socket, []byte(data)); err != nil {
		return s, fmt.Errorf("send to %s: %w", s.Name, err)
	}
	if submit && s.State == Waiting {
		return m.setState(s.ID, Working, "")
	}
	return s, nil
}

// Resize sets the agent terminal's size.
func (m *Manager) Resize(ctx context.Context, ref Ref, rows, cols int) (Session, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return Session{}, err
	}
	if rows <= 0 || cols <= 0 || rows > 1000 || cols > 1000 {
		return s, invalidf("terminal size %dx%d: rows and cols must be 1 to 1000", rows, cols)
	}
	if !live(s.State) {
		return s, invalidf("session %s is %s", s.Name, s.State)
	}
	return s, shim.Resize(ctx, s.Socket, rows, cols)
}

// Output reads the agent's log from offset (negative: from size+offset);
// ReadOutput says more.
func (m *Manager) Output(ref Ref, offset int64, limit int) (data []byte, start, size int64, done bool, err error) {
	o, err := m.ReadOutput(ref, offset, limit)
	return o.Data, o.Offset, o.Size, o.Done, err
}

// Stop ends the agent: SIGTERM to its process group, SIGKILL after grace
// (at once with force). It waits for the exit to be recorded.
func (m *Manager) Stop(ctx context.Context, ref Ref, force bool) (Session, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return Session{}, err
	}
	if !live(s.State) {
		return s, nil
	}
	sv := m.supervisorOf(s.ID)
	if sv != nil {
		sv.mu.Lock()
		sv.stopReq = true
		sv.mu.Unlock()
	}
	sig := syscall.SIGTERM
	if force {
		sig = syscall.SIGKILL
	}
	if err := shim.Signal(ctx, s.Socket, sig); errors.Is(err, shim.ErrGone) {
		m.sweep(&s) // no shim to end the agent's tree: end what is left
	} else if err != nil {
		return s, fmt.Errorf("stop %s: %w", s.Name, err)
	}
	if sv == nil {
		return m.stopped(s.ID)
	}
	select {
	case <-sv.done:
	case <-time.After(5 * time.Second):
		shim.Signal(ctx, s.Socket, syscall.SIGKILL)
		select {
		case <-sv.done:
		case <-time.After(5 * time.Second):
			return s, fmt.Errorf("stop %s: the agent did not exit after SIGKILL", s.Name)
		}
	case <-ctx.Done():
		return s, ctx.Err()
	}
	return m.stopped(s.ID)
}

// RemoveResult says what Remove did.
type RemoveResult struct {
	Session       Session
	BranchDeleted bool
	BranchKept    string
}

// remove is Remove without its retry on a full disk.
func (m *Manager) remove(ctx context.Context, ref Ref, keepBranch, force bool) (RemoveResult, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return RemoveResult{}, err
	}
	if s.State == Removed {
		return RemoveResult{Session: s}, nil
	}
	if live(s.State) {
		if !force {
			return RemoveResult{}, fmt.Errorf("%w: session %s is %s: stop it first (`studiod stop %s`) or pass --force", ErrBusy, s.Name, s.State, s.Name)
		}
		if _, err := m.Stop(ctx, Ref{Session: s.ID}, true); err != nil {
			return RemoveResult{}, err
		}
	}
	repo, err := workspace.Open(ctx, m.opts.Git, s.Repo)
	if err != nil {
		return RemoveResult{}, err
	}
	lock := m.repoLock(repo.Root)
	lock.Lock()
	defer lock.Unlock()
	if _, err := os.Stat(s.Worktree); err == nil {
		st, err := m.opts.Git.WorktreeStatus(ctx, s.Worktree)
		if err != nil {
			return RemoveResult{}, err
		}
		if st.Dirty() && !force {
			return RemoveResult{}, fmt.Errorf("%w: %s has %d uncommitted change(s) (e.g. %s): commit or merge them, or pass --force to discard them",
				ErrUncommitted, s.Worktree, len(st.Entries), st.Entries[0].Path)
		}
	}
	if err := m.host.Release(ctx, repo, &s, force); err != nil {
		return RemoveResult{}, err
	}
	res := RemoveResult{}
	if ok, _ := repo.BranchExists(ctx, s.Branch); ok {
		merged, err := repo.IsAncestor(ctx, "refs/heads/"+s.Branch, "refs/heads/"+s.Target)
		if err != nil {
			merged = false
		}
		switch {
		case keepBranch:
			res.BranchKept = "kept as asked (--keep-branch)"
		case merged || force:
			if err := repo.DeleteBranch(ctx, s.Branch); err != nil {
				return RemoveResult{}, err
			}
			res.BranchDeleted = true
		default:
			res.BranchKept = fmt.Sprintf("branch %s has commits not merged into %s: kept (merge it, or remove with --force to delete it)", s.Branch, s.Target)
		}
	}
	os.Remove(s.indexFile())
	s, err = m.setState(s.ID, Removed, "")
	res.Session = s
	return res, err
}
