package lsp

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"

	"github.com/aymanbagabas/go-udiff/lcs"
	lsp "go.lsp.dev/protocol"
	"go.lsp.dev/uri"

	"github.com/studiod/studiod/protocol"
)

// The user's own checkout (the main worktree) is the third party to a
// conflict between two sessions: it is where both will land, and the file
// the person has open. Each side's ranges are lines of that side's copy;
// the lines of the user's copy they contest are found by diffing each
// side's copy against the user's (go-udiff's Myers LCS over lines) and
// mapping the side's ranges through the diff: a changed line maps to the
// user's lines its diff block replaces (the base lines the session
// rewrote, when the user's copy still has them), an unchanged line to its
// counterpart. So the marks follow the user's own edits above or inside
// the contested region, whatever they differ in elsewhere. A conflict with
// the target branch needs none of this: its target side is the user's
// copy already.

// userCopy returns the user's copy of the file a conflict between two
// sessions contests, or "" when a side is the target branch.
func userCopy(cf protocol.Conflict) string {
	if cf.Repo == "" || cf.Path == "" || cf.A.Session == protocol.TargetSide || cf.B.Session == protocol.TargetSide {
		return ""
	}
	f := filepath.Join(cf.Repo, filepath.FromSlash(cf.Path))
	if f == cf.A.File || f == cf.B.File {
		return ""
	}
	return f
}

// byName returns a conflict's sides in the order of their session names,
// whichever the daemon calls A, so that what a person reads is stable.
func byName(cf protocol.Conflict) []protocol.Side {
	if cf.B.Session < cf.A.Session {
		return []protocol.Side{cf.B, cf.A}
	}
	return []protocol.Side{cf.A, cf.B}
}

// userConflictsIn returns the conflicts whose user's copy is file.
func (s *server) userConflictsIn(file string) []protocol.Conflict {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []protocol.Conflict
	for _, cf := range s.state.conflicts {
		if userCopy(cf) == file {
			out = append(out, cf)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// contested returns the lines of the user's copy (file) that the
// conflict's sides change; ok is false when the user has no such file.
func contested(lines *fileLines, cf protocol.Conflict, file string) (ranges []protocol.Range, ok bool) {
	user := lines.get(file)
	if user == nil {
		return nil, false
	}
	var all []protocol.Range
	for _, side := range []protocol.Side{cf.A, cf.B} {
		if own := lines.get(side.File); own != nil && len(side.Ranges) > 0 {
			all = append(all, mapRanges(own, user, side.Ranges)...)
		}
	}
	return mergeRanges(all), true
}

// block is one change between two files: from's lines [s, s+ns) became
// to's lines [t, t+nt), 0-based.
type block struct{ s, ns, t, nt int }

// mapRanges maps 1-based ranges of lines of from to the lines of to they
// correspond to. A range with End < Start (lines deleted before Start)
// maps to the lines of to that the deletion removed, or to an insertion
// point.
func mapRanges(from, to []string, ranges []protocol.Range) []protocol.Range {
	var blocks []block
	for _, d := range lcs.DiffLines(from, to) {
		blocks = append(blocks, block{d.Start, d.End - d.Start, d.ReplStart, d.ReplEnd - d.ReplStart})
	}
	// at maps a line of from outside every block (or a position between
	// lines) to its counterpart in to.
	at := func(p int) int {
		delta := 0
		for _, b := range blocks {
			if b.s+b.ns > p || b.s == p && b.ns > 0 {
				break
			}
			delta += b.nt - b.ns
		}
		return p + delta
	}
	var out []protocol.Range
	span := func(t, n int) {
		if n == 0 {
			out = append(out, protocol.Range{Start: t + 1, End: t}) // insertion point
			return
		}
		out = append(out, protocol.Range{Start: t + 1, End: t + n})
	}
	for _, r := range ranges {
		lo, hi := r.Start-1, r.End // [lo, hi), 0-based
		if hi <= lo {
			// Lines deleted before lo: the block there says which.
			hit := false
			for _, b := range blocks {
				if b.ns == 0 && b.s == lo || b.s < lo && lo < b.s+b.ns {
					span(b.t, b.nt)
					hit = true
				}
			}
			if !hit {
				span(at(lo), 0)
			}
			continue
		}
		covered := make([]bool, hi-lo)
		for _, b := range blocks {
			inside := b.ns == 0 && lo < b.s && b.s < hi
			if b.s < hi && lo < b.s+b.ns || inside {
				span(b.t, b.nt)
				for i := max(b.s, lo); i < min(b.s+b.ns, hi); i++ {
					covered[i-lo] = true
				}
			}
		}
		for i := 0; i < len(covered); {
			if covered[i] {
				i++
				continue
			}
			j := i
			for j < len(covered) && !covered[j] {
				j++
			}
			span(at(lo+i), j-i)
			i = j
		}
	}
	return out
}

// mergeRanges sorts ranges and merges those that overlap or touch; an
// insertion point next to or inside a range of lines goes into it.
func mergeRanges(rs []protocol.Range) []protocol.Range {
	if len(rs) == 0 {
		return nil
	}
	rs = slices.Clone(rs)
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Start != rs[j].Start {
			return rs[i].Start < rs[j].Start
		}
		return rs[i].End > rs[j].End
	})
	out := []protocol.Range{rs[0]}
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		lastEnd := max(last.End, last.Start-1) // insertion points cover nothing
		if r.Start <= lastEnd+1 {
			if r.End > last.End {
				last.End = r.End
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// userDiagnostics are the diagnostics of the user's copy of a file that
// two sessions contest: one per contested range, with related
// information pointing at each side's lines.
func (s *server) userDiagnostics(lines *fileLines, file string) []lsp.Diagnostic {
	var diags []lsp.Diagnostic
	for _, cf := range s.userConflictsIn(file) {
		ranges, ok := contested(lines, cf, file)
		if !ok {
			continue
		}
		sev := lsp.DiagnosticSeverityWarning
		tail := "a conflict when both land"
		if cf.Severity == protocol.SeverityOverlap {
			sev, tail = lsp.DiagnosticSeverityInformation, "they merge cleanly"
		} else if cf.Kind != "" && cf.Kind != protocol.KindContent {
			tail = fmt.Sprintf("a %s conflict when both land", cf.Kind)
		}
		sides := byName(cf)
		var related []lsp.DiagnosticRelatedInformation
		for _, side := range sides {
			for _, r := range orWhole(side.Ranges) {
				related = append(related, lsp.DiagnosticRelatedInformation{
					Location: lsp.Location{URI: uri.File(side.File), Range: lines.lspRange(side.File, r)},
					Message:  fmt.Sprintf("%s: %s of %s", sideName(side), protocol.FormatRanges([]protocol.Range{r}), side.Path),
				})
			}
		}
		data, _ := json.Marshal(map[string]any{"conflict": cf.ID, "sessions": []string{cf.A.Session, cf.B.Session}})
		what := func(r protocol.Range) string {
			switch {
			case len(ranges) == 0:
				return "change this file"
			case r.End < r.Start:
				// An insertion point: both add lines there.
				return fmt.Sprintf("add lines before line %d", r.Start)
			}
			return "change " + protocol.FormatRanges([]protocol.Range{r})
		}
		for _, r := range orWhole(ranges) {
			diags = append(diags, lsp.Diagnostic{
				Range:              lines.lspRange(file, r),
				Severity:           sev,
				Code:               lsp.String(string(cf.Severity)),
				Source:             lsp.NewOptional("studiod"),
				Message:            lsp.String(fmt.Sprintf("sessions %s and %s both %s: %s", sides[0].Session, sides[1].Session, what(r), tail)),
				RelatedInformation: related,
				Data:               lsp.LSPAny(data),
			})
		}
	}
	return diags
}
