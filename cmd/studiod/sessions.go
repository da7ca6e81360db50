package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/spf13/cobra"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/internal/hook"
	"github.com/studiod/studiod/protocol"
)

func (a *app) spawnCmd() *cobra.Command {
	var p protocol.SpawnParams
	cmd := &cobra.Command{
		Use:   "spawn [flags] \"prompt\" | spawn --name N -- CMD ARGS...",
		Short: "Start an agent in a new worktree on branch studio/NAME",
		Long: `Create branch studio/NAME and its worktree, copy files and run setup as the
repo's .studio.toml says, and start the agent in a terminal under a detached shim.

With -- the rest of the line is the command to run as the agent.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				p.Command = args[dash:]
				args = args[:dash]
				if len(p.Command) == 0 {
					return usageError{fmt.Errorf("nothing after --: give the command to run")}
				}
			}
			p.Prompt = strings.Join(args, " ")
			if p.Prompt == "" && len(p.Command) == 0 && p.Agent == "" {
				return usageError{fmt.Errorf("give a prompt, an --agent, or a command after --")}
			}
			p.Repo = a.repoDir()
			return a.spawn(cmd.Context(), p)
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	f.StringVar(&p.Name, "name", "", "session name (default: derived from the prompt)")
	f.StringVar(&p.Agent, "agent", "", "agent profile: claude, codex, aider, gemini, opencode, demo, or one from config")
	f.StringVar(&p.Base, "base", "", "commit to start from (default: the target branch)")
	f.StringVar(&p.Target, "target", "", "branch the work merges into (default: the main worktree's branch)")
	f.StringArrayVar(&p.Scopes, "scope", nil, "path glob of the area the session works in (repeatable), e.g. 'web/**'")
	f.StringVar(&p.Note, "note", "", "what the session is for, shown to the other agents (default: the prompt's first line)")
	f.StringVar((*string)(&p.Gate), "gate", "", "how the agent hears of other sessions' work before it writes: off, inform, ask or deny (default: the repo's [gate] mode)")
	f.StringVar(&p.Host, "host", "", "run the session on this host of config.toml's [hosts] (see `studiod hosts`)")
	f.StringVar(&p.Budget, "budget", "", "how much its model may use: tokens (200k, 1.5M) or US dollars ($5); at 100% the turn is interrupted and it waits (default: the profile's budget)")
	return cmd
}

func (a *app) spawn(ctx context.Context, p protocol.SpawnParams) error {
	c, err := a.connect(ctx, func(method string, params json.RawMessage) {
		if method == protocol.NotifyProgress && !a.json {
			var n protocol.ProgressParams
			if json.Unmarshal(params, &n) == nil && n.Value.Message != "" {
				fmt.Fprintf(os.Stderr, "  … %s\n", n.Value.Message)
			}
		}
	})
	if err != nil {
		return err
	}
	defer c.Close()
	p.WorkDoneToken = "spawn"
	s, err := c.Spawn(ctx, p)
	if err != nil {
		if protocol.CodeOf(err) == protocol.CodeInvalid {
			return a.repoHint(err)
		}
		return err
	}
	// The reply comes once the agent runs, and the CLI returns with it.
	// An agent that ends within the daemon's start grace is still a
	// failed spawn, undone by the daemon: show, wait, ls --all and the
	// sessionChanged notification tell it, and the reply says so.
	if a.json {
		return printJSON(s)
	}
	printSpawned(*s)
	if s.State.Live() {
		fmt.Printf("  note      an agent that ends right after starting fails the spawn, which is then undone: studiod show %s\n", s.Name)
	}
	return nil
}

// printSpawned prints a spawn's reply.
func printSpawned(s protocol.Session) {
	fmt.Printf("spawned %s (agent %s) on branch %s\n", s.Name, s.Agent, s.Branch)
	fmt.Printf("  worktree  %s\n  state     %s\n", s.Worktree, stateText(s))
	fmt.Printf("  next      studiod attach %s · studiod logs %s -f · studiod show %s\n", s.Name, s.Name, s.Name)
}

func stateText(s protocol.Session) string {
	switch {
	case s.State == protocol.StateExited && s.ExitCode != nil:
		t := fmt.Sprintf("exited(%d)", *s.ExitCode)
		if s.Detail != "" {
			t += " " + s.Detail
		}
		return t
	case s.Detail != "":
		return string(s.State) + ": " + s.Detail
	}
	return string(s.State)
}

func changesText(c protocol.Changes) string {
	if c.Files == 0 {
		return "-"
	}
	return fmt.Sprintf("%d files +%d -%d", c.Files, c.Additions, c.Deletions)
}

func (a *app) lsCmd() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List sessions (of this repo with --repo, else all)",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				repo := ""
				if a.repo != "" {
					repo = a.repoDir()
				}
				res, err := c.Sessions(cmd.Context(), protocol.SessionsParams{Repo: repo, All: all})
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(res)
				}
				if len(res.Sessions) == 0 {
					fmt.Println("no sessions: start one with `studiod spawn \"prompt\"` (or try `studiod demo`)")
					return nil
				}
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				hosts := slices.ContainsFunc(res.Sessions, func(s protocol.Session) bool { return s.Host != "" })
				if hosts {
					fmt.Fprintln(tw, "NAME\tHOST\tSTATE\tAGENT\tCHANGES\tSCOPE\tAGE\tREPO")
				} else {
					fmt.Fprintln(tw, "NAME\tSTATE\tAGENT\tCHANGES\tSCOPE\tAGE\tREPO")
				}
				for _, s := range res.Sessions {
					scope := "-"
					if len(s.Scope) > 0 {
						scope = trunc(strings.Join(s.Scope, ","), 24)
						if len(s.OutOfScope) > 0 {
							scope += fmt.Sprintf(" (%d outside)", len(s.OutOfScope))
						}
					}
					name := s.Name
					if hosts {
						name += "\t" + cmp.Or(s.Host, "local")
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, trunc(stateText(s), 40), s.Agent,
						changesText(s.Changes), scope, age(s.Created), s.Repo)
				}
				if total, n := usageTotal(res.Sessions); n > 0 {
					defer fmt.Printf("model usage of %d %s: %s\n", n, plural(n, "session", "sessions"), total.Short())
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "only sessions of this repository")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "include failed, merged and removed sessions")
	return cmd
}

// trunc cuts s to n terminal cells, never inside a character (a wide
// one counts two), marking the cut with an ellipsis.
func trunc(s string, n int) string {
	return ansi.Truncate(s, n, "…")
}

func age(t time.Time) string {
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return d.String()
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// sessionRef names a session of --repo, else of the current directory's
// repository; outside any repository, of any (as `ls` lists them all).
func (a *app) sessionRef(name string) protocol.SessionRef {
	repo := a.repoDir()
	if a.repo == "" && !inWorkTree(repo) {
		repo = ""
	}
	return protocol.SessionRef{Session: name, Repo: repo}
}

// repoHint adds to err, when the verb named no --repo and the current
// directory is in no repository, how to name one.
func (a *app) repoHint(err error) error {
	if err == nil || a.repo != "" || inWorkTree(a.repoDir()) {
		return err
	}
	switch protocol.CodeOf(err) {
	case protocol.CodeInvalid, protocol.CodeInvalidParams, protocol.CodeNotFound, protocol.CodeGit:
		return fmt.Errorf("%w\n  the current directory is not in a git repository: cd into one, or name it with --repo DIR", err)
	}
	return err
}

func (a *app) showCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show one session",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				s, err := c.Session(cmd.Context(), a.sessionRef(args[0]))
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(s)
				}
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				row := func(k, v string) {
					if v != "" {
						fmt.Fprintf(tw, "%s\t%s\n", k, v)
					}
				}
				row("name", s.Name)
				row("id", s.ID)
				row("state", stateText(*s))
				row("agent", s.Agent+"  ("+strings.Join(s.Command, " ")+")")
				if s.Terminal() {
					row("permissions", cmp.Or(s.PermissionMode, "the agent's own default (its own settings; set permission_mode in the profile)"))
				}
				row("prompt", s.Prompt)
				if s.Waiting != nil {
					w := s.Waiting
					if w.Kind == protocol.WaitBudget {
						row("asks", fmt.Sprintf("%s: %s (`studiod budget %s AMOUNT` raises it, `studiod budget %s --clear` clears it)", w.Kind, w.Question, s.Name, s.Name))
					} else if choices := choiceOptions(w); len(choices) > 0 {
						row("asks", fmt.Sprintf("%s: %s (answer with `studiod answer %s NUMBER|LABEL`)", w.Kind, w.Question, s.Name))
						for _, o := range choices {
							row("", o.ID+". "+o.Label)
						}
					} else {
						row("asks", fmt.Sprintf("%s: %s (answer with `studiod answer %s allow|always|reject|never`)", w.Kind, w.Question, s.Name))
					}
				}
				row("note", s.Note)
				for _, line := range reviewLines(*s) {
					row("review", line)
				}
				if len(s.Scope) > 0 {
					row("scope", strings.Join(s.Scope, ", "))
				}
				if len(s.OutOfScope) > 0 {
					row("out of scope", strings.Join(s.OutOfScope, ", "))
				}
				if s.Gate != "" {
					row("gate", string(s.Gate))
				}
				row("repo", s.Repo)
				row("worktree", s.Worktree)
				row("branch", s.Branch+" → "+s.Target)
				row("base", s.Base)
				row("changes", changesText(s.Changes))
				if s.Usage != nil {
					row("usage", s.Usage.String())
				}
				if s.Budget != nil {
					row("budget", budgetText(*s.Budget))
				}
				if s.Behind > 0 || s.WouldConflict {
					v := fmt.Sprintf("%d commit(s) behind %s", s.Behind, s.Target)
					if s.WouldConflict {
						v += "; would conflict with it (studiod sync " + s.Name + " --send)"
					} else {
						v += "; syncs cleanly (studiod sync " + s.Name + ")"
					}
					row("target", v)
				}
				if s.PID != 0 {
					row("pid", fmt.Sprint(s.PID))
				}
				if s.Port != 0 {
					row("port", fmt.Sprint(s.Port))
				}
				row("log", s.Log)
				if s.Log != "" {
					hooks := filepath.Join(filepath.Dir(s.Log), "hooks.log")
					if b, err := os.ReadFile(hooks); err == nil && len(b) > 0 {
						lines := strings.Split(strings.TrimSpace(string(b)), "\n")
						row("hooks", fmt.Sprintf("%s (%d in %s)", lines[len(lines)-1], len(lines), hooks))
					}
				}
				row("created", s.Created.Local().Format(time.DateTime))
				row("updated", s.Updated.Local().Format(time.DateTime))
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	return cmd
}

func (a *app) logsCmd() *cobra.Command {
	var follow, raw bool
	var tail int64
	cmd := &cobra.Command{
		Use:   "logs NAME [-f]",
		Short: "Print the agent's terminal output as text (an ACP agent's transcript); --raw for the bytes",
		Args:  exactArgs(1, "NAME [-f]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tail < 0 {
				return usageError{fmt.Errorf("--tail %d: give how many bytes before the end to start at (0 or more)", tail)}
			}
			return a.logs(cmd.Context(), args[0], follow, raw, tail)
		},
	}
	cmd.Flags().BoolVar(&raw, "raw", false, "print the bytes as logged: a terminal agent's escape sequences, an ACP agent's messages (JSON lines); by default a terminal's output is rendered as text and an ACP agent's as a transcript")
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing output as it comes, until the agent exits")
	cmd.Flags().Int64Var(&tail, "tail", 0, "start this many bytes before the end")
	return cmd
}

func (a *app) logs(ctx context.Context, name string, follow, raw bool, tail int64) error {
	chunks := make(chan protocol.OutputNotification, 1024)
	c, err := a.connect(ctx, forward(protocol.NotifyOutput, chunks))
	if err != nil {
		return err
	}
	defer c.Close()
	ref := a.sessionRef(name)
	s, err := c.Session(ctx, ref)
	if err != nil {
		return err
	}
	offset := int64(0)
	if tail > 0 {
		offset = -tail
	}
	var stdout io.Writer = os.Stdout
	switch {
	case raw:
	case !s.Terminal():
		stdout = agents.NewTranscript(os.Stdout, s.Worktree)
	default:
		// A terminal's bytes are for a terminal: as text unless --raw.
		tw := newTextWriter(os.Stdout)
		defer tw.Close()
		stdout = tw
	}
	var all []byte
	from := int64(-1)
	for {
		out, err := c.Output(ctx, protocol.OutputParams{SessionRef: protocol.SessionRef{Session: s.ID}, Offset: offset})
		if err != nil {
			return err
		}
		if from < 0 {
			from = out.Offset
			if offset >= 0 && out.Offset > offset && !a.json {
				fmt.Fprintf(os.Stderr, "studiod: the first %d bytes of %s's output were rotated out (each session's log keeps the most recent: log_limit in config); showing from there\n", out.Offset, s.Name)
			}
		}
		if !a.json {
			stdout.Write(out.Data)
		} else {
			all = append(all, out.Data...)
		}
		offset = out.Next
		if out.Next >= out.Size {
			if !follow || out.Done {
				if a.json {
					return printJSON(protocol.OutputResult{Data: all, Offset: from, Next: offset, Size: out.Size, Done: out.Done, Start: out.Start})
				}
				return nil
			}
			break
		}
	}
	if _, err := c.Subscribe(ctx, protocol.SubscribeParams{Output: []protocol.OutputSubscription{{Session: s.ID, Offset: offset}}}); err != nil {
		return err
	}
	for {
		select {
		case n := <-chunks:
			if a.json {
				printJSON(n)
			} else {
				if n.Offset > offset {
					fmt.Fprintf(os.Stderr, "\nstudiod: %d bytes of %s's output were rotated out before they could be shown\n", n.Offset-offset, s.Name)
				}
				stdout.Write(n.Data)
			}
			offset = n.Offset + int64(len(n.Data))
			if n.Done {
				return nil
			}
		case <-c.Done():
			return fmt.Errorf("lost the connection to studiod")
		case <-ctx.Done():
			return nil
		}
	}
}

func (a *app) sendCmd() *cobra.Command {
	var noSubmit bool
	cmd := &cobra.Command{
		Use:   "send NAME TEXT...",
		Short: "Type text into the agent and press Enter",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageError{fmt.Errorf("usage: studiod send NAME TEXT")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				submit := !noSubmit
				r, err := c.Send(cmd.Context(), protocol.SendParams{SessionRef: a.sessionRef(args[0]), Text: strings.Join(args[1:], " "), Submit: &submit})
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(r)
				}
				fmt.Printf("%s %s (%s)\n", deliveredText(r.Delivery), r.Session.Name, stateText(r.Session))
				if !r.Delivery.Confirmed && r.Delivery.Note != "" {
					fmt.Println("  " + r.Delivery.Note)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	cmd.Flags().BoolVar(&noSubmit, "no-enter", false, "type the text without pressing Enter")
	return cmd
}

func (a *app) stopCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "stop NAME",
		Short: "Stop the agent (SIGTERM, then SIGKILL; at once with --force); the worktree stays",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				s, err := c.Stop(cmd.Context(), protocol.StopParams{SessionRef: a.sessionRef(args[0]), Force: force})
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(s)
				}
				fmt.Printf("%s: %s\n", s.Name, stateText(*s))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	cmd.Flags().BoolVar(&force, "force", false, "kill at once (SIGKILL)")
	return cmd
}

func (a *app) rmCmd() *cobra.Command {
	var p protocol.RemoveParams
	cmd := &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"remove"},
		Short:   "Remove a session's worktree, and its branch once merged",
		Long: `Remove the session's worktree and, if its branch is merged into the target,
the branch. Refuses uncommitted work and running agents unless --force; never
deletes an unmerged branch unless --force. Either way its last snapshot,
uncommitted work included, is kept first as refs/studio/salvage/NAME
(` + "`studiod salvage`" + ` lists them, ` + "`studiod restore`" + ` brings one back).`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p.SessionRef = a.sessionRef(args[0])
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				r, err := c.Remove(cmd.Context(), p)
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(r)
				}
				fmt.Printf("removed %s (worktree %s)\n", r.Session.Name, r.Session.Worktree)
				if sv := r.Salvage; sv != nil {
					fmt.Printf("its work is kept as %s (%s): `studiod restore %s` brings it back\n", sv.Ref, salvageHeld(*sv), sv.Name)
				}
				if r.BranchDeleted {
					fmt.Printf("deleted branch %s\n", r.Session.Branch)
				} else if r.BranchKept != "" {
					fmt.Println(r.BranchKept)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	cmd.Flags().BoolVar(&p.KeepBranch, "keep-branch", false, "keep the branch even when merged")
	cmd.Flags().BoolVar(&p.Force, "force", false, "stop a running agent, remove uncommitted work (kept as a salvage), delete an unmerged branch")
	return cmd
}

// deliveredText says how text reached an agent: "delivered to" once the
// agent confirmed it took it as a prompt, "typed into" otherwise.
func deliveredText(d protocol.Delivery) string {
	switch {
	case d.Confirmed:
		return "delivered to"
	case d.Queued:
		return "queued for"
	case d.Via == "resume":
		return "resumed"
	}
	return "typed into"
}

func (a *app) noteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "note NAME TEXT...",
		Short: "Set what a session is doing: the other agents and the editors see it",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageError{fmt.Errorf("usage: studiod note NAME TEXT")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				s, err := c.Note(cmd.Context(), protocol.NoteParams{SessionRef: a.sessionRef(args[0]), Note: strings.Join(args[1:], " ")})
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(s)
				}
				fmt.Printf("%s: %s\n", s.Name, s.Note)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	return cmd
}

// usageTotal sums what the sessions' models used, and counts the sessions
// that reported any.
func usageTotal(ss []protocol.Session) (total protocol.Usage, n int) {
	for _, s := range ss {
		if s.Usage != nil {
			total.Add(*s.Usage)
			n++
		}
	}
	return total, n
}

// budgetText says a budget and how much of it is used: "200k tokens, 61%
// used"; a budget in dollars of an agent that reports no cost says so.
func budgetText(b protocol.Budget) string {
	if b.Spent == nil {
		return b.Text + " (its agent reports no cost: not enforced; give one in tokens)"
	}
	return fmt.Sprintf("%s, %.0f%% used", b.Text, *b.Spent*100)
}

func (a *app) budgetCmd() *cobra.Command {
	var clear bool
	cmd := &cobra.Command{
		Use:   "budget NAME [AMOUNT | --clear]",
		Short: "Show, raise or clear how much a session's model may use",
		Long: `A budget is tokens (200k, 1.5M, 50000: sent, cache reads and writes
included, and answered) or US dollars ($5, 2.50 USD: for agents that report
their cost). At 80% of it you are told (a notification, the notify command's
"budget" event); at 100% the agent's turn is interrupted and the session
waits (kind budget) until you raise or clear it here; then it is idle and
takes work again. Only you change a budget: a session cannot change its own.
Without AMOUNT, it shows the budget.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 || clear && len(args) == 2 {
				return usageError{fmt.Errorf("usage: studiod budget NAME [AMOUNT | --clear]")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				var s *protocol.Session
				var err error
				if len(args) == 1 && !clear {
					s, err = c.Session(cmd.Context(), a.sessionRef(args[0]))
				} else {
					p := protocol.BudgetParams{SessionRef: a.sessionRef(args[0]), Clear: clear}
					if len(args) == 2 {
						p.Budget = args[1]
					}
					s, err = c.Budget(cmd.Context(), p)
				}
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(s)
				}
				if s.Budget == nil {
					fmt.Printf("%s: no budget (%s)\n", s.Name, s.State)
					return nil
				}
				fmt.Printf("%s: budget %s (%s)\n", s.Name, budgetText(*s.Budget), s.State)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	cmd.Flags().BoolVar(&clear, "clear", false, "remove the budget: no limit")
	return cmd
}

func (a *app) answerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "answer NAME allow|always|reject|never|OPTION-ID|TEXT...",
		Short: "Answer a waiting session: a permission, a trust or sign-in screen, or a question",
		Long: `Answer the question a waiting session asks (studiod show NAME says what it
is). For a permission, or a trust or sign-in screen: allow (once), always,
reject, never, or the id of an option the agent offers. For a question, the
answer in words. The first answer wins: if another client answered already,
this one is refused.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageError{fmt.Errorf("usage: studiod answer NAME allow|always|reject|never|TEXT...")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd.Context(), func(c *protocol.Client) error {
				p := protocol.AnswerParams{SessionRef: a.sessionRef(args[0])}
				s, err := c.Session(cmd.Context(), p.SessionRef)
				if err != nil {
					return err
				}
				word := strings.Join(args[1:], " ")
				if isAnswerWord(word, s.Waiting) {
					p.Answer = protocol.Answer(word)
				} else {
					p.Text = word
				}
				r, err := c.Answer(cmd.Context(), p)
				if err != nil {
					return err
				}
				if a.json {
					return printJSON(r)
				}
				fmt.Printf("answered %s: %s (%s)\n", r.Session.Name, word, stateText(r.Session))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	return cmd
}

// isAnswerWord reports whether word is an answer kind or an offered option
// rather than text.
// choiceOptions are the options of a question to choose from (they have
// no answer kind), as Claude Code's AskUserQuestion offers them.
func choiceOptions(w *protocol.Waiting) []protocol.Option {
	var out []protocol.Option
	for _, o := range w.Options {
		if o.Kind == "" {
			out = append(out, o)
		}
	}
	return out
}

func isAnswerWord(word string, w *protocol.Waiting) bool {
	switch protocol.Answer(word) {
	case protocol.AnswerAllow, protocol.AnswerAlways, protocol.AnswerReject, protocol.AnswerNever:
		return true
	}
	if w != nil {
		for _, o := range w.Options {
			if o.ID == word {
				return true
			}
		}
	}
	return false
}

func (a *app) hookCmd() *cobra.Command {
	var session, agent string
	cmd := &cobra.Command{
		Use:   "hook [--session ID] (working|waiting|idle [MESSAGE] | --agent KIND [PAYLOAD])",
		Short: "Report an agent's state to studiod (called by agents and their hooks)",
		Long: `Agents report their state through this command: $STUDIO_HOOK working,
$STUDIO_HOOK waiting "question", $STUDIO_HOOK idle. studiod also installs it
as the lifecycle hook of the agents it knows (--agent claude, codex, gemini),
which pass their own hook payload on stdin (Codex's notify program, --agent
codex-notify, as an argument), and prints what the agent should read.

It presents the session's secret ($STUDIO_SESSION_TOKEN, in every agent's
environment): the daemon refuses a report without it, so that no process
speaks for a session it does not run in.

It never starts the daemon and never blocks the agent: when the daemon is not
running or does not answer in time it prints nothing and exits 0, noting that
in the session's log directory when it can.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if agent == "" && len(args) < 1 {
				return usageError{fmt.Errorf("usage: studiod hook --session ID working|waiting|idle [MESSAGE]")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if session == "" {
				session = os.Getenv("STUDIO_SESSION_ID")
			}
			if session == "" {
				return usageError{fmt.Errorf("no --session and no STUDIO_SESSION_ID in the environment")}
			}
			p := protocol.HookParams{SessionRef: protocol.SessionRef{Session: session}, Token: os.Getenv(agents.TokenEnv)}
			socket := os.Getenv("STUDIOD_SOCKET")
			if socket == "" {
				socket = a.dirs.Socket()
			}
			var r *protocol.HookResult
			if agent != "" {
				// An agent's hook: it never fails the agent (see
				// internal/hook, which studiod-hook runs too).
				p.Agent = agent
				payload, err := hook.Payload(args, os.Stdin)
				if err != nil {
					hook.Note("%v; the agent went on unchecked", err)
					fmt.Fprintf(os.Stderr, "studiod hook: %v\n", err)
					return nil
				}
				p.Payload = payload
				if r = hook.Call(cmd.Context(), socket, p); r == nil {
					return nil
				}
			} else {
				p.SessionRef.Repo = a.repoDir()
				p.Event, p.Message = args[0], strings.Join(args[1:], " ")
				ctx, cancel := context.WithTimeout(cmd.Context(), hook.Timeout)
				defer cancel()
				// A hook never starts a daemon, and never holds up its
				// agent: with no daemon answering there is nobody to
				// tell, which the hooks log says.
				c, err := protocol.Dial(ctx, socket, nil)
				if err != nil {
					hook.Note("%s not reported: studiod unreachable: %v", p.Event, err)
					fmt.Fprintf(os.Stderr, "studiod hook: %s not reported: %v\n", p.Event, err)
					return nil
				}
				defer c.Close()
				if r, err = c.Hook(ctx, p); err != nil {
					if ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
						hook.Note("%s not reported: studiod did not answer: %v", p.Event, err)
						fmt.Fprintf(os.Stderr, "studiod hook: %s not reported: studiod did not answer: %v\n", p.Event, err)
						return nil
					}
					return err
				}
			}
			if a.json {
				return printJSON(r)
			}
			if len(r.Output) > 0 {
				os.Stdout.Write(append(r.Output, '\n'))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&session, "session", "", "session id or name (default: $STUDIO_SESSION_ID)")
	cmd.Flags().StringVar(&agent, "agent", "", "the hook payload's format: claude, codex, codex-notify, gemini")
	return cmd
}

// inWorkTree reports whether dir is inside a git work tree: a .git entry
// in it or above it.
func inWorkTree(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return true
		}
		if d == filepath.Dir(d) {
			return false
		}
	}
}
