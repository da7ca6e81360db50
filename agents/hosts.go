package agents

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/vocab"
)

// Sessions on other machines: [hosts.NAME] in the user's config names a
// machine reached with the user's own ssh; `spawn --host NAME` runs the
// session there through an SSH runtime (agents/host/ssh.go). Which host a
// session runs on is kept in its directory (a file "host"), so every part
// of the Manager reaches its process and workspace through the one Runtime
// it already has: routeRuntime sends each call to the session's host.

// Disconnected is the state of a session on a host that cannot be reached:
// its agent may well run on; the session reattaches when the host answers.
const Disconnected = vocab.StateDisconnected

// HostConfig is one [hosts.NAME] table.
type HostConfig struct {
	// SSH is what the user's own ssh accepts as the destination: a Host of
	// ~/.ssh/config, user@host.
	SSH string `toml:"ssh"`
	// Dir is studiod's directory on the host (default "~/studiod").
	Dir string `toml:"dir"`
	// SSHCommand is the ssh command line (default "ssh"), as git's
	// core.sshCommand.
	SSHCommand string `toml:"ssh_command"`
}

var hostNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// repoHosts refuses [hosts] in a repository's config: where agents run and
// which ssh command runs are the person's to say.
func repoHosts(c Config, path string) error {
	if len(c.Hosts) > 0 {
		return invalidf("%s: [hosts] belongs in your own config.toml, not a repository's", path)
	}
	return nil
}

// hosts keeps one SSH runtime per configured host.
type hosts struct {
	m *Manager
	// mirror is the runtime of this machine, behind the warm pool: it
	// makes the sessions' mirrors.
	mirror host.Runtime
	// mu guards rts and conf.
	mu   sync.Mutex
	rts  map[string]*host.SSH
	conf map[string]HostConfig
	// of caches each session's host by ID ("" for this machine).
	of sync.Map
}

func newHosts(m *Manager) *hosts {
	return &hosts{m: m, rts: map[string]*host.SSH{}, conf: map[string]HostConfig{}}
}

// configured reads the hosts of the user's config.
func (hs *hosts) configured() (map[string]HostConfig, error) {
	c, _, err := LoadFile(hs.m.opts.UserConfig)
	if err != nil {
		return nil, invalidf("%v", err)
	}
	for name, h := range c.Hosts {
		if !hostNameRE.MatchString(name) {
			return nil, invalidf("[hosts.%s]: name a host with letters, digits, '.', '_' and '-'", name)
		}
		if h.SSH == "" || strings.HasPrefix(h.SSH, "-") {
			return nil, invalidf("[hosts.%s]: ssh must name the destination, as `ssh DEST` takes it (a Host of your ssh config, user@host)", name)
		}
		if h.Dir != "" && !strings.HasPrefix(h.Dir, "~/") && !filepath.IsAbs(h.Dir) {
			return nil, invalidf("[hosts.%s]: dir %q must be absolute or start with ~/", name, h.Dir)
		}
	}
	return c.Hosts, nil
}

// runtime is host name's runtime, made for its current config.
func (hs *hosts) runtime(name string) (*host.SSH, error) {
	all, err := hs.configured()
	if err != nil {
		return nil, err
	}
	hc, ok := all[name]
	if !ok {
		names := make([]string, 0, len(all))
		for n := range all {
			names = append(names, n)
		}
		sort.Strings(names)
		known := "none is configured"
		if len(names) > 0 {
			known = "configured: " + strings.Join(names, ", ")
		}
		return nil, &Problem{Kind: ErrInvalid, What: fmt.Sprintf("no host %q (%s): add [hosts.%s] with ssh = \"DEST\" to %s", name, known, name, hs.m.opts.UserConfig)}
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if rt, ok := hs.rts[name]; ok && hs.conf[name] == hc {
		return rt, nil
	}
	cmd := []string{"ssh"}
	if hc.SSHCommand != "" {
		cmd = splitCommand(hc.SSHCommand)
	}
	rt := host.NewSSH(host.SSHConfig{
		Name: name, Target: hc.SSH, Dir: hc.Dir, Command: cmd, Self: hs.m.opts.Self,
		StateDir: hs.m.opts.StateDir, RuntimeDir: hs.m.opts.RuntimeDir, ReportSocket: hs.m.opts.ReportSocket,
		Git: hs.m.opts.Git, Log: hs.m.log.With("host", name), Mirror: hs.mirror,
	})
	if old := hs.rts[name]; old != nil {
		go old.Close()
	}
	hs.rts[name], hs.conf[name] = rt, hc
	return rt, nil
}

func (hs *hosts) close() {
	hs.mu.Lock()
	rts := hs.rts
	hs.rts = map[string]*host.SSH{}
	hs.mu.Unlock()
	for _, rt := range rts {
		rt.Close()
	}
}

// splitCommand splits an ssh_command as a shell would split plain words,
// with single and double quotes, and ~/ at a word's start made the home.
func splitCommand(s string) []string {
	var out []string
	var cur strings.Builder
	inWord, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	home, _ := os.UserHomeDir()
	for i, w := range out {
		if rest, ok := strings.CutPrefix(w, "~/"); ok && home != "" {
			out[i] = filepath.Join(home, rest)
		}
	}
	return out
}

func (hs *hosts) file(id string) string {
	return filepath.Join(hs.m.opts.StateDir, "sessions", id, "host")
}

// of says which host session id runs on.
func (hs *hosts) hostOf(id string) string {
	if v, ok := hs.of.Load(id); ok {
		return v.(string)
	}
	b, _ := os.ReadFile(hs.file(id))
	name := strings.TrimSpace(string(b))
	hs.of.Store(id, name)
	return name
}

// bind records that session id runs on host name.
func (hs *hosts) bind(id, name string) error {
	if err := os.WriteFile(hs.file(id), []byte(name+"\n"), 0o600); err != nil {
		return err
	}
	hs.of.Store(id, name)
	return nil
}

// routeRuntime sends each call to the runtime of the session's host: this
// machine's (the Runtime it wraps), or a host's over ssh.
type routeRuntime struct {
	host.Runtime
	hs *hosts
}

func (r *routeRuntime) pick(id string) (host.Runtime, error) {
	name := r.hs.hostOf(id)
	if name == "" {
		return r.Runtime, nil
	}
	rt, err := r.hs.runtime(name)
	if err != nil {
		return nil, &host.UnreachableError{Host: name, Msg: err.Error()}
	}
	return rt, nil
}

func (r *routeRuntime) Acquire(ctx context.Context, spec host.WorkspaceSpec) (host.Workspace, error) {
	rt, err := r.pick(spec.Session)
	if err != nil {
		return nil, err
	}
	return rt.Acquire(ctx, spec)
}

func (r *routeRuntime) Workspace(spec host.WorkspaceSpec) host.Workspace {
	rt, err := r.pick(spec.Session)
	if err != nil {
		return lostWorkspace{r.Runtime.Workspace(spec), err}
	}
	return rt.Workspace(spec)
}

func (r *routeRuntime) Start(ctx context.Context, spec host.ProcSpec) (host.Proc, error) {
	rt, err := r.pick(spec.ID)
	if err != nil {
		return nil, err
	}
	return rt.Start(ctx, spec)
}

func (r *routeRuntime) Reattach(ctx context.Context, id string) (host.Proc, error) {
	rt, err := r.pick(id)
	if err != nil {
		return nil, err
	}
	return rt.Reattach(ctx, id)
}

// lostWorkspace is the workspace of a session whose host is no longer
// configured: its mirror at home is read as ever; every change fails with
// why.
type lostWorkspace struct {
	host.Workspace
	err error
}

func (w lostWorkspace) Copy([]string) (int, int, error)                       { return 0, 0, w.err }
func (w lostWorkspace) Release(context.Context, host.Release) error           { return w.err }
func (w lostWorkspace) Setup(context.Context, []string, string, string) error { return w.err }

// checkHostSpawn says whether a spawn can go to host name, before anything
// is made: the host is configured, reachable, has studiod (installed now if
// not) and git; the agent's profile runs there.
func (m *Manager) checkHostSpawn(ctx context.Context, name string, p Profile, cfg Config) error {
	if p.Protocol == ProtocolACP {
		return invalidf("ACP agent profiles do not run on hosts yet: use a terminal profile (claude, codex, gemini), or -- CMD")
	}
	if cfg.Sandbox.Mode != "" && cfg.Sandbox.Mode != "off" || p.Sandbox.Mode != "" && p.Sandbox.Mode != "off" {
		return invalidf("the agent sandbox does not run on hosts yet: turn [sandbox] off for this repository to spawn on host %s", name)
	}
	rt, err := m.hosts.runtime(name)
	if err != nil {
		return err
	}
	if err := rt.Ready(ctx); err != nil {
		return &Problem{Kind: ErrInvalid, What: err.Error()}
	}
	if p.Hooks != "" {
		// The agent's hooks report to this daemon over the connection.
		if _, err := rt.Reports(ctx); err != nil {
			return &Problem{Kind: ErrInvalid, What: err.Error()}
		}
	}
	return nil
}

// HostInfo is what `studiod hosts` says of a host.
type HostInfo struct {
	Name      string
	SSH       string
	Dir       string
	Reachable bool
	Error     string
	Version   string
	Build     string
	Git       string
	Load      string
	// Sessions counts the live agents on the host; Here the sessions of
	// this daemon that run there.
	Sessions, Here int
}

// Hosts reports each configured host (or only name): reachable, studiod
// there (installed on first use), git, sessions, load.
func (m *Manager) Hosts(ctx context.Context, name string) ([]HostInfo, error) {
	all, err := m.hosts.configured()
	if err != nil {
		return nil, err
	}
	if name != "" {
		if _, ok := all[name]; !ok {
			_, err := m.hosts.runtime(name)
			return nil, err
		}
	}
	var names []string
	for n := range all {
		if name == "" || n == name {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	here := map[string]int{}
	for _, s := range m.List("", false) {
		if s.Host != "" && live(s.State) {
			here[s.Host]++
		}
	}
	out := make([]HostInfo, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() {
			hc := all[n]
			info := HostInfo{Name: n, SSH: hc.SSH, Dir: cmpOr(hc.Dir, "~/studiod"), Here: here[n]}
			defer func() { out[i] = info }()
			rt, err := m.hosts.runtime(n)
			if err != nil {
				info.Error = err.Error()
				return
			}
			hl, err := rt.Hello(ctx)
			if err != nil {
				info.Error = err.Error()
				info.Reachable = !errors.Is(err, host.ErrUnreachable)
				return
			}
			info.Reachable = true
			info.Version, info.Build, info.Git, info.Load, info.Sessions = hl.Version, hl.Build, hl.Git, hl.Load, hl.Sessions
			if hl.Git == "" {
				info.Error = "no usable git: " + hl.GitError
			}
		})
	}
	wg.Wait()
	return out, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// disconnect marks a live session on an unreachable host disconnected,
// with why.
func (m *Manager) disconnect(id string, err error) {
	m.update(id, func(s *Session) bool {
		if !live(s.State) || s.State == Disconnected {
			return false
		}
		s.State, s.Detail, s.Ask = Disconnected, err.Error(), nil
		return true
	})
}

// reconnected brings a disconnected session back: working, until its
// screen and its silence say more.
func (m *Manager) reconnected(id string) bool {
	changed := false
	m.update(id, func(s *Session) bool {
		if s.State != Disconnected {
			return false
		}
		s.State, s.Detail = Working, ""
		changed = true
		return true
	})
	return changed
}
