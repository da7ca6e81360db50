package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/studiod/studiod/protocol"
)

// Exit codes of `studiod wait` beyond the shared ones.
const (
	// exitUnreachable: every session waited for has ended or gone, so
	// none can reach the state asked for any more.
	exitUnreachable = 14
	// exitTimeout: --timeout passed first.
	exitTimeout = 15
)

// waitFor is what `studiod wait --for` waits for.
type waitFor string

const (
	waitWaiting waitFor = "waiting" // the agent asks the person something
	waitIdle    waitFor = "idle"    // the agent finished its turn, at its prompt
	waitDone    waitFor = "done"    // the agent ended: exited, failed, stopped or merged
	waitAny     waitFor = "any"     // any of the above
)

// matches reports whether a session in state st is what w waits for.
func (w waitFor) matches(st protocol.State) bool {
	switch w {
	case waitWaiting:
		return st == protocol.StateWaiting
	case waitIdle:
		return st == protocol.StateIdle
	case waitDone:
		return ended(st)
	}
	return st == protocol.StateWaiting || st == protocol.StateIdle || ended(st)
}

func ended(st protocol.State) bool {
	switch st {
	case protocol.StateExited, protocol.StateFailed, protocol.StateStopped, protocol.StateMerged:
		return true
	}
	return false
}

// reachable reports whether a session in state st may still come to what
// w waits for: an ended session never waits or idles again.
func (w waitFor) reachable(st protocol.State) bool {
	return st != protocol.StateRemoved && (w == waitDone || w == waitAny || !ended(st))
}

// WaitResult is what `studiod wait --json` prints.
type WaitResult struct {
	For      string             `json:"for"`
	Sessions []protocol.Session `json:"sessions"`
}

func (a *app) waitCmd() *cobra.Command {
	var forFlag string
	var timeout time.Duration
	var next bool
	cmd := &cobra.Command{
		Use:   "wait [NAME...] [--for waiting|idle|done|any]",
		Short: "Block until a session needs you: waits for an answer, is idle, or has ended",
		Long: `Block until one of the named sessions (default: every session of --repo,
else every session) is in the state asked for, and print it (every one that
already is, or the first to get there).

  waiting  the agent asks something (answer it with studiod answer)
  idle     the agent finished its turn and is at its prompt
  done     the agent ended: exited, failed, stopped or merged
  any      any of these (the default)

A session already in that state counts at once, unless --next, which waits
for the next time one gets there. It follows the daemon's session feed; it
never polls.

Exit status: 0 when a session got there; 3 when a named session does not
exist; 14 when every named session has ended or gone and can never get
there; 15 when --timeout passed first; 10 when the daemon went away.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			w := waitFor(forFlag)
			if !slices.Contains([]waitFor{waitWaiting, waitIdle, waitDone, waitAny}, w) {
				return usageError{fmt.Errorf("--for %q: give waiting, idle, done or any", forFlag)}
			}
			if timeout < 0 {
				return usageError{fmt.Errorf("--timeout %v: give a duration of 0 (none) or more", timeout)}
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			got, err := a.wait(ctx, args, w, next)
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) && cmd.Context().Err() == nil {
					fmt.Fprintf(os.Stderr, "studiod: no session got to %s within %v\n", w, timeout)
					return exitCodeErr(exitTimeout)
				}
				return err
			}
			if a.json {
				return printJSON(WaitResult{For: string(w), Sessions: got})
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			for _, s := range got {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, trunc(stateText(s), 60), s.Repo)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&forFlag, "for", string(waitAny), "waiting, idle, done or any")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long (exit 15); 0 waits for ever")
	cmd.Flags().BoolVar(&next, "next", false, "ignore sessions already in the state: wait for the next one to get there")
	cmd.Flags().StringVar(&a.repo, "repo", "", "only sessions of this repository (names are looked up in it; default: the current directory's)")
	return cmd
}

// wait follows the daemon's sessions from a snapshot until one of names
// (or any, with none) matches w.
func (a *app) wait(ctx context.Context, names []string, w waitFor, next bool) ([]protocol.Session, error) {
	changes := make(chan protocol.Session, 1024)
	lost := make(chan struct{}, 1)
	feed := protocol.NewFeed(func(method string, params json.RawMessage) {
		var n protocol.SessionChanged
		if method != protocol.NotifySessionChanged || json.Unmarshal(params, &n) != nil {
			return
		}
		select {
		case changes <- n.Session:
		default:
			// The feed must not block: a reader this far behind
			// resubscribes from a new snapshot.
			select {
			case lost <- struct{}{}:
			default:
			}
		}
	})
	c, err := a.connect(ctx, feed.Notify)
	if err != nil {
		return nil, err
	}
	defer c.Close()

	// Names resolve once, to IDs: a later session of the same name is
	// another session.
	ids := map[string]bool{}
	for _, name := range names {
		s, err := c.Session(ctx, a.sessionRef(name))
		if err != nil {
			return nil, a.repoHint(err)
		}
		ids[s.ID] = true
	}
	repo := ""
	if a.repo != "" {
		repo = a.repoDir()
	}
	watched := func(s protocol.Session) bool {
		if len(ids) > 0 {
			return ids[s.ID]
		}
		return repo == "" || s.Repo == repo
	}

	// last is the last known state of each watched session: a session
	// counts when it gets to the state asked for from another (or, without
	// next, when it is there in the first snapshot).
	last := map[string]protocol.State{}
	for first := true; ; first = false {
		var snap []protocol.Session
		_, err := feed.Subscribe(ctx, c, protocol.SubscribeParams{Sessions: true}, func(r *protocol.SubscribeResult) {
			snap = r.Sessions
		})
		if err != nil {
			return nil, err
		}
		var got []protocol.Session
		for _, s := range snap {
			if !watched(s) {
				continue
			}
			prev, seen := last[s.ID]
			last[s.ID] = s.State
			if w.matches(s.State) && ((first && !next) || (!first && (!seen || prev != s.State))) {
				got = append(got, s)
			}
		}
		if len(got) > 0 {
			return got, nil
		}
		if err := unreachable(ids, last, w); err != nil {
			return nil, err
		}
		for {
			select {
			case s := <-changes:
				if !watched(s) {
					continue
				}
				prev, seen := last[s.ID]
				last[s.ID] = s.State
				if w.matches(s.State) && (!seen || prev != s.State) {
					return []protocol.Session{s}, nil
				}
				if err := unreachable(ids, last, w); err != nil {
					return nil, err
				}
				continue
			case <-lost:
			case <-c.Done():
				return nil, fmt.Errorf("%w: the daemon went away", errNoDaemon)
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			break
		}
		// Drain what the old subscription left before taking a new
		// snapshot.
		for len(changes) > 0 {
			<-changes
		}
	}
}

// unreachable says so when every named session has ended or gone in a
// way that can never match w.
func unreachable(ids map[string]bool, last map[string]protocol.State, w waitFor) error {
	if len(ids) == 0 {
		return nil
	}
	var gone []string
	for id := range ids {
		st, ok := last[id]
		if !ok {
			st = protocol.StateRemoved
		}
		if w.reachable(st) {
			return nil
		}
		gone = append(gone, string(st))
	}
	slices.Sort(gone)
	fmt.Fprintf(os.Stderr, "studiod: no session waited for can get to %s any more (%s)\n", w, strings.Join(slices.Compact(gone), ", "))
	return exitCodeErr(exitUnreachable)
}
