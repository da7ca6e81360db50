package agents

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/workspace"
)

// Send gives a session's agent text as its driver does: typed into its
// terminal (with submit, Enter as a separate keystroke; agents whose hooks
// report prompts confirm the delivery), or as an ACP prompt turn.
func (m *Manager) Send(ctx context.Context, ref Ref, text string, submit bool) (Session, Delivery, error) {
	s, err := m.Lookup(ref)
	if err != nil {
		return Session{}, Delivery{}, err
	}
	if err := budgetRefusal(s); err != nil {
		return s, Delivery{}, err
	}
	return m.driverOf(s).send(ctx, s, text, submit)
}

// send is Send to a terminal agent: the text typed into its terminal.
func (drv terminalDriver) send(ctx context.Context, s Session, text string, submit bool) (Session, Delivery, error) {
	m := drv.m
	if !live(s.State) {
		return s, Delivery{}, invalidf("session %s is %s: nothing runs to type into", s.Name, s.State)
	}
	d, err := drv.deliver(ctx, s, text, submit)
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
		if sv := m.supervisorOf(s.ID); sv != nil {
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
	return s, m.driverOf(s).resize(ctx, s, rows, cols)
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
	if sv != nil && !force {
		sv.drv.interrupt(ctx, sv)
	}
	sig := syscall.SIGTERM
	if force {
		sig = syscall.SIGKILL
	}
	proc := m.proc(s.ID)
	if err := proc.Signal(ctx, sig); host.IsGone(err) {
		m.sweep(proc, &s) // no shim to end the agent's tree: end what is left
	} else if err != nil {
		return s, fmt.Errorf("stop %s: %w", s.Name, err)
	}
	if sv == nil {
		return m.stopped(s.ID)
	}
	select {
	case <-sv.done:
	case <-time.After(5 * time.Second):
		proc.Signal(ctx, syscall.SIGKILL)
		// SIGKILL cannot be refused: wait generously for the supervisor to
		// see the end on a loaded machine before calling the stop failed.
		select {
		case <-sv.done:
		case <-time.After(30 * time.Second):
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
		if !force && !m.worktreeMissing(ctx, s) {
			return RemoveResult{}, &Problem{Kind: ErrBusy, What: fmt.Sprintf("session %s is %s", s.Name, s.State), Session: s.Name, Repo: s.Repo, Fix: FixStopFirst}
		}
		if _, err := m.Stop(ctx, Ref{Session: s.ID}, true); err != nil {
			return RemoveResult{}, err
		}
		workspace.CrashPoint(rmStepStopped)
	}
	repo, err := workspace.Open(ctx, m.opts.Git, s.Repo)
	if err != nil {
		return RemoveResult{}, err
	}
	lock := m.repoLock(repo.Root)
	lock.Lock()
	defer lock.Unlock()
	// A removal begun before (cut short by a full disk, a failure after
	// the worktree went) goes on from where it stopped, with the work it
	// kept then.
	if rec, err := readRemoval(s.removalJournal()); err != nil || rec != nil {
		if err != nil {
			return RemoveResult{}, err
		}
		return m.release(ctx, repo, s, rec, host.Discard)
	}
	if m.hasWorktree(ctx, s) {
		st, err := m.files(s).Status(ctx)
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
	rec := &removal{Force: force, KeepBranch: keepBranch, Detail: detail, Salvage: sv}
	if err := rec.step(s.removalJournal(), rmStepSalvaged); err != nil {
		m.conf.track(ctx, s)
		return RemoveResult{}, err
	}
	how := host.Keep
	if force {
		how = host.Force
	}
	res, err := m.release(ctx, repo, s, rec, how)
	if err != nil && rec.Step == rmStepSalvaged {
		// The worktree stays, and so does the session: no later start
		// is to remove it behind the person's back.
		workspace.RemoveJournal(s.removalJournal())
		m.conf.track(ctx, s)
	}
	return res, err
}
