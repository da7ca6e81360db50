package agents

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/workspace"
)

// maxPrompt bounds a spawn's prompt; maxArg is Linux's bound on one
// argument of a command (MAX_ARG_STRLEN), which a prompt passed as an
// argument must stay under.
const (
	maxPrompt = 1 << 20
	maxArg    = 128 << 10
)

// SpawnRequest asks for a new session.
type SpawnRequest struct {
	Repo    string
	Name    string
	Agent   string
	Base    string
	Target  string
	Prompt  string
	Command []string // any argv; only for trusted callers (the CLI)
	Rows    int
	Cols    int
	// Scopes are path globs of the area the session works in.
	Scopes []string
	// Note says what the session is for (default: the prompt's first line).
	Note string
	// Gate overrides the repository's gate mode.
	Gate string
	// Host is the configured host to run the session on ("": this
	// machine).
	Host string
	// Budget limits what the session's model may use; nil: the agent
	// profile's budget, if any.
	Budget *Budget
}

// Progress receives a short message at each step of a slow operation.
type Progress func(msg string)

// Spawn creates a worktree and branch, prepares them, and starts the agent.
// Any failure rolls back what was made and leaves a failed record.
func (m *Manager) Spawn(ctx context.Context, req SpawnRequest, progress Progress) (Session, error) {
	if progress == nil {
		progress = func(string) {}
	}
	if err := m.store.usable(); err != nil {
		return Session{}, err
	}
	if err := validateScopes(req.Scopes); err != nil {
		return Session{}, err
	}
	if err := validGate(req.Gate); err != nil {
		return Session{}, err
	}
	if len([]rune(req.Note)) > maxNote {
		return Session{}, invalidf("note of %d characters: keep it under %d", len([]rune(req.Note)), maxNote)
	}
	if req.Rows < 0 || req.Cols < 0 || req.Rows > 1000 || req.Cols > 1000 {
		return Session{}, invalidf("terminal size %dx%d: rows and cols must be 1 to 1000 (0 for the default)", req.Rows, req.Cols)
	}
	if len(req.Prompt) > maxPrompt {
		return Session{}, invalidf("prompt of %s: keep it under %s (put a long task in a file the agent can read, and name the file)", FormatSize(int64(len(req.Prompt))), FormatSize(maxPrompt))
	}
	repo, err := m.openRepo(ctx, req.Repo)
	if err != nil {
		return Session{}, err
	}
	cfg, rc, err := m.effectiveConfig(ctx, repo.Root)
	if err != nil {
		return Session{}, err
	}
	if !rc.Trusted {
		return Session{}, &Problem{Kind: ErrUntrusted, What: fmt.Sprintf("%s defines commands or paths (%s)", rc.Path, strings.Join(rc.Commands, "; ")),
			Repo: repo.Root, Path: rc.Path, Fix: FixTrust}
	}

	// The agent to run.
	agent := req.Agent
	var argv []string
	switch {
	case len(req.Command) > 0:
		if agent == "" {
			agent = "command"
		}
		argv = append([]string(nil), req.Command...)
	default:
		if agent == "" {
			agent = cfg.Defaults.Agent
		}
		if agent == "command" {
			return Session{}, invalidf("agent profile \"command\" needs a command: studiod spawn --name N -- CMD ARGS...")
		}
	}
	profile, ok := cfg.Agents[agent]
	if !ok {
		return Session{}, invalidf("no agent profile %q (built in: claude, codex, aider, gemini, opencode, claude-acp, gemini-acp, opencode-acp, codex-acp, command, demo; or define [agents.%s] in config)", agent, agent)
	}
	drv := m.driverFor(profile.Protocol)
	var typed string
	if argv == nil {
		if len(profile.Command) == 0 {
			return Session{}, invalidf("agent profile %q has no command", agent)
		}
		argv, typed = drv.command(profile, req.Prompt)
		if _, err := exec.LookPath(argv[0]); err != nil && req.Host == "" {
			return Session{}, invalidf("agent %q: command %q is not on PATH: install it or configure [agents.%s] command", agent, argv[0], agent)
		}
		for _, a := range argv {
			if len(a) >= maxArg {
				return Session{}, invalidf("agent %q takes the prompt as an argument, and one of %s is over the %s the system allows: keep the prompt shorter (put a long task in a file the agent can read, and name the file)", agent, FormatSize(int64(len(a))), FormatSize(maxArg))
			}
		}
	} else {
		typed = drv.typed(req.Prompt)
	}

	logLimit, err := ParseSize(cfg.Defaults.LogLimit)
	if err != nil {
		return Session{}, invalidf("log_limit: %v", err)
	}
	if req.Host != "" {
		progress("reaching host " + req.Host)
		if err := m.checkHostSpawn(ctx, req.Host, profile, cfg); err != nil {
			return Session{}, err
		}
	}
	s, err := m.reserve(ctx, repo, cfg, req, agent, argv)
	if err != nil {
		return Session{}, err
	}
	if req.Host != "" {
		if err := m.hosts.bind(s.ID, req.Host); err != nil {
			m.setState(s.ID, Failed, err.Error())
			return Session{}, err
		}
		s.Host, s.Endpoints = req.Host, m.proc(s.ID).Endpoints()
		m.updateDerived(s.ID, func(r *Session) bool {
			r.Host, r.Endpoints = s.Host, s.Endpoints
			return true
		})
	}
	s.LogLimit = logLimit
	log := m.log.With("session", s.Name)
	fail := func(step string, err error) (Session, error) {
		log.Warn("spawn failed", "step", step, "err", err)
		m.rollback(context.WithoutCancel(ctx), s)
		m.setState(s.ID, Failed, fmt.Sprintf("%s: %v", step, err))
		return Session{}, fmt.Errorf("spawn %s: %s: %w", s.Name, step, err)
	}

	if m.pool != nil && m.pool.claimedAt(s.Worktree) != nil {
		progress("taking a ready worktree from the pool: " + s.Worktree)
	}
	if s.Host != "" {
		progress("sending the base to host " + s.Host + " and creating the worktree there (mirrored at " + s.Worktree + ")")
	} else if m.pool == nil || m.pool.claimedAt(s.Worktree) == nil {
		progress("creating worktree " + s.Worktree)
	}
	ws, err := m.rt.Acquire(ctx, wsSpec(repo, s))
	if err != nil {
		return fail("create worktree", err)
	}
	include, err := repo.WorktreeInclude(ctx)
	if err != nil {
		return fail("copy files", err)
	}
	copied, cloned, err := ws.Copy(append(slices.Clone(cfg.Setup.Copy), literalGlobs(include)...))
	if err != nil {
		return fail("copy files", err)
	}
	switch {
	case copied > 0 && cloned == copied:
		progress(fmt.Sprintf("copied %d file(s) as copy-on-write clones (reflink)", copied))
	case copied > 0:
		progress(fmt.Sprintf("copied %d file(s) (%d as copy-on-write clones; the file system has no reflink for the others)", copied, cloned))
	}
	l, err := m.prepareLaunch(ctx, s, profile, false)
	if err != nil {
		return fail("install agent hooks", err)
	}
	s.Command = withLaunch(s.Command, l)
	env := append(m.agentEnv(s, profile), l.env...)
	for _, c := range cfg.Setup.Commands {
		progress("setup: " + c)
		if err := ws.Setup(ctx, env, c, filepath.Join(s.Dir, "setup.log")); err != nil {
			return fail("setup", err)
		}
	}
	progress("starting " + agent)
	pid, err := m.start(ctx, s, env, req.Rows, req.Cols)
	if err != nil {
		return fail("start agent", err)
	}
	started, err := m.update(s.ID, func(r *Session) bool {
		r.PID = pid
		// An ACP session is working once it has a prompt. A terminal
		// agent's hook may have reported already (waiting for an answer,
		// idle): that report stands.
		if st := drv.startedState(); st != "" && r.State == Starting {
			r.State = st
		}
		r.Command, r.Conversation = s.Command, s.Conversation
		return true
	})
	if err != nil {
		return fail("record start", err)
	}
	sv := m.supervise(started, profile, true)
	m.conf.track(ctx, started)
	if m.pool != nil {
		m.pool.spawned(ctx, repo)
	}
	started, step, err := drv.begin(ctx, sv, started, req.Prompt, typed, progress)
	if err != nil {
		return fail(step, err)
	}
	return started, nil
}

// reserve validates the session's name, branch, target and base and
// records the session as starting, which reserves its name. It holds the
// repo lock only while it checks and records; the slow steps of a spawn
// run without it.
func (m *Manager) reserve(ctx context.Context, repo *workspace.Repo, cfg Config, req SpawnRequest, agent string, argv []string) (_ *Session, err error) {
	reserved := false
	lock := m.repoLock(repo.Root)
	lock.Lock()
	defer lock.Unlock()
	name := req.Name
	if name != "" {
		if err := ValidateName(name); err != nil {
			return nil, err
		}
		if m.nameTaken(repo.Root, name) {
			return nil, &Problem{Kind: ErrInvalid, What: fmt.Sprintf("session %q already exists in %s", name, repo.Root), Session: name, Repo: repo.Root, Fix: FixOtherName}
		}
	} else {
		name = m.uniqueName(repo.Root, NameFromPrompt(nameSource(req)))
	}
	branch := cfg.Defaults.BranchPrefix + name
	if err := repo.CheckBranchName(ctx, branch); err != nil {
		return nil, invalidf("%v", err)
	}
	if exists, err := repo.BranchExists(ctx, branch); err != nil {
		return nil, err
	} else if exists {
		return nil, invalidf("branch %s already exists in %s: pick another --name or delete the branch", branch, repo.Root)
	}
	target := req.Target
	if target == "" {
		target = cfg.Defaults.Target
	}
	if target == "" {
		var err error
		if target, err = repo.CurrentBranch(ctx); err != nil {
			return nil, err
		}
		if target == "" {
			return nil, invalidf("the main worktree has a detached HEAD: pass --target BRANCH")
		}
	}
	if err := repo.CheckBranchName(ctx, target); err != nil {
		return nil, invalidf("--target: %v", err)
	}
	if ok, err := repo.BranchExists(ctx, target); err != nil {
		return nil, err
	} else if !ok {
		return nil, invalidf("target branch %q does not exist in %s", target, repo.Root)
	}
	baseRef := req.Base
	if baseRef == "" {
		baseRef = target
	}
	base, err := repo.ResolveCommit(ctx, baseRef)
	if err != nil {
		return nil, invalidf("--base: %v", err)
	}
	wtRoot := cfg.Defaults.WorktreeDir
	if wtRoot == "" {
		wtRoot = m.opts.WorktreeDir
	}
	wtPath := filepath.Join(wtRoot, repoKey(repo.Root), name)
	if _, err := os.Stat(wtPath); err == nil {
		return nil, invalidf("worktree path %s already exists: remove it or pick another --name", wtPath)
	}
	// A ready tree of the pool at the base becomes the session's worktree
	// where it is: it is the pool's to give back if the reservation fails.
	if m.pool != nil {
		if path := m.pool.claim(repo.Root, base, poolHash(cfg, m.fsmonitorHookFor(cfg))); path != "" {
			wtPath = path
			defer func() {
				if !reserved {
					m.pool.unclaim(path)
				}
			}()
		}
	}

	now := time.Now().UTC()
	s := &Session{
		ID: newID(), Name: name, Repo: repo.Root, Branch: branch, Base: base, Target: target,
		Worktree: wtPath, Agent: agent, Command: argv, Prompt: req.Prompt, State: Starting,
		Created: now, Updated: now, Protocol: cfg.Agents[agent].Protocol,
		Scope: req.Scopes, Note: cmp.Or(oneLine(req.Note), noteFromPrompt(req.Prompt)), Gate: req.Gate,
		Budget: req.Budget,
	}
	if s.Budget == nil && cfg.Agents[agent].Budget != "" {
		b, err := ParseBudget(cfg.Agents[agent].Budget)
		if err != nil {
			return nil, invalidf("agent %q: %v", agent, err)
		}
		s.Budget = &b
	}
	s.Dir = filepath.Join(m.opts.StateDir, "sessions", s.ID)
	s.Endpoints = m.proc(s.ID).Endpoints()
	s.Port = m.allocPort(cfg.Defaults)
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, err
	}
	if _, err := m.secrets.make(s); err != nil {
		return nil, err
	}
	if err := m.insert(s); err != nil {
		return nil, err
	}
	reserved = true
	return s, nil
}

// nameSource is what a session without a --name is named after: its
// prompt, else the command it runs (its program's base name and arguments).
func nameSource(req SpawnRequest) string {
	if req.Prompt != "" || len(req.Command) == 0 {
		return req.Prompt
	}
	return strings.Join(append([]string{filepath.Base(req.Command[0])}, req.Command[1:]...), " ")
}

func expand(tmpl []string, key, value string) (argv []string, unused string) {
	used := false
	for _, a := range tmpl {
		if strings.Contains(a, key) {
			used = true
			if a == key && value == "" {
				continue
			}
			a = strings.ReplaceAll(a, key, value)
		}
		argv = append(argv, a)
	}
	if !used {
		unused = value
	}
	return argv, unused
}

func (m *Manager) nameTaken(root, name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.sessions {
		if s.Repo == root && s.Name == name && active(s.State) {
			return true
		}
	}
	return false
}

func (m *Manager) uniqueName(root, base string) string {
	name := base
	for i := 2; m.nameTaken(root, name); i++ {
		suffix := "-" + strconv.Itoa(i)
		b := base
		if len(b)+len(suffix) > 40 {
			b = b[:40-len(suffix)]
		}
		name = b + suffix
	}
	return name
}

// allocPort returns the first port block no active session holds.
func (m *Manager) allocPort(d Defaults) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	used := map[int]bool{}
	for _, s := range m.sessions {
		if active(s.State) {
			used[s.Port] = true
		}
	}
	for i := 0; ; i++ {
		p := d.PortBase + i*d.PortBlock
		if !used[p] {
			return p
		}
	}
}

func (m *Manager) agentEnv(s *Session, p Profile) []string {
	// A daemon started from inside a session must not hand that session's
	// secret on.
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, TokenEnv+"=") })
	if tok := m.secrets.stored(*s); tok != "" {
		env = append(env, TokenEnv+"="+tok)
	}
	env = append(env,
		"STUDIO_SESSION="+s.Name,
		"STUDIO_SESSION_ID="+s.ID,
		"STUDIO_WORKTREE="+s.Worktree,
		"STUDIO_REPO="+s.Repo,
		"STUDIO_BRANCH="+s.Branch,
		"STUDIO_PORT="+strconv.Itoa(s.Port),
		"STUDIOD_SOCKET="+m.opts.Socket,
		// studiod's own directory for the session (never the worktree).
		"STUDIO_SESSION_DIR="+s.Dir,
		// How the agent reports its state: append working, waiting or idle
		// (and, for waiting, the question).
		"STUDIO_HOOK="+m.opts.Self+" hook --session "+s.ID,
		"TERM=xterm-256color",
	)
	if h := os.Getenv("STUDIOD_HOME"); h != "" {
		env = append(env, "STUDIOD_HOME="+h)
	}
	for k, v := range p.Env {
		env = append(env, k+"="+v)
	}
	return env
}

// tailBuffer keeps the last 2 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 2048 {
		t.b = t.b[len(t.b)-2048:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// rollback undoes what a spawn made: the agent, the worktree, the branch.
func (m *Manager) rollback(ctx context.Context, s *Session) {
	proc := m.proc(s.ID)
	if err := proc.Signal(ctx, syscall.SIGKILL); err == nil {
		proc.WaitGone(5 * time.Second)
	}
	// Setup commands of a daemon that crashed, or an agent whose shim is
	// gone, may still run: they would keep the worktree busy.
	m.sweep(proc, s)
	repo, err := workspace.Open(ctx, m.opts.Git, s.Repo)
	if err != nil {
		m.log.Warn("rollback: open repo", "session", s.Name, "err", err)
		return
	}
	if wt, _ := repo.WorktreeFor(ctx, s.Branch); wt != nil && wt.Path == s.Worktree {
		if err := m.workspace(repo, s).Release(ctx, host.Discard); err != nil {
			m.log.Warn("rollback: remove worktree", "session", s.Name, "err", err)
		}
	} else if err := m.workspace(repo, s).RemoveEmpty(ctx); err != nil {
		// A directory git does not know as our worktree: a crash between
		// mkdir and registration. Only an empty one goes.
		m.log.Warn("rollback: remove directory", "session", s.Name, "err", err)
	}
	repo.Run(ctx, "worktree", "prune")
	if ok, _ := repo.BranchExists(ctx, s.Branch); ok {
		if err := repo.DeleteBranch(ctx, s.Branch); err != nil {
			m.log.Warn("rollback: delete branch", "session", s.Name, "err", err)
		}
	}
}

// start starts s's agent, s.Command in its worktree with env, and returns
// its pid once it runs.
func (m *Manager) start(ctx context.Context, s *Session, env []string, rows, cols int) (int, error) {
	// The agent runs under its sandbox, when it has one.
	prefix, err := m.sandboxArgv(ctx, *s, s.Worktree)
	if err != nil {
		return 0, err
	}
	spec := host.ProcSpec{
		ID: s.ID, Argv: append(prefix, s.Command...), Dir: s.Worktree, Env: env, Rows: rows, Cols: cols, LogLimit: s.LogLimit,
	}
	spec.Mode = m.driverOf(*s).mode()
	p, err := m.rt.Start(ctx, spec)
	if err != nil {
		return 0, err
	}
	return p.PID(), nil
}

// sweep ends whatever of a session still runs once its process is gone: a
// shim killed with SIGKILL takes its agent along, but the processes the
// agent detached (which the shim had adopted) go to init. Call it only
// when the process no longer runs: with a live one it would kill the
// agent behind its back.
func (m *Manager) sweep(p host.Proc, s *Session) int {
	n := p.Sweep()
	if n > 0 {
		m.log.Warn("ended processes left by a session whose shim was gone", "session", s.Name, "processes", n)
	}
	return n
}

// literalGlobs turns paths into globs that match only themselves.
func literalGlobs(paths []string) []string {
	globs := make([]string, len(paths))
	for i, p := range paths {
		var b strings.Builder
		for _, r := range p {
			if strings.ContainsRune(`*?[\`, r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		globs[i] = filepath.FromSlash(b.String())
	}
	return globs
}
