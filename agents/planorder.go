package agents

import (
	"github.com/studiod/studiod/plan"
)

// order puts each session after the sessions of its plan it is
// stacked on or after, keeping the order otherwise: what preview and land
// fold.
func (ps *plans) order(list []Session) []Session {
	before := map[string][]string{} // session ID → IDs that must come first
	ps.mu.Lock()
	for _, r := range ps.runs {
		for _, t := range r.plan.Tasks {
			id := r.task(t.Name).Session
			if id == "" {
				continue
			}
			for _, e := range t.Waits() {
				if dep := r.task(e.Task).Session; dep != "" && e.Kind != plan.EdgeReviews {
					before[id] = append(before[id], dep)
				}
			}
		}
	}
	ps.mu.Unlock()
	if len(before) == 0 {
		return list
	}
	out := make([]Session, 0, len(list))
	placed := map[string]bool{}
	in := map[string]bool{}
	for _, s := range list {
		in[s.ID] = true
	}
	var place func(s Session, depth int)
	byID := map[string]Session{}
	for _, s := range list {
		byID[s.ID] = s
	}
	place = func(s Session, depth int) {
		if placed[s.ID] || depth > len(list) {
			return
		}
		for _, dep := range before[s.ID] {
			if in[dep] {
				place(byID[dep], depth+1)
			}
		}
		placed[s.ID] = true
		out = append(out, s)
	}
	for _, s := range list {
		place(s, 0)
	}
	return out
}
