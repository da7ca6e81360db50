package main

// The board's plan groups: a plan's tasks under a heading, in the plan's
// order, each with its session once started and what it waits for. A plan
// shows while it runs, and after that while one of its sessions is on the
// board (as in the VS Code sessions view).

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/studiod/studiod/protocol"
)

// item is one entry of the board: a plan's heading, a task of a plan
// (with its session once started), or a session outside any plan.
type item struct {
	plan    *protocol.Plan     // the plan a heading or task belongs to
	task    *protocol.PlanTask // nil for a heading or a session outside plans
	session *protocol.Session  // what keys act on; nil for headings and tasks not started
}

// boardLayout is the board's entries in order: sessions outside plans and
// plan groups, by what needs the person first (a group by its most
// pressing session), then oldest first; within a group, the plan's tasks
// in its order. Removed sessions are left out.
func boardLayout(sessions []protocol.Session, plans []protocol.Plan) []item {
	byID := map[string]protocol.Session{}
	for _, s := range boardOrder(sessions) {
		byID[s.ID] = s
	}
	type unit struct {
		rank  int
		items []item
	}
	var units []unit
	claimed := map[string]bool{}
	for i := range plans {
		pl := &plans[i]
		u := unit{rank: boardRank(""), items: []item{{plan: pl}}}
		shown := false
		for j := range pl.Tasks {
			t := &pl.Tasks[j]
			it := item{plan: pl, task: t}
			if s, ok := byID[t.Session]; ok && t.Session != "" {
				it.session = &s
				claimed[s.ID] = true
				shown = true
				u.rank = min(u.rank, boardRank(s.State))
			}
			u.items = append(u.items, it)
		}
		if pl.State == protocol.PlanRunning || shown {
			units = append(units, u)
		}
	}
	for _, s := range boardOrder(sessions) {
		if !claimed[s.ID] {
			units = append(units, unit{rank: boardRank(s.State), items: []item{{session: &s}}})
		}
	}
	// Stable: plans and sessions each come oldest first already.
	slices.SortStableFunc(units, func(a, b unit) int { return cmp.Compare(a.rank, b.rank) })
	var out []item
	for _, u := range units {
		out = append(out, u.items...)
	}
	return out
}

// planHeading is a plan's line: "plan demo.toml · running · 1 of 3 landed".
func planHeading(pl *protocol.Plan) string {
	name := pl.ID
	if pl.File != "" {
		name = filepath.Base(pl.File)
	}
	landed, failed := 0, 0
	for _, t := range pl.Tasks {
		switch t.State {
		case protocol.TaskLanded:
			landed++
		case protocol.TaskFailed:
			failed++
		}
	}
	parts := []string{"plan " + name, string(pl.State), fmt.Sprintf("%d of %d landed", landed, len(pl.Tasks))}
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", failed))
	}
	return strings.Join(parts, " · ")
}

// taskRelations says how a task stands to the plan's others: what it is
// after, stacked on and reviews, and who reviews it.
func taskRelations(t *protocol.PlanTask) []string {
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
		verb := "in review by "
		if t.Reviewed {
			verb = "reviewed by "
		}
		rel = append(rel, verb+strings.Join(t.ReviewedBy, ", "))
	}
	return rel
}

// waitsFor says what a task not started waits for: the daemon's word, else
// the tasks it is after or stacked on.
func waitsFor(t *protocol.PlanTask) string {
	if t.Detail != "" {
		return t.Detail
	}
	var on []string
	on = append(on, t.After...)
	if t.Stack != "" {
		on = append(on, t.Stack)
	}
	if t.Reviews != "" {
		on = append(on, t.Reviews)
	}
	if len(on) == 0 {
		return "to start"
	}
	return "waits for " + strings.Join(on, ", ")
}
