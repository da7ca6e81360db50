package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/server/lsp"
)

func (a *app) lspCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lsp",
		Short: "Serve the Language Server Protocol on stdio (for editors), as a client of the daemon",
		Long: `Editors start this on stdio. It connects to the daemon (starting it if
needed) and serves LSP from the daemon's sessions and predicted conflicts:
diagnostics, code lenses, code actions, commands and progress. studio/*
requests from the editor are relayed to the daemon. If the daemon restarts,
it reconnects. Nothing but the protocol goes to stdout; logs go to stderr.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.dirs.Ensure(); err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			return lsp.Serve(cmd.Context(), lsp.Config{
				Version: buildVersion(), Log: log,
				Dial: func(ctx context.Context, notify protocol.NotifyFunc) (lsp.Daemon, error) {
					return a.connect(ctx, notify)
				},
			}, stdio{os.Stdin, os.Stdout})
		},
	}
	// Language clients (vscode-languageclient among them) pass --stdio.
	cmd.Flags().Bool("stdio", true, "serve on stdin/stdout (the only transport)")
	cmd.Flags().MarkHidden("stdio")
	return cmd
}

// stdio is the editor's end of `studiod lsp`: stdin and stdout as one
// stream.
type stdio struct {
	*os.File // stdin
	out      *os.File
}

func (s stdio) Write(p []byte) (int, error) { return s.out.Write(p) }

func (s stdio) Close() error {
	s.out.Close()
	return s.File.Close()
}
