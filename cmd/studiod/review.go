package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/studiod/studiod/protocol"
)

func (a *app) diffCmd() *cobra.Command {
	var p protocol.DiffParams
	cmd := &cobra.Command{
		Use:   "diff NAME [--stat] [--against base|target] [-- PATHS...]",
		Short: "Show a session's changes, uncommitted work included",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || (cmd.ArgsLenAtDash() != -1 && cmd.ArgsLenAtDash() != 1) {
				return usageError{fmt.Errorf("usage: studiod diff NAME [--stat] [--against base|target] [-- PATHS...]")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			p.SessionRef = a.sessionRef(args[0])
			p.Paths = args[1:]
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				d, err := c.Diff(cmd.Context(), p)
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(d)
				}
				paint := colour(os.Stdout)
				for _, f := range d.Files {
					name := f.Path
					if f.OldPath != "" {
						name = f.OldPath + " → " + f.Path
					}
					if p.Stat {
						fmt.Printf(" %-50s %-8s +%d -%d\n", name, f.Status, f.Additions, f.Deletions)
						continue
					}
					fmt.Println(paint(bold, fmt.Sprintf("%s %s", f.Status, name)))
					if f.Binary {
						fmt.Println("  (binary)")
					}
					for _, h := range f.Hunks {
						fmt.Println(paint(cyan, h.HeaderLine()))
						for _, l := range h.Lines {
							switch {
							case strings.HasPrefix(l, "+"):
								fmt.Println(paint(green, l))
							case strings.HasPrefix(l, "-"):
								fmt.Println(paint(red, l))
							default:
								fmt.Println(l)
							}
						}
					}
				}
				fmt.Printf("%d files changed, +%d -%d (against %s)\n", d.Stats.Files, d.Stats.Additions, d.Stats.Deletions, short(d.From))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	cmd.Flags().BoolVar(&p.Stat, "stat", false, "only per-file stats")
	cmd.Flags().StringVar(&p.Against, "against", "base", "compare with the session's base or with the target branch")
	return cmd
}

// SGR colours for diff output.
const (
	bold  = "1"
	red   = "31"
	green = "32"
	cyan  = "36"
)

// colour returns how to paint text written to f: in colour only when f is
// a terminal and NO_COLOR (no-color.org) is unset or empty.
func colour(f *os.File) func(sgr, text string) string {
	if os.Getenv("NO_COLOR") != "" || !term.IsTerminal(int(f.Fd())) {
		return func(_, text string) string { return text }
	}
	return func(sgr, text string) string { return "\x1b[" + sgr + "m" + text + "\x1b[0m" }
}

func short(id string) string {
	if len(id) > 10 {
		return id[:10]
	}
	return id
}

// parseLines reads PATH:LINE or PATH:START-END.
func parseLines(spec string) (path string, start, end int, err error) {
	i := strings.LastIndex(spec, ":")
	if i <= 0 {
		return "", 0, 0, usageError{fmt.Errorf("%q: use PATH:LINE or PATH:START-END", spec)}
	}
	path = spec[:i]
	lo, hi, found := strings.Cut(spec[i+1:], "-")
	if start, err = strconv.Atoi(lo); err != nil {
		return "", 0, 0, usageError{fmt.Errorf("%q: bad line number", spec)}
	}
	end = start
	if found {
		if end, err = strconv.Atoi(hi); err != nil {
			return "", 0, 0, usageError{fmt.Errorf("%q: bad end line", spec)}
		}
	}
	return path, start, end, nil
}

func (a *app) commentCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "comment NAME PATH:LINE[-END] TEXT...",
		Short: "Add a review comment on lines of a session's file",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 3 {
				return usageError{fmt.Errorf("usage: studiod comment NAME PATH:LINE[-END] TEXT")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			path, start, end, err := parseLines(args[1])
			if err != nil {
				return err
			}
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				cm, err := c.Comment(cmd.Context(), protocol.CommentParams{SessionRef: a.sessionRef(args[0]), Path: path,
					StartLine: start, EndLine: end, Body: strings.Join(args[2:], " "), By: os.Getenv("STUDIO_SESSION_ID")})
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(cm)
				}
				fmt.Printf("comment %d on %s:%d-%d (send with `studiod feedback %s`)\n", cm.ID, cm.Path, cm.StartLine, cm.EndLine, args[0])
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	return cmd
}

func (a *app) commentsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "comments NAME",
		Short: "List a session's review comments",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				r, err := c.Comments(cmd.Context(), a.sessionRef(args[0]))
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(r)
				}
				if len(r.Comments) == 0 {
					fmt.Println("no comments")
				}
				for _, cm := range r.Comments {
					state := "unsent"
					if cm.Sent != nil {
						state = "sent"
					}
					if cm.By != "" {
						state += ", by " + cm.By
					}
					fmt.Printf("%d  %s:%d-%d  [%s]  %s\n", cm.ID, cm.Path, cm.StartLine, cm.EndLine, state, cm.Body)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	return cmd
}

func (a *app) feedbackCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "feedback NAME",
		Short: "Send every unsent review comment to the agent as one message",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				r, err := c.Feedback(cmd.Context(), a.sessionRef(args[0]))
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(r)
				}
				fmt.Printf("sent %d comment(s): %s %s\n", r.Sent, deliveredText(r.Delivery), args[0])
				if !r.Delivery.Confirmed && r.Delivery.Note != "" {
					fmt.Println("  " + r.Delivery.Note)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	return cmd
}

func (a *app) mergeCmd() *cobra.Command {
	var p protocol.MergeParams
	cmd := &cobra.Command{
		Use:   "merge NAME [--strategy merge|squash|rebase] [--message M] [--cleanup] [--dry-run] [--force]",
		Short: "Merge a session into its target as a transaction that never loses work",
		Long: `Checkpoint the session's uncommitted work, refuse if the merge would conflict
(exit 5, listing paths and lines) or if local changes in the target's worktree
are in the way (exit 6), keep the old target tip in refs/studio/backup/…, and
move the target. Nothing changes anywhere when it refuses. Undo with
` + "`studiod undo NAME`" + ` while the target is still at the merge.`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p.SessionRef = a.sessionRef(args[0])
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				r, err := c.Merge(cmd.Context(), p)
				if err != nil {
					var pe *protocol.Error
					if protocol.CodeOf(err) == protocol.CodeMergeConflict && !a.json {
						if e, ok := err.(*protocol.Error); ok {
							pe = e
						}
						if pe != nil && pe.Data != nil {
							var d protocol.MergeConflictData
							if json.Unmarshal(pe.Data, &d) == nil && len(d.Conflicts) > 0 {
								printConflicts(d.Conflicts)
							}
						}
					}
					return err
				}
				if a.json {
					return printJSON(r)
				}
				if r.DryRun {
					fmt.Printf("%s would merge cleanly into %s (%s, %d files)\n", args[0], r.Target, r.Strategy, r.Files)
					return nil
				}
				fmt.Printf("merged %s into %s (%s): %s → %s, %d files\n", args[0], r.Target, r.Strategy, short(r.Old), short(r.New), r.Files)
				fmt.Printf("backup of the old tip: %s (undo: studiod undo %s)\n", r.Backup, args[0])
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	cmd.Flags().StringVar((*string)(&p.Strategy), "strategy", "", "merge (no-ff, default), squash or rebase")
	cmd.Flags().StringVarP(&p.Message, "message", "m", "", "commit message (default: from the session's prompt)")
	cmd.Flags().BoolVar(&p.Cleanup, "cleanup", false, "remove the worktree and branch after a successful merge")
	cmd.Flags().BoolVar(&p.DryRun, "dry-run", false, "check that it would merge, change nothing")
	cmd.Flags().BoolVar(&p.Force, "force", false, "merge even while the agent is working")
	return cmd
}

func (a *app) undoCmd() *cobra.Command {
	var land string
	cmd := &cobra.Command{
		Use:   "undo NAME | undo --land ID",
		Short: "Undo a session's last merge, or a land queue (while the target is still where it left it)",
		Args: func(cmd *cobra.Command, args []string) error {
			if land != "" && len(args) == 0 {
				return nil
			}
			if land != "" {
				return usageError{fmt.Errorf("usage: studiod undo --land ID (no session name with it)")}
			}
			return exactArgs(1, "NAME | undo --land ID")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if land != "" {
				return a.undoLand(cmd.Context(), land)
			}
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				r, err := c.Undo(cmd.Context(), a.sessionRef(args[0]))
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(r)
				}
				fmt.Printf("%s is back at %s (undid %s)\n", r.Target, short(r.Restored), short(r.Undone))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	cmd.Flags().StringVar(&land, "land", "", "undo the land queue with this ID (or last)")
	return cmd
}
