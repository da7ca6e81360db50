package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/internal/fsmonitor"
	"github.com/studiod/studiod/protocol"
)

func (a *app) poolCmd() *cobra.Command {
	var p protocol.PoolParams
	cmd := &cobra.Command{
		Use:   "pool [prune]",
		Short: "Show the warm pool of ready worktrees (of this repo with --repo, else all); prune frees them",
		Long: `studiod keeps, per repository, a few worktrees checked out ahead of time at
the tip of the branch sessions start from, so that a spawn takes one instead
of waiting for a checkout. [pool] size in config sets how many (default: 1
for repositories spawned from in the last week), [pool] max_disk caps their
disk, and [setup] prepare runs dependency setup in them ahead of time.

  studiod pool          each repository's trees: ready, preparing or refreshing, and their size
  studiod pool prune    remove them now; the pool refills after the next spawn there`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 || len(args) == 1 && args[0] != "prune" {
				return usageError{fmt.Errorf("usage: studiod pool [prune] [--repo DIR]")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			p.Prune = len(args) == 1
			if a.repo != "" {
				p.Repo = a.repoDir()
			}
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				res, err := c.Pool(cmd.Context(), p)
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(res)
				}
				if p.Prune {
					fmt.Printf("pruned the pool of %d repositor%s: it refills after the next spawn there\n", len(res.Repos), plural(len(res.Repos), "y", "ies"))
				}
				printPool(res)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "only this repository's pool")
	cmd.Flags().BoolVar(&p.Wait, "wait", false, "answer once pending checkouts, prepare commands and refreshes are done")
	return cmd
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func printPool(res *protocol.PoolResult) {
	if len(res.Repos) == 0 {
		fmt.Println("no pools: studiod keeps ready worktrees for repositories spawned from lately ([pool] size sets how many)")
		return
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	for _, r := range res.Repos {
		fmt.Fprintf(tw, "%s\t(size %d; target %s at %s; %s of %s)\n", r.Repo, r.Size, r.Target, short(r.Tip), agents.FormatSize(r.Bytes), agents.FormatSize(r.MaxBytes))
		for _, t := range r.Trees {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", t.State, short(t.Commit), agents.FormatSize(t.Bytes), t.Path)
		}
		if r.Note != "" {
			fmt.Fprintf(tw, "  note\t%s\n", r.Note)
		}
	}
	tw.Flush()
}

// fsmonitorCmd is git's fsmonitor hook (core.fsmonitor in session
// worktrees) when studiod-fsmonitor, the faster one, is not installed next
// to studiod.
func fsmonitorCmd() *cobra.Command {
	var socket string
	cmd := &cobra.Command{
		Use:    "fsmonitor VERSION TOKEN",
		Short:  "git's fsmonitor hook, answered by the daemon's file watcher (set in session worktrees)",
		Hidden: true,
		Args:   exactArgs(2, "VERSION TOKEN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := fsmonitor.Run(cmd.Context(), socket, args, os.Stdout); code != 0 {
				return exitCodeErr(code)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&socket, "socket", "", "the daemon's socket")
	return cmd
}
