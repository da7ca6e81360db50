package agents

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/studiod/studiod/vocab"
	"github.com/studiod/studiod/workspace"
)

// Check statuses (the wire's CheckStatus).
const (
	CheckRunning   = vocab.CheckRunning
	CheckPassed    = vocab.CheckPassed
	CheckFailed    = vocab.CheckFailed
	CheckTimeout   = vocab.CheckTimeout
	CheckCancelled = vocab.CheckCancelled
	CheckError     = vocab.CheckError
)

// CheckRun is the check command run on a preview's combination, bisected
// when it fails.
type CheckRun struct {
	Command           string
	Status            vocab.CheckStatus
	Started, Finished time.Time
	Tries             []CheckTry
	// Culprit names the session, or the pair, that breaks the check.
	Culprit []string
	Reason  string
	// Log and Tail are the deciding try's.
	Log, Tail string
}

// CheckTry is one run of the check on the target with Sessions merged in.
type CheckTry struct {
	Sessions []string
	Commit   string
	Status   vocab.CheckStatus
	ExitCode int
	Log      string
	Tail     string
	Duration time.Duration
	// Err says why it could not run (Status CheckError).
	Err string
}

// Defaults of [check].
const (
	defaultCheckTimeout = 10 * time.Minute
	checkKillGrace      = 5 * time.Second
	checkLogsKept       = 50
	tailBytes           = 4096
	tailLines           = 20
)

// checkConfig is the check a repository runs.
type checkConfig struct {
	command     string
	timeout     time.Duration
	slots       int
	defaults    Defaults
	worktreeDir string
}

// checkConfig resolves the check command of root: override (from the
// CLI), else [check] command from the user's config or the repo's trusted
// .studio.toml.
func (m *Manager) checkConfig(ctx context.Context, root, override string) (checkConfig, error) {
	cfg, rc, err := m.effectiveConfig(ctx, root)
	if err != nil {
		return checkConfig{}, err
	}
	cc := checkConfig{command: override, timeout: cfg.Check.Timeout.Duration, slots: cfg.Check.Concurrency,
		defaults: cfg.Defaults, worktreeDir: cfg.Defaults.WorktreeDir}
	if cc.worktreeDir == "" {
		cc.worktreeDir = m.opts.WorktreeDir
	}
	if cc.command == "" {
		if rc.Config.Check.Command != "" && !rc.Trusted {
			return cc, &Problem{Kind: ErrUntrusted, What: fmt.Sprintf("%s defines a check command (%s)", rc.Path, rc.Config.Check.Command),
				Repo: root, Path: rc.Path, Fix: FixTrust}
		}
		cc.command = cfg.Check.Command
	}
	if strings.TrimSpace(cc.command) == "" {
		return cc, &Problem{Kind: ErrInvalid, What: "no check command", Repo: root, Path: filepath.Join(root, RepoConfigName), Fix: FixCheckCommand}
	}
	if cc.timeout <= 0 {
		cc.timeout = defaultCheckTimeout
	}
	if cc.slots <= 0 {
		cc.slots = 1
	}
	if cc.defaults.PortBlock <= 0 {
		cc.defaults.PortBlock = 10
	}
	return cc, nil
}

// slot takes one of root's check slots (at most [check] concurrency checks
// of a repository run at once), waiting for one to be free.
func (ig *integrator) slot(ctx context.Context, root string, n int) (int, func(), error) {
	ig.mu.Lock()
	rs := ig.repoLocked(root)
	if rs.slots == nil {
		rs.slots = make(chan int, n)
		for i := range n {
			rs.slots <- i
		}
	}
	ch := rs.slots
	ig.mu.Unlock()
	select {
	case s := <-ch:
		return s, func() { ch <- s }, nil
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
}

// reservePort gives a check its own STUDIO_PORT block. Sessions take
// blocks from port_base up; checks take them from a thousand blocks
// above, down, so that neither lands on the other's.
func (ig *integrator) reservePort(d Defaults) (int, func()) {
	used := map[int]bool{}
	for _, s := range ig.env.List("", false) {
		used[s.Port] = true
	}
	ig.mu.Lock()
	defer ig.mu.Unlock()
	for i := 999; ; i-- {
		p := d.PortBase + i*d.PortBlock
		if i < 0 || !used[p] && !ig.ports[p] {
			ig.ports[p] = true
			return p, func() {
				ig.mu.Lock()
				delete(ig.ports, p)
				ig.mu.Unlock()
			}
		}
	}
}

// scratch checks commit out (detached, files cleaned of what earlier runs
// left untracked; ignored ones such as build caches stay) in the check
// worktree of slot, making it when it is missing or broken. It is the one
// place checks get a worktree from.
func (m *Manager) scratch(ctx context.Context, repo *workspace.Repo, cc checkConfig, slot int, commit string) (string, error) {
	// "_" is not allowed in session names, so this never meets a session.
	dir := filepath.Join(cc.worktreeDir, repoKey(repo.Root), "_check-"+strconv.Itoa(slot))
	g := m.opts.Git
	if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
		if _, err := g.Run(ctx, dir, "checkout", "-q", "--detach", "-f", commit); err == nil {
			if _, err := g.Run(ctx, dir, "clean", "-ffdq"); err == nil {
				return dir, nil
			}
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		g.Run(ctx, repo.Root, "worktree", "remove", "--force", dir)
	}
	os.RemoveAll(dir)
	g.Run(ctx, repo.Root, "worktree", "prune")
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	if _, err := g.Run(ctx, repo.Root, "worktree", "add", "-q", "--detach", "-f", dir, commit); err != nil {
		return "", fmt.Errorf("make the check worktree %s: %w", dir, err)
	}
	return dir, nil
}

// runCheck runs the check command on commit in slot's worktree, with the
// environment of a scratch session, in its own process group (killed on
// timeout or cancellation), its output kept in a log file.
func (m *Manager) runCheck(ctx context.Context, repo *workspace.Repo, cc checkConfig, slot int, names []string, commit string) CheckTry {
	t := CheckTry{Sessions: slices.Clone(names), Commit: commit}
	start := time.Now()
	defer func() { t.Duration = time.Since(start) }()
	fail := func(status vocab.CheckStatus, err error) CheckTry {
		t.Status, t.Err = status, err.Error()
		if ctx.Err() != nil {
			t.Status = CheckCancelled
		}
		return t
	}
	dir, err := m.scratch(ctx, repo, cc, slot, commit)
	if err != nil {
		return fail(CheckError, err)
	}
	logDir := filepath.Join(m.opts.StateDir, "checks", repoKey(repo.Root))
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return fail(CheckError, err)
	}
	pruneLogs(logDir, checkLogsKept)
	t.Log = filepath.Join(logDir, time.Now().UTC().Format("20060102T150405.000000000")+"-"+strconv.Itoa(slot)+".log")
	f, err := os.OpenFile(t.Log, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fail(CheckError, err)
	}
	defer f.Close()
	fmt.Fprintf(f, "# studiod check of %s with %s\n# commit %s in %s\n$ %s\n", repo.Root, sessionList(names), commit, dir, cc.command)
	port, release := m.integ.reservePort(cc.defaults)
	defer release()
	env := append(os.Environ(),
		"STUDIO_SESSION=check-"+strconv.Itoa(slot),
		"STUDIO_SESSION_ID=check-"+strconv.Itoa(slot),
		"STUDIO_WORKTREE="+dir,
		"STUDIO_REPO="+repo.Root,
		"STUDIO_BRANCH=",
		"STUDIO_PORT="+strconv.Itoa(port),
		"STUDIO_CHECK=1",
		"STUDIO_CHECK_SESSIONS="+strings.Join(names, " "),
	)
	cmd := exec.Command("sh", "-c", cc.command)
	cmd.Dir, cmd.Env = dir, env
	// A file, not a pipe: nothing the command leaves behind can keep Wait
	// from returning.
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fail(CheckError, err)
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tctx, cancel := context.WithTimeout(ctx, cc.timeout)
	defer cancel()
	select {
	case err = <-done:
	case <-tctx.Done():
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case err = <-done:
		case <-time.After(checkKillGrace):
			syscall.Kill(-pgid, syscall.SIGKILL)
			err = <-done
		}
	}
	// Whatever the command started and left running goes with it.
	syscall.Kill(-pgid, syscall.SIGKILL)
	t.ExitCode = cmd.ProcessState.ExitCode()
	switch {
	case ctx.Err() != nil:
		t.Status = CheckCancelled
		fmt.Fprintf(f, "\n# cancelled: a newer preview replaced this one\n")
	case tctx.Err() != nil:
		t.Status = CheckTimeout
		fmt.Fprintf(f, "\n# killed after the timeout of %s\n", cc.timeout)
	case err == nil:
		t.Status = CheckPassed
	default:
		t.Status = CheckFailed
		fmt.Fprintf(f, "\n# exit status %d\n", t.ExitCode)
	}
	f.Sync()
	t.Tail = tail(t.Log)
	return t
}

func sessionList(names []string) string {
	if len(names) == 0 {
		return "no session"
	}
	return strings.Join(names, ", ")
}

// tail returns the last lines of a log.
func tail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(fi.Size()-tailBytes, 0)
	b := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if off > 0 && len(lines) > 1 {
		lines = lines[1:] // cut mid-line
	}
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	return strings.Join(lines, "\n")
}

// pruneLogs keeps the newest keep logs of dir.
func pruneLogs(dir string, keep int) {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) < keep {
		return
	}
	// Names start with the time, so they sort by age.
	for _, e := range entries[:len(entries)-keep+1] {
		os.Remove(filepath.Join(dir, e.Name()))
	}
}

// checkCommit runs one check on commit, taking a slot of the repository.
func (m *Manager) checkCommit(ctx context.Context, repo *workspace.Repo, cc checkConfig, names []string, commit string) CheckTry {
	slot, release, err := m.integ.slot(ctx, repo.Root, cc.slots)
	if err != nil {
		return CheckTry{Sessions: names, Commit: commit, Status: CheckCancelled, Err: err.Error()}
	}
	defer release()
	return m.runCheck(ctx, repo, cc, slot, names, commit)
}

// checkPreview runs the check on a preview's landing order. A failure is
// bisected: the shortest failing prefix of the order names the session
// that breaks it, alone (it fails on the target by itself) or with a
// partner (the shortest prefix it fails with); that session leaves the
// order, and the rest is checked again until it passes. It returns p with
// the check's verdict.
func (m *Manager) checkPreview(ctx context.Context, rs *repoInteg, cc checkConfig, plan *foldPlan, p Preview) Preview {
	run := *p.Check
	run.Tries = nil
	finish := func() Preview {
		run.Finished = time.Now().UTC()
		p.Check = &run
		return p
	}
	slot, release, err := m.integ.slot(ctx, plan.repo.Root, cc.slots)
	if err != nil {
		run.Status = CheckCancelled
		return finish()
	}
	defer release()
	names := func(idx []int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, plan.sessions[i].Name)
		}
		return out
	}
	tries := map[string]CheckTry{} // by commit: a fold is deterministic
	// try checks the target with sides idx folded in, in order.
	try := func(idx []int) (CheckTry, error) {
		commit := plan.res.Tip
		if len(idx) > 0 {
			var commits []string
			for _, i := range idx {
				commits = append(commits, plan.sides[i].Commit)
			}
			steps, err := plan.folder.Chain(ctx, plan.res.Tip, commits)
			if err != nil {
				return CheckTry{}, err
			}
			commit = steps[len(steps)-1].Commit
		}
		if t, ok := tries[commit]; ok {
			return t, nil
		}
		t := m.runCheck(ctx, plan.repo, cc, slot, names(idx), commit)
		tries[commit] = t
		run.Tries = append(run.Tries, t)
		return t, nil
	}
	// stop ends the run on a try that neither passed nor failed.
	stop := func(t CheckTry) Preview {
		run.Status = t.Status
		switch t.Status {
		case CheckTimeout:
			run.Reason = fmt.Sprintf("the check ran longer than %s with %s and was killed; raise [check] timeout if it needs longer", cc.timeout, sessionList(t.Sessions))
		case CheckError:
			run.Reason = "the check could not run: " + t.Err
		case CheckCancelled:
			run.Reason = "a newer preview replaced this one"
		}
		run.Log, run.Tail = t.Log, t.Tail
		return finish()
	}
	order := slices.Clone(plan.order)
	breakers := map[int][]int{} // side → the partner it breaks with (none: alone)
	var culprits []int
	var decisive *CheckTry
	targetFails := false
	for range len(plan.order) + 1 {
		full, err := try(order)
		if err != nil {
			run.Status, run.Reason = CheckError, err.Error()
			return finish()
		}
		if full.Status == CheckPassed {
			break
		}
		if full.Status != CheckFailed {
			return stop(full)
		}
		if decisive == nil {
			decisive = &full
		}
		// The shortest failing prefix: prefix hi fails.
		lo, hi := 0, len(order)
		for lo < hi {
			mid := (lo + hi) / 2
			t, err := try(order[:mid])
			if err != nil {
				run.Status, run.Reason = CheckError, err.Error()
				return finish()
			}
			switch t.Status {
			case CheckFailed:
				hi = mid
			case CheckPassed:
				lo = mid + 1
			default:
				return stop(t)
			}
		}
		if lo == 0 {
			targetFails = true
			t, _ := try(nil)
			decisive = &t
			break
		}
		breaker := order[lo-1]
		var partners []int
		last, _ := try(order[:lo])
		if lo > 1 {
			alone, err := try([]int{breaker})
			if err != nil {
				run.Status, run.Reason = CheckError, err.Error()
				return finish()
			}
			if alone.Status == CheckFailed {
				last = alone
			} else if alone.Status != CheckPassed {
				return stop(alone)
			} else {
				// The shortest prefix of those before it that it fails
				// with; with all of them it does.
				lo2, hi2 := 1, lo-1
				for lo2 < hi2 {
					mid := (lo2 + hi2) / 2
					t, err := try(append(slices.Clone(order[:mid]), breaker))
					if err != nil {
						run.Status, run.Reason = CheckError, err.Error()
						return finish()
					}
					switch t.Status {
					case CheckFailed:
						hi2 = mid
					case CheckPassed:
						lo2 = mid + 1
					default:
						return stop(t)
					}
				}
				partners = []int{order[lo2-1]}
				last, _ = try(append(slices.Clone(order[:lo2]), breaker))
			}
		}
		if len(culprits) == 0 {
			decisive = &last
		}
		breakers[breaker] = partners
		culprits = append(culprits, breaker)
		order = slices.DeleteFunc(order, func(i int) bool { return i == breaker })
	}

	// The verdict, on a copy of the sessions.
	final, _ := try(order)
	passed := final.Status == CheckPassed
	if len(order) > 0 {
		var commits []string
		for _, i := range order {
			commits = append(commits, plan.sides[i].Commit)
		}
		if steps, err := plan.folder.Chain(ctx, plan.res.Tip, commits); err == nil {
			p.Commit, p.Tree = steps[len(steps)-1].Commit, steps[len(steps)-1].Tree
		}
	} else {
		p.Commit = plan.res.Tip
	}
	pos := map[int]int{}
	for k, i := range order {
		pos[i] = k + 1
	}
	byID := map[string]int{}
	for i, s := range plan.sessions {
		byID[s.ID] = i
	}
	var inOrder, out []PreviewSession
	for _, ps := range p.Sessions {
		ps.With, ps.Files = slices.Clone(ps.With), slices.Clone(ps.Files)
		i, ok := byID[ps.Session.ID]
		switch {
		case !ok || ps.Position == 0:
			out = append(out, ps)
		case pos[i] > 0:
			ps.Position = pos[i]
			if passed {
				ps.Check = CheckPassed
			} else if targetFails {
				ps.Check = CheckFailed
			}
			inOrder = append(inOrder, ps)
		default:
			ps.Position, ps.Status, ps.Left, ps.Check = 0, PreviewBreaks, LeftCheck, CheckFailed
			ps.With = names(breakers[i])
			out = append(out, ps)
		}
	}
	slices.SortFunc(inOrder, func(a, b PreviewSession) int { return a.Position - b.Position })
	p.Sessions = append(inOrder, out...)
	if decisive == nil {
		decisive = &final
	}
	run.Log, run.Tail = decisive.Log, decisive.Tail
	switch {
	case targetFails:
		run.Status = CheckFailed
		run.Reason = fmt.Sprintf("the check fails on %s by itself, without any session", plan.target)
	case len(culprits) > 0:
		run.Status = CheckFailed
		first := culprits[0]
		run.Culprit = append(names(breakers[first]), plan.sessions[first].Name)
		var parts []string
		for _, c := range culprits {
			part := plan.sessions[c].Name + " breaks it"
			if ps := breakers[c]; len(ps) > 0 {
				part = plan.sessions[c].Name + " breaks it together with " + strings.Join(names(ps), ", ")
			} else {
				part += " on its own"
			}
			parts = append(parts, part)
		}
		verdict := "the landing order without it passes"
		if !passed {
			verdict = "the landing order without it does not pass either"
		}
		run.Reason = strings.Join(parts, "; ") + "; " + verdict
	case passed:
		run.Status = CheckPassed
	default:
		run.Status = final.Status
	}
	return finish()
}
