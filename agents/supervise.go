package agents

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	fresh     bool   // spawned by this daemon just now: an early failure rolls back
	kind      string // the profile's hook kind: which built-in prompts its screen shows
	done      chan struct{}
	// acp drives an ACP session; nil for a terminal agent.
	acp *acpDriver
	// from is where an ACP session's log is followed from; negative: the
	// log is replayed to rebuild the state, then followed from its end.
	from int64

	// mu guards the fields below.
	mu     sync.Mutex
	hooked bool // the agent's own hooks report its state; activity no longer decides
	hinted bool // the agent reported through $STUDIO_HOOK: activity only idles a silent working agent
	// guessed: the state is studiod's guess after an answer, which no
	// hook has confirmed: the screen and the silence decide it until one
	// does (an agent back at its input after a refusal reports nothing).
	guessed bool
	stopReq bool   // an exit now means "stopped"
	tail    []byte // last output, for the agent's last words without a screen
	idle    *time.Timer
	look    *time.Timer // reads the screen once output settles
	changes *time.Timer
	last    time.Time // of the last output (or poke)

	// settleMu serializes settle: the look and idle timers may fire at
	// once, and each reads the screen and then updates the state.
	settleMu sync.Mutex
}

// lookAfter is how long output must settle before the screen is read for
// a prompt: long enough for a redraw to finish.
const lookAfter = 300 * time.Millisecond

func (m *Manager) supervise(s Session, p Profile, fresh bool) *supervisor {
	from := int64(-1)
	if fresh {
		from = 0
	}
	return m.superviseFrom(s, p, fresh, from)
}

// superviseFrom is supervise, following an ACP session's log from offset
// from (see supervisor.from).
func (m *Manager) superviseFrom(s Session, p Profile, fresh bool, from int64) *supervisor {
	sv := &supervisor{
		m: m, id: s.ID, name: s.Name, socket: s.Socket, started: time.Now(), fresh: fresh,
		idleAfter: m.opts.IdleAfter, done: make(chan struct{}), from: from, kind: p.Screen,
	}
	if s.Protocol == ProtocolACP {
		sv.acp = newACPDriver(m, s, p)
		// Connected before anyone can call it; fed once the stream runs.
		sv.acp.connect(m.ctx)
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
		if sv.acp != nil {
			defer sv.cleanup()
			sv.runACP(m.ctx)
			return
		}
		sv.run(m.ctx)
	})
	return sv
}

func (m *Manager) supervisorOf(id string) *supervisor {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sups[id]
}

// cleanup stops the supervisor's timers and forgets it.
func (sv *supervisor) cleanup() {
	sv.mu.Lock()
	if sv.idle != nil {
		sv.idle.Stop()
	}
	if sv.look != nil {
		sv.look.Stop()
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
}

func (sv *supervisor) run(ctx context.Context) {
	defer sv.cleanup()
	offset := int64(-1)
	if sv.fresh {
		offset = 0
	}
	buf := make([]byte, 32<<10)
	sv.follow(ctx, offset, func(r io.Reader) (read int64) {
		for {
			n, err := r.Read(buf)
			if n > 0 {
				read += int64(n)
				sv.output(buf[:n])
			}
			if err != nil {
				return read
			}
		}
	}, func() { sv.finish(ctx) })
}

// follow streams the shim's log from offset (negative: its end) until the
// agent is gone, then calls gone. Each attach is handed to read, which
// returns how many bytes it took; when the shim drops a reader for lagging,
// follow attaches again where it left off. It returns early when ctx ends.
func (sv *supervisor) follow(ctx context.Context, offset int64, read func(io.Reader) int64, gone func()) {
	for ctx.Err() == nil {
		st, err := shim.Attach(ctx, sv.socket, offset)
		if err != nil {
			if errors.Is(err, shim.ErrGone) {
				gone()
				return
			}
			if ctx.Err() != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		stop := context.AfterFunc(ctx, func() { st.Close() })
		offset = st.Offset + read(st)
		stop()
		st.Close()
		// The stream ends when the agent exits, or when the shim dropped
		// us for lagging: in that case attach again where we were.
		if _, err := shim.Stat(ctx, sv.socket); err != nil {
			if ctx.Err() != nil {
				return
			}
			waitGone(sv.socket, 2*time.Second)
			gone()
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
	defer sv.mu.Unlock()
	sv.tail = append(sv.tail, p...)
	if len(sv.tail) > 4096 {
		sv.tail = sv.tail[len(sv.tail)-4096:]
	}
	sv.rearm()
}

// poke makes the supervisor look at the agent again as if it had just
// written something: after studiod itself changed the state (a send), the
// screen and the silence decide it anew, whatever they saw meanwhile.
func (sv *supervisor) poke() {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.rearm()
}

// rearm restarts the idle, screen and changes timers. sv.mu is held.
func (sv *supervisor) rearm() {
	sv.last = time.Now()
	if sv.idle == nil {
		sv.idle = time.AfterFunc(sv.idleAfter, sv.settle)
	} else {
		sv.idle.Reset(sv.idleAfter)
	}
	if sv.look == nil {
		sv.look = time.AfterFunc(lookAfter, sv.settle)
	} else {
		sv.look.Reset(lookAfter)
	}
	if sv.changes == nil {
		sv.changes = time.AfterFunc(700*time.Millisecond, func() { sv.m.refreshChanges(sv.m.ctx, sv.id) })
	} else {
		sv.changes.Reset(700 * time.Millisecond)
	}
}

// screenPrompt reads the agent's screen, as its terminal shows it, for a
// question it waits on: one of the built-in prompts of its kind, or one of
// the profile's waiting patterns. ok is false when the screen cannot be
// read.
func (sv *supervisor) screenPrompt() (ask *Ask, ok bool) {
	ctx, cancel := context.WithTimeout(sv.m.ctx, 5*time.Second)
	defer cancel()
	scr, err := shim.Screen(ctx, sv.socket)
	if err != nil {
		return nil, false
	}
	if p, found := matchPrompt(sv.kind, scr.Rows); found {
		return &Ask{Kind: p.Kind, Question: p.Question, Subject: p.Subject, Source: "screen"}, true
	}
	// A profile's patterns look where a question waits: the cursor's row,
	// not the transcript above, which may hold questions answered long ago.
	for _, row := range nearCursor(scr) {
		for _, re := range sv.patterns {
			if re.MatchString(row) {
				return &Ask{Kind: WaitQuestion, Question: strings.TrimSpace(row), Source: "screen"}, true
			}
		}
	}
	return nil, true
}

// nearCursor returns the row a question waits on: the cursor's, or when
// that is blank the nearest non-blank row above it.
func nearCursor(scr shim.ScreenState) []string {
	for i := min(scr.CursorRow, len(scr.Rows)-1); i >= 0; i-- {
		if strings.TrimSpace(scr.Rows[i]) != "" {
			return []string{scr.Rows[i]}
		}
	}
	return nil
}

// settle runs once the agent's output settles (lookAfter) and again when
// the terminal has been silent for idleAfter. A question on its screen
// means waiting; none means working again after a question or idling, or,
// silent for idleAfter, idle. Agents that report their own state decide it
// themselves.
func (sv *supervisor) settle() {
	sv.settleMu.Lock()
	defer sv.settleMu.Unlock()
	sv.mu.Lock()
	hooked, hinted, guessed, silent := sv.hooked, sv.hinted, sv.guessed, time.Since(sv.last)
	sv.mu.Unlock()
	if hooked && !guessed {
		return
	}
	ask, ok := sv.screenPrompt()
	if !ok {
		return
	}
	idle := silent >= sv.idleAfter
	decided := false
	defer func() {
		// Once the screen or the silence has decided, the guess is over;
		// a hook decides again from its next report.
		if decided && guessed {
			sv.mu.Lock()
			sv.guessed = false
			sv.mu.Unlock()
		}
	}()
	sv.m.update(sv.id, func(s *Session) bool {
		decided = false
		switch {
		case !live(s.State) || s.State == Starting:
			return false
		case hinted:
			// $STUDIO_HOOK's reports stand, but an agent that said it
			// was working (or was set working by a send, a sync) and
			// then went silent without saying more is idle.
			if !idle || ask != nil || s.State != Working {
				return false
			}
			s.State, s.Detail, s.Ask = Idle, "", nil
		case ask != nil:
			if s.State == Waiting && sameAsk(s.Ask, ask) {
				return false
			}
			s.State, s.Detail, s.Ask = Waiting, ask.Question, ask
			decided = true
		case idle:
			if s.State != Working && s.State != Waiting {
				return false
			}
			s.State, s.Detail, s.Ask = Idle, "", nil
			decided = true
		case guessed:
			return false
		case s.State == Waiting || s.State == Idle:
			s.State, s.Detail, s.Ask = Working, "", nil
		default:
			return false
		}
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
	note := ""
	if sv.acp != nil {
		note = sv.acp.exitNote()
		tail = note
	}
	ex, err := shim.ReadExit(s.exitFile())
	if err != nil {
		sv.m.sweep(&s)
		sv.m.setState(sv.id, Failed, "agent lost: its shim ended without recording an exit status (killed?); what was left of the session was ended")
		return
	}
	code := ex.Code
	// The agent's last words, as its screen showed them, say why it
	// gave up better than a raw last line of output.
	if words := lastWords(ex.Last); words != "" {
		tail = words
	}
	switch {
	case stopReq:
		sv.m.update(sv.id, func(s *Session) bool {
			s.State, s.Detail, s.ExitCode = Stopped, "", &code
			return true
		})
	case sv.fresh && code != 0 && ex.At.Sub(sv.started) < sv.m.opts.SpawnGrace && (sv.acp == nil || !sv.acp.opened()):
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
		detail := exitDetail(code, ex.Signal, tail)
		if note != "" {
			detail = strings.TrimSpace(detail + " " + note)
		}
		sv.m.update(sv.id, func(s *Session) bool {
			s.State, s.Detail, s.ExitCode = Exited, detail, &code
			return true
		})
	}
}

// lastWords is the gist of an agent's last screen rows: the last two that
// say something, one line.
func lastWords(rows []string) string {
	var words []string
	for i := len(rows) - 1; i >= 0 && len(words) < 2; i-- {
		if r := oneLine(strings.Trim(rows[i], " │╭╮╰╯─━┃")); len([]rune(r)) > 2 {
			words = append([]string{r}, words...)
		}
	}
	return clip(strings.Join(words, " · "), 240)
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
	if s.Protocol == ProtocolACP {
		sv.acp = newACPDriver(m, s, p)
		sv.acp.st = readACPState(s)
	}
	sv.finish(ctx)
}

// HookRequest is an agent's report through `studiod hook`: a generic
// Event (working, waiting, idle) with an optional Message, or the agent's
// own hook Payload in the format Kind names.
type HookRequest struct {
	Event, Message string
	Kind           string
	Payload        []byte
	// Token is the secret the hook presents: the session's own, from its
	// agent's environment (secret.go).
	Token string
}

// Hook applies an agent's own report of its state. It returns the session
// and what the hook should print for the agent, if anything.
func (m *Manager) Hook(ctx context.Context, ref Ref, req HookRequest) (Session, []byte, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return Session{}, nil, err
	}
	if err := m.checkSecret(s, req.Token); err != nil {
		return Session{}, nil, err
	}
	var e hookEvent
	if req.Kind != "" {
		if e, err = decodeHook(req.Kind, req.Payload); err != nil {
			return s, nil, err
		}
	} else {
		e.name = req.Event
		switch req.Event {
		case "working", "busy", "start":
			e.state = Working
		case "waiting", "question", "permission":
			e.state = Waiting
			e.ask = &Ask{Kind: WaitQuestion, Question: req.Message, Source: "hook"}
			if req.Event == "permission" {
				e.ask.Kind = WaitPermission
			}
		case "idle", "done", "stop":
			e.state = Idle
		case "note":
			s, err := m.Note(ctx, Ref{Session: s.ID}, req.Message)
			return s, nil, err
		default:
			return Session{}, nil, invalidf("hook event %q: use working, waiting, idle or note", req.Event)
		}
	}
	return m.applyHook(ctx, Ref{Session: s.ID}, req.Kind, e)
}

// applyHook applies one of an agent's reports of kind (a hook kind, "" for
// generic events) to the session.
func (m *Manager) applyHook(ctx context.Context, ref Ref, kind string, e hookEvent) (Session, []byte, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return Session{}, nil, err
	}
	if !live(s.State) {
		return s, nil, invalidf("session %s is %s: hooks apply to running agents", s.Name, s.State)
	}
	m.log.Debug("hook", "session", s.Name, "event", e.name, "state", e.state)
	if e.prompt {
		m.deliveries.confirm(s.ID, e.promptText)
	}
	out := m.gateHook(ctx, s, kind, &e)
	if e.refused != "" {
		m.noteRefusal(s, e.refused)
	}
	if e.state != "" {
		if sv := m.supervisorOf(s.ID); sv != nil {
			sv.mu.Lock()
			if kind != "" {
				sv.hooked = true
			} else {
				sv.hinted = true
			}
			sv.guessed = false
			sv.mu.Unlock()
		}
	}
	s, err = m.update(s.ID, func(r *Session) bool {
		changed := false
		if e.conversation != "" && r.Conversation == "" {
			r.Conversation, changed = e.conversation, true
		}
		// Codex also reports the turns of its side threads (titles):
		// only the session's own conversation moves its state.
		if kind == HooksCodexNotify && e.conversation != r.Conversation {
			return changed
		}
		if e.state == "" {
			return changed
		}
		ask, detail := e.ask, e.detail
		if e.state == Waiting {
			// A later, vaguer report of the same question (Claude's
			// permission notification) keeps what the first one said.
			if r.State == Waiting && r.Ask != nil && ask != nil && r.Ask.Tool != "" && ask.Tool == "" {
				ask = r.Ask
			}
			if ask != nil {
				detail = ask.Question
			}
		}
		if r.State == e.state && r.Detail == detail && sameAsk(r.Ask, ask) {
			return changed
		}
		r.State, r.Detail, r.Ask = e.state, detail, ask
		return true
	})
	return s, out, err
}

func sameAsk(a, b *Ask) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Kind == b.Kind && a.Question == b.Question && a.Tool == b.Tool && a.Subject == b.Subject
}

// Send types text into the agent's terminal and, with submit, presses
// Enter as a separate keystroke; agents whose hooks report prompts confirm
// the delivery.
func (m *Manager) Send(ctx context.Context, ref Ref, text string, submit bool) (Session, Delivery, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return Session{}, Delivery{}, err
	}
	if s.Protocol == ProtocolACP {
		return m.sendACP(ctx, s, text, submit)
	}
	if !live(s.State) {
		return s, Delivery{}, invalidf("session %s is %s: nothing runs to type into", s.Name, s.State)
	}
	d, err := m.deliver(ctx, s, text, submit)
	if err != nil {
		return s, d, fmt.Errorf("send to %s: %w", s.Name, err)
	}
	if submit && (s.State == Waiting || s.State == Idle) {
		s, err = m.update(s.ID, func(r *Session) bool {
			if r.State != Waiting && r.State != Idle {
				return false
			}
			r.State, r.Detail, r.Ask = Working, "", nil
			return true
		})
		if sv := m.supervisorOf(s.ID); sv != nil && sv.acp == nil {
			sv.poke()
		}
	}
	return s, d, err
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
	if s.Protocol == ProtocolACP {
		return s, nil // no terminal to size
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
	if sv != nil && sv.acp != nil && !force {
		// ACP: end the turn as the protocol says before ending the process.
		sv.acp.cancel(ctx)
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
	// Salvage is where its work was kept (salvage.go); zero when it had
	// none beyond its base.
	Salvage Salvage
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
		// An agent whose worktree is gone has nothing left to lose.
		if _, err := os.Stat(s.Worktree); !force && !errors.Is(err, os.ErrNotExist) {
			return RemoveResult{}, &Problem{Kind: ErrBusy, What: fmt.Sprintf("session %s is %s", s.Name, s.State), Session: s.Name, Repo: s.Repo, Fix: FixStopFirst}
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
	sv, detail, err := m.keepWork(ctx, repo, s, force)
	if err != nil {
		return RemoveResult{}, err
	}
	if err := m.host.Release(ctx, repo, &s, force); err != nil {
		// The session stays: predict its conflicts again.
		m.conf.track(ctx, s)
		return RemoveResult{}, err
	}
	// What a write cut short (a full disk) left in the repository goes too.
	if n := repo.CleanTempObjects(time.Second); n > 0 {
		m.log.Info("removed temporary object files left by cut-short writes", "repo", repo.Root, "files", n)
	}
	res := RemoveResult{Salvage: sv}
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
	s, err = m.setState(s.ID, Removed, detail)
	res.Session = s
	return res, err
}

// guess says the session's state is studiod's guess after an answer (an
// agent refused a permission may be back at its input with no hook to say
// so): until the agent's hooks report again, its screen and the silence
// decide, as for an agent without hooks.
func (sv *supervisor) guess() {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.guessed = true
	sv.rearm()
}
