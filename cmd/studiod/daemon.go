package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/server"
	"github.com/studiod/studiod/server/mcp"
	"github.com/studiod/studiod/workspace"
)

func (a *app) serveCmd() *cobra.Command {
	var background bool
	var mcpHTTP string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon in the foreground (clients start it on demand otherwise)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.dirs.Ensure(); err != nil {
				return err
			}
			// A daemon a session's client started must not hand that
			// session's secret to the commands it runs.
			os.Unsetenv(agents.TokenEnv)
			logf, err := os.OpenFile(a.dirs.Log(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			defer logf.Close()
			var w io.Writer = logf
			if !background {
				w = io.MultiWriter(logf, os.Stderr)
			}
			log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
			if step := os.Getenv("STUDIOD_DEBUG_CRASH_AFTER"); step != "" {
				log.Warn("fault injection: the daemon kills itself after this merge step", "step", step)
				workspace.CrashAfterStep = step
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			var faces []server.Face
			if mcpHTTP != "" {
				face, err := mcpHTTPFace(mcpHTTP, a.dirs.State, log)
				if err != nil {
					return err
				}
				faces = append(faces, face)
			}
			err = server.Run(cmd.Context(), server.Config{
				Socket: a.dirs.Socket(), Lock: a.dirs.Lock(), RuntimeDir: a.dirs.Runtime,
				StateDir: a.dirs.State, WorktreeDir: a.dirs.Worktrees(), UserConfig: a.dirs.ConfigFile(),
				LogFile: a.dirs.Log(), Self: self, Version: buildVersion(), Log: log,
				Watch: watchOptions(),
				Faces: faces,
				// Tests shorten the connection timeouts; "-1s" lifts them.
				IdleTimeout:    envDuration("STUDIOD_IDLE_TIMEOUT"),
				MessageTimeout: envDuration("STUDIOD_MESSAGE_TIMEOUT"),
				// For tests that need the pool not to refill behind them.
				PoolSettle: envDuration("STUDIOD_DEBUG_POOL_SETTLE"),
				// A loaded machine can take longer than the default to
				// start an agent that fails at once; tests lengthen it.
				SpawnGrace: spawnGrace(),
				Ready: func() {
					if !background && !a.json {
						fmt.Fprintf(os.Stderr, "studiod %s listening on %s (log %s)\n", buildVersion(), a.dirs.Socket(), a.dirs.Log())
					}
				},
			})
			var ar *server.AlreadyRunningError
			if errors.As(err, &ar) && background {
				return nil // another client started it first
			}
			if errors.As(err, &ar) && mcpHTTP != "" {
				return fmt.Errorf("%w: the MCP HTTP face is served from inside the daemon, so stop this one first (`studiod shutdown`; agents keep running), then run `studiod serve --mcp-http %s`", err, mcpHTTP)
			}
			if errors.As(err, &ar) {
				return fmt.Errorf("%w: clients already use it; `studiod status` shows it, `studiod shutdown` stops it", err)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&background, "background", false, "started by a client: log to the log file only")
	cmd.Flags().MarkHidden("background")
	cmd.Flags().StringVar(&mcpHTTP, "mcp-http", "", "also serve MCP over Streamable HTTP on this loopback ADDR (127.0.0.1:PORT); token: `studiod mcp-token`")
	return cmd
}

// mcpHTTPFace serves MCP over Streamable HTTP on addr from inside the
// daemon, with the bearer token kept in stateDir.
func mcpHTTPFace(addr, stateDir string, log *slog.Logger) (server.Face, error) {
	if err := mcp.CheckLoopbackAddr(addr); err != nil {
		return nil, err
	}
	token, err := mcp.Token(stateDir)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, connect func() net.Conn) (func(), error) {
		h, err := mcp.StartHTTP(connect, addr, token, buildVersion(), log.With("component", "mcp"))
		if err != nil {
			return nil, err
		}
		return func() { h.Close() }, nil
	}, nil
}

// envDuration reads a duration ("90s") from the environment; 0 if unset or
// malformed.
func envDuration(name string) time.Duration {
	d, _ := time.ParseDuration(os.Getenv(name))
	return d
}

// spawnGrace reads STUDIOD_SPAWN_GRACE, how soon after starting an agent
// that exits with an error counts as a failed spawn; 0 if unset.
func spawnGrace() time.Duration { return envDuration("STUDIOD_SPAWN_GRACE") }

// watchOptions reads STUDIOD_MAX_WATCHES, which caps the inotify watches the
// daemon uses (below the kernel's fs.inotify.max_user_watches): worktrees
// beyond it are rescanned instead of watched; and STUDIOD_RESCAN, the
// shortest period between two rescans of one worktree (default 2s).
func watchOptions() workspace.WatcherOptions {
	var o workspace.WatcherOptions
	if n, err := strconv.Atoi(os.Getenv("STUDIOD_MAX_WATCHES")); err == nil && n > 0 {
		o.MaxWatches = n
	}
	o.Rescan = envDuration("STUDIOD_RESCAN")
	return o
}

func (a *app) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the daemon: version, pid, socket, log, sessions",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := protocol.Dial(cmd.Context(), a.dirs.Socket(), nil)
			if err != nil {
				if a.json {
					printJSON(map[string]any{"running": false, "socket": a.dirs.Socket(), "log": a.dirs.Log()})
					return exitCodeErr(exitNoDaemon)
				}
				fmt.Printf("studiod is not running (socket %s); any command starts it, or run `studiod serve`\n", a.dirs.Socket())
				return exitCodeErr(exitNoDaemon)
			}
			defer c.Close()
			st, err := c.Status(cmd.Context(), protocol.Empty{})
			if err != nil {
				return err
			}
			if a.json {
				return printJSON(st)
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "version\t%s\npid\t%d\nsocket\t%s\nlog\t%s\nstate\t%s\nup\t%s\n", st.Version, st.PID, st.Socket, st.Log, st.State, time.Since(st.Started).Round(time.Second))
			var parts []string
			total := 0
			for _, k := range []string{"starting", "working", "waiting", "idle", "exited", "stopped", "failed", "merged", "removed"} {
				if n := st.Sessions[k]; n > 0 {
					parts = append(parts, fmt.Sprintf("%d %s", n, k))
					total += n
				}
			}
			if total == 0 {
				fmt.Fprintf(tw, "sessions\tnone\n")
			} else {
				fmt.Fprintf(tw, "sessions\t%d (%s)\n", total, strings.Join(parts, ", "))
			}
			if st.Watch.Watches > 0 || len(st.Watch.Degraded) > 0 {
				fmt.Fprintf(tw, "watches\t%d\n", st.Watch.Watches)
			}
			return tw.Flush()
		},
	}
}

func (a *app) shutdownCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "shutdown",
		Short: "Stop the daemon (agents keep running; the next daemon reattaches)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := protocol.Dial(cmd.Context(), a.dirs.Socket(), nil)
			if err != nil {
				if !a.json {
					fmt.Println("studiod is not running")
				}
				return nil
			}
			_, err = c.Shutdown(cmd.Context(), protocol.Empty{})
			c.Close()
			if err != nil && !errors.Is(err, protocol.ErrClosed) {
				return err
			}
			if !server.WaitStopped(a.dirs.Lock(), 10*time.Second) {
				return fmt.Errorf("studiod did not stop within 10s (see %s)", a.dirs.Log())
			}
			if a.json {
				return printJSON(map[string]bool{"stopped": true})
			}
			fmt.Println("studiod stopped")
			return nil
		},
	}
}

func (a *app) trustCmd() *cobra.Command {
	var p protocol.TrustParams
	cmd := &cobra.Command{
		Use:   "trust",
		Short: "Allow this repo's .studio.toml to run its commands (setup, agent overrides)",
		Long: `A repo's .studio.toml may define commands: setup steps and agent overrides.
Cloning a repo must never run its commands, so studiod runs them only after
you have read the file and trusted it. A changed file needs trust again.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p.Repo = a.repoDir()
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				r, err := c.Trust(cmd.Context(), p)
				if err != nil {
					return err
				}
				// --check answers with its exit status too, for scripts.
				var untrusted error
				if p.Check && !r.Trusted {
					untrusted = exitCodeErr(exitUntrusted)
				}
				if a.json {
					printJSON(r)
					return untrusted
				}
				verb := "trusted"
				switch {
				case p.Check && r.Trusted:
					verb = "is trusted:"
				case p.Check:
					verb = "is NOT trusted:"
				case p.Revoke:
					verb = "no longer trusted:"
				}
				fmt.Printf("%s %s (sha256 %s)\n", verb, r.Path, r.Hash[:12])
				for _, c := range r.Commands {
					fmt.Printf("  %s\n", c)
				}
				return untrusted
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	cmd.Flags().BoolVar(&p.Revoke, "revoke", false, "forget the trust")
	cmd.Flags().BoolVar(&p.Check, "check", false, "only say whether it is trusted")
	return cmd
}

type check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Warn   bool   `json:"warn,omitempty"`
	Detail string `json:"detail"`
	// Agent is what an agent's check found.
	Agent *agents.AgentCheck `json:"agent,omitempty"`
}

func (a *app) doctorCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check git, agents on PATH, inotify limits, socket permissions, config trust and the sandbox",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			checks := a.doctor(cmd.Context())
			failed := false
			for _, c := range checks {
				if !c.OK && !c.Warn {
					failed = true
				}
			}
			if a.json {
				printJSON(map[string]any{"ok": !failed, "checks": checks})
			} else {
				for _, c := range checks {
					mark := "ok  "
					if c.Warn {
						mark = "warn"
					} else if !c.OK {
						mark = "FAIL"
					}
					fmt.Printf("%s  %-16s %s\n", mark, c.Name, c.Detail)
				}
			}
			if failed {
				return exitCodeErr(1)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository whose config to check (default: the current directory's)")
	return cmd
}

func (a *app) doctor(ctx context.Context) []check {
	var checks []check
	g := &workspace.Git{}
	if v, err := g.Version(ctx); err != nil {
		checks = append(checks, check{Name: "git", Detail: err.Error()})
	} else {
		checks = append(checks, check{Name: "git", OK: true, Detail: "git " + v})
	}
	self, _ := os.Executable()
	cfg := agents.Builtin(self)
	if user, _, err := agents.LoadFile(a.dirs.ConfigFile()); err != nil {
		checks = append(checks, check{Name: "config", Detail: err.Error()})
	} else {
		cfg = agents.WithUser(self, user)
	}
	// The terminal agents, said missing when not found; then the ACP
	// profiles and the user's own, listed when found. Each check asks the
	// agent its version: run them at once.
	terminal := []string{"claude", "codex", "gemini", "opencode", "aider"}
	names := slices.Clone(terminal)
	for _, name := range slices.Sorted(maps.Keys(cfg.Agents)) {
		if p := cfg.Agents[name]; !slices.Contains(names, name) && len(p.Command) > 0 && p.Command[0] != self {
			names = append(names, name)
		}
	}
	results := make([]agents.AgentCheck, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		if p, ok := cfg.Agents[name]; ok {
			wg.Go(func() { results[i] = agents.CheckAgent(ctx, name, p) })
		}
	}
	wg.Wait()
	found := 0
	var missing []string
	for i, name := range names {
		ac := results[i]
		if !ac.Found {
			if slices.Contains(terminal, name) {
				missing = append(missing, name)
			}
			continue
		}
		found++
		version := cmp.Or(ac.Version, "(version unknown)")
		if ac.Slow {
			version = "(slow: printed no version in time; the machine may be busy)"
		}
		detail := fmt.Sprintf("%s %s at %s; state from %s", name, version, ac.Path, ac.Hooks)
		if p := cfg.Agents[name]; p.Hooks != "" && p.Terminal() {
			detail += "; permission mode " + cmp.Or(ac.PermissionMode, "the agent's own default")
		}
		c := check{Name: "agent " + name, OK: ac.Hint == "", Warn: ac.Hint != "", Detail: detail, Agent: &ac}
		if ac.Hint != "" {
			c.Detail += ": " + ac.Hint
		}
		checks = append(checks, c)
	}
	ac := check{Name: "agents", OK: found > 0, Warn: found == 0}
	switch {
	case found == 0:
		ac.Detail = "no AI agent CLI on PATH (the demo agent and `spawn -- CMD` still work)"
	default:
		ac.Detail = fmt.Sprintf("%d on PATH", found)
	}
	if len(missing) > 0 {
		ac.Detail += "; not found: " + strings.Join(missing, ", ")
	}
	checks = append(checks, ac)

	inst := readInt("/proc/sys/fs/inotify/max_user_instances")
	watches := readInt("/proc/sys/fs/inotify/max_user_watches")
	ic := check{Name: "inotify", OK: true, Detail: fmt.Sprintf("max_user_instances %d, max_user_watches %d", inst, watches)}
	if watches > 0 && watches < 65536 {
		ic.OK, ic.Warn = false, true
		ic.Detail += ": large repos may exhaust watches (raise fs.inotify.max_user_watches); studiod then rescans instead"
	}
	checks = append(checks, ic)

	// The sandbox ([sandbox] mode = "bwrap"): a failure when the person's
	// config turns it on, a note otherwise.
	on := cfg.Sandbox.Mode == agents.SandboxBwrap
	for _, p := range cfg.Agents {
		on = on || p.Sandbox.Mode == agents.SandboxBwrap
	}
	if user, _, err := agents.LoadFile(a.dirs.ConfigFile()); err == nil && user.Sandbox.Mode == agents.SandboxBwrap {
		on = true
	}
	if ok, why := agents.SandboxStatus(ctx); ok {
		state := "off (turn it on with [sandbox] mode = \"bwrap\")"
		if on {
			state = "on"
		}
		checks = append(checks, check{Name: "sandbox", OK: true, Detail: "bubblewrap sandbox available (" + why + "); " + state})
	} else {
		checks = append(checks, check{Name: "sandbox", Warn: !on, Detail: "bubblewrap sandbox unavailable: " + why})
	}

	sc := check{Name: "socket", OK: true}
	if fi, err := os.Stat(a.dirs.Runtime); err == nil {
		if fi.Mode().Perm() != 0o700 {
			sc.OK, sc.Detail = false, fmt.Sprintf("%s has mode %o, want 700: run chmod 700 %s", a.dirs.Runtime, fi.Mode().Perm(), a.dirs.Runtime)
		}
	}
	if sc.OK {
		if fi, err := os.Stat(a.dirs.Socket()); err == nil {
			if fi.Mode().Perm()&0o077 != 0 {
				sc.OK, sc.Detail = false, fmt.Sprintf("%s has mode %o, want 600", a.dirs.Socket(), fi.Mode().Perm())
			} else {
				sc.Detail = a.dirs.Socket() + " (private)"
			}
		} else {
			sc.Detail = a.dirs.Socket() + " (daemon not running)"
		}
	}
	checks = append(checks, sc)

	if c, err := protocol.Dial(ctx, a.dirs.Socket(), nil); err == nil {
		defer c.Close()
		if st, err := c.Status(ctx, protocol.Empty{}); err == nil {
			wc := check{Name: "watcher", OK: len(st.Watch.Degraded) == 0, Detail: fmt.Sprintf("%d watches", st.Watch.Watches)}
			if !wc.OK {
				wc.Warn = true
				wc.Detail = fmt.Sprintf("rescanning instead of watching %s: %s", strings.Join(st.Watch.Degraded, ", "), st.Watch.Reason)
				if st.Watch.Unwatched > 0 {
					// What raising the limit would give: every change seen as
					// it happens, not at the next rescan.
					limit := readInt("/proc/sys/fs/inotify/max_user_watches")
					wc.Detail += fmt.Sprintf("; %d directories have no watch: raising the limit by that many (sudo sysctl fs.inotify.max_user_watches=%d, or STUDIOD_MAX_WATCHES if set) sees their changes as they happen instead of at rescans every 2 s or more",
						st.Watch.Unwatched, limit+st.Watch.Unwatched)
				}
			}
			checks = append(checks, wc)
		}
		checks = append(checks, poolCheck(ctx, c))
		checks = append(checks, indexCheck(ctx, c))
		checks = append(checks, objectsCheck(ctx, c))
		repo := a.repoDir()
		if _, err := os.Stat(filepath.Join(repo, agents.RepoConfigName)); err == nil {
			r, err := c.Trust(ctx, protocol.TrustParams{Repo: repo, Check: true})
			switch {
			case err != nil:
				checks = append(checks, check{Name: "config trust", Detail: err.Error()})
			case r.Trusted:
				checks = append(checks, check{Name: "config trust", OK: true, Detail: r.Path + " trusted"})
			default:
				checks = append(checks, check{Name: "config trust", Warn: true, Detail: r.Path + " defines commands and is not trusted: read it, then run `studiod trust`"})
			}
		}
	}
	return checks
}

func readInt(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// indexCheck reports the session worktrees whose index the daemon
// repaired, or that need repairing (the daemon does so at its next start,
// or at the session's next snapshot).
func indexCheck(ctx context.Context, c *protocol.Client) check {
	res, err := c.Sessions(ctx, protocol.SessionsParams{})
	if err != nil {
		return check{Name: "index", Warn: true, Detail: err.Error()}
	}
	g := &workspace.Git{}
	var repaired, trouble []string
	n := 0
	for _, s := range res.Sessions {
		if s.Worktree == "" {
			continue
		}
		if _, err := os.Stat(s.Worktree); err != nil {
			continue
		}
		n++
		h, err := g.CheckIndex(ctx, s.Worktree)
		if err != nil {
			trouble = append(trouble, fmt.Sprintf("%s (%s): %v", s.Name, s.Worktree, err))
			continue
		}
		if h.Trouble != "" {
			trouble = append(trouble, fmt.Sprintf("%s (%s): %s", s.Name, s.Worktree, h.Trouble))
		}
		if h.Repaired != "" {
			repaired = append(repaired, fmt.Sprintf("%s (%s): %s", s.Name, s.Worktree, h.Repaired))
		}
	}
	c0 := check{Name: "index", OK: len(trouble) == 0, Detail: fmt.Sprintf("%d session worktree(s), every index readable", n)}
	if len(trouble) > 0 {
		c0.Detail = "needs repair: " + strings.Join(trouble, "; ") +
			" (the daemon repairs it at its next start: run `studiod shutdown`, then any studiod command; what was staged may be unstaged, no file changes)"
	}
	if len(repaired) > 0 {
		c0.Warn = c0.OK
		c0.Detail += "; repaired: " + strings.Join(repaired, "; ")
	}
	return c0
}

// objectsCheck reports, for each repository with sessions, the loose
// objects snapshots left (those of removed sessions stay until a git gc)
// and the temporary files of writes a full disk cut short.
func objectsCheck(ctx context.Context, c *protocol.Client) check {
	res, err := c.Sessions(ctx, protocol.SessionsParams{All: true})
	if err != nil {
		return check{Name: "objects", Warn: true, Detail: err.Error()}
	}
	g := &workspace.Git{}
	seen := map[string]bool{}
	oc := check{Name: "objects", OK: true}
	var parts []string
	for _, s := range res.Sessions {
		if seen[s.Repo] {
			continue
		}
		seen[s.Repo] = true
		repo, err := workspace.Open(ctx, g, s.Repo)
		if err != nil {
			continue // a repository deleted since
		}
		st, err := repo.ObjectStats(ctx)
		if err != nil {
			parts = append(parts, fmt.Sprintf("%s: %v", repo.Root, err))
			continue
		}
		part := fmt.Sprintf("%s: %d loose objects, %s", repo.Root, st.Loose, agents.FormatSize(st.LooseBytes))
		if st.LooseBytes >= looseWarn {
			oc.OK, oc.Warn = false, true
			part += fmt.Sprintf(" (`git -C %s gc` packs them and drops those no ref keeps that are two weeks old)", repo.Root)
		}
		if st.Garbage > 0 {
			oc.OK, oc.Warn = false, true
			part += fmt.Sprintf("; %d temporary object file(s), %s, left by writes a full disk cut short (the next `studiod rm` in it deletes them)",
				st.Garbage, agents.FormatSize(st.GarbageBytes))
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		oc.Detail = "no repositories with sessions"
	} else {
		oc.Detail = strings.Join(parts, "; ")
	}
	return oc
}

// looseWarn is the size of loose objects in a repository from which doctor
// suggests a git gc.
const looseWarn = 256 << 20

// poolCheck reports the warm pools: trees, their states and disk.
func poolCheck(ctx context.Context, c *protocol.Client) check {
	res, err := c.Pool(ctx, protocol.PoolParams{})
	if err != nil {
		return check{Name: "pool", Warn: true, Detail: err.Error()}
	}
	if len(res.Repos) == 0 {
		return check{Name: "pool", OK: true, Detail: "no pools yet (repositories get one once spawned from)"}
	}
	var parts []string
	for _, r := range res.Repos {
		states := map[protocol.PoolTreeState]int{}
		for _, t := range r.Trees {
			states[t.State]++
		}
		part := fmt.Sprintf("%s: %d of %d ready", filepath.Base(r.Repo), states[protocol.PoolReady], r.Size)
		for _, s := range []protocol.PoolTreeState{protocol.PoolPreparing, protocol.PoolRefreshing, protocol.PoolRemoving} {
			if states[s] > 0 {
				part += fmt.Sprintf(", %d %s", states[s], s)
			}
		}
		part += ", " + agents.FormatSize(r.Bytes)
		if r.Note != "" {
			part += " (" + r.Note + ")"
		}
		parts = append(parts, part)
	}
	return check{Name: "pool", OK: true, Detail: strings.Join(parts, "; ")}
}
