package agents

import (
	"context"
	"fmt"
	"time"
)

// A full disk must not make studiod say what did not happen, nor keep it
// from freeing the space its sessions hold: a failed state write is an
// error, never a silent success; and removing a session frees its output
// log first when the disk is full (the log is most likely what filled it).

// stopped returns a session whose agent has been stopped, making sure its
// state says so. The supervisor records the exit; when that write failed
// (a full disk) the session still looks live: write it again, and report
// the failure rather than a stop that was not recorded.
func (m *Manager) stopped(id string) (Session, error) {
	s, err := m.Lookup(Ref{Session: id})
	if err != nil || !live(s.State) {
		return s, err
	}
	next, err := m.update(id, func(r *Session) bool {
		if !live(r.State) {
			return false
		}
		r.State, r.Detail = Stopped, ""
		return true
	})
	if err != nil {
		what := "the agent of " + s.Name + " was stopped, but recording it failed"
		if isDiskFull(err) {
			what += ": the disk is full (removing a session frees its log)"
		}
		return s, &Problem{What: what, Cause: err, Session: s.Name, Repo: s.Repo, Fix: FixRecordStop}
	}
	return next, nil
}

// Remove deletes a session's worktree and, when it is merged into the
// target (or force), its branch. It refuses uncommitted work and a running
// agent without force. With force on a full disk, it deletes the session's
// output log and tries again.
func (m *Manager) Remove(ctx context.Context, ref Ref, keepBranch, force bool) (RemoveResult, error) {
	res, err := m.remove(ctx, ref, keepBranch, force)
	if err == nil || !force || !isDiskFull(err) {
		return res, err
	}
	s, lerr := m.Lookup(ref)
	if lerr != nil {
		return res, err
	}
	// The log's space comes back once nothing holds it open: the shim of
	// the agent just stopped may still be going, a reader still closing.
	m.proc(s.ID).WaitGone(10 * time.Second)
	if derr := m.dropLog(s); derr != nil {
		return res, fmt.Errorf("%w (deleting its output log to free space failed too: %v)", err, derr)
	}
	m.log.Warn("disk full: deleted a session's output log to remove it", "session", s.Name)
	for _, wait := range []time.Duration{0, 100 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second} {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(wait):
		}
		if res, err = m.remove(ctx, Ref{Session: s.ID}, keepBranch, force); err == nil || !isDiskFull(err) {
			break
		}
	}
	if err != nil {
		return res, fmt.Errorf("%w (even after deleting its output log to free disk space)", err)
	}
	if s, err := m.setState(s.ID, Removed, "output log deleted to free disk space"); err == nil {
		res.Session = s
	}
	return res, nil
}
