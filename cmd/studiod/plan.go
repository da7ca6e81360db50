package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/server"
	"github.com/studiod/studiod/workspace"
)

func (a *app) planCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Check a plan of tasks against the repository's history, run it, follow it",
		Long: `A plan is a TOML file of tasks: what each session does, its scope, and what
it waits for (after), is stacked on (stack) or reviews (reviews). See
docs/plans.md.

  studiod plan check FILE   refuse structural errors; overlapping scopes, co-change
                            from the history, unscoped tasks; a proposed order`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.planCheckCmd())
	return cmd
}

func (a *app) planCheckCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check FILE",
		Short: "Check a plan before anything runs: overlaps, history coupling, a proposed order",
		Long: `Reads the plan and refuses it, naming every problem, when it has structural
errors: cycles, unknown names in after/stack/reviews, a task both after and
stacked, duplicate or invalid names, scopes outside the repository, a
reviewer reviewing itself. Then, for every pair of tasks: scopes that overlap,
and files of one scope the history changes together with files of the other
(from git log: the commits, and the path pairs changed together most); tasks
without a scope; and an order: which tasks run in parallel, which should
wait for which, and why. Nothing is started; no daemon is needed.`,
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := os.ReadFile(args[0])
			if err != nil {
				return usageError{fmt.Errorf("read plan: %w", err)}
			}
			rep, err := server.CheckPlan(cmd.Context(), &workspace.Git{}, protocol.PlanCheckParams{Repo: a.repoDir(), Path: args[0], Text: string(text)})
			if err != nil {
				return err
			}
			if a.json {
				return printJSON(rep)
			}
			printPlanReport(os.Stdout, args[0], rep)
			return nil
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	return cmd
}

func printPlanReport(w io.Writer, file string, rep *protocol.PlanReport) {
	fmt.Fprintf(w, "plan %s: %d task%s, checked against %d commits of %s", file, len(rep.Tasks), plural(len(rep.Tasks), "", "s"), rep.Commits, rep.Repo)
	if rep.Skipped > 0 {
		fmt.Fprintf(w, " (%d too large to count)", rep.Skipped)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\ntasks")
	for _, t := range rep.Tasks {
		if t.Unscoped {
			fmt.Fprintf(tw, "  %s\tno scope: unknown risk\t\n", t.Name)
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d file%s, %d commit%s\n", t.Name, strings.Join(t.Scope, " "), t.Files, plural(t.Files, "", "s"), t.Commits, plural(t.Commits, "", "s"))
	}
	tw.Flush()

	low := 0
	fmt.Fprintln(w, "\nrisks")
	for _, p := range rep.Pairs {
		if p.Risk == protocol.PlanRiskLow {
			low++
			continue
		}
		ordered := ""
		if p.Ordered != "" {
			ordered = " (ordered: " + p.Ordered + ")"
		}
		switch p.Risk {
		case protocol.PlanRiskOverlap:
			more := ""
			if p.Overlaps > len(p.Overlap) {
				more = fmt.Sprintf(" and %d more", p.Overlaps-len(p.Overlap))
			}
			fmt.Fprintf(w, "  %s ↔ %s: scopes overlap on %s%s%s\n", p.A, p.B, strings.Join(p.Overlap, ", "), more, ordered)
		case protocol.PlanRiskCoupled:
			fmt.Fprintf(w, "  %s ↔ %s: history changes them together, %d commit%s (%.0f%% of the less changed)%s\n", p.A, p.B, p.CoChange, plural(p.CoChange, "", "s"), 100*p.Strength, ordered)
		}
		for _, e := range p.Evidence {
			fmt.Fprintf(w, "      %s ↔ %s  %d commit%s\n", e.A, e.B, e.Commits, plural(e.Commits, "", "s"))
		}
	}
	if low > 0 {
		fmt.Fprintf(w, "  %d more pair%s changed together now and then (--json lists them)\n", low, plural(low, "", "s"))
	} else if len(rep.Pairs) == 0 {
		fmt.Fprintln(w, "  none found")
	}

	fmt.Fprintln(w, "\norder")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	wave := 0
	for _, s := range rep.Order {
		label := ""
		if s.Wave != wave {
			wave = s.Wave
			label = fmt.Sprintf("%d.", wave)
		}
		if len(s.Waits) == 0 {
			fmt.Fprintf(tw, "  %s\t%s\tstarts at once\n", label, s.Task)
			continue
		}
		for i, x := range s.Waits {
			why := x.Why
			if !x.Declared {
				why = "should wait for " + x.Task + ": " + why
			}
			if i == 0 {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", label, s.Task, why)
			} else {
				fmt.Fprintf(tw, "  \t\t%s\n", why)
			}
		}
	}
	tw.Flush()
}
