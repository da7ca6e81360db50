package agents

import (
	"bytes"
	"context"
	"fmt"

	"github.com/studiod/studiod/workspace"
)

// checkCommentLines refuses a comment on a file that exists on neither
// side of the session's work, or on lines past the end of the file: the
// session's version (its worktree, else its branch) or the base version,
// for a comment on lines the session deleted. Binary files have no lines
// to check.
func (m *Manager) checkCommentLines(ctx context.Context, s Session, path string, start, end int) error {
	var cur workspace.FileVersion
	var err error
	ws := m.files(s)
	if m.hasWorktree(ctx, s) {
		cur, err = ws.ReadFile(ctx, path)
	} else {
		cur, err = ws.FileAt(ctx, "refs/heads/"+s.Branch, path)
	}
	if err != nil {
		return fmt.Errorf("comment on %s: %w", path, err)
	}
	base, err := ws.FileAt(ctx, s.Base, path)
	if err != nil {
		return fmt.Errorf("comment on %s: %w", path, err)
	}
	if cur.Missing && base.Missing {
		return invalidf("%s exists neither in session %s nor in its base: give a path relative to the repository root", path, s.Name)
	}
	most := 0 // lines of the longest side that has the file
	for _, v := range []workspace.FileVersion{cur, base} {
		switch {
		case v.Missing:
		case v.Binary:
			return nil
		default:
			most = max(most, lineCount(v.Content))
		}
	}
	if end > max(most, 1) {
		what := fmt.Sprintf("lines %d-%d are", start, end)
		if start == end {
			what = fmt.Sprintf("line %d is", start)
		}
		return invalidf("%s has %d line(s) in session %s and its base: %s past the end", path, most, s.Name, what)
	}
	return nil
}

// lineCount counts lines, the last one with or without its newline.
func lineCount(b []byte) int {
	n := bytes.Count(b, []byte("\n"))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}
