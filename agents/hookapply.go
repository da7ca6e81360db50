package agents

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/studiod/studiod/agents/host"
)

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
	// FromHost says the report came over the reports socket a host's
	// agents reach through ssh: it is taken only for a session on a host,
	// with its secret.
	FromHost bool
}

// Hook applies an agent's own report of its state. It returns the session
// and what the hook should print for the agent, if anything.
func (m *Manager) Hook(ctx context.Context, ref Ref, req HookRequest) (Session, []byte, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return Session{}, nil, err
	}
	if req.FromHost && (s.Host == "" || req.Token == "") {
		return Session{}, nil, fmt.Errorf("%w: a report from a host must be for a session on that host, with its secret", ErrForbidden)
	}
	if err := m.secrets.check(s, req.Token); err != nil {
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
	if s.Host != "" {
		// The host's paths, made the mirror's; its transcript stays there.
		e.cwd, e.wrote, e.transcript = m.atHome(s, e.cwd), m.atHome(s, e.wrote), ""
		if e.write != nil {
			e.write.cwd = m.atHome(s, e.write.cwd)
		}
	}
	return m.applyHook(ctx, Ref{Session: s.ID}, req.Kind, e)
}

// atHome is the path at home of p, a path an agent on a host gave: in its
// worktree there, the same file in the session's mirror here; anything
// else as it is.
func (m *Manager) atHome(s Session, p string) string {
	if s.Host == "" || !filepath.IsAbs(p) {
		return p
	}
	remote := host.RemoteWorktree(m.opts.StateDir, s.ID)
	if rest, ok := strings.CutPrefix(p, remote); ok && remote != "" && (rest == "" || rest[0] == '/') {
		return s.Worktree + rest
	}
	return p
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
	switch {
	case e.wrote != "":
		m.conf.touched(s, cmp.Or(e.cwd, s.Worktree), e.wrote)
	case e.shell:
		m.conf.ran(s)
	}
	out := m.gateHook(ctx, s, kind, &e)
	if e.refused != "" {
		m.noteRefusal(s, e.refused)
	}
	var usage *Usage
	if e.transcript != "" {
		if usage, err = m.transcripts.usage(s.ID, e.transcript); err != nil {
			m.log.Warn("session usage", "session", s.Name, "err", err)
		}
		m.rereadTranscript(s, e.transcript)
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
		if usage != nil && !usage.equal(r.Usage) {
			r.Usage, changed = usage, true
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

// transcriptLate are the times after a hook at which the transcript it
// named is read again: Claude Code can write an answer's line after the
// hook that follows it ran (a turn's last answer after its Stop hook; with
// 2.1.197, an answer before a tool after the tool's PostToolUse hook), and
// no hook may follow to report it.
var transcriptLate = []time.Duration{300 * time.Millisecond, time.Second, 3 * time.Second}

// rereadTranscript reads the session's transcript again shortly after a
// hook named it, and records any usage the hook's read missed. One such
// follow-up runs per session at a time; a hook during it starts its times
// over.
func (m *Manager) rereadTranscript(s Session, path string) {
	again := new(atomic.Bool)
	if v, busy := m.rereads.LoadOrStore(s.ID, again); busy {
		v.(*atomic.Bool).Store(true)
		return
	}
	m.wg.Go(func() {
		defer func() {
			m.rereads.Delete(s.ID)
			if again.Load() && m.ctx.Err() == nil {
				m.rereadTranscript(s, path) // a hook came as it ended
			}
		}()
		for i := 0; i < len(transcriptLate); i++ {
			if again.Swap(false) {
				i = 0
			}
			select {
			case <-m.ctx.Done():
				return
			case <-time.After(transcriptLate[i]):
			}
			u, err := m.transcripts.usage(s.ID, path)
			if err != nil || u == nil {
				continue
			}
			m.update(s.ID, func(r *Session) bool {
				if r.State == Removed || u.equal(r.Usage) {
					return false
				}
				r.Usage = u
				return true
			})
		}
	})
}

func sameAsk(a, b *Ask) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Kind == b.Kind && a.Question == b.Question && a.Tool == b.Tool && a.Subject == b.Subject
}
