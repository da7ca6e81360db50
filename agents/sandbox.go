package agents

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// The sandbox: with [sandbox] mode = "bwrap" (in the user's config, a
// repository's, or a profile's [agents.NAME.sandbox]), an agent runs under
// bubblewrap and sees the whole file system read-only except its own
// worktree, what git needs to commit on its branch, its agent's state
// directories, studiod's directory for the session, a private /tmp and the
// paths the person adds (writable = ["~/.cache", "~/.npm"]). Its processes
// see only each other (a pid namespace): not the other sessions' agents,
// nor their environments. The network is left as it is. See
// docs/security.md for what it confines and what it does not.

// Sandbox modes.
const (
	SandboxOff   = "off"
	SandboxBwrap = "bwrap"
)

// Sandbox configures the sandbox of a repository's or a profile's agents.
type Sandbox struct {
	// Mode is off (the default) or bwrap.
	Mode string `toml:"mode"`
	// Writable are more paths the agent may write ("~/" is the home
	// directory); those that do not exist are skipped.
	Writable []string `toml:"writable"`
}

// overlaySandbox returns base with o's settings: a mode that turns the
// sandbox on stays on (a repository cannot turn off the person's sandbox),
// writable paths add up.
func overlaySandbox(base, o Sandbox) Sandbox {
	if o.Mode != "" && base.Mode != SandboxBwrap {
		base.Mode = o.Mode
	}
	base.Writable = append(slices.Clone(base.Writable), o.Writable...)
	return base
}

// stateDirs are the directories (and files) each built-in agent keeps its
// own state in, under the home directory: its sign-in, settings and
// conversations.
var stateDirs = map[string][]string{
	"claude":   {".claude", ".claude.json", ".claude.json.backup", ".config/claude"},
	"codex":    {".codex"},
	"gemini":   {".gemini"},
	"opencode": {".local/share/opencode", ".local/state/opencode", ".config/opencode", ".cache/opencode"},
}

// stateEnv are the variables that move a built-in agent's state elsewhere:
// where they point is its state too.
var stateEnv = map[string][]string{
	"claude": {"CLAUDE_CONFIG_DIR"},
	"codex":  {"CODEX_HOME"},
	"gemini": {"GEMINI_CLI_HOME"},
}

// agentKind is which built-in agent a profile runs, for its state
// directories: the profile's screen, else its name without "-acp".
func agentKind(name string, p Profile) string {
	if p.Screen != "" {
		return p.Screen
	}
	return strings.TrimSuffix(name, "-acp")
}

// SandboxStatus says whether the bubblewrap sandbox can run here, and why
// not.
func SandboxStatus(ctx context.Context) (bool, string) {
	path, err := exec.LookPath("bwrap")
	if err != nil {
		return false, "bwrap is not installed (Debian, Ubuntu: apt-get install bubblewrap)"
	}
	out, err := exec.CommandContext(ctx, path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid", "--die-with-parent", "true").CombinedOutput()
	if err != nil {
		return false, fmt.Sprintf("%s cannot make a sandbox here: %s (unprivileged user namespaces may be off: sysctl kernel.unprivileged_userns_clone or user.max_user_namespaces)", path, strings.TrimSpace(string(out)))
	}
	return true, path
}

// linkedFrom lists what the programs of the directories dirs under tmp
// link to elsewhere under tmp: npm's node_modules/.bin holds links into
// the packages beside it, which must be seen too. A link into a
// node_modules tree gives that whole tree (a package finds its
// dependencies there), any other its target's directory.
func linkedFrom(dirs []string, tmp string) []string {
	seen := map[string]bool{}
	var out []string
	for _, dir := range dirs {
		if dir == "" || !within(dir, tmp) {
			continue
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.Type()&os.ModeSymlink == 0 {
				continue
			}
			target, err := filepath.EvalSymlinks(filepath.Join(dir, e.Name()))
			if err != nil || !within(target, tmp) || within(target, dir) {
				continue
			}
			d := filepath.Dir(target)
			for a := d; a != filepath.Dir(a) && within(a, tmp); a = filepath.Dir(a) {
				if filepath.Base(a) == "node_modules" {
					d = a
					break
				}
			}
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	return out
}

// sandboxArgv is the bwrap command line s's agent runs under, starting in
// dir, nil when its sandbox is off. The commands the agent asks its ACP
// client to run (acpterm.go) run under the same.
func (m *Manager) sandboxArgv(ctx context.Context, s Session, dir string) ([]string, error) {
	cfg, _, err := m.effectiveConfig(ctx, s.Repo)
	if err != nil {
		return nil, err
	}
	p := cfg.Agents[s.Agent]
	sb := overlaySandbox(cfg.Sandbox, p.Sandbox)
	switch sb.Mode {
	case "", SandboxOff:
		return nil, nil
	case SandboxBwrap:
	default:
		return nil, invalidf("[sandbox] mode %q: use off or bwrap", sb.Mode)
	}
	bwrap, err := exec.LookPath("bwrap")
	if err != nil {
		return nil, fmt.Errorf("the sandbox is on ([sandbox] mode = \"bwrap\") but bwrap is not installed: install bubblewrap, or turn the sandbox off")
	}
	home, _ := os.UserHomeDir()
	// What git needs to commit on the session's branch: the worktree's own
	// git directory, the object store, and the directories of its branch's
	// ref and reflog (git writes a lock file beside the ref).
	out, err := m.opts.Git.Run(ctx, s.Worktree, "rev-parse", "--path-format=absolute", "--git-dir", "--git-common-dir")
	if err != nil {
		return nil, fmt.Errorf("sandbox: find the git directories of %s: %w", s.Worktree, err)
	}
	dirs := strings.Fields(string(out))
	if len(dirs) != 2 {
		return nil, fmt.Errorf("sandbox: git directories of %s: %q", s.Worktree, out)
	}
	gitDir, common := dirs[0], dirs[1]
	refDir := filepath.Dir(filepath.Join(common, "refs", "heads", s.Branch))
	logDir := filepath.Dir(filepath.Join(common, "logs", "refs", "heads", s.Branch))
	for _, d := range []string{refDir, logDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	argv := []string{bwrap, "--die-with-parent", "--unshare-pid",
		// A minimal /dev (null, zero, random, tty, its own pts): not the
		// machine's devices.
		"--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
		// A private /tmp, gone with the agent.
		"--tmpfs", "/tmp"}
	// What the private /tmp hides that the agent still sees, read-only:
	// studiod itself (its hooks, the daemon's socket), the programs on its
	// PATH, the repository (its checkout and git directory) and the home
	// directory.
	ro := []string{filepath.Dir(m.opts.Self), filepath.Dir(m.opts.Socket), m.opts.RuntimeDir, s.Repo, common, home}
	path := filepath.SplitList(cmp.Or(p.Env["PATH"], os.Getenv("PATH")))
	ro = append(append(ro, path...), linkedFrom(path, os.TempDir())...)
	for _, p := range ro {
		if p != "" && within(p, os.TempDir()) && exists(p) {
			argv = append(argv, "--ro-bind", p, p)
		}
	}
	rw := []string{s.Worktree, gitDir, filepath.Join(common, "objects"), refDir, logDir, s.Dir}
	for _, d := range stateDirs[agentKind(s.Agent, p)] {
		if home == "" {
			break
		}
		d = filepath.Join(home, d)
		if !strings.Contains(filepath.Base(d), ".json") {
			// An agent's first run makes its directory: it could not
			// inside the sandbox.
			os.MkdirAll(d, 0o700)
		}
		rw = append(rw, d)
	}
	for _, k := range stateEnv[agentKind(s.Agent, p)] {
		if v := cmp.Or(p.Env[k], os.Getenv(k)); filepath.IsAbs(v) {
			rw = append(rw, v)
		}
	}
	if runsCodex(p) {
		rw = append(rw, m.codexHome(s.Repo))
	}
	for _, w := range sb.Writable {
		if rest, ok := strings.CutPrefix(w, "~/"); ok {
			w = filepath.Join(home, rest)
		}
		if !filepath.IsAbs(w) {
			return nil, invalidf("[sandbox] writable %q: give an absolute path or one under ~/", w)
		}
		rw = append(rw, filepath.Clean(w))
	}
	for _, p := range rw {
		if exists(p) {
			argv = append(argv, "--bind", p, p)
		}
	}
	return append(argv, "--chdir", dir, "--setenv", "TMPDIR", "/tmp", "--"), nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
