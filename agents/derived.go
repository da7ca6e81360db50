package agents

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/studiod/studiod/workspace"
)

// derivedSoon recomputes root's sessions' Behind and WouldConflict shortly
// (debounced).
func (ig *integrator) derivedSoon(root string) {
	ig.mu.Lock()
	defer ig.mu.Unlock()
	if ig.closed || root == "" {
		return
	}
	rs := ig.repoLocked(root)
	if rs.derived != nil {
		rs.derived.Reset(100 * time.Millisecond)
		return
	}
	rs.derived = time.AfterFunc(100*time.Millisecond, func() {
		ig.mu.Lock()
		defer ig.mu.Unlock()
		rs.derived = nil
		ig.goLocked(func() { ig.env.refreshDerived(ig.ctx, root) })
	})
}

// behindCount is a session's Behind as counted with its branch and target
// at these tips.
type behindCount struct {
	branch, target string
	n              int
}

// refreshDerived brings root's sessions' Behind (the target's commits their
// branch lacks) and WouldConflict (a predicted conflict with the target)
// up to date, through the manager's one writer so that session events stay
// in order. The tips come from one for-each-ref; a count is made again only
// when a tip moved.
func (m *Manager) refreshDerived(ctx context.Context, root string) {
	out, err := m.opts.Git.Run(ctx, root, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads")
	if err != nil {
		return
	}
	tips := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if oid, ref, ok := strings.Cut(line, " "); ok {
			tips[ref] = oid
		}
	}
	ig := m.integ
	for _, s := range m.List(root, false) {
		if s.State == Starting || s.Repo != root {
			continue
		}
		bt, tt := tips["refs/heads/"+s.Branch], tips["refs/heads/"+s.Target]
		ig.mu.Lock()
		bc, ok := ig.behind[s.ID]
		ig.mu.Unlock()
		if !ok || bc.branch != bt || bc.target != tt {
			bc = behindCount{branch: bt, target: tt}
			if bt != "" && tt != "" {
				out, err := m.opts.Git.Run(ctx, root, "rev-list", "--count", bt+".."+tt, "--")
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					m.log.Debug("count commits behind", "session", s.Name, "err", err)
				}
				bc.n, _ = strconv.Atoi(strings.TrimSpace(string(out)))
			}
			ig.mu.Lock()
			ig.behind[s.ID] = bc
			ig.mu.Unlock()
		}
		behind := bc.n
		would := false
		for _, c := range m.Conflicts(root, s.Name, "") {
			if c.Severity == workspace.SeverityConflict && (c.A.Name == workspace.TargetSide || c.B.Name == workspace.TargetSide) {
				would = true
			}
		}
		if s.Behind == behind && s.WouldConflict == would {
			continue
		}
		m.updateDerived(s.ID, func(r *Session) bool {
			if !active(r.State) || r.Behind == behind && r.WouldConflict == would {
				return false
			}
			r.Behind, r.WouldConflict = behind, would
			return true
		})
	}
}

// tell gives a message to a session's agent: typed into its terminal
// while it runs, else through its profile's resume command. It says how.
func (m *Manager) tell(ctx context.Context, s Session, message string) (Delivery, error) {
	// One line: a newline would submit a half-typed message to most agents.
	message = strings.Join(strings.Fields(message), " ")
	if live(s.State) {
		_, d, err := m.Send(ctx, Ref{Session: s.ID}, message, true)
		return d, err
	}
	return m.driverOf(s).resume(ctx, s, message)
}

// conflictLines describes conflicts for the agent of session me:
// "path:12-14" with me's lines (the other side's when me has none).
func conflictLines(cs []workspace.Conflict, me string) string {
	var parts []string
	for _, c := range cs {
		side := c.A
		if c.B.Name == me {
			side = c.B
		}
		p := side.Path
		if p == "" {
			p = c.Path
		}
		var rs []string
		for _, r := range side.Ranges {
			switch {
			case r.End < r.Start:
				rs = append(rs, fmt.Sprintf("before %d", r.Start))
			case r.End == r.Start:
				rs = append(rs, strconv.Itoa(r.Start))
			default:
				rs = append(rs, fmt.Sprintf("%d-%d", r.Start, r.End))
			}
		}
		if len(rs) > 0 {
			p += ":" + strings.Join(rs, ",")
		}
		parts = append(parts, p)
	}
	slices.Sort(parts)
	return strings.Join(slices.Compact(parts), ", ")
}

// predictor returns the conflict tracker's predictor for root, nil when
// root has no tracker.
func (c *conflicts) predictor(root string) *workspace.Predictor {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.trackers[root]; t != nil {
		return t.Predictor()
	}
	return nil
}

// errChangedWhileChecking: the merge built after a check is not the
// combination that was checked.
var errChangedWhileChecking = errors.New("the session or the target changed while the check ran")
