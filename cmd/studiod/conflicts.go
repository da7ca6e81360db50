package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/studiod/studiod/protocol"
)

func (a *app) conflictsCmd() *cobra.Command {
	var p protocol.ConflictsParams
	var watch bool
	cmd := &cobra.Command{
		Use:   "conflicts [--session N] [--path P] [--watch]",
		Short: "List predicted conflicts between sessions and with their target, down to the lines",
		Long: `List every predicted conflict between live sessions, and between each session
and the branch it will merge into ("target"): the two sides, the path, the
kind, and the line ranges on each side in that side's own file. Overlaps
(both sides change a file, but it merges cleanly) are listed too, with lower
severity. Uncommitted work counts. --watch prints changes as they happen.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.repo != "" || p.Session == "" {
				p.Repo = a.repoDir()
			}
			return a.conflicts(cmd.Context(), p, watch)
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	cmd.Flags().StringVar(&p.Session, "session", "", "only conflicts involving this session")
	cmd.Flags().StringVar(&p.Path, "path", "", "only conflicts on this path")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "keep printing changes as they happen")
	return cmd
}

func (a *app) conflicts(ctx context.Context, p protocol.ConflictsParams, watch bool) error {
	deltas := make(chan protocol.ConflictsChanged, 256)
	c, err := a.connect(ctx, forward(protocol.NotifyConflictsChanged, deltas))
	if err != nil {
		return err
	}
	defer c.Close()
	if watch {
		if _, err := c.Subscribe(ctx, protocol.SubscribeParams{Conflicts: true}); err != nil {
			return err
		}
	}
	res, err := c.Conflicts(ctx, p)
	if err != nil {
		return err
	}
	if a.json {
		printJSON(res)
	} else {
		printConflicts(res.Conflicts)
	}
	if !watch {
		return nil
	}
	known := map[string]protocol.Conflict{}
	for _, cf := range res.Conflicts {
		known[cf.ID] = cf
	}
	for {
		select {
		case d := <-deltas:
			if a.json {
				printJSON(d)
				continue
			}
			for _, cf := range d.Added {
				if matches(cf, p) {
					known[cf.ID] = cf
					fmt.Println("+ " + conflictLine(cf))
				}
			}
			for _, cf := range d.Updated {
				if matches(cf, p) {
					known[cf.ID] = cf
					fmt.Println("~ " + conflictLine(cf))
				}
			}
			for _, id := range d.Resolved {
				if cf, ok := known[id]; ok {
					delete(known, id)
					fmt.Println("- resolved: " + conflictLine(cf))
				}
			}
		case <-c.Done():
			return fmt.Errorf("lost the connection to studiod")
		case <-ctx.Done():
			return nil
		}
	}
}

// forward decodes the notifications named method into ch, in order; other
// notifications are ignored.
func forward[T any](method string, ch chan<- T) protocol.NotifyFunc {
	return func(m string, params json.RawMessage) {
		var n T
		if m == method && json.Unmarshal(params, &n) == nil {
			ch <- n
		}
	}
}

func matches(cf protocol.Conflict, p protocol.ConflictsParams) bool {
	if p.Session != "" && cf.A.Session != p.Session && cf.B.Session != p.Session {
		return false
	}
	if p.Path != "" && cf.Path != p.Path && cf.A.Path != p.Path && cf.B.Path != p.Path {
		return false
	}
	return true
}

// rangesText says a side's lines, the way every face says them.
func rangesText(rs []protocol.Range) string {
	if len(rs) == 0 {
		return "-"
	}
	return protocol.FormatRanges(rs)
}

func conflictLine(cf protocol.Conflict) string {
	what := string(cf.Severity) + " " + string(cf.Kind)
	if string(cf.Kind) == string(cf.Severity) {
		what = string(cf.Kind)
	}
	return fmt.Sprintf("%s: %s (%s %s × %s %s)", what, cf.Path,
		cf.A.Session, rangesText(cf.A.Ranges), cf.B.Session, rangesText(cf.B.Ranges))
}

func printConflicts(list []protocol.Conflict) {
	if len(list) == 0 {
		fmt.Println("no predicted conflicts")
		return
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tKIND\tPATH\tSIDE A\tLINES\tSIDE B\tLINES")
	for _, cf := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cf.Severity, cf.Kind, cf.Path, cf.A.Session,
			rangesText(cf.A.Ranges), cf.B.Session, rangesText(cf.B.Ranges))
	}
	tw.Flush()
}

func (a *app) whoCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "who PATH[:LINE[-END]]",
		Short: "List the sessions whose work changes a file (and those lines)",
		Long: `List the sessions whose work, uncommitted included, changes PATH: their agent,
state, line counts and the lines they changed in their own copy. With
:LINE or :LINE-END, only sessions whose changed lines meet those lines.
PATH is relative to the current directory, or absolute; it may be the main
worktree's copy of the file or a session worktree's.`,
		Args: exactArgs(1, "PATH[:LINE[-END]]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := whoParams(args[0])
			if err != nil {
				return err
			}
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				res, err := c.Who(cmd.Context(), p)
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(res)
				}
				if len(res.Sessions) == 0 {
					fmt.Printf("no session changes %s (in %s)\n", res.Path, res.Repo)
					return nil
				}
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SESSION\tAGENT\tSTATE\tCHANGES\tLINES\tSCOPE\tNOTE")
				for _, s := range res.Sessions {
					scope := "-"
					if len(s.Scope) > 0 {
						scope = strings.Join(s.Scope, ",")
						if !s.InScope {
							scope += " (outside)"
						}
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t+%d −%d\t%s\t%s\t%s\n", s.Session, s.Agent, s.State, s.Additions, s.Deletions,
						rangesText(s.Ranges), scope, trunc(s.Note, 60))
				}
				return tw.Flush()
			})
		},
	}
	return cmd
}

// whoParams parses PATH[:LINE[-END]] into an absolute path and lines.
func whoParams(arg string) (protocol.WhoParams, error) {
	var p protocol.WhoParams
	path, lines := arg, ""
	if i := strings.LastIndex(arg, ":"); i > 0 {
		if _, err := strconv.Atoi(strings.SplitN(arg[i+1:], "-", 2)[0]); err == nil {
			path, lines = arg[:i], arg[i+1:]
		}
	}
	if lines != "" {
		start, end, ok := strings.Cut(lines, "-")
		var err error
		if p.Start, err = strconv.Atoi(start); err != nil || p.Start < 1 {
			return p, usageError{fmt.Errorf("lines %q: give LINE or LINE-END, 1-based", lines)}
		}
		p.End = p.Start
		if ok {
			if p.End, err = strconv.Atoi(end); err != nil || p.End < p.Start {
				return p, usageError{fmt.Errorf("lines %q: give LINE or LINE-END, 1-based, END not before LINE", lines)}
			}
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return p, err
	}
	p.Path = abs
	return p, nil
}
