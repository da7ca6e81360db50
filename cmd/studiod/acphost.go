package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/server/acp"
)

// acpClients maps each ACP client docs/acp-clients.md covers to its config
// snippet for `self acp`.
var acpClients = map[string]func(self string) any{
	// Zed: settings.json, "agent_servers".
	"zed": func(self string) any {
		return map[string]any{"agent_servers": map[string]any{"studiod": map[string]any{"type": "custom", "command": self, "args": []string{"acp"}, "env": map[string]string{}}}}
	},
	// JetBrains IDEs: ~/.jetbrains/acp.json.
	"jetbrains": func(self string) any {
		return map[string]any{"agent_servers": map[string]any{"studiod": map[string]any{"command": self, "args": []string{"acp"}}}}
	},
	// acpx: ~/.acpx/config.json (or .acpxrc.json in the project).
	"acpx": func(self string) any {
		return map[string]any{"agents": map[string]any{"studiod": map[string]any{"argv": []string{self, "acp"}}}}
	},
}

func acpClientNames() string {
	var names []string
	for n := range acpClients {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (a *app) acpCmd() *cobra.Command {
	var printConfig, agent string
	cmd := &cobra.Command{
		Use:   "acp",
		Short: "Serve the Agent Client Protocol on stdio, as an agent for ACP clients (Zed, JetBrains, Neovim, acpx)",
		Long: `studiod acp is an ACP agent on stdin/stdout, started by an ACP client from its
agent panel. A new thread is a studiod session: its own worktree and branch in
the repository of the client's cwd, running the agent of --agent, else
[acp] agent in the config, else [defaults] agent (the thread's "agent" option
picks another until the first prompt). Prompts go to that agent; its messages,
tool calls, plans and permission requests come back, with studiod's own news
(conflicts with other sessions, how far behind its target the branch is).
session/list lists every session of the repository, however it was spawned;
session/load replays one and follows it. Closing the client leaves the
sessions running.

Print the config snippet for a client with --print-config CLIENT (` + acpClientNames() + `);
docs/acp-clients.md covers the Neovim plugins too.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if printConfig != "" {
				return printACPConfig(printConfig)
			}
			return a.serveACP(cmd.Context(), agent)
		},
	}
	cmd.Flags().StringVar(&agent, "agent", "", "agent profile of new threads (default: [acp] agent, else [defaults] agent)")
	cmd.Flags().StringVar(&printConfig, "print-config", "", "print the config snippet for CLIENT ("+acpClientNames()+") and exit")
	return cmd
}

func printACPConfig(client string) error {
	snippet, ok := acpClients[client]
	if !ok {
		return usageError{fmt.Errorf("unknown ACP client %q (known: %s)", client, acpClientNames())}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if s, err := filepath.EvalSymlinks(self); err == nil {
		self = s
	}
	return printJSON(snippet(self))
}

// serveACP serves ACP on stdio. stdout is the protocol stream: logs go to
// stderr only.
func (a *app) serveACP(ctx context.Context, agent string) error {
	a.orphanDaemon = true
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s := acp.New(acp.Config{
		Agent: agent, Version: buildVersion(), Log: log,
		Dial: func(ctx context.Context, notify protocol.NotifyFunc) (*protocol.Client, error) {
			return a.connect(ctx, notify)
		},
	})
	return s.Serve(ctx, os.Stdin, os.Stdout)
}
