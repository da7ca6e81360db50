package agents

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is studiod's configuration: the user's config.toml overlaid by a
// repo's .studio.toml.
type Config struct {
	Defaults Defaults           `toml:"defaults"`
	Agents   map[string]Profile `toml:"agents"`
	Setup    Setup              `toml:"setup"`
	Gate     Gate               `toml:"gate"`
	Check    Check              `toml:"check"`
	Pool     Pool               `toml:"pool"`
	Sandbox  Sandbox            `toml:"sandbox"`
	ACP      ACPFace            `toml:"acp"`
	Roles    map[string]Role    `toml:"roles"`
	// Notify is read from the user's config only (see notify.go).
	Notify Notify `toml:"notify"`
	// Hosts are the machines sessions may run on, from the user's config
	// only (hosts.go).
	Hosts map[string]HostConfig `toml:"hosts"`
}

// Gate configures what an agent hears, before it writes a file, of the
// other sessions' work on it.
type Gate struct {
	// Mode is off, inform (the default), ask or deny.
	Mode string `toml:"mode"`
}

// Check is how a combination of sessions is tested before it lands
// (preview --check, land --check).
type Check struct {
	// Command runs through sh -c in a scratch worktree holding the
	// combination, with the environment of a scratch session.
	Command string `toml:"command"`
	// Timeout kills the command's process group (default 10m).
	Timeout duration `toml:"timeout"`
	// Concurrency is how many checks of one repository may run at once
	// (default 1).
	Concurrency int `toml:"concurrency"`
}

// Defaults are settings for spawn and merge.
type Defaults struct {
	Agent         string `toml:"agent"`
	Target        string `toml:"target"`
	WorktreeDir   string `toml:"worktree_dir"`
	BranchPrefix  string `toml:"branch_prefix"`
	PortBase      int    `toml:"port_base"`
	PortBlock     int    `toml:"port_block"`
	MergeStrategy string `toml:"merge_strategy"`
	// LogLimit caps each session's output log ("32MiB"): older output is
	// rotated out. "0" keeps everything.
	LogLimit string `toml:"log_limit"`
	// Fsmonitor, when false, leaves git's core.fsmonitor unset in the
	// sessions' worktrees (default: on, answered by the daemon's watcher).
	Fsmonitor *bool `toml:"fsmonitor"`
	// SalvageDays is how long what a removed session left is kept
	// (salvage.go; default 30, negative: for ever).
	SalvageDays int `toml:"salvage_days"`
}

// Profile says how to run one kind of agent. In Command and Resume,
// "{prompt}" and "{message}" are replaced by the prompt or the message;
// a prompt that has no placeholder to go to is typed into the terminal.
type Profile struct {
	Command []string `toml:"command"`
	// Resume restarts an exited agent with a message (review feedback).
	Resume []string `toml:"resume"`
	// IdleAfter is how long the terminal stays quiet before a working agent
	// counts as idle, when the agent reports no state of its own.
	IdleAfter duration `toml:"idle_after"`
	// Waiting are regular expressions matched against the last output line
	// when the terminal goes quiet: a match means the agent waits for input.
	Waiting []string          `toml:"waiting"`
	Env     map[string]string `toml:"env"`
	// Hooks names the agent's lifecycle-hook format (claude, codex,
	// gemini): studiod installs its hooks per session, so the agent reports
	// its own state exactly, and confirms the prompts it takes.
	Hooks string `toml:"hooks"`
	// Paste is "bracketed" for agents that take pasted text between
	// bracketed-paste markers.
	Paste string `toml:"paste"`
	// Screen names the agent whose built-in prompts (trust, sign-in,
	// permission screens) its terminal shows: claude, codex, gemini or
	// opencode.
	Screen string `toml:"screen"`
	// Answers are the keys that answer the agent's questions: by answer
	// (allow, always, reject, never) for permission prompts, or by
	// KIND.ANSWER (trust.allow, login.allow). \r is Enter, \e Escape,
	// \xNN any byte.
	Answers map[string]string `toml:"answers"`
	// Protocol is "acp" for agents driven over the Agent Client Protocol on
	// their stdio (Command starts the agent's ACP server; the prompt goes
	// as session/prompt); empty for terminal agents.
	Protocol string `toml:"protocol"`
	// Mode is the ACP session mode to switch to after opening a session,
	// when the agent offers it: "default" makes claude-agent-acp ask before
	// edits (its own default, auto, asks nothing).
	Mode string `toml:"mode"`
	// Sandbox turns on (or widens) the sandbox for this agent (sandbox.go).
	Sandbox Sandbox `toml:"sandbox"`
	// PermissionMode is passed to the agent as its permission mode
	// (permmode.go); empty leaves the agent's own default.
	PermissionMode string `toml:"permission_mode"`
	// Budget is how much each session of this agent may use, in tokens
	// ("200k") or US dollars ("$5") (budget.go); empty is no limit.
	Budget string `toml:"budget"`
}

// Setup prepares a new worktree.
type Setup struct {
	// Copy are globs, relative to the main worktree, of files to copy into
	// the new worktree (typically ignored ones such as .env*).
	Copy []string `toml:"copy"`
	// Commands run in the new worktree through sh -c, in order.
	Commands []string `toml:"commands"`
	// Prepare are session-independent commands (npm ci, cargo fetch) run
	// through sh -c in pool worktrees ahead of spawns, and again each time
	// a pool worktree moves to the target's new tip.
	Prepare []string `toml:"prepare"`
}

// Pool sizes the warm pool of ready worktrees (pool.go).
type Pool struct {
	// Size is how many ready worktrees to keep for the repository. Unset,
	// it is 1 for repositories spawned from in the last week, else 0.
	Size *int `toml:"size"`
	// MaxDisk caps the disk all pool worktrees may take together ("20GiB",
	// "500MB", or bytes); a repository's config can lower it, not raise it.
	MaxDisk string `toml:"max_disk"`
}

type duration struct{ time.Duration }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	d.Duration = v
	return err
}

func (d duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Builtin is the configuration studiod starts from. self is studiod's own
// executable, which runs the demo agent.
func Builtin(self string) Config {
	return Config{
		Defaults: Defaults{Agent: "claude", BranchPrefix: "studio/", PortBase: 41000, PortBlock: 10, MergeStrategy: "merge", LogLimit: DefaultLogLimit},
		Gate:     Gate{Mode: GateInform},
		Pool:     Pool{MaxDisk: defaultPoolDisk},
		Agents: map[string]Profile{
			// Claude Code reports through its hooks (--settings) and keeps the
			// conversation studiod names (--session-id), so feedback after exit
			// resumes exactly it.
			"claude": {Command: []string{"claude", "{prompt}"}, Resume: []string{"claude", "--resume", "{conversation}", "{message}"},
				Hooks: HooksClaude, Screen: "claude", Paste: "bracketed",
				// "1. Yes" is selected; "2." allows edits for the session; Escape
				// declines. The trust screen's default is "No, exit".
				Answers: map[string]string{"allow": `\r`, "always": "2", "reject": `\e`, "never": `\e`, "trust.allow": `\e[B\r`, "trust.reject": `\r`}},
			// --no-daemon: Codex's TUI otherwise starts a detached app-server
			// that outlives the session.
			"codex": {Command: []string{"codex", "--no-daemon", "{prompt}"}, Resume: []string{"codex", "--no-daemon", "resume", "{conversation}", "{message}"},
				Hooks: HooksCodex, Screen: "codex", Paste: "bracketed",
				Answers: map[string]string{"allow": `\r`, "always": "p", "reject": `\e`, "never": `\e`, "trust.allow": `\r`, "login.allow": `\r`}},
			"aider": {Command: []string{"aider"}, Waiting: []string{`\(Y\)es/\(N\)o`, `^> ?$`}},
			"gemini": {Command: []string{"gemini", "-i", "{prompt}"}, Resume: []string{"gemini", "--resume", "{conversation}", "-i", "{message}"},
				Hooks: HooksGemini, Screen: "gemini", Paste: "bracketed",
				Answers: map[string]string{"allow": `\r`, "always": "2", "reject": `\e`, "never": `\e`, "trust.allow": `\r`}},
			// opencode has no hooks studiod can install offline: its state
			// comes from its screen (its prompts are built in).
			"opencode": {Command: []string{"opencode", "--prompt", "{prompt}"}, Resume: []string{"opencode", "--session", "{conversation}", "--prompt", "{message}"},
				Screen: "opencode", Paste: "bracketed",
				Answers: map[string]string{"allow": `\r`, "reject": `\e`}},
			// ACP agents: state, permissions and the transcript come from the
			// protocol itself.
			"claude-acp":   {Command: []string{"claude-agent-acp"}, Protocol: ProtocolACP, Mode: "default"},
			"gemini-acp":   {Command: []string{"gemini", "--acp"}, Protocol: ProtocolACP},
			"opencode-acp": {Command: []string{"opencode", "acp"}, Protocol: ProtocolACP},
			"codex-acp":    {Command: []string{"codex-acp"}, Protocol: ProtocolACP},
			"command":      {},
			"demo":         {Command: []string{self, "demo-agent", "{prompt}"}, Resume: []string{self, "demo-agent", "--resume", "{message}"}},
		},
	}
}

// RepoConfigName is the repo config file at the root of the main worktree.
const RepoConfigName = ".studio.toml"

// LoadFile decodes a TOML config file; a missing file is an empty config.
func LoadFile(path string) (Config, []byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Config{}, nil, nil
	}
	if err != nil {
		return Config{}, nil, err
	}
	var c Config
	md, err := toml.Decode(string(b), &c)
	if err != nil {
		return Config{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		return Config{}, nil, fmt.Errorf("%s: unknown setting %q", path, keys[0].String())
	}
	return c, b, nil
}

// overlay returns base with every setting that o sets replaced.
func overlay(base, o Config) Config {
	d := &base.Defaults
	od := o.Defaults
	if od.Agent != "" {
		d.Agent = od.Agent
	}
	if od.Target != "" {
		d.Target = od.Target
	}
	if od.WorktreeDir != "" {
		d.WorktreeDir = od.WorktreeDir
	}
	if od.BranchPrefix != "" {
		d.BranchPrefix = od.BranchPrefix
	}
	if od.PortBase > 0 {
		d.PortBase = od.PortBase
	}
	if od.PortBlock > 0 {
		d.PortBlock = od.PortBlock
	}
	if od.MergeStrategy != "" {
		d.MergeStrategy = od.MergeStrategy
	}
	if o.Gate.Mode != "" {
		base.Gate.Mode = o.Gate.Mode
	}
	if o.ACP.Agent != "" {
		base.ACP.Agent = o.ACP.Agent
	}
	if od.LogLimit != "" {
		d.LogLimit = od.LogLimit
	}
	if od.Fsmonitor != nil {
		d.Fsmonitor = od.Fsmonitor
	}
	if od.SalvageDays != 0 {
		d.SalvageDays = od.SalvageDays
	}
	if o.Pool.Size != nil {
		base.Pool.Size = o.Pool.Size
	}
	if o.Pool.MaxDisk != "" {
		base.Pool.MaxDisk = o.Pool.MaxDisk
	}
	base.Sandbox = overlaySandbox(base.Sandbox, o.Sandbox)
	agents := map[string]Profile{}
	for k, v := range base.Agents {
		agents[k] = v
	}
	for k, v := range o.Agents {
		p := agents[k]
		if v.Command != nil {
			p.Command = v.Command
		}
		if v.Resume != nil {
			p.Resume = v.Resume
		}
		if v.IdleAfter.Duration > 0 {
			p.IdleAfter = v.IdleAfter
		}
		if v.Waiting != nil {
			p.Waiting = v.Waiting
		}
		if v.Env != nil {
			p.Env = v.Env
		}
		if v.Hooks != "" {
			p.Hooks = v.Hooks
		}
		if v.Paste != "" {
			p.Paste = v.Paste
		}
		if v.Screen != "" {
			p.Screen = v.Screen
		}
		p.Sandbox = overlaySandbox(p.Sandbox, v.Sandbox)
		if v.Answers != nil {
			p.Answers = v.Answers
		}
		if v.Protocol != "" {
			p.Protocol = v.Protocol
		}
		if v.Mode != "" {
			p.Mode = v.Mode
		}
		if v.PermissionMode != "" {
			p.PermissionMode = v.PermissionMode
		}
		if v.Budget != "" {
			p.Budget = v.Budget
		}
		agents[k] = p
	}
	base.Agents = agents
	base.Roles = mergeRoles(base.Roles, o.Roles)
	if o.Check.Command != "" {
		base.Check.Command = o.Check.Command
	}
	if o.Check.Timeout.Duration > 0 {
		base.Check.Timeout = o.Check.Timeout
	}
	if o.Check.Concurrency > 0 {
		base.Check.Concurrency = o.Check.Concurrency
	}
	base.Setup.Copy = append(base.Setup.Copy, o.Setup.Copy...)
	base.Setup.Commands = append(base.Setup.Commands, o.Setup.Commands...)
	base.Setup.Prepare = append(base.Setup.Prepare, o.Setup.Prepare...)
	return base
}

// repoCommands lists what in a repo config needs the user's trust: the
// commands it would run, and the settings that choose where files are
// written outside studiod's own directories (a cloned repo must not decide
// where on disk its worktrees land).
func repoCommands(c Config) []string {
	var cmds []string
	if c.Defaults.WorktreeDir != "" {
		cmds = append(cmds, "worktree_dir: worktrees in "+c.Defaults.WorktreeDir)
	}
	for _, s := range c.Setup.Commands {
		cmds = append(cmds, "setup: "+s)
	}
	if c.Check.Command != "" {
		cmds = append(cmds, "check: "+c.Check.Command)
	}
	for _, s := range c.Setup.Prepare {
		cmds = append(cmds, "prepare: "+s)
	}
	for name, p := range c.Agents {
		if p.Command != nil {
			cmds = append(cmds, fmt.Sprintf("agent %s: %s", name, strings.Join(p.Command, " ")))
		}
		if p.Resume != nil {
			cmds = append(cmds, fmt.Sprintf("agent %s resume: %s", name, strings.Join(p.Resume, " ")))
		}
		if len(p.Env) > 0 {
			cmds = append(cmds, fmt.Sprintf("agent %s: environment", name))
		}
		if len(p.Answers) > 0 {
			cmds = append(cmds, fmt.Sprintf("agent %s: keys typed to answer it", name))
		}
		if len(p.Sandbox.Writable) > 0 {
			cmds = append(cmds, fmt.Sprintf("agent %s: sandbox writable %s", name, strings.Join(p.Sandbox.Writable, ", ")))
		}
	}
	// Paths a repository opens in the person's sandbox: its agents could
	// write there.
	if len(c.Sandbox.Writable) > 0 {
		cmds = append(cmds, "sandbox writable: "+strings.Join(c.Sandbox.Writable, ", "))
	}
	return cmds
}

func hashBytes(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// repoConfig is a repo's config with what trusting it means.
type repoConfig struct {
	Path     string
	Config   Config
	Hash     string
	Commands []string
	Trusted  bool
}

func (m *Manager) loadRepoConfig(ctx context.Context, root string) (*repoConfig, error) {
	path := filepath.Join(root, RepoConfigName)
	c, raw, err := LoadFile(path)
	if err != nil {
		return nil, invalidf("%v", err)
	}
	if err := repoNotify(c, path); err != nil {
		return nil, err
	}
	if err := repoHosts(c, path); err != nil {
		return nil, err
	}
	rc := &repoConfig{Path: path, Config: c, Commands: repoCommands(c)}
	if raw == nil {
		rc.Trusted = true
		return rc, nil
	}
	rc.Hash = hashBytes(raw)
	have, err := m.store.trustHash(ctx, path)
	if err != nil {
		return nil, err
	}
	rc.Trusted = len(rc.Commands) == 0 || have == rc.Hash
	return rc, nil
}

// effectiveConfig is the built-in config overlaid by the user's and, when
// trusted or command-free, the repo's.
func (m *Manager) effectiveConfig(ctx context.Context, root string) (Config, *repoConfig, error) {
	user, _, err := LoadFile(m.opts.UserConfig)
	if err != nil {
		return Config{}, nil, invalidf("%v", err)
	}
	// A relative worktree_dir is relative to the file that says it, never
	// to wherever the daemon happens to run.
	user.Defaults.WorktreeDir = relativeTo(filepath.Dir(m.opts.UserConfig), user.Defaults.WorktreeDir)
	c := overlay(Builtin(m.opts.Self), user)
	rc, err := m.loadRepoConfig(ctx, root)
	if err != nil {
		return Config{}, nil, err
	}
	repoCfg := rc.Config
	repoCfg.Defaults.WorktreeDir = relativeTo(root, repoCfg.Defaults.WorktreeDir)
	eff := overlay(c, repoCfg)
	// A repository may lower the user's disk cap for the pool, never raise it.
	if rc.Config.Pool.MaxDisk != "" {
		repoMax, err1 := parseBytes(rc.Config.Pool.MaxDisk)
		userMax, err2 := parseBytes(c.Pool.MaxDisk)
		if err1 == nil && err2 == nil && repoMax > userMax {
			eff.Pool.MaxDisk = c.Pool.MaxDisk
		}
	}
	if err := validate(eff, rc.Path); err != nil {
		return Config{}, nil, err
	}
	return eff, rc, nil
}

// relativeTo resolves a relative path against dir, and ~/ against the
// home directory.
func relativeTo(dir, path string) string {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// validate checks the settings no later step checks, so a bad value is
// refused where it is read, with the file it came from.
func validate(c Config, repoConfig string) error {
	if n := c.Pool.Size; n != nil && (*n < 0 || *n > maxPoolSize) {
		return invalidf("[pool] size = %d (in %s or the user config): give 0 to %d", *n, repoConfig, maxPoolSize)
	}
	if _, err := parseBytes(c.Pool.MaxDisk); err != nil {
		return invalidf("[pool] max_disk: %v", err)
	}
	return nil
}

// parseBytes reads a size: bytes, or a number with a unit (KB, MB, GB, TB
// are powers of 1000; KiB, MiB, GiB, TiB of 1024).
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	mult := 1.0
	for _, u := range units {
		if n, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is not a size: give bytes or a number with KB, MB, GB, KiB, MiB or GiB", s)
	}
	return int64(v * mult), nil
}

// TrustResult says what trusting a repo config allows.
type TrustResult struct {
	Path     string
	Hash     string
	Trusted  bool
	Commands []string
}

// Trust records the current content of the repo's .studio.toml as trusted,
// or forgets it with revoke.
func (m *Manager) Trust(ctx context.Context, dir string, revoke, check bool) (TrustResult, error) {
	repo, err := m.openRepo(ctx, dir)
	if err != nil {
		return TrustResult{}, err
	}
	rc, err := m.loadRepoConfig(ctx, repo.Root)
	if err != nil {
		return TrustResult{}, err
	}
	if rc.Hash == "" {
		return TrustResult{}, fmt.Errorf("%w: %s has no %s to trust", ErrNotFound, repo.Root, RepoConfigName)
	}
	if check {
		return TrustResult{Path: rc.Path, Hash: rc.Hash, Trusted: rc.Trusted, Commands: rc.Commands}, nil
	}
	hash := rc.Hash
	if revoke {
		hash = ""
	}
	if err := m.store.setTrust(ctx, rc.Path, hash); err != nil {
		return TrustResult{}, err
	}
	return TrustResult{Path: rc.Path, Hash: rc.Hash, Trusted: !revoke, Commands: rc.Commands}, nil
}

// Terminal reports whether the profile's agent runs on a terminal (not
// over ACP).
func (p Profile) Terminal() bool { return p.Protocol != ProtocolACP }
