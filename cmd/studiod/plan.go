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
                            from the history, unscoped tasks; a proposed order
  studiod plan run FILE     the daemon starts what is ready and keeps the plan going
  studiod plan              each plan's tasks: session, state, what they wait for
  studiod plan cancel [ID]  start no more tasks (running sessions go on)`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				p := protocol.PlansParams{}
				if a.repo != "" {
					p.Repo = a.repoDir()
				}
				res, err := c.Plans(cmd.Context(), p)
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(res)
				}
				if len(res.Plans) == 0 {
					fmt.Println("no plans: studiod plan run FILE starts one")
				}
				for _, pl := range res.Plans {
					printPlan(os.Stdout, pl)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "only this repository's plans")
	cmd.AddCommand(a.planCheckCmd(), a.planRunCmd(), a.planCancelCmd())
	return cmd
}

func (a *app) planRunCmd() *cobra.Command {
	var target string
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Hand a plan to the daemon: it starts the ready tasks and the rest as they become ready",
		Long: `The daemon keeps the plan (a restart resumes it) and starts every task that
is ready: at once for a task that waits for nothing; from the target's new
tip once the tasks it is after have landed (merge or land); on its parent's
branch for a stacked task, which then follows the parent's branch (a
conflict goes to its agent as a task); on the reviewed work for a reviewer,
once the reviewed agent has finished its turn. The plan is refused as a
whole, nothing started, when it has a structural error (see plan check),
names a task like an existing session, or an unknown agent.`,
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := os.ReadFile(args[0])
			if err != nil {
				return usageError{fmt.Errorf("read plan: %w", err)}
			}
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				pl, err := c.PlanRun(cmd.Context(), protocol.PlanRunParams{Repo: a.repoDir(), Path: args[0], Text: string(text), Target: target})
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(pl)
				}
				printPlan(os.Stdout, *pl)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	cmd.Flags().StringVar(&target, "target", "", "branch the tasks land on (default: as spawn)")
	return cmd
}

func (a *app) planCancelCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cancel [ID]",
		Short: "Stop a plan from starting tasks (its running sessions go on)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError{fmt.Errorf("usage: studiod plan cancel [ID]")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			p := protocol.PlanCancelParams{Repo: a.repoDir()}
			if len(args) == 1 {
				p.Plan = args[0]
			}
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				pl, err := c.PlanCancel(cmd.Context(), p)
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(pl)
				}
				printPlan(os.Stdout, *pl)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	return cmd
}

func printPlan(w io.Writer, pl protocol.Plan) {
	file := ""
	if pl.File != "" {
		file = " " + pl.File
	}
	fmt.Fprintf(w, "plan %s%s: %s (target %s in %s)\n", pl.ID, file, pl.State, pl.Target, pl.Repo)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, t := range pl.Tasks {
		state := string(t.State)
		if t.SessionState != "" && t.State == protocol.TaskStarted {
			state += " (" + string(t.SessionState) + ")"
		}
		var rel []string
		if len(t.After) > 0 {
			rel = append(rel, "after "+strings.Join(t.After, ", "))
		}
		if t.Stack != "" {
			rel = append(rel, "stacked on "+t.Stack)
		}
		if t.Reviews != "" {
			rel = append(rel, "reviews "+t.Reviews)
		}
		if len(t.ReviewedBy) > 0 {
			verb := "being reviewed by "
			if t.Reviewed {
				verb = "reviewed by "
			}
			rel = append(rel, verb+strings.Join(t.ReviewedBy, ", "))
		}
		detail := t.Detail
		if t.Usage != nil {
			detail = strings.TrimPrefix(detail+"; "+t.Usage.Short(), "; ")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", t.Name, state, strings.Join(rel, "; "), detail)
	}
	tw.Flush()
	if pl.Usage != nil {
		fmt.Fprintf(w, "  model usage of the plan: %s\n", pl.Usage.Short())
	}
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
	fmt.Fprintf(w, "plan %s: %d task%s, checked against %d commit%s of %s", file, len(rep.Tasks), plural(len(rep.Tasks), "", "s"), rep.Commits, plural(rep.Commits, "", "s"), rep.Repo)
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

func (a *app) reviewByCmd() *cobra.Command {
	var p protocol.ReviewByParams
	cmd := &cobra.Command{
		Use:   "review-by NAME [PROMPT | -- CMD ARGS...]",
		Short: "Start a reviewer session on a session's current work (its comments record the reviewer)",
		Long: `Starts a reviewer on NAME's current work: a session of its own, on its own
branch, from a snapshot of NAME's worktree (uncommitted work included), so it
cannot move NAME's branch. Its agent is told to leave its findings as
comments on NAME (studiod comment, or the MCP comment tool): they record it
as their author. When its turn ends, NAME counts as reviewed (show NAME says
by whom, with how many comments); --forward then sends the comments to NAME's
agent as feedback. --role takes the agent, brief, scope and gate of a
[roles.NAME] in config; a session cannot review itself.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return usageError{fmt.Errorf("usage: studiod review-by NAME [--role R] [--agent P] [PROMPT | -- CMD ARGS...]")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			p.SessionRef = a.sessionRef(args[0])
			rest := args[1:]
			if dash := cmd.ArgsLenAtDash(); dash >= 1 {
				p.Command = args[dash:]
				rest = args[1:dash]
			}
			p.Prompt = strings.Join(rest, " ")
			p.By = os.Getenv("STUDIO_SESSION_ID")
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				s, err := c.ReviewBy(cmd.Context(), p)
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(s)
				}
				fmt.Printf("%s reviews %s (%s, branch %s from its work as it is now)\n", s.Name, args[0], s.State, s.Branch)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	cmd.Flags().StringVar(&p.Name, "name", "", "the reviewer's session name (default: NAME-review)")
	cmd.Flags().StringVar(&p.Role, "role", "", "a [roles.R] of config: agent, brief, scope, gate")
	cmd.Flags().StringVar(&p.Agent, "agent", "", "agent profile (default: the role's, else the default agent)")
	cmd.Flags().BoolVar(&p.Forward, "forward", false, "send the comments to NAME's agent as feedback when the reviewer finishes")
	return cmd
}

// reviewLines says who reviews (and reviewed) a session, and whom it
// reviews.
func reviewLines(s protocol.Session) []string {
	var out []string
	for _, r := range s.ReviewedBy {
		verb := "being reviewed by"
		if r.Done {
			verb = "reviewed by"
		}
		out = append(out, fmt.Sprintf("%s %s: %d comment%s", verb, r.Reviewer, r.Comments, plural(r.Comments, "", "s")))
	}
	if s.Reviews != "" {
		out = append(out, "reviews "+s.Reviews)
	}
	return out
}
