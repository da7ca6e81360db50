package main

// studiod ui: a live full-screen board of the sessions for the terminal.
// It is one more client of the daemon's API: it follows the sessions
// through studio/subscribe (no polling), acts through the same requests
// the verbs make, and hands the terminal to `studiod attach`, and to a
// pager for diff and logs, while they run.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/studiod/studiod/protocol"
)

func (a *app) uiCmd() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "ui [--all] [--repo DIR]",
		Short: "A live board of the sessions: the waiting ones first, with a key for each verb",
		Long: `A full-screen board that follows the sessions of this repository (of every
repository with --all, or outside one) as they change: the ones waiting for
you first, with their question and options, then failed, working and idle
ones, each with its branch, changes, conflicts and how far behind its target
it is. A plan's tasks are grouped under it, in the plan's order, each with
its session once started, or what it waits for. Keys act on the selected
session:

  enter attach (detach with Ctrl-] to come back)   a answer   s send
  d diff (paged)   c comment   f feedback   m merge   u undo the merge
  y sync   x stop   l logs (paged)   p preview   L land   n spawn   q quit

With --json it prints the sessions in the board's order and exits.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			repo := ""
			if !all {
				repo = a.boardRepo(cmd.Context())
			}
			if a.json {
				return a.call(cmd.Context(), func(c *protocol.Client) error {
					res, err := c.Sessions(cmd.Context(), protocol.SessionsParams{Repo: repo})
					if err != nil {
						return err
					}
					plans, err := c.Plans(cmd.Context(), protocol.PlansParams{Repo: repo})
					if err != nil {
						return err
					}
					var list []protocol.Session
					for _, it := range boardLayout(res.Sessions, plans.Plans) {
						if it.session != nil {
							list = append(list, *it.session)
						}
					}
					return printJSON(protocol.SessionsResult{Sessions: list})
				})
			}
			if !term.IsTerminal(int(os.Stdin.Fd())) || !term.IsTerminal(int(os.Stdout.Fd())) {
				return usageError{errors.New("ui needs a terminal: run it in one, or use `studiod ls` (`--json` prints the board's order)")}
			}
			return a.runBoard(cmd.Context(), repo)
		},
	}
	cmd.Flags().StringVar(&a.repo, "repo", "", "repository (default: the current directory's)")
	cmd.Flags().BoolVar(&all, "all", false, "every repository's sessions")
	return cmd
}

// boardRepo is the repository the board follows: --repo, else the current
// directory's (a session worktree belongs to its session's repository);
// "" (every repository) outside one.
func (a *app) boardRepo(ctx context.Context) string {
	dir := a.repoDir()
	if a.repo == "" && !inWorkTree(dir) {
		return ""
	}
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--path-format=absolute", "--git-common-dir").Output()
	if err != nil {
		return dir
	}
	common := strings.TrimSpace(string(out))
	if filepath.Base(common) == ".git" {
		return filepath.Dir(common)
	}
	// A session worktree's common dir is its repository's .git too; a
	// bare repository has no main worktree to name.
	return dir
}

// runBoard runs the board until the person quits.
func (a *app) runBoard(ctx context.Context, repo string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b := newBoard(repo, self)
	p := tea.NewProgram(b, tea.WithContext(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { a.followDaemon(ctx, repo, p.Send) })
	_, err = p.Run()
	cancel()
	wg.Wait()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// Messages from the daemon connection to the board.
type (
	// connectedMsg: a connection, with the sessions as they are now.
	connectedMsg struct {
		c        *protocol.Client
		sessions []protocol.Session
		plans    []protocol.Plan
		pid      int
	}
	// sessionMsg: a session changed.
	sessionMsg protocol.Session
	// lostMsg: the connection ended or could not be made.
	lostMsg struct{ err error }
)

// followDaemon keeps the board's connection: connect (starting the daemon
// the first time, as every verb does), subscribe, send the sessions, then
// their changes; when the daemon goes away (stopped, restarted, upgraded),
// say so and dial again until one answers.
func (a *app) followDaemon(ctx context.Context, repo string, send func(tea.Msg)) {
	notify := func(method string, params json.RawMessage) {
		if method != protocol.NotifySessionChanged {
			return
		}
		var n protocol.SessionChanged
		if json.Unmarshal(params, &n) == nil && (repo == "" || n.Session.Repo == repo) {
			send(sessionMsg(n.Session))
		}
	}
	retry := 100 * time.Millisecond
	for first := true; ctx.Err() == nil; first = false {
		c, err := a.boardDial(ctx, first, notify)
		if err == nil {
			var msg connectedMsg
			msg, err = boardLoad(ctx, c, repo)
			if err == nil {
				retry = 100 * time.Millisecond
				send(msg)
				select {
				case <-c.Done():
					err = errors.New("the daemon went away")
				case <-ctx.Done():
				}
			}
			c.Close()
		}
		if ctx.Err() != nil {
			return
		}
		send(lostMsg{err})
		select {
		case <-time.After(retry):
		case <-ctx.Done():
			return
		}
		retry = min(retry*2, 2*time.Second)
	}
}

// boardDial connects: the first time as every verb does, starting a
// daemon if none runs; after that only to one that runs, so that a
// `studiod shutdown` is not undone by the board.
func (a *app) boardDial(ctx context.Context, first bool, notify protocol.NotifyFunc) (*protocol.Client, error) {
	if first {
		return a.connect(ctx, notify)
	}
	c, err := protocol.Dial(ctx, a.dirs.Socket(), notify)
	if err != nil {
		return nil, err
	}
	if _, err := c.Hello(ctx, protocol.HelloParams{Client: "studiod-ui", Version: protocol.Version}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// boardLoad subscribes, then lists the sessions and plans: a change that
// lands in between is both in the list and an event, and the board keeps
// the newer record.
func boardLoad(ctx context.Context, c *protocol.Client, repo string) (connectedMsg, error) {
	if _, err := c.Subscribe(ctx, protocol.SubscribeParams{Sessions: true}); err != nil {
		return connectedMsg{}, err
	}
	res, err := c.Sessions(ctx, protocol.SessionsParams{Repo: repo})
	if err != nil {
		return connectedMsg{}, err
	}
	plans, err := c.Plans(ctx, protocol.PlansParams{Repo: repo})
	if err != nil {
		return connectedMsg{}, err
	}
	st, err := c.Status(ctx, protocol.Empty{})
	if err != nil {
		return connectedMsg{}, err
	}
	return connectedMsg{c: c, sessions: res.Sessions, plans: plans.Plans, pid: st.PID}, nil
}

// ---- actions ----------------------------------------------------------------

// doneMsg is what an action reports: a line for the status bar, and more
// lines of output to show below the sessions.
type doneMsg struct {
	text  string
	lines []string
	err   error
}

// act runs fn on the board's connection as a command: the board stays live
// while it runs.
func (b *board) act(what string, fn func(ctx context.Context, c *protocol.Client) (doneMsg, error)) tea.Cmd {
	c := b.c
	if c == nil {
		b.status = "not connected to the daemon: " + what + " has to wait"
		return nil
	}
	b.status = what + "…"
	return func() tea.Msg {
		m, err := fn(context.Background(), c)
		if err != nil {
			return doneMsg{text: what + ": " + firstLine(err.Error()), lines: restLines(err.Error()), err: err}
		}
		return m
	}
}

// external hands the terminal to one of studiod's own verbs (attach, or
// diff and logs through a pager), and takes it back when it ends.
func (b *board) external(s protocol.Session, verb string, paged bool) tea.Cmd {
	args := []string{verb, "--repo", s.Repo, s.Name}
	var cmd *exec.Cmd
	if paged {
		pager := os.Getenv("PAGER")
		if pager == "" {
			pager = "less -R"
			if _, err := exec.LookPath("less"); err != nil {
				pager = "more"
			}
		}
		// The verb sees a pipe, so it writes no colour; the pager gets it
		// all and the person pages through.
		cmd = exec.Command("sh", append([]string{"-c", `"$0" "$@" 2>&1 | ` + pager, b.self}, args...)...)
	} else {
		cmd = exec.Command(b.self, args...)
	}
	return tea.ExecProcess(cmd, func(err error) tea.Msg {
		if err != nil {
			return doneMsg{text: verb + " " + s.Name + ": " + err.Error(), err: err}
		}
		return doneMsg{text: "back from " + verb + " " + s.Name}
	})
}

func sref(s protocol.Session) protocol.SessionRef {
	return protocol.SessionRef{Session: s.ID}
}

func (b *board) answer(s protocol.Session, word string) tea.Cmd {
	p := protocol.AnswerParams{SessionRef: sref(s)}
	if w := s.Waiting; w != nil {
		// A number picks an offered option.
		var n int
		if _, err := fmt.Sscanf(word, "%d", &n); err == nil && fmt.Sprint(n) == word && n >= 1 && n <= len(w.Options) {
			word = w.Options[n-1].ID
		}
	}
	if isAnswerWord(word, s.Waiting) {
		p.Answer = protocol.Answer(word)
	} else {
		p.Text = word
	}
	return b.act("answer "+s.Name, func(ctx context.Context, c *protocol.Client) (doneMsg, error) {
		r, err := c.Answer(ctx, p)
		if err != nil {
			return doneMsg{}, err
		}
		return doneMsg{text: fmt.Sprintf("answered %s: %s", r.Session.Name, word)}, nil
	})
}

func (b *board) send(s protocol.Session, text string) tea.Cmd {
	return b.act("send to "+s.Name, func(ctx context.Context, c *protocol.Client) (doneMsg, error) {
		if _, err := c.Send(ctx, protocol.SendParams{SessionRef: sref(s), Text: text}); err != nil {
			return doneMsg{}, err
		}
		return doneMsg{text: "sent to " + s.Name + ": " + text}, nil
	})
}

func (b *board) comment(s protocol.Session, spec string) tea.Cmd {
	where, body, _ := strings.Cut(strings.TrimSpace(spec), " ")
	path, start, end, err := parseLines(where)
	if err != nil || strings.TrimSpace(body) == "" {
		b.status = "comment: write PATH:LINE[-END] then the comment, e.g. app/x.go:12-14 handle the error"
		return nil
	}
	return b.act("comment on "+s.Name, func(ctx context.Context, c *protocol.Client) (doneMsg, error) {
		cm, err := c.Comment(ctx, protocol.CommentParams{SessionRef: sref(s), Path: path, StartLine: start, EndLine: end, Body: strings.TrimSpace(body)})
		if err != nil {
			return doneMsg{}, err
		}
		return doneMsg{text: fmt.Sprintf("comment %d on %s:%d-%d; f sends the comments to %s", cm.ID, path, start, end, s.Name)}, nil
	})
}

func (b *board) feedback(s protocol.Session) tea.Cmd {
	return b.act("feedback to "+s.Name, func(ctx context.Context, c *protocol.Client) (doneMsg, error) {
		r, err := c.Feedback(ctx, sref(s))
		if err != nil {
			return doneMsg{}, err
		}
		return doneMsg{text: fmt.Sprintf("sent %d comment(s) to %s", r.Sent, s.Name)}, nil
	})
}

func (b *board) merge(s protocol.Session) tea.Cmd {
	return b.act("merge "+s.Name, func(ctx context.Context, c *protocol.Client) (doneMsg, error) {
		r, err := c.Merge(ctx, protocol.MergeParams{SessionRef: sref(s)})
		if err != nil {
			return doneMsg{}, err
		}
		return doneMsg{text: fmt.Sprintf("merged %s into %s (%s, %d files): %s → %s; u undoes it", s.Name, r.Target, r.Strategy, r.Files, short(r.Old), short(r.New))}, nil
	})
}

func (b *board) undo(s protocol.Session) tea.Cmd {
	return b.act("undo the merge of "+s.Name, func(ctx context.Context, c *protocol.Client) (doneMsg, error) {
		r, err := c.Undo(ctx, sref(s))
		if err != nil {
			return doneMsg{}, err
		}
		return doneMsg{text: fmt.Sprintf("undid the merge of %s: %s is back at %s", s.Name, r.Target, short(r.Restored))}, nil
	})
}

func (b *board) sync(s protocol.Session) tea.Cmd {
	return b.act("sync "+s.Name, func(ctx context.Context, c *protocol.Client) (doneMsg, error) {
		r, err := c.Sync(ctx, protocol.SyncParams{SessionRef: sref(s)})
		if err != nil {
			return doneMsg{}, err
		}
		if r.UpToDate {
			return doneMsg{text: s.Name + " already has " + r.Target + "'s tip"}, nil
		}
		return doneMsg{text: fmt.Sprintf("synced %s with %s (%s): %s → %s", s.Name, r.Target, r.Strategy, short(r.Old), short(r.New))}, nil
	})
}

func (b *board) stop(s protocol.Session) tea.Cmd {
	return b.act("stop "+s.Name, func(ctx context.Context, c *protocol.Client) (doneMsg, error) {
		if _, err := c.Stop(ctx, protocol.StopParams{SessionRef: sref(s)}); err != nil {
			return doneMsg{}, err
		}
		return doneMsg{text: "stopped " + s.Name + " (its worktree stays)"}, nil
	})
}

func (b *board) preview() tea.Cmd {
	repo := b.repoForRepoVerbs()
	return b.act("preview", func(ctx context.Context, c *protocol.Client) (doneMsg, error) {
		pv, err := c.Preview(ctx, protocol.PreviewParams{Repo: repo})
		if err != nil {
			return doneMsg{}, err
		}
		var out strings.Builder
		printPreview(&out, pv)
		return doneMsg{text: "preview of " + filepath.Base(repo), lines: strings.Split(strings.TrimRight(out.String(), "\n"), "\n")}, nil
	})
}

func (b *board) land() tea.Cmd {
	repo := b.repoForRepoVerbs()
	return b.act("land", func(ctx context.Context, c *protocol.Client) (doneMsg, error) {
		r, err := c.Land(ctx, protocol.LandParams{Repo: repo})
		if err != nil {
			return doneMsg{}, err
		}
		var out strings.Builder
		printLand(&out, r)
		return doneMsg{text: "landed in " + filepath.Base(repo), lines: strings.Split(strings.TrimRight(out.String(), "\n"), "\n")}, nil
	})
}

func (b *board) spawn(line string) tea.Cmd {
	repo := b.repoForRepoVerbs()
	p := protocol.SpawnParams{Repo: repo, Prompt: strings.TrimSpace(line)}
	if cmdline, ok := strings.CutPrefix(p.Prompt, "-- "); ok {
		p.Prompt, p.Command = "", strings.Fields(cmdline)
	}
	if p.Prompt == "" && len(p.Command) == 0 {
		b.status = "spawn: write a prompt, or -- and a command"
		return nil
	}
	return b.act("spawn", func(ctx context.Context, c *protocol.Client) (doneMsg, error) {
		s, err := c.Spawn(ctx, p)
		if err != nil {
			return doneMsg{}, err
		}
		return doneMsg{text: fmt.Sprintf("spawned %s (agent %s) on %s", s.Name, s.Agent, s.Branch)}, nil
	})
}

// repoForRepoVerbs is the repository preview, land and spawn act on: the
// board's, else the selected session's.
func (b *board) repoForRepoVerbs() string {
	if b.repo != "" {
		return b.repo
	}
	if s, ok := b.selected(); ok {
		return s.Repo
	}
	wd, _ := os.Getwd()
	return wd
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func restLines(s string) []string {
	_, rest, ok := strings.Cut(s, "\n")
	if !ok {
		return nil
	}
	return strings.Split(rest, "\n")
}
