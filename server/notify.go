package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/vocab"
)

// Reaching the person: when a session starts waiting for an answer, goes
// idle after a turn, fails or ends, the command the user's config names in
// [notify] runs with one JSON event on its stdin (and, where a desktop
// session bus exists, notify-send shows it). The manager's writer only
// queues the event: a bounded queue, drained by one goroutine that runs
// each command with a timeout, so a slow or hanging command never holds
// up the daemon; beyond the queue or the rate, events are dropped and the
// next one delivered says how many.

// Notification kinds (NotifyEvent.Event).
const (
	NotifyWaiting = "waiting" // the agent asks the person something
	NotifyIdle    = "idle"    // the agent finished a turn and is at its prompt
	NotifyFailed  = "failed"  // the session failed
	NotifyDone    = "done"    // the agent ended: exited, stopped or merged
	NotifyBudget  = "budget"  // the session used 80% of its budget, or all of it (then it waits)
)

// NotifyEvent is what the notify command reads on its stdin.
type NotifyEvent struct {
	Event   string           `json:"event"`
	Time    time.Time        `json:"time"`
	Session protocol.Session `json:"session"`
	// Dropped counts the events left out since the last one delivered
	// (over the rate, or the queue full).
	Dropped int `json:"dropped,omitempty"`
}

// Rate of notifications: a burst of notifyBurst, then one per notifyEvery.
const (
	notifyBurst   = 10
	notifyEvery   = 6 * time.Second
	notifyQueue   = 64
	notifyTimeout = 30 * time.Second
)

// notifier turns session changes into notifications.
type notifier struct {
	userConfig string
	log        *slog.Logger
	now        func() time.Time
	queue      chan NotifyEvent
	stop       context.CancelFunc
	wg         sync.WaitGroup

	// mu guards the fields below. The manager's writer takes it for each
	// change; it is never held while calling out.
	mu      sync.Mutex
	last    map[string]vocab.State // session ID → last state seen
	spent   map[string]float64     // session ID → share of its budget used, last seen
	tokens  float64
	refill  time.Time // when tokens was last topped up
	dropped int
}

// startNotifier follows m's session changes until the returned stop is
// called, which waits for the command running, if any, to end.
func startNotifier(ctx context.Context, m *agents.Manager, userConfig string, log *slog.Logger, now func() time.Time) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	n := &notifier{userConfig: userConfig, log: log, now: now, queue: make(chan NotifyEvent, notifyQueue),
		stop: cancel, last: map[string]vocab.State{}, spent: map[string]float64{}, tokens: notifyBurst, refill: now()}
	unsub := m.Subscribe(n.changed)
	// States before the daemon started are not news: only changes after
	// it count.
	n.mu.Lock()
	for _, s := range m.List("", true) {
		if _, ok := n.last[s.ID]; !ok {
			n.last[s.ID] = s.State
			n.spent[s.ID] = spentShare(s)
		}
	}
	n.mu.Unlock()
	n.wg.Go(func() { n.run(ctx) })
	return func() {
		unsub()
		cancel()
		n.wg.Wait()
	}
}

// kind says what a change from prev to s means to the person, if anything.
func notifyKind(prev vocab.State, s agents.Session) string {
	if prev == s.State {
		return ""
	}
	switch s.State {
	case agents.Waiting:
		if s.Ask != nil && s.Ask.Kind == agents.WaitBudget {
			return NotifyBudget
		}
		return NotifyWaiting
	case agents.Idle:
		if prev == agents.Working || prev == agents.Waiting {
			return NotifyIdle
		}
	case agents.Failed:
		return NotifyFailed
	case agents.Exited, agents.Stopped, agents.Merged:
		return NotifyDone
	}
	return ""
}

// spentShare is the share of its budget a session used, 0 without one.
func spentShare(s agents.Session) float64 {
	if s.Budget == nil {
		return 0
	}
	share, _ := s.Budget.Spent(s.Usage)
	return share
}

// changed runs on the manager's writer for every stored change: it must
// not block.
func (n *notifier) changed(ev agents.Event) {
	s := ev.Session
	n.mu.Lock()
	defer n.mu.Unlock()
	prev, seen := n.last[s.ID]
	prevSpent, share := n.spent[s.ID], spentShare(s)
	if s.State == agents.Removed {
		delete(n.last, s.ID)
		delete(n.spent, s.ID)
	} else {
		n.last[s.ID] = s.State
		if n.spent == nil {
			n.spent = map[string]float64{}
		}
		n.spent[s.ID] = share
	}
	if !seen {
		prev = ""
	}
	kind := notifyKind(prev, s)
	if kind == "" && prevSpent < agents.BudgetNotice && share >= agents.BudgetNotice && share < 1 {
		kind = NotifyBudget // near it: the person hears before the turn is cut
	}
	if kind == "" {
		return
	}
	now := n.now()
	n.tokens = min(notifyBurst, n.tokens+now.Sub(n.refill).Seconds()/notifyEvery.Seconds())
	n.refill = now
	if n.tokens < 1 {
		n.dropped++
		return
	}
	e := NotifyEvent{Event: kind, Time: now.UTC(), Session: wireSession(s), Dropped: n.dropped}
	select {
	case n.queue <- e:
		n.tokens--
		n.dropped = 0
	default:
		n.dropped++
	}
}

// run delivers queued events one at a time until ctx ends.
func (n *notifier) run(ctx context.Context) {
	for {
		select {
		case e := <-n.queue:
			n.deliver(ctx, e)
		case <-ctx.Done():
			return
		}
	}
}

// deliver runs the user's notify command, and notify-send, for e. The
// user's config is read each time, so a change takes effect without a
// restart; a repository's config has no say.
func (n *notifier) deliver(ctx context.Context, e NotifyEvent) {
	user, _, err := agents.LoadFile(n.userConfig)
	if err != nil {
		n.log.Warn("notify: user config", "err", err)
		return
	}
	cfg := user.Notify
	for _, ev := range cfg.Events {
		if !slices.Contains([]string{NotifyWaiting, NotifyIdle, NotifyFailed, NotifyDone, NotifyBudget}, ev) {
			n.log.Warn("notify: unknown event in [notify] events: give waiting, idle, failed, done or budget", "event", ev)
		}
	}
	if len(cfg.Events) > 0 && !slices.Contains(cfg.Events, e.Event) {
		return
	}
	timeout := notifyTimeout
	if cfg.Timeout.Duration > 0 {
		timeout = cfg.Timeout.Duration
	}
	log := n.log.With("session", e.Session.Name, "event", e.Event)
	if len(cfg.Command) > 0 {
		b, _ := json.Marshal(e)
		if err := runNotify(ctx, timeout, cfg.Command, append(b, '\n')); err != nil {
			log.Warn("notify command", "command", cfg.Command, "err", err)
		}
	}
	if cfg.Desktop == nil || *cfg.Desktop {
		if err := desktopNotify(ctx, timeout, e); err != nil {
			log.Debug("desktop notification", "err", err)
		}
	}
}

// runNotify runs argv with stdin, in its own process group, killed with
// the group when it outlasts timeout.
func runNotify(ctx context.Context, timeout time.Duration, argv []string, stdin []byte) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("killed after %v", timeout)
	}
	if err != nil {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// desktopNotify shows e through the freedesktop notification service,
// only where a desktop session bus exists and notify-send is installed,
// and only for what needs the person now.
func desktopNotify(ctx context.Context, timeout time.Duration, e NotifyEvent) error {
	if e.Event != NotifyWaiting && e.Event != NotifyFailed && e.Event != NotifyBudget {
		return nil
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		return nil
	}
	bin, err := exec.LookPath("notify-send")
	if err != nil {
		return nil
	}
	s := e.Session
	title := fmt.Sprintf("studiod: %s %s", s.Name, e.Event)
	body := s.Detail
	if s.Waiting != nil {
		body = s.Waiting.Question
	} else if e.Event == NotifyBudget && s.Budget != nil && s.Budget.Spent != nil {
		body = fmt.Sprintf("%.0f%% of its budget of %s used", *s.Budget.Spent*100, s.Budget.Text)
	}
	urgency := "normal"
	if e.Event == NotifyFailed {
		urgency = "critical"
	}
	return runNotify(ctx, timeout, []string{bin, "--app-name=studiod", "--urgency=" + urgency, title, body}, nil)
}
