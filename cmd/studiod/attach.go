package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/studiod/studiod/agents/shim"
	"github.com/studiod/studiod/protocol"
)

// detachKey ends an attach session: Ctrl-], as in telnet.
const detachKey = 0x1d

func (a *app) attachCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attach NAME",
		Short: "Connect this terminal to the agent's (detach with Ctrl-])",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var s *protocol.Session
			err := a.call(cmd.Context(), func(c *protocol.Client) error {
				var err error
				s, err = c.Session(cmd.Context(), a.sessionRef(args[0]))
				return err
			})
			if err != nil {
				return err
			}
			if !s.State.Live() || s.Socket == "" {
				return fmt.Errorf("session %s is %s: nothing to attach to (see `studiod logs %s`)", s.Name, stateText(*s), s.Name)
			}
			return attach(cmd, s)
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	return cmd
}

func attach(cmd *cobra.Command, s *protocol.Session) error {
	ctx := cmd.Context()
	// Show the recent screen, then follow.
	st, err := shim.Attach(ctx, s.Socket, -1)
	if err != nil {
		return fmt.Errorf("attach %s: %w", s.Name, err)
	}
	defer st.Close()
	if st.Offset > 8192 {
		st.Close()
		if st, err = shim.Attach(ctx, s.Socket, st.Offset-8192); err != nil {
			return err
		}
		defer st.Close()
	} else if st.Offset > 0 {
		st.Close()
		if st, err = shim.Attach(ctx, s.Socket, 0); err != nil {
			return err
		}
		defer st.Close()
	}
	in := int(os.Stdin.Fd())
	if term.IsTerminal(in) {
		old, err := term.MakeRaw(in)
		if err != nil {
			return err
		}
		defer term.Restore(in, old)
		resize := func() {
			if w, h, err := term.GetSize(in); err == nil {
				shim.Resize(ctx, s.Socket, h, w)
			}
		}
		resize()
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				resize()
			}
		}()
	}
	fmt.Fprintf(os.Stderr, "\r\n[attached to %s; detach with Ctrl-]]\r\n", s.Name)
	done := make(chan error, 2)
	go func() {
		_, err := io.Copy(os.Stdout, st)
		done <- err
	}()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := os.Stdin.Read(buf)
			if n > 0 {
				chunk := buf[:n]
				if i := bytes.IndexByte(chunk, detachKey); i >= 0 {
					st.Write(chunk[:i])
					done <- nil
					return
				}
				if _, err := st.Write(chunk); err != nil {
					done <- err
					return
				}
			}
			if err != nil {
				done <- nil
				return
			}
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	fmt.Fprintf(os.Stderr, "\r\n[detached from %s]\r\n", s.Name)
	return nil
}

func shimCmd() *cobra.Command {
	var specPath string
	cmd := &cobra.Command{
		Use:    "shim --spec FILE",
		Short:  "Hold one agent's terminal (started by the daemon)",
		Hidden: true,
		Args:   noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(specPath)
			if err != nil {
				return err
			}
			var spec shim.Spec
			if err := json.Unmarshal(b, &spec); err != nil {
				return fmt.Errorf("read spec %s: %w", specPath, err)
			}
			// The daemon passes the ready pipe as fd 3; the agent must not
			// inherit it, or the daemon would never see it close.
			syscall.CloseOnExec(3)
			ready := os.NewFile(3, "ready")
			return shim.Main(spec, ready)
		},
	}
	cmd.Flags().StringVar(&specPath, "spec", "", "the session's spec file")
	return cmd
}
