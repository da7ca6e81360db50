package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/studiod/studiod/internal/home"
	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/server"
	"github.com/studiod/studiod/workspace"
)

func (a *app) demoCmd() *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Watch two demo agents work in parallel on a throwaway repo (no AI account needed)",
		Long: `Create a throwaway repo in a temporary directory, run a private daemon there,
and run a plan for the built-in demo agent, checked first (studiod plan
check): two tasks started in parallel by the daemon, a reviewer of one of
them, and a task after it. The two edit files over about 20 seconds (some of
the same lines), commit, ask a question and go idle; the reviewer then
comments on the first one's work, and its comments reach that agent. Every
step is printed as it happens. Then the integration loop: a preview of both
sessions folded onto main, the one that fits landed (the task after it
starts), why the other is held back, and the land undone. Afterwards
everything is stopped and deleted, unless --keep.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.demo(cmd.Context(), keep)
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "leave the repo, the sessions and the daemon running for inspection")
	return cmd
}

var demoFiles = map[string]string{
	"README.md":      "# demo shop\n\nA tiny project for studiod's demo.\n",
	"app/config.txt": "# app config\nname = shop\ntimeout = 30\nowner = nobody\nretries = 1\nport = 8080\n",
	"src/main.go":    "package src\n\nfunc Main() string { return \"shop\" }\n",
}

func (a *app) demo(ctx context.Context, keep bool) error {
	tmp, err := os.MkdirTemp("", "studiod-demo-")
	if err != nil {
		return err
	}
	tmp, _ = filepath.EvalSymlinks(tmp)
	repo := filepath.Join(tmp, "repo")
	studioHome := filepath.Join(tmp, "home")
	// Everything below runs against a private daemon in the temp dir.
	os.Setenv("STUDIOD_HOME", studioHome)
	a.dirs = home.Resolve()
	cleanup := func() {}
	if !keep {
		cleanup = func() { os.RemoveAll(tmp) }
	}
	defer func() { cleanup() }()

	fmt.Printf("studiod demo: throwaway repo %s\n", repo)
	if err := makeDemoRepo(ctx, repo); err != nil {
		return err
	}
	start := time.Now()
	stamp := func() string { return fmt.Sprintf("[%5.1fs]", time.Since(start).Seconds()) }

	var mu sync.Mutex
	last := map[string]protocol.Session{}
	answered := map[string]bool{}
	events := make(chan protocol.Session, 256)
	deltas := make(chan protocol.ConflictsChanged, 256)
	c, err := a.connect(ctx, func(method string, params json.RawMessage) {
		switch method {
		case protocol.NotifySessionChanged:
			var n protocol.SessionChanged
			if json.Unmarshal(params, &n) == nil {
				events <- n.Session
			}
		case protocol.NotifyConflictsChanged:
			var n protocol.ConflictsChanged
			if json.Unmarshal(params, &n) == nil {
				deltas <- n
			}
		}
	})
	if err != nil {
		return err
	}
	defer c.Close()
	stopDaemon := func() {
		c.Shutdown(context.WithoutCancel(ctx), protocol.Empty{})
		server.WaitStopped(a.dirs.Lock(), 10*time.Second)
	}
	st, _ := c.Status(ctx, protocol.Empty{})
	if st != nil {
		fmt.Printf("%s daemon pid %d on %s\n", stamp(), st.PID, st.Socket)
	}
	if _, err := c.Subscribe(ctx, protocol.SubscribeParams{Sessions: true, Conflicts: true}); err != nil {
		return err
	}

	// The work is a plan: checked first (nothing runs), then handed to
	// the daemon, which starts both tasks at once.
	fmt.Printf("\n%s the plan, checked before anything runs (studiod plan check):\n", stamp())
	if rep, err := server.CheckPlan(ctx, workspace.DefaultGit, protocol.PlanCheckParams{Repo: repo, Text: demoPlan}); err == nil {
		printPlanReport(os.Stdout, "demo.toml", rep)
	} else {
		fmt.Printf("%s plan check failed: %v\n", stamp(), err)
	}
	fmt.Println()
	pl, err := c.PlanRun(ctx, protocol.PlanRunParams{Repo: repo, Path: "demo.toml", Text: demoPlan})
	if err != nil {
		stopDaemon()
		return fmt.Errorf("run the demo plan: %w", err)
	}
	var ids, names []string
	for _, t := range pl.Tasks {
		if t.Session == "" {
			fmt.Printf("%s task    %-8s %s\n", stamp(), t.Name, t.Detail)
			continue
		}
		s, err := c.Session(ctx, protocol.SessionRef{Session: t.Session})
		if err != nil {
			stopDaemon()
			return fmt.Errorf("demo task %s: %s: %w", t.Name, t.Detail, err)
		}
		ids, names = append(ids, s.ID), append(names, s.Name)
		fmt.Printf("%s spawned %-8s worktree %s\n", stamp(), s.Name, s.Worktree)
	}

	// The agents are done once auth, billing and auth's reviewer have
	// ended their turns, and auth has taken the reviewer's comments.
	reviewing, reviewed, forwarded := false, false, false
	settled := func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, s := range last {
			if s.Name == "docs" {
				continue
			}
			if s.State == protocol.StateWorking || s.State == protocol.StateStarting || s.State == protocol.StateWaiting {
				return false
			}
			n++
		}
		return n == 3 && forwarded
	}
	timeout := time.After(120 * time.Second)
loop:
	for {
		select {
		case s := <-events:
			mu.Lock()
			prev, seen := last[s.ID]
			last[s.ID] = s
			mu.Unlock()
			if !seen && s.Name == "auth-review" {
				reviewing = true
				fmt.Printf("%s spawned %s: auth's turn is done, and the plan's reviewer starts on its work\n", stamp(), s.Name)
			}
			if !seen || prev.State != s.State || prev.Detail != s.Detail {
				fmt.Printf("%s %-8s %s\n", stamp(), s.Name, stateText(s))
			}
			if s.Name == "auth-review" && (s.State == protocol.StateIdle || s.State == protocol.StateExited) && !reviewed {
				reviewed = true
				fmt.Printf("%s auth-review is done: its comments go to auth's agent\n", stamp())
			}
			// The reviewer starts once auth's turn is done: auth works
			// again only on its comments.
			if s.Name == "auth" && reviewing && s.State == protocol.StateWorking && !forwarded {
				forwarded = true
				fmt.Printf("%s auth     takes auth-review's comments\n", stamp())
			}
			if seen && prev.Changes != s.Changes {
				fmt.Printf("%s %-8s changes: %s\n", stamp(), s.Name, changesText(s.Changes))
			}
			if s.State == protocol.StateWaiting && !answered[s.ID] {
				answered[s.ID] = true
				// Answer like a person would, a moment later.
				go func(id, name string) {
					time.Sleep(700 * time.Millisecond)
					fmt.Printf("%s %-8s you answer: y\n", stamp(), name)
					c.Send(ctx, protocol.SendParams{SessionRef: protocol.SessionRef{Session: id}, Text: "y"})
				}(s.ID, s.Name)
			}
			if settled() {
				break loop
			}
		case d := <-deltas:
			for _, cf := range d.Added {
				fmt.Printf("%s predicted %s\n", stamp(), conflictLine(cf))
			}
			for _, cf := range d.Updated {
				fmt.Printf("%s updated   %s\n", stamp(), conflictLine(cf))
			}
			if n := len(d.Resolved); n > 0 {
				fmt.Printf("%s resolved  %d conflict(s)\n", stamp(), n)
			}
		case <-timeout:
			fmt.Printf("%s the demo agents did not settle within 120s\n", stamp())
			break loop
		case <-ctx.Done():
			break loop
		}
	}

	fmt.Printf("\n%s summary\n", stamp())
	res, err := c.Sessions(context.WithoutCancel(ctx), protocol.SessionsParams{Repo: repo})
	if err == nil {
		for _, s := range res.Sessions {
			fmt.Printf("  %-8s %-8s %-16s %s\n", s.Name, s.State, s.Branch, changesText(s.Changes))
		}
	}
	for _, s := range names {
		out, _ := workspace.DefaultGit.Run(context.WithoutCancel(ctx), repo, "diff", "--stat", "main", "studio/"+s)
		fmt.Printf("  committed on studio/%s:\n%s", s, indent(string(out), "    "))
	}
	if cr, err := c.Conflicts(context.WithoutCancel(ctx), protocol.ConflictsParams{Repo: repo}); err == nil {
		fmt.Printf("\n  predicted collisions (uncommitted work included):\n")
		for _, cf := range cr.Conflicts {
			fmt.Printf("    %s\n", conflictLine(cf))
		}
		if len(cr.Conflicts) == 0 {
			fmt.Printf("    none\n")
		}
	}

	// From here on only session events are read.
	c.Subscribe(context.WithoutCancel(ctx), protocol.SubscribeParams{Sessions: true})
	if demoReview(ctx, c, ids[0], stamp) {
		a.demoIntegration(ctx, c, repo, events, stamp)
	}

	if keep {
		fmt.Printf(`
Everything is still there. Look at it with:
  export STUDIOD_HOME=%s
  studiod ls
  studiod show auth ; studiod logs auth ; studiod attach auth
  cd %s && git log --oneline --all
Clean up with:
  STUDIOD_HOME=%s studiod shutdown   (after stopping sessions: studiod stop NAME, for each of studiod ls)
  rm -rf %s
`, studioHome, repo, studioHome, tmp)
		return nil
	}
	if res, err := c.Sessions(context.WithoutCancel(ctx), protocol.SessionsParams{Repo: repo}); err == nil {
		for _, s := range res.Sessions {
			c.Stop(context.WithoutCancel(ctx), protocol.StopParams{SessionRef: protocol.SessionRef{Session: s.ID}})
		}
	}
	stopDaemon()
	fmt.Printf("%s stopped the demo agents and the daemon; removed %s\n", stamp(), tmp)
	return nil
}

func indent(s, pre string) string {
	if s == "" {
		return ""
	}
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pre + l
		}
	}
	return strings.Join(lines, "")
}

// demoPlan is the demo's work: two tasks in parallel, scoped to their own
// modules (both agents also tune app/config.txt, outside their scopes:
// studiod sees it as they write), a task that starts once auth has landed,
// and a reviewer of auth whose comments reach auth's agent.
const demoPlan = `[[task]]
name = "auth"
agent = "demo"
prompt = "Add login with sessions to the shop"
scope = ["src/auth.go"]

[[task]]
name = "billing"
agent = "demo"
prompt = "Add invoices and payment retries"
scope = ["src/billing.go"]

[[task]]
name = "docs"
agent = "demo"
prompt = "Document the login"
scope = ["src/docs.go"]
after = ["auth"]

[[task]]
name = "auth-review"
agent = "demo"
prompt = "Look for what a user of the login needs to know"
reviews = "auth"
`

func makeDemoRepo(ctx context.Context, dir string) error {
	for name, content := range demoFiles {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"-c", "user.name=studiod demo", "-c", "user.email=demo@studiod.invalid", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "demo shop"},
	} {
		if _, err := workspace.DefaultGit.Run(ctx, dir, args...); err != nil {
			return fmt.Errorf("make demo repo: %w", err)
		}
	}
	return nil
}

// demoReview shows the review of one session: its diff, and the comments
// its reviewer (the plan's auth-review task) made, which reached its agent
// as feedback when the reviewer's turn ended. It reports whether the demo
// can go on.
func demoReview(ctx context.Context, c *protocol.Client, id string, stamp func() string) bool {
	ctx = context.WithoutCancel(ctx)
	ref := protocol.SessionRef{Session: id}
	d, err := c.Diff(ctx, protocol.DiffParams{SessionRef: ref, Stat: true})
	if err != nil || len(d.Files) == 0 {
		fmt.Printf("%s review: no diff (%v)\n", stamp(), err)
		return false
	}
	s, err := c.Session(ctx, ref)
	if err != nil {
		return false
	}
	name := s.Name
	fmt.Printf("\n%s review %s (studiod diff %s): %d files, +%d -%d\n", stamp(), name, name, d.Stats.Files, d.Stats.Additions, d.Stats.Deletions)
	for _, f := range d.Files {
		fmt.Printf("    %-8s %-22s +%d -%d\n", f.Status, f.Path, f.Additions, f.Deletions)
	}
	cs, err := c.Comments(ctx, ref)
	if err != nil {
		fmt.Printf("%s comments: %v\n", stamp(), err)
		return false
	}
	for _, cm := range cs.Comments {
		sent := "not sent"
		if cm.Sent != nil {
			sent = "sent to " + name + "'s agent"
		}
		fmt.Printf("%s comment %d by %s on %s:%d: %q (%s; studiod comments %s)\n", stamp(), cm.ID, cm.By, cm.Path, cm.StartLine, cm.Body, sent, name)
	}
	return true
}

// demoIntegration shows the integration loop once the agents are done:
// preview both sessions folded onto main, land the one that fits, say why
// the other is held back and how far behind it now is, and undo the land.
func (a *app) demoIntegration(ctx context.Context, c *protocol.Client, repo string, events <-chan protocol.Session, stamp func() string) {
	ctx = context.WithoutCancel(ctx)
	fmt.Printf("\n%s integration: both sessions folded onto main in memory, uncommitted work included\n", stamp())
	// The two tasks' work: auth's reviewer is on a snapshot of auth's.
	pv, err := c.Preview(ctx, protocol.PreviewParams{Repo: repo, Sessions: []string{"auth", "billing"}})
	if err != nil {
		fmt.Printf("%s preview failed: %v\n", stamp(), err)
		return
	}
	if len(pv.Order) == 0 {
		fmt.Printf("%s preview: no session lands on %s without a conflict\n", stamp(), pv.Target)
		return
	}
	line := fmt.Sprintf("preview (%d ms): %s lands first", pv.DurationMs, strings.Join(pv.Order, ", "))
	var held []protocol.PreviewSession
	for _, ps := range pv.Sessions {
		if ps.Position == 0 && ps.Status != protocol.PreviewEmpty {
			held = append(held, ps)
			line += fmt.Sprintf("; %s is held back: %s", ps.Session, ps.Reason)
		}
	}
	fmt.Printf("%s %s\n", stamp(), line)
	lr, err := c.Land(ctx, protocol.LandParams{Repo: repo, Sessions: pv.Order})
	if err != nil {
		fmt.Printf("%s land failed: %v\n", stamp(), err)
		return
	}
	for _, d := range lr.Landed {
		fmt.Printf("%s landed %s on %s: %s → %s (old tip kept in %s)\n", stamp(), d.Session, lr.Target, short(d.Old), short(d.New), d.Backup)
	}
	// The plan's task after auth starts from the new tip; the sessions
	// held back learn how far behind they now are.
	behind := map[string]bool{}
	for _, ps := range held {
		behind[ps.ID] = true
	}
	started := false
	deadline := time.After(20 * time.Second)
	for !started || len(behind) > 0 {
		select {
		case s := <-events:
			if s.Name == "docs" && !started {
				started = true
				fmt.Printf("%s spawned docs: the plan starts it on %s's new tip, now that auth, which it is after, has landed\n", stamp(), s.Target)
			}
			if behind[s.ID] && s.Behind > 0 {
				delete(behind, s.ID)
				what := "syncs cleanly: `studiod sync " + s.Name + "`"
				if s.WouldConflict {
					what = "would conflict: `studiod sync " + s.Name + " --send` hands the conflict to its agent"
				}
				fmt.Printf("%s %s is now %d commit(s) behind %s and %s\n", stamp(), s.Name, s.Behind, s.Target, what)
			}
		case <-deadline:
			started, behind = true, nil
		}
	}
	u, err := c.UndoLand(ctx, protocol.UndoLandParams{Repo: repo, Land: lr.ID})
	if err != nil {
		fmt.Printf("%s undo failed: %v\n", stamp(), err)
		return
	}
	fmt.Printf("%s undid the land (studiod undo --land %s): %s is back at %s\n", stamp(), lr.ID, u.Target, short(u.Restored))
}
