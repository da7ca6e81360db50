package server

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"unicode/utf16"

	lsp "go.lsp.dev/protocol"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/workspace"
)

// Conflicts and overlaps reach editors as diagnostics on both sides' files:
// the session worktree's copy and the main worktree's copy. Each conflict
// delta republishes every file it touches, computed from the current
// conflict set, so a file whose last conflict went away gets an empty list.

// diagIndex remembers which files each live conflict has diagnostics in, so
// a resolved conflict (known by ID only) clears the right files.
type diagIndex struct {
	// mu guards files, and serializes computing and queueing diagnostics so
	// an older set never overtakes a newer one on a connection.
	mu    sync.Mutex
	files map[string][2]string // conflict ID → its sides' files
}

// seedDiagnostics indexes the conflicts known before the server subscribed.
func (s *Server) seedDiagnostics() {
	s.diag.mu.Lock()
	defer s.diag.mu.Unlock()
	if s.diag.files == nil {
		s.diag.files = map[string][2]string{}
	}
	for _, cf := range s.agents.Conflicts("", "", "") {
		s.diag.files[cf.ID] = [2]string{cf.A.File, cf.B.File}
	}
}

// lspConflictsChanged republishes the files a conflict delta touches to
// every LSP connection. It runs in the manager's fan-out and does not block.
func (s *Server) lspConflictsChanged(ev agents.ConflictEvent) {
	d := ev.Delta
	s.diag.mu.Lock()
	defer s.diag.mu.Unlock()
	if s.diag.files == nil {
		s.diag.files = map[string][2]string{}
	}
	affected := map[string]bool{}
	for _, list := range [][]workspace.Conflict{d.Added, d.Updated} {
		for _, cf := range list {
			if old, ok := s.diag.files[cf.ID]; ok {
				affected[old[0]], affected[old[1]] = true, true
			}
			s.diag.files[cf.ID] = [2]string{cf.A.File, cf.B.File}
			affected[cf.A.File], affected[cf.B.File] = true, true
		}
	}
	for _, id := range d.Resolved {
		if old, ok := s.diag.files[id]; ok {
			affected[old[0]], affected[old[1]] = true, true
			delete(s.diag.files, id)
		}
	}
	delete(affected, "")
	conns := s.lspConns()
	if len(conns) == 0 || len(affected) == 0 {
		return
	}
	for file := range affected {
		p := s.fileDiagnostics(file)
		for _, c := range conns {
			c.lspNotify(lspPublishDiagnostics, p)
		}
	}
	for _, c := range conns {
		c.refreshLenses()
	}
}

// publishAll sends c the diagnostics of every file with a conflict.
func (s *Server) publishAll(c *conn) {
	s.diag.mu.Lock()
	defer s.diag.mu.Unlock()
	files := map[string]bool{}
	for _, f := range s.diag.files {
		files[f[0]], files[f[1]] = true, true
	}
	delete(files, "")
	for file := range files {
		c.lspNotify(lspPublishDiagnostics, s.fileDiagnostics(file))
	}
}

// publishFile sends c the diagnostics of one file.
func (s *Server) publishFile(file string, c *conn) {
	if file == "" {
		return
	}
	s.diag.mu.Lock()
	defer s.diag.mu.Unlock()
	p := s.fileDiagnostics(file)
	if len(p.Diagnostics) > 0 {
		c.lspNotify(lspPublishDiagnostics, p)
	}
}

// conflictSide is a conflict seen from one of its files.
type conflictSide struct {
	cf          protocol.Conflict
	self, other protocol.Side
}

// conflictsIn returns the conflicts with a side in file, seen from there.
func (s *Server) conflictsIn(file string) []conflictSide {
	var out []conflictSide
	for _, wc := range s.agents.Conflicts("", "", file) {
		cf := wireConflict(wc)
		switch file {
		case cf.A.File:
			out = append(out, conflictSide{cf, cf.A, cf.B})
		case cf.B.File:
			out = append(out, conflictSide{cf, cf.B, cf.A})
		}
	}
	return out
}

// fileDiagnostics computes one file's diagnostics from the current conflict
// set: one per changed range of this side, naming the other side.
func (s *Server) fileDiagnostics(file string) lsp.PublishDiagnosticsParams {
	lines := fileLines{}
	diags := []lsp.Diagnostic{}
	for _, x := range s.conflictsIn(file) {
		sev := lsp.DiagnosticSeverityWarning
		verb, tail := "conflicts with", ""
		if x.cf.Severity == workspace.SeverityOverlap {
			sev = lsp.DiagnosticSeverityInformation
			verb, tail = "overlaps with", " (merges cleanly)"
		} else if x.cf.Kind != "" && x.cf.Kind != workspace.KindContent {
			verb = "conflicts (" + x.cf.Kind + ") with"
		}
		msg := fmt.Sprintf("%s %s: %s of %s%s", verb, s.sideLabel(x.cf.Repo, x.other, x.self), linesText(x.other.Ranges), x.other.Path, tail)
		var related []lsp.DiagnosticRelatedInformation
		for _, r := range orWhole(x.other.Ranges) {
			related = append(related, lsp.DiagnosticRelatedInformation{
				Location: lsp.Location{URI: fileURI(x.other.File), Range: lines.lspRange(x.other.File, r)},
				Message:  fmt.Sprintf("%s: %s", sideName(x.other), linesText([]protocol.Range{r})),
			})
		}
		data, _ := json.Marshal(map[string]string{"conflict": x.cf.ID, "session": x.self.Session, "other": x.other.Session, "otherFile": x.other.File})
		for _, r := range orWhole(x.self.Ranges) {
			diags = append(diags, lsp.Diagnostic{
				Range:              lines.lspRange(file, r),
				Severity:           sev,
				Code:               lsp.String(x.cf.Severity),
				Source:             lsp.NewOptional("studiod"),
				Message:            lsp.String(msg),
				RelatedInformation: related,
				Data:               lsp.LSPAny(data),
			})
		}
	}
	return lsp.PublishDiagnosticsParams{URI: fileURI(file), Diagnostics: diags}
}

// sideLabel names a side for a person: "session api (claude)" or "the
// target branch main".
func (s *Server) sideLabel(repo string, side, from protocol.Side) string {
	if side.Session == workspace.TargetSide {
		if from.Session != workspace.TargetSide {
			if sess, err := s.agents.Lookup(agents.Ref{Session: from.Session, Repo: repo}); err == nil && sess.Target != "" {
				return "the target branch " + sess.Target
			}
		}
		return "the target branch"
	}
	if sess, err := s.agents.Lookup(agents.Ref{Session: side.Session, Repo: repo}); err == nil && sess.Agent != "" {
		return fmt.Sprintf("session %s (%s)", side.Session, sess.Agent)
	}
	return "session " + side.Session
}

func sideName(side protocol.Side) string {
	if side.Session == workspace.TargetSide {
		return "target"
	}
	return "session " + side.Session
}

// orWhole returns ranges, or the first line when there are none (a
// whole-file conflict such as modify/delete).
func orWhole(ranges []protocol.Range) []protocol.Range {
	if len(ranges) == 0 {
		return []protocol.Range{{Start: 1, End: 1}}
	}
	return ranges
}

// linesText renders ranges as "line 4" or "lines 12–14, 20".
func linesText(ranges []protocol.Range) string {
	if len(ranges) == 0 {
		return "the whole file"
	}
	var parts []string
	n := 0
	for _, r := range ranges {
		switch {
		case r.End <= r.Start:
			parts = append(parts, fmt.Sprint(r.Start))
			n++
		default:
			parts = append(parts, fmt.Sprintf("%d–%d", r.Start, r.End))
			n += 2
		}
	}
	word := "line "
	if n > 1 {
		word = "lines "
	}
	return word + strings.Join(parts, ", ")
}

// fileLines reads files once per computation to turn 1-based line ranges
// into LSP ranges that end at the end of the last line (in UTF-16 units).
type fileLines map[string][]string

// maxLinesFile bounds the files read for line lengths.
const maxLinesFile = 8 << 20

func (fl fileLines) get(file string) []string {
	if l, ok := fl[file]; ok {
		return l
	}
	var lines []string
	if fi, err := os.Stat(file); err == nil && fi.Mode().IsRegular() && fi.Size() <= maxLinesFile {
		if b, err := os.ReadFile(file); err == nil {
			lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		}
	}
	fl[file] = lines
	return lines
}

// lspRange converts a 1-based inclusive line range; End < Start (a pure
// deletion before line Start) marks line Start. Lines past the end of the
// file are clamped to its last line.
func (fl fileLines) lspRange(file string, r protocol.Range) lsp.Range {
	lines := fl.get(file)
	start, end := r.Start-1, r.End-1
	if end < start {
		end = start
	}
	last := max(len(lines)-1, 0)
	start = min(max(start, 0), last)
	end = min(max(end, 0), last)
	width := 0
	if end < len(lines) {
		width = utf16Len(strings.TrimSuffix(lines[end], "\r"))
	}
	return lsp.Range{
		Start: lsp.Position{Line: uint32(start)},
		End:   lsp.Position{Line: uint32(end), Character: uint32(width)},
	}
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}
