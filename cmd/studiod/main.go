// Command studiod runs parallel AI coding agents in git worktrees, predicts
// where their work will collide, and merges it safely. `studiod serve` is the
// daemon; every other verb is a thin client of it (see `studiod help`).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/studiod/studiod/internal/home"
	"github.com/studiod/studiod/protocol"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Exit codes. Daemon error codes map onto these, so scripts can tell a
// missing session from a conflict without parsing text.
const (
	exitOK         = 0
	exitError      = 1
	exitUsage      = 2
	exitNotFound   = 3
	exitInvalid    = 4
	exitConflict   = 5
	exitDirty      = 6
	exitUntrusted  = 7
	exitBusy       = 8
	exitGit        = 9
	exitNoDaemon   = 10
	exitForbidden  = 12 // after exitCheck
	exitUnreviewed = 13
)

func exitCode(err error) int {
	switch protocol.CodeOf(err) {
	case protocol.CodeNotFound:
		return exitNotFound
	case protocol.CodeInvalid, protocol.CodeInvalidParams:
		return exitInvalid
	case protocol.CodeMergeConflict:
		return exitConflict
	case protocol.CodeTargetDirty:
		return exitDirty
	case protocol.CodeUntrusted:
		return exitUntrusted
	case protocol.CodeBusy:
		return exitBusy
	case protocol.CodeGit:
		return exitGit
	case protocol.CodeForbidden:
		return exitForbidden
	case protocol.CodeUnreviewed:
		return exitUnreviewed
	}
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	if errors.Is(err, errNoDaemon) {
		return exitNoDaemon
	}
	var ce exitCodeErr
	if errors.As(err, &ce) {
		return int(ce)
	}
	return exitError
}

type usageError struct{ error }

// exitCodeErr is an error that only carries an exit code: the verb has
// already reported what went wrong.
type exitCodeErr int

func (e exitCodeErr) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// app carries what every verb shares.
type app struct {
	dirs    home.Dirs
	json    bool
	repo    string
	started bool // this invocation started the daemon
	// orphanDaemon starts the daemon outside this process's tree.
	orphanDaemon bool
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{dirs: home.Resolve()}
	root := a.rootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if c, _, ferr := root.Find(args); ferr != nil && c == root {
		// An unknown verb (cobra adds its suggestions) is a usage error.
		err = usageError{fmt.Errorf("%s\nrun `studiod --help` for the list of verbs", strings.TrimRight(err.Error(), "\n"))}
	}
	code := exitCode(err)
	var ce exitCodeErr
	if errors.As(err, &ce) {
		return code
	}
	msg := cliMessage(err)
	if a.json {
		e := map[string]any{"code": protocol.CodeOf(err), "message": msg, "exit": code}
		if pe := (*protocol.Error)(nil); errors.As(err, &pe) && len(pe.Data) > 0 {
			e["data"] = json.RawMessage(pe.Data)
		}
		json.NewEncoder(os.Stdout).Encode(map[string]any{"error": e})
	} else {
		fmt.Fprintf(os.Stderr, "studiod: %s\n", msg)
	}
	return code
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "studiod",
		Short: "Run parallel AI coding agents in git worktrees, see their collisions early, merge safely",
		Long: `studiod runs each AI coding agent in its own git worktree on its own branch,
predicts where their work will collide (uncommitted work included), and lets you
review and merge it safely — from the terminal, VS Code, Neovim or an MCP assistant.

Try it with no AI account: studiod demo`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion(),
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		// pflag words a value that is not a number as Go's parse error
		// (`strconv.ParseInt: parsing "abc": invalid syntax`): say what
		// the flag wants instead.
		if msg, _, ok := strings.Cut(err.Error(), ": strconv."); ok {
			err = errors.New(msg + ": want a whole number")
		}
		return usageError{fmt.Errorf("%w (see `%s --help`)", err, c.CommandPath())}
	})
	root.PersistentFlags().BoolVar(&a.json, "json", false, "print machine-readable JSON (the protocol's types)")
	root.SetVersionTemplate("studiod {{.Version}}\n")
	root.AddCommand(
		a.spawnCmd(), a.lsCmd(), a.showCmd(), a.logsCmd(), a.attachCmd(), a.sendCmd(), a.answerCmd(), a.noteCmd(), a.budgetCmd(),
		a.stopCmd(), a.rmCmd(), a.statusCmd(), a.doctorCmd(), a.serveCmd(), a.trustCmd(),
		a.versionCmd(), a.hookCmd(), a.shutdownCmd(), a.demoCmd(), a.conflictsCmd(), a.whoCmd(), a.lspCmd(),
		a.diffCmd(), a.commentCmd(), a.commentsCmd(), a.feedbackCmd(), a.mergeCmd(), a.undoCmd(),
		a.previewCmd(), a.landCmd(), a.waitCmd(), a.syncCmd(), a.poolCmd(), a.salvageCmd(), a.restoreCmd(), a.planCmd(), a.reviewByCmd(),
		shimCmd(), demoAgentCmd(), fsmonitorCmd(), a.hostsCmd(), remoteCmd(),
		a.mcpCmd(), a.mcpTokenCmd(), a.acpCmd(), a.uiCmd(),
	)
	return root
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print studiod's version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.json {
				return printJSON(map[string]string{"version": buildVersion(), "protocolVersion": protocol.Version})
			}
			fmt.Printf("studiod %s (protocol %s)\n", buildVersion(), protocol.Version)
			return nil
		},
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s takes no arguments", cmd.CommandPath())}
	}
	return nil
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("usage: %s %s", cmd.CommandPath(), what)}
		}
		return nil
	}
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
