package agents

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/studiod/studiod/agents/host"
)

// supervisor follows one live agent: it reads the terminal stream for
// activity, runs the status detection and records the exit.
type supervisor struct {
	m         *Manager
	drv       driver
	id        string
	name      string
	proc      host.Proc
	patterns  []*regexp.Regexp
	idleAfter time.Duration
	started   time.Time
	fresh     bool   // spawned by this daemon just now: an early failure rolls back
	kind      string // the profile's hook kind: which built-in prompts its screen shows
	// usageDB is the opencode database the session's usage is read from
	// (opencode.go); "" for other agents.
	usageDB string
	done    chan struct{}
	// acp is an ACP session's connection to its agent (acpDriver);
	// nil for a terminal agent.
	acp *acpConn
	// from is where an ACP session's log is followed from; negative: the
	// log is replayed to rebuild the state, then followed from its end.
	from int64

	// mu guards the fields below.
	mu sync.Mutex
	// answered: the person answered the agent, so its end, however soon,
	// is theirs to read (a trust question refused), not a failed start.
	answered bool
	hooked   bool // the agent's own hooks report its state; activity no longer decides
	hinted   bool // the agent reported through $STUDIO_HOOK: activity only idles a silent working agent
	// guessed: the state is studiod's guess after an answer, which no
	// hook has confirmed: the screen and the silence decide it until one
	// does (an agent back at its input after a refusal reports nothing).
	guessed bool
	// untaken: the agent was given a prompt that its screen has not yet
	// shown taken (takenMarks): it is still starting, however long it
	// stays silent, and silence does not make it idle.
	untaken bool
	// usageStamp is usageDB's fileStamp when it was last read.
	usageStamp string
	stopReq    bool   // an exit now means "stopped"
	tail       []byte // last output, for the agent's last words without a screen
	idle       *time.Timer
	look       *time.Timer // reads the screen once output settles
	changes    *time.Timer
	last       time.Time // of the last output (or poke)
	// unread is when output began that no screen read has seen yet: the
	// screen is read after lookAtMost even when output never settles.
	unread time.Time
	ended  bool // cleanup ran: no timer is armed again

	// settleMu serializes settle: the look and idle timers may fire at
	// once, and each reads the screen and then updates the state.
	settleMu sync.Mutex
}

// lookAfter is how long output must settle before the screen is read for
// a prompt: long enough for a redraw to finish.
const lookAfter = 300 * time.Millisecond

// lookAtMost bounds how long output may go on before the screen is read
// anyway: an agent that animates something (a spinner, a clock, an update
// notice) while a dialog waits never settles.
const lookAtMost = 1500 * time.Millisecond

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
		m: m, drv: m.driverOf(s), id: s.ID, name: s.Name, proc: m.proc(s.ID), started: time.Now(), fresh: fresh,
		idleAfter: m.opts.IdleAfter, done: make(chan struct{}), from: from, kind: p.Screen,
	}
	sv.drv.supervise(sv, s, p)
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
		defer sv.cleanup()
		sv.drv.follow(m.ctx, sv)
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
	sv.ended = true
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
	retry := 100 * time.Millisecond
	for ctx.Err() == nil {
		st, err := sv.proc.Attach(ctx, offset)
		if err != nil {
			if host.IsGone(err) {
				gone()
				return
			}
			if ctx.Err() != nil {
				return
			}
			wait := 100 * time.Millisecond
			if errors.Is(err, host.ErrUnreachable) {
				// A host out of reach: its agent may run on. Try again,
				// less often the longer it lasts.
				sv.m.disconnect(sv.id, err)
				wait, retry = retry, min(retry*2, 2*time.Second)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			continue
		}
		retry = 100 * time.Millisecond
		if sv.m.reconnected(sv.id) {
			sv.poke()
		}
		stop := context.AfterFunc(ctx, func() { st.Close() })
		offset = st.Offset() + read(st)
		stop()
		st.Close()
		// The stream ends when the agent exits, or when the shim dropped
		// us for lagging: in that case attach again where we were.
		if _, err := sv.proc.Status(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, host.ErrUnreachable) {
				sv.m.disconnect(sv.id, err)
				continue
			}
			sv.proc.WaitGone(2 * time.Second)
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
	if sv.ended {
		return
	}
	now := time.Now()
	sv.last = now
	if sv.idle == nil {
		sv.idle = time.AfterFunc(sv.idleAfter, sv.settle)
	} else {
		sv.idle.Reset(sv.idleAfter)
	}
	if sv.unread.IsZero() {
		sv.unread = now
	}
	look := min(lookAfter, max(0, lookAtMost-now.Sub(sv.unread)))
	if sv.look == nil {
		sv.look = time.AfterFunc(look, sv.settle)
	} else {
		sv.look.Reset(look)
	}
	if sv.changes == nil {
		sv.changes = time.AfterFunc(700*time.Millisecond, func() { sv.m.refreshChanges(sv.m.ctx, sv.id) })
	} else {
		sv.changes.Reset(700 * time.Millisecond)
	}
}

// screenPrompt reads the agent's screen, as its terminal shows it, for a
// question it waits on: one of the built-in prompts of its kind, or one of
// the profile's waiting patterns. taken says the screen shows a prompt
// taken (showsTaken). ok is false when the screen cannot be read.
func (sv *supervisor) screenPrompt() (ask *Ask, taken, ok bool) {
	ctx, cancel := context.WithTimeout(sv.m.ctx, 5*time.Second)
	defer cancel()
	scr, err := sv.proc.Screen(ctx)
	if err != nil {
		return nil, false, false
	}
	taken, _ = showsTaken(sv.kind, scr.Rows)
	if p, found := matchPrompt(sv.kind, scr.Rows); found {
		return &Ask{Kind: p.Kind, Question: p.Question, Subject: p.Subject, Source: "screen"}, taken, true
	}
	// A profile's patterns look where a question waits: the cursor's row,
	// not the transcript above, which may hold questions answered long ago.
	for _, row := range nearCursor(scr) {
		for _, re := range sv.patterns {
			if re.MatchString(row) {
				return &Ask{Kind: WaitQuestion, Question: strings.TrimSpace(row), Source: "screen"}, taken, true
			}
		}
	}
	return nil, taken, true
}

// nearCursor returns the row a question waits on: the cursor's, or when
// that is blank the nearest non-blank row above it.
func nearCursor(scr host.Screen) []string {
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
// silent for idleAfter, idle, unless the agent has yet to take the prompt
// it was given. Agents that report their own state decide it themselves.
func (sv *supervisor) settle() {
	sv.settleMu.Lock()
	defer sv.settleMu.Unlock()
	sv.mu.Lock()
	hooked, hinted, guessed, untaken, silent := sv.hooked, sv.hinted, sv.guessed, sv.untaken, time.Since(sv.last)
	sv.unread = time.Time{}
	sv.mu.Unlock()
	if hooked && !guessed {
		return
	}
	ask, taken, ok := sv.screenPrompt()
	if !ok {
		// The screen could not be read (a busy machine, a shim slow to
		// answer): look again, or a prompt already drawn is never seen.
		sv.mu.Lock()
		if !sv.ended && sv.look != nil {
			sv.look.Reset(lookAfter)
		}
		sv.mu.Unlock()
		return
	}
	if untaken && taken {
		sv.mu.Lock()
		sv.untaken, untaken = false, false
		sv.mu.Unlock()
	}
	idle := silent >= sv.idleAfter && !untaken
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
	sv.readUsage()
}

// readUsage records the usage the agent's own records hold, for an agent
// that reports it in no hook (opencode): its database is read again only
// once it changed (its file or its write-ahead log).
func (sv *supervisor) readUsage() {
	if sv.usageDB == "" {
		return
	}
	stamp := fileStamp(sv.usageDB) + "|" + fileStamp(sv.usageDB+"-wal")
	sv.mu.Lock()
	same := stamp == sv.usageStamp
	sv.usageStamp = stamp
	sv.mu.Unlock()
	if !same {
		sv.m.readOpencode(sv.m.ctx, sv.id, sv.usageDB)
	}
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
	answered := sv.answered
	sv.mu.Unlock()
	sv.readUsage() // its last answer's
	note, opened := sv.drv.ending(sv)
	if note != "" {
		tail = note
	}
	ex, err := sv.proc.Exit()
	if err != nil {
		sv.m.sweep(sv.proc, &s)
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
	case sv.fresh && code != 0 && ex.At.Sub(sv.started) < sv.m.opts.SpawnGrace && !opened && !answered:
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
	proc := m.proc(s.ID)
	// A session on a host out of reach is followed too: it shows
	// disconnected until the host answers.
	if _, err := proc.Status(ctx); err == nil || errors.Is(err, host.ErrUnreachable) {
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
	sv := &supervisor{m: m, drv: m.driverOf(s), id: s.ID, name: s.Name, proc: proc, done: make(chan struct{})}
	sv.drv.exited(sv, s, p)
	sv.finish(ctx)
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
