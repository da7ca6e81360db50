package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/spf13/cobra"

	"github.com/studiod/studiod/protocol"
)

func (a *app) lspCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lsp",
		Short: "Serve the Language Server Protocol on stdio (for editors), through the daemon",
		Long: `Editors start this on stdio. It connects to the daemon (starting it if
needed) and relays the LSP stream both ways: all LSP logic lives in the daemon,
where the sessions and conflicts are. Nothing but the protocol goes to stdout.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.lsp(cmd.Context(), os.Stdin, os.Stdout)
		},
	}
	// Language clients (vscode-languageclient among them) pass --stdio.
	cmd.Flags().Bool("stdio", true, "serve on stdin/stdout (the only transport)")
	cmd.Flags().MarkHidden("stdio")
	return cmd
}

// lsp relays framed messages between the editor and the daemon. It starts
// the daemon if needed but sends no message of its own: the editor's
// initialize is the first thing the daemon sees on this connection.
func (a *app) lsp(ctx context.Context, in io.Reader, out io.Writer) error {
	if err := a.dirs.Ensure(); err != nil {
		return err
	}
	// Dial (or start) the daemon, then drop the client: the raw socket is
	// what gets relayed.
	c, err := protocol.DialOrStart(ctx, a.dirs.Socket(), nil, a.startDaemon, startWait)
	if err != nil {
		return fmt.Errorf("%w: %v", errNoDaemon, err)
	}
	c.Close()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", a.dirs.Socket())
	if err != nil {
		return fmt.Errorf("%w: %v", errNoDaemon, err)
	}
	defer nc.Close()
	editor := protocol.NewStreamPair(in, out, nil)
	daemon := protocol.NewStream(nc)
	done := make(chan error, 2)
	go func() { done <- relay(editor, daemon) }()
	go func() { done <- relay(daemon, editor) }()
	select {
	case err = <-done:
	case <-ctx.Done():
	}
	if err == io.EOF {
		err = nil
	}
	return err
}

// relay copies whole messages, so neither side ever sees half of one.
func relay(from, to *protocol.Stream) error {
	for {
		body, err := from.ReadBody()
		if err != nil {
			return err
		}
		if err := to.WriteBody(body); err != nil {
			return err
		}
	}
}
