package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/studiod/studiod/protocol"
)

// exitCheck: preview --check or land --check found a combination that
// fails the check.
const exitCheck = 11

func (a *app) previewCmd() *cobra.Command {
	var p protocol.PreviewParams
	cmd := &cobra.Command{
		Use:   "preview [NAMES...] [--check] [--target BRANCH]",
		Short: "Fold sessions onto their target in memory: what combines, what conflicts, in which order to land",
		Long: `Fold the sessions (default: every live or finished session not yet merged,
oldest first) onto the tip of their target in memory, uncommitted work
included, without touching any worktree. Shows the landing order that lands
the most sessions with no conflict, and why each other session is left out:
which session (or the target) it conflicts with, in which files and lines.

With --check, the combination is checked out in a scratch worktree and the
repository's check command ([check] command in .studio.toml, once trusted,
or in your config.toml) runs there; a failure is bisected to the session, or
pair of sessions, that breaks it. Exit 11 when the check fails.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			p.Repo, p.Sessions = a.repoDir(), args
			if p.CheckCommand != "" {
				p.Check = true
			}
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				pv, err := c.Preview(cmd.Context(), p)
				if err != nil {
					return a.repoHint(err)
				}
				if a.json {
					if err := printJSON(pv); err != nil {
						return err
					}
				} else {
					printPreview(os.Stdout, pv)
				}
				if pv.Check != nil && pv.Check.Status != protocol.CheckPassed {
					return exitCodeErr(exitCheck)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	cmd.Flags().StringVar(&p.Target, "target", "", "branch to fold onto (default: the sessions' target)")
	cmd.Flags().BoolVar(&p.Check, "check", false, "run the check command on the combination, bisecting a failure")
	cmd.Flags().StringVar(&p.CheckCommand, "check-command", "", "the check to run instead of [check] command (implies --check)")
	return cmd
}

// printPreview writes a preview for people.
func printPreview(w io.Writer, pv *protocol.Preview) {
	fmt.Fprintf(w, "preview of %d session(s) onto %s at %s (%d ms)\n", len(pv.Sessions), pv.Target, short(pv.Tip), pv.DurationMs)
	if len(pv.Sessions) == 0 {
		fmt.Fprintln(w, "no session has work to land")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(pv.Order) > 0 {
		fmt.Fprintln(tw, "landing order:")
	} else {
		fmt.Fprintln(tw, "landing order: none of them fits")
	}
	left := false
	for _, ps := range pv.Sessions {
		if ps.Position == 0 && !left {
			left = true
			fmt.Fprintln(tw, "left out:")
		}
		pos := "  -"
		if ps.Position > 0 {
			pos = fmt.Sprintf("%3d.", ps.Position)
		}
		check := ""
		if ps.Check != "" {
			check = "check " + string(ps.Check)
		}
		reason := ps.Reason
		if fix := cliFix(protocol.ErrorData{Fix: ps.Fix, Session: ps.Session}); fix != "" {
			reason += ": " + fix
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\n", pos, ps.Session, ps.Status, check, reason)
	}
	tw.Flush()
	if len(pv.Conflicts) > 0 {
		fmt.Fprintln(w, "conflicts, pair by pair:")
		printConflicts(pv.Conflicts)
	}
	if ck := pv.Check; ck != nil {
		fmt.Fprintf(w, "check `%s`: %s", ck.Command, ck.Status)
		if ck.Reason != "" {
			fmt.Fprintf(w, " — %s", ck.Reason)
		}
		fmt.Fprintf(w, " (%d run(s))\n", len(ck.Tries))
		if ck.Status != protocol.CheckPassed && ck.Log != "" {
			fmt.Fprintf(w, "  log %s\n", ck.Log)
			for _, l := range strings.Split(ck.Tail, "\n") {
				fmt.Fprintf(w, "  | %s\n", l)
			}
		}
	}
	if len(pv.Order) > 0 {
		fmt.Fprintf(w, "land them with `studiod land`\n")
	}
}

func (a *app) landCmd() *cobra.Command {
	var p protocol.LandParams
	cmd := &cobra.Command{
		Use:   "land [NAMES...] [--strategy S] [--check] [--send-failures] [--resume ID]",
		Short: "Land sessions as a merge queue, each merged (and checked) before the target moves",
		Long: `Merge the sessions one by one in the preview's landing order (or the order
given), each with the merge transaction (checkpoint, backup ref, compare-and-
swap, journal). With --check each merge's result is checked in a scratch
worktree before the target moves. The queue stops at the first conflict or
failed check (exit 5 or 11); with --send-failures the conflict list or the
check's output goes to that session's agent. Without names the queue is the
landing order followed by the sessions left out, so it stops at the first of
those and says why.

Undo the whole queue with ` + "`studiod undo --land ID`" + ` (or --land last). A queue cut
short by a crash is resumed with --resume ID.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			p.Repo, p.Sessions = a.repoDir(), args
			if p.CheckCommand != "" {
				p.Check = true
			}
			if p.Resume != "" && len(args) > 0 {
				return usageError{fmt.Errorf("--resume continues a queue: give no session names with it")}
			}
			p.WorkDoneToken = "cli-land"
			notify := func(method string, params json.RawMessage) {
				if method != protocol.NotifyProgress || a.json {
					return
				}
				var pp protocol.ProgressParams
				if json.Unmarshal(params, &pp) == nil && pp.Value.Message != "" {
					fmt.Fprintf(os.Stderr, "… %s\n", pp.Value.Message)
				}
			}
			c, err := a.connect(cmd.Context(), notify)
			if err != nil {
				return err
			}
			defer c.Close()
			r, err := c.Land(cmd.Context(), p)
			if err != nil {
				return err
			}
			if a.json {
				if err := printJSON(r); err != nil {
					return err
				}
			} else {
				printLand(os.Stdout, r)
			}
			if st := r.Stopped; st != nil {
				switch st.Reason {
				case "conflict":
					return exitCodeErr(exitConflict)
				case "check":
					return exitCodeErr(exitCheck)
				case "busy", "moved":
					return exitCodeErr(exitBusy)
				case "dirty":
					return exitCodeErr(exitDirty)
				}
				return exitCodeErr(exitError)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	cmd.Flags().StringVar((*string)(&p.Strategy), "strategy", "", "merge (no-ff, default), squash or rebase")
	cmd.Flags().BoolVar(&p.Check, "check", false, "check each merge's result before the target moves")
	cmd.Flags().StringVar(&p.CheckCommand, "check-command", "", "the check to run instead of [check] command (implies --check)")
	cmd.Flags().BoolVar(&p.SendFailures, "send-failures", false, "send the conflicts or the check's output to the agent of the session the queue stops at")
	cmd.Flags().BoolVar(&p.Force, "force", false, "land sessions whose agents are working")
	cmd.Flags().StringVar(&p.Resume, "resume", "", "continue the land queue with this ID (cut short by a crash, or stopped)")
	return cmd
}

func printLand(w io.Writer, r *protocol.LandResult) {
	for _, d := range r.Landed {
		check := ""
		if d.Check != nil {
			check = fmt.Sprintf(", check %s", d.Check.Status)
		}
		fmt.Fprintf(w, "landed %s into %s (%s%s): %s → %s, backup %s\n", d.Session, r.Target, d.Strategy, check, short(d.Old), short(d.New), d.Backup)
	}
	if st := r.Stopped; st != nil {
		fmt.Fprintf(w, "stopped at %s (%s): %s\n", st.Session, st.Reason, st.Message)
		if len(st.Conflicts) > 0 {
			printConflicts(st.Conflicts)
		}
		if st.Check != nil && st.Check.Tail != "" {
			for _, l := range strings.Split(st.Check.Tail, "\n") {
				fmt.Fprintf(w, "  | %s\n", l)
			}
		}
		if st.Sent {
			fmt.Fprintf(w, "sent to the agent of %s (%s)\n", st.Session, st.Via)
		}
	}
	if len(r.Remaining) > 0 {
		fmt.Fprintf(w, "not tried: %s\n", strings.Join(r.Remaining, ", "))
	}
	fmt.Fprintf(w, "land %s: %s, %s %s → %s", r.ID, r.Status, r.Target, short(r.Old), short(r.New))
	if len(r.Landed) > 0 {
		fmt.Fprintf(w, " (undo: studiod undo --land %s)", r.ID)
	}
	fmt.Fprintln(w)
}

func (a *app) syncCmd() *cobra.Command {
	var p protocol.SyncParams
	var rebase, merge bool
	cmd := &cobra.Command{
		Use:   "sync NAME [--merge|--rebase] [--send] [--force]",
		Short: "Bring the target's tip into a session's branch (refused, listing the conflicts, when it would conflict)",
		Long: `Bring the session's target into its branch: a merge commit (--merge, the
default) or its commits replayed on the target (--rebase). Uncommitted work
is checkpointed first; the branch's old tip is kept in refs/studio/backup/….
When it would conflict nothing changes and the conflicts are listed (exit 5);
with --send they also go to the agent as a task.`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if rebase && merge {
				return usageError{fmt.Errorf("--merge and --rebase: choose one")}
			}
			p.SessionRef = a.sessionRef(args[0])
			if rebase {
				p.Strategy = protocol.StrategyRebase
			}
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				r, err := c.Sync(cmd.Context(), p)
				if err != nil {
					if protocol.CodeOf(err) == protocol.CodeMergeConflict && !a.json {
						if pe, ok := err.(*protocol.Error); ok && pe.Data != nil {
							var d protocol.MergeConflictData
							if json.Unmarshal(pe.Data, &d) == nil {
								if len(d.Conflicts) > 0 {
									printConflicts(d.Conflicts)
								}
								if d.Sent {
									fmt.Printf("sent the conflicts to the agent of %s (%s)\n", args[0], d.Via)
								}
							}
						}
					}
					return err
				}
				if a.json {
					return printJSON(r)
				}
				if r.UpToDate {
					fmt.Printf("%s already has %s at %s\n", args[0], r.Target, short(r.TargetTip))
					return nil
				}
				fmt.Printf("synced %s with %s at %s (%s): %s → %s, backup %s\n", args[0], r.Target, short(r.TargetTip), r.Strategy, short(r.Old), short(r.New), r.Backup)
				if r.Checkpoint != "" {
					fmt.Printf("uncommitted work was checkpointed first as %s\n", short(r.Checkpoint))
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	cmd.Flags().BoolVar(&rebase, "rebase", false, "replay the session's commits on the target")
	cmd.Flags().BoolVar(&merge, "merge", false, "merge the target into the branch (the default)")
	cmd.Flags().BoolVar(&p.Send, "send", false, "when refused, send the conflict list to the agent as a task")
	cmd.Flags().BoolVar(&p.Force, "force", false, "sync even while the agent is working")
	return cmd
}

// undoLand serves `undo --land ID`.
func (a *app) undoLand(ctx context.Context, id string) error {
	return a.call(ctx, func(c *protocol.Client) error {
		r, err := c.UndoLand(ctx, protocol.UndoLandParams{Repo: a.repoDir(), Land: id})
		if err != nil {
			return err
		}
		if a.json {
			return printJSON(r)
		}
		fmt.Printf("%s is back at %s (undid land %s: %s)\n", r.Target, short(r.Restored), r.ID, strings.Join(r.Sessions, ", "))
		return nil
	})
}
