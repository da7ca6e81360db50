package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/server/mcp"
)

// mcpClients maps each supported MCP client to its config snippet for a
// stdio server started as `self mcp`.
var mcpClients = map[string]func(self string) any{
	// .mcp.json in the project (or `claude mcp add studiod -- SELF mcp`).
	"claude-code": func(self string) any {
		return map[string]any{"mcpServers": map[string]any{"studiod": map[string]any{"type": "stdio", "command": self, "args": []string{"mcp"}, "env": map[string]string{}}}}
	},
	// claude_desktop_config.json.
	"claude-desktop": func(self string) any {
		return map[string]any{"mcpServers": map[string]any{"studiod": map[string]any{"command": self, "args": []string{"mcp"}}}}
	},
	// .cursor/mcp.json in the project, or ~/.cursor/mcp.json.
	"cursor": func(self string) any {
		return map[string]any{"mcpServers": map[string]any{"studiod": map[string]any{"type": "stdio", "command": self, "args": []string{"mcp"}}}}
	},
	// .vscode/mcp.json in the workspace.
	"vscode": func(self string) any {
		return map[string]any{"servers": map[string]any{"studiod": map[string]any{"type": "stdio", "command": self, "args": []string{"mcp"}}}}
	},
}

func mcpClientNames() string {
	var names []string
	for n := range mcpClients {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (a *app) mcpCmd() *cobra.Command {
	var printConfig string
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve MCP on stdio for an assistant (Claude Code, Claude Desktop, Cursor, VS Code)",
		Long: `studiod mcp is an MCP server on stdin/stdout, started by an MCP client. Its tools
call the studiod daemon (started on demand). Tools act on the repository the
call names, else the client's workspace root, else this command's working
directory.

Print the config snippet for a client with --print-config CLIENT (` + mcpClientNames() + `).
For MCP over HTTP instead, run ` + "`studiod serve --mcp-http 127.0.0.1:PORT`" + ` and send the
token printed by ` + "`studiod mcp-token`" + ` as "Authorization: Bearer TOKEN".`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if printConfig != "" {
				return printMCPConfig(printConfig)
			}
			return a.serveMCP(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "default repository for tool calls that name none (default: the client's workspace root, else the current directory)")
	cmd.Flags().StringVar(&printConfig, "print-config", "", "print the config snippet for CLIENT ("+mcpClientNames()+") and exit")
	return cmd
}

func printMCPConfig(client string) error {
	snippet, ok := mcpClients[client]
	if !ok {
		return usageError{fmt.Errorf("unknown MCP client %q (known: %s)", client, mcpClientNames())}
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

// serveMCP serves MCP on stdio. stdout is the protocol stream: logs go to
// stderr only.
func (a *app) serveMCP(ctx context.Context) error {
	wd, _ := os.Getwd()
	if a.repo != "" {
		wd = a.repoDir()
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m := mcp.New(mcp.Config{
		Dir: wd, Version: buildVersion(), Log: log, Session: os.Getenv("STUDIO_SESSION_ID"),
		Dial: func(ctx context.Context, notify protocol.NotifyFunc) (*protocol.Client, error) {
			return a.connect(ctx, notify)
		},
	})
	defer m.Close()
	return m.ServeStdio(ctx, os.Stdin, os.Stdout, os.Stderr)
}

func (a *app) mcpTokenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "mcp-token",
		Short: "Print the bearer token for MCP over HTTP (creating it on first use)",
		Long: `Print the bearer token that ` + "`studiod serve --mcp-http 127.0.0.1:PORT`" + ` requires.
Clients send it as "Authorization: Bearer TOKEN". It lives in a 0600 file in
the state directory; delete the file and restart the daemon to rotate it.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.dirs.Ensure(); err != nil {
				return err
			}
			tok, err := mcp.Token(a.dirs.State)
			if err != nil {
				return err
			}
			if a.json {
				return json.NewEncoder(os.Stdout).Encode(map[string]string{"token": tok, "file": filepath.Join(a.dirs.State, mcp.TokenFile)})
			}
			fmt.Println(tok)
			return nil
		},
	}
}
