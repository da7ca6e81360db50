package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/protocol"
)

// hostsCmd is `studiod hosts`: the machines of config.toml's [hosts],
// each as it answers now.
func (a *app) hostsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "hosts [NAME]",
		Short: "Show the hosts sessions can run on ([hosts.NAME] in config.toml): reachable, studiod and git there, sessions, load",
		Long: `Show each host of config.toml's [hosts.NAME] tables as it answers now: whether
ssh reaches it, the studiod there (installed over ssh on first use), its git,
the agents running there and its load. Spawn on one with ` + "`studiod spawn --host NAME`" + `.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p protocol.HostsParams
			if len(args) == 1 {
				p.Host = args[0]
			}
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				res, err := c.Hosts(cmd.Context(), p)
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(res)
				}
				if len(res.Hosts) == 0 {
					fmt.Println("no hosts: add one to config.toml, e.g.\n\n[hosts.box]\nssh = \"box\"          # as `ssh box` reaches it\ndir = \"~/studiod\"    # where studiod keeps its worktrees there")
					return nil
				}
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "HOST\tSSH\tREACHABLE\tSTUDIOD\tGIT\tSESSIONS\tLOAD\tPROBLEM")
				for _, h := range res.Hosts {
					reach := "no"
					if h.Reachable {
						reach = "yes"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d (%d here)\t%s\t%s\n", h.Name, h.SSH, reach,
						dash(h.Version), dash(h.Git), h.Sessions, h.Here, dash(h.Load), dash(h.Error))
				}
				return tw.Flush()
			})
		},
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// remoteCmd is the helper the daemon runs on a host over ssh
// (agents/host/remote.go).
func remoteCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "remote OP --dir DIR [flags]",
		Short:              "Serve one operation of a daemon on another machine (run over ssh by that daemon)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := host.Remote(args, buildVersion(), os.Stdin, os.Stdout, os.Stderr); code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
}
