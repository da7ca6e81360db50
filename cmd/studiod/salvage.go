package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/studiod/studiod/protocol"
)

func (a *app) salvageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "salvage",
		Short: "List what removed sessions left: their last snapshot, uncommitted work included",
		Long: `Before a session's worktree is removed (rm, rm --force, merge --cleanup, or
its tree recycled by the pool) studiod keeps its last snapshot, uncommitted
work included, as refs/studio/salvage/NAME. They are pruned after
[defaults] salvage_days (30 by default). ` + "`studiod restore NAME`" + ` brings one
back as a new session or a branch.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				res, err := c.Salvage(cmd.Context(), protocol.SalvageParams{Repo: a.repoDir()})
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(res)
				}
				if len(res.Salvages) == 0 {
					fmt.Println("no salvage: removed sessions left no work behind")
					return nil
				}
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				for _, sv := range res.Salvages {
					fmt.Fprintf(tw, "%s\t%s\t%s\tfrom %s (%s)\t%s\n", sv.Name, sv.When.Local().Format(time.DateTime), short(sv.Commit), sv.Session, sv.Branch, salvageHeld(sv))
				}
				tw.Flush()
				fmt.Println("restore one: studiod restore NAME [--as NEW | --branch B]")
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	return cmd
}

// salvageHeld says what a salvage holds: "2 files +10 -1, uncommitted
// work included".
func salvageHeld(sv protocol.Salvage) string {
	t := fmt.Sprintf("%d file(s) +%d -%d", sv.Changes.Files, sv.Changes.Additions, sv.Changes.Deletions)
	if sv.Uncommitted {
		t += ", uncommitted work included"
	}
	return t
}

func (a *app) restoreCmd() *cobra.Command {
	var p protocol.RestoreParams
	cmd := &cobra.Command{
		Use:   "restore NAME [--as NEW | --branch B] [--agent A | -- CMD ARGS...]",
		Short: "Bring back what a removed session left, as a new session or a branch",
		Long: `Restore a salvage (` + "`studiod salvage`" + ` lists them): as a new session (named
NAME, or NEW with --as) whose branch starts at the salvaged work, with the
removed session's agent unless --agent or a command after -- say otherwise;
or, with --branch, as a new branch. The salvage stays until it is pruned.`,
		Args: func(cmd *cobra.Command, args []string) error {
			n := len(args)
			if d := cmd.ArgsLenAtDash(); d >= 0 {
				n = d
			}
			if n != 1 {
				return usageError{fmt.Errorf("usage: studiod restore NAME [--as NEW | --branch B] [--agent A | -- CMD ARGS...]")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			p.Repo, p.Name = a.repoDir(), args[0]
			if d := cmd.ArgsLenAtDash(); d >= 0 {
				p.Command = args[d:]
			}
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				res, err := c.Restore(cmd.Context(), p)
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(res)
				}
				if res.Branch != "" {
					fmt.Printf("restored %s as branch %s (%s)\n", res.Salvage.Name, res.Branch, short(res.Salvage.Commit))
					return nil
				}
				fmt.Printf("restored %s as session %s on branch %s\n", res.Salvage.Name, res.Session.Name, res.Session.Branch)
				fmt.Printf("  worktree  %s\n", res.Session.Worktree)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	cmd.Flags().StringVar(&p.As, "as", "", "restore as a new session with this name")
	cmd.Flags().StringVar(&p.Branch, "branch", "", "restore as a new branch with this name")
	cmd.Flags().StringVar(&p.Agent, "agent", "", "the new session's agent profile (default: the removed session's)")
	return cmd
}
