package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/studiod/studiod/agents"
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
			if !term.IsTerminal(int(os.Stdin.Fd())) {
				return usageError{fmt.Errorf("attach needs a terminal, and stdin is not one: follow the output with `studiod logs %s -f` and type with `studiod send %s TEXT`", args[0], args[0])}
			}
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
			if !s.Terminal() {
				return a.attachACP(cmd, s)
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

// attachACP follows an ACP session's transcript live and sends each line
// typed as a new prompt (queued while a turn runs). End of input (Ctrl-D)
// detaches.
func (a *app) attachACP(cmd *cobra.Command, s *protocol.Session) error {
	ctx := cmd.Context()
	st, err := shim.Attach(ctx, s.Socket, 0)
	if err != nil {
		return fmt.Errorf("attach %s: %w", s.Name, err)
	}
	defer st.Close()
	fmt.Fprintf(os.Stderr, "[attached to %s (ACP): each line you type is a prompt; detach with Ctrl-D]\n", s.Name)
	done := make(chan error, 2)
	go func() {
		_, err := io.Copy(agents.NewTranscript(os.Stdout, s.Worktree), st)
		done <- err
	}()
	go func() {
		done <- a.call(ctx, func(c *protocol.Client) error {
			in := bufio.NewScanner(os.Stdin)
			in.Buffer(make([]byte, 64<<10), 1<<20)
			for in.Scan() {
				text := strings.TrimSpace(in.Text())
				if text == "" {
					continue
				}
				r, err := c.Send(ctx, protocol.SendParams{SessionRef: protocol.SessionRef{Session: s.ID}, Text: text})
				if err != nil {
					fmt.Fprintf(os.Stderr, "[not sent: %v]\n", err)
					continue
				}
				if !r.Delivery.Confirmed && r.Delivery.Note != "" {
					fmt.Fprintf(os.Stderr, "[%s]\n", r.Delivery.Note)
				}
			}
			return nil
		})
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	fmt.Fprintf(os.Stderr, "[detached from %s]\n", s.Name)
	return nil
}
