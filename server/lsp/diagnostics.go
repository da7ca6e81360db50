package lsp

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf16"

	lsp "go.lsp.dev/protocol"
	"go.lsp.dev/uri"

	"github.com/studiod/studiod/protocol"
)

// Conflicts and overlaps reach the editor as diagnostics on both sides'
// files. Each delta republishes every file it touches, computed from the
// current conflict set, so a file whose last conflict went away gets an
// empty list.

// sessionChanged runs on the daemon connection's read goroutine: it only
// records and queues.
func (s *server) sessionChanged(n protocol.SessionChanged) {
	s.mu.Lock()
	files := s.state.setSession(n.Session)
	s.mu.Unlock()
	if len(files) > 0 {
		s.queue(func() { s.publish(files) })
	}
	s.waiting(n.Session)
	s.refreshLenses()
}

// conflictsChanged runs on the daemon connection's read goroutine.
func (s *server) conflictsChanged(d protocol.ConflictsChanged) {
	s.mu.Lock()
	files := s.state.apply(d)
	s.mu.Unlock()
	s.queue(func() { s.publish(files) })
	s.refreshLenses()
}

// publish sends the diagnostics of files, computed now, to a ready editor.
// It runs on the worker, so an older set never overtakes a newer one.
func (s *server) publish(files map[string]bool) {
	if !s.isReady() {
		return
	}
	for _, file := range sortedKeys(files) {
		if s.inWorkspace(file) {
			s.notifyLSP(methodPublishDiagnostics, s.fileDiagnostics(file))
		}
	}
}

// inWorkspace reports whether file's diagnostics concern the editor: it is
// in one of the editor's workspace folders, or in the worktree of a
// session of a repository that is one of them, holds one or lies in one.
// An editor that named no folder hears of every file.
func (s *server) inWorkspace(file string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.folders) == 0 {
		return true
	}
	for _, f := range s.folders {
		if within(f, file) {
			return true
		}
	}
	for _, sess := range s.state.sessions {
		if sess.Worktree == "" || !within(sess.Worktree, file) {
			continue
		}
		for _, f := range s.folders {
			if within(sess.Repo, f) || within(f, sess.Repo) {
				return true
			}
		}
	}
	return false
}

// within reports whether path is dir or lies under it.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// publishAll sends the diagnostics of every file with a conflict.
func (s *server) publishAll() {
	s.mu.Lock()
	files := s.state.files()
	s.mu.Unlock()
	s.publish(files)
}

// publishFile sends one file's diagnostics; an empty list only with empty.
func (s *server) publishFile(file string, empty bool) {
	if file == "" || !s.isReady() || !s.inWorkspace(file) {
		return
	}
	p := s.fileDiagnostics(file)
	if len(p.Diagnostics) > 0 || empty {
		s.notifyLSP(methodPublishDiagnostics, p)
	}
}

// conflictSide is a conflict seen from one of its files.
type conflictSide struct {
	cf          protocol.Conflict
	self, other protocol.Side
}

// conflictsIn returns the conflicts with a side in file, seen from there.
func (s *server) conflictsIn(file string) []conflictSide {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []conflictSide
	for _, cf := range s.state.conflicts {
		switch file {
		case cf.A.File:
			out = append(out, conflictSide{cf, cf.A, cf.B})
		case cf.B.File:
			out = append(out, conflictSide{cf, cf.B, cf.A})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].cf.ID < out[j].cf.ID })
	return out
}

// fileDiagnostics computes one file's diagnostics from the current conflict
// set: one per changed range of this side, naming the other side; and, in
// the user's own copy of a file two sessions contest, one per contested
// range (usercopy.go).
func (s *server) fileDiagnostics(file string) lsp.PublishDiagnosticsParams {
	lines := s.lines()
	diags := []lsp.Diagnostic{}
	for _, x := range s.conflictsIn(file) {
		sev := lsp.DiagnosticSeverityWarning
		verb, tail := "conflicts with", ""
		if x.cf.Severity == protocol.SeverityOverlap {
			sev = lsp.DiagnosticSeverityInformation
			verb, tail = "overlaps with", " (merges cleanly)"
		} else if x.cf.Kind != "" && x.cf.Kind != protocol.KindContent {
			verb = "conflicts (" + string(x.cf.Kind) + ") with"
		}
		msg := fmt.Sprintf("%s %s: %s of %s%s", verb, s.sideLabel(x.cf.Repo, x.other, x.self), protocol.FormatRanges(x.other.Ranges), x.other.Path, tail)
		var related []lsp.DiagnosticRelatedInformation
		for _, r := range orWhole(x.other.Ranges) {
			related = append(related, lsp.DiagnosticRelatedInformation{
				Location: lsp.Location{URI: uri.File(x.other.File), Range: lines.lspRange(x.other.File, r)},
				Message:  fmt.Sprintf("%s: %s", sideName(x.other), protocol.FormatRanges([]protocol.Range{r})),
			})
		}
		data, _ := json.Marshal(map[string]string{"conflict": x.cf.ID, "session": x.self.Session, "other": x.other.Session, "otherFile": x.other.File})
		for _, r := range orWhole(x.self.Ranges) {
			diags = append(diags, lsp.Diagnostic{
				Range:              lines.lspRange(file, r),
				Severity:           sev,
				Code:               lsp.String(string(x.cf.Severity)),
				Source:             lsp.NewOptional("studiod"),
				Message:            lsp.String(msg),
				RelatedInformation: related,
				Data:               lsp.LSPAny(data),
			})
		}
	}
	for _, sess := range s.outOfScopeIn(file) {
		diags = append(diags, lsp.Diagnostic{
			Range:    lines.lspRange(file, protocol.Range{Start: 1, End: 1}),
			Severity: lsp.DiagnosticSeverityInformation,
			Code:     lsp.String("out-of-scope"),
			Source:   lsp.NewOptional("studiod"),
			Message: lsp.String(fmt.Sprintf("session %s changed this file outside its scope (%s)",
				sess.Name, strings.Join(sess.Scope, ", "))),
		})
	}
	diags = append(diags, s.userDiagnostics(lines, file)...)
	return lsp.PublishDiagnosticsParams{URI: uri.File(file), Diagnostics: diags}
}

// outOfScopeIn returns the sessions that changed file, in their worktree,
// outside their scope.
func (s *server) outOfScopeIn(file string) []protocol.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []protocol.Session
	for _, sess := range s.state.sessions {
		for _, f := range outOfScopeFiles(sess) {
			if f == file {
				out = append(out, sess)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// sideLabel names a side for a person: "session api (claude)" or "the
// target branch main".
func (s *server) sideLabel(repo string, side, from protocol.Side) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if side.Session == protocol.TargetSide {
		if sess, ok := s.state.session(repo, from.Session); ok && sess.Target != "" {
			return "the target branch " + sess.Target
		}
		return "the target branch"
	}
	if sess, ok := s.state.session(repo, side.Session); ok && sess.Agent != "" {
		return fmt.Sprintf("session %s (%s)", side.Session, sess.Agent)
	}
	return "session " + side.Session
}

func sideName(side protocol.Side) string {
	if side.Session == protocol.TargetSide {
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

// fileLines reads files once per computation to turn 1-based line ranges
// into LSP ranges that end at the end of the last line (in UTF-16 units).
// A session's copy is read through the daemon (`studio/file`, its worktree
// version), wherever the session's worktree is; other files (the person's
// own checkout) from disk.
type fileLines struct {
	s     *server // nil: every file from disk
	files map[string][]string
}

// lines is a fresh fileLines for one computation.
func (s *server) lines() *fileLines { return &fileLines{s: s} }

// maxLinesFile bounds the files read for line lengths.
const maxLinesFile = 8 << 20

func (fl *fileLines) get(file string) []string {
	if l, ok := fl.files[file]; ok {
		return l
	}
	var lines []string
	if b, ok := fl.read(file); ok {
		lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	if fl.files == nil {
		fl.files = map[string][]string{}
	}
	fl.files[file] = lines
	return lines
}

// read reads file: through the daemon when it is a session's copy (and
// not at all while the daemon is out of reach), else from disk.
func (fl *fileLines) read(file string) ([]byte, bool) {
	if fl.s != nil {
		if ref, path, d, ok := fl.s.sessionFile(file); ok {
			if d == nil {
				return nil, false
			}
			r, err := d.File(fl.s.ctx, protocol.FileParams{SessionRef: ref, Path: path, Version: protocol.FileWorktree, MaxSize: maxLinesFile})
			if err != nil || r.Missing || r.Binary || r.TooLarge {
				return nil, false
			}
			return []byte(r.Content), true
		}
	}
	fi, err := os.Stat(file)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxLinesFile {
		return nil, false
	}
	b, err := os.ReadFile(file)
	return b, err == nil
}

// sessionFile says whose copy file is: a session's (its ref and the path
// in its worktree) and the daemon connection to read it on (nil while
// there is none), or nobody's.
func (s *server) sessionFile(file string) (protocol.SessionRef, string, Daemon, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.state.sessions {
		if sess.Worktree == "" {
			continue
		}
		if rel, err := filepath.Rel(sess.Worktree, file); err == nil && filepath.IsLocal(rel) {
			return protocol.SessionRef{Session: sess.ID, Repo: sess.Repo}, filepath.ToSlash(rel), s.daemon, true
		}
	}
	return protocol.SessionRef{}, "", nil, false
}

// lspRange converts a 1-based inclusive line range; a deletion marks the
// line it stands before. Lines past the end of the file are clamped to its
// last line.
func (fl *fileLines) lspRange(file string, r protocol.Range) lsp.Range {
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

// docPath turns a document URI into a clean file path ("" if not a file).
func docPath(u uri.URI) string {
	if !u.IsFile() {
		return ""
	}
	p := filepath.Clean(u.FsPath())
	if real, err := filepath.EvalSymlinks(p); err == nil {
		p = real
	}
	return p
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
