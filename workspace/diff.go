package workspace

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// File statuses in a FileDiff.
const (
	StatusAdded    = "added"
	StatusModified = "modified"
	StatusDeleted  = "deleted"
	StatusRenamed  = "renamed"
)

// FileDiff is one changed file between two commits. It has the fields of
// protocol.FileDiff so that mapping one to the other is a conversion.
type FileDiff struct {
	Path    string
	OldPath string // set on renames
	Status  string // StatusAdded, StatusModified, StatusDeleted or StatusRenamed
	Binary  bool
	// Additions and Deletions count lines; both are 0 for binary files.
	Additions int
	Deletions int
	// Hunks are empty for binary files, for pure renames and mode changes,
	// and when the diff was asked for stat only.
	Hunks []Hunk
}

// Hunk is one unified-diff hunk (three lines of context). Lines keep their
// ' ', '+' or '-' prefix; git's "\ No newline at end of file" markers are
// dropped.
type Hunk struct {
	OldStart int
	OldLines int
	NewStart int
	NewLines int
	Header   string // the function context git puts after the second "@@"
	Lines    []string
}

// Changes totals a diff.
type Changes struct {
	Files     int
	Additions int
	Deletions int
}

// Total sums files.
func Total(files []FileDiff) Changes {
	c := Changes{Files: len(files)}
	for _, f := range files {
		c.Additions += f.Additions
		c.Deletions += f.Deletions
	}
	return c
}

// ErrBadPath reports a path a client sent that studiod will not use: absolute,
// escaping its root with "..", looking like an option, or naming git's own
// directory.
var ErrBadPath = errors.New("bad path")

// ValidatePath checks a repository-relative path from a client. It must be
// relative, in slash form, clean, stay below the root and not be an option.
func ValidatePath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%w: empty path", ErrBadPath)
	case strings.HasPrefix(p, "-"):
		return fmt.Errorf("%w: %q looks like an option", ErrBadPath, p)
	case strings.HasPrefix(p, "/") || strings.Contains(p, "\\"):
		return fmt.Errorf("%w: %q is not a relative slash path", ErrBadPath, p)
	case strings.ContainsAny(p, "\x00\n"):
		return fmt.Errorf("%w: %q holds a NUL or newline", ErrBadPath, p)
	case path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("%w: %q is not a clean path inside the repository", ErrBadPath, p)
	}
	first, _, _ := strings.Cut(p, "/")
	if strings.EqualFold(first, ".git") {
		return fmt.Errorf("%w: %q is inside .git", ErrBadPath, p)
	}
	return nil
}

// Diff compares two commits (or trees) from and to, with rename detection,
// as seen from dir (any worktree of the repository). Paths, when given,
// limit the diff to those repository-relative paths (literal, no globs).
// With stat, hunks are not computed. Uncommitted work is included by
// passing a snapshot commit (TakeSnapshot) as to.
func (g *Git) Diff(ctx context.Context, dir, from, to string, paths []string, stat bool) ([]FileDiff, error) {
	for _, r := range []string{from, to} {
		if err := ValidateRefArg(r); err != nil {
			return nil, err
		}
	}
	for _, p := range paths {
		if err := ValidatePath(p); err != nil {
			return nil, err
		}
	}
	// --no-ext-diff and --no-textconv: a repository's config must not make
	// git run programs or change what a file's lines are.
	common := []string{"-M", "--no-ext-diff", "--no-textconv", "--ignore-submodules=none"}
	tail := append([]string{from, to, "--"}, paths...)
	env := []string{"GIT_LITERAL_PATHSPECS=1"}

	args := append([]string{"diff", "-z", "--raw", "--numstat"}, common...)
	out, err := g.RunCmd(ctx, Cmd{Dir: dir, Env: env}, append(args, tail...)...)
	if err != nil {
		return nil, fmt.Errorf("diff %s %s: %w", from, to, err)
	}
	files, err := parseRawNumstat(out)
	if err != nil {
		return nil, fmt.Errorf("diff %s %s: %w", from, to, err)
	}
	if stat || len(files) == 0 {
		return files, nil
	}
	args = append([]string{"diff", "-U3", "--no-color"}, common...)
	out, err = g.RunCmd(ctx, Cmd{Dir: dir, Env: env}, append(args, tail...)...)
	if err != nil {
		return nil, fmt.Errorf("diff %s %s: %w", from, to, err)
	}
	patches, err := parsePatches(out)
	if err != nil {
		return nil, fmt.Errorf("diff %s %s: %w", from, to, err)
	}
	// git writes the patches in the order of the raw records, one per
	// file; names in patch headers are quoted and ambiguous, so match by
	// position instead.
	if len(patches) != len(files) {
		return nil, fmt.Errorf("diff %s %s: %d patches for %d files", from, to, len(patches), len(files))
	}
	for i := range files {
		files[i].Hunks = patches[i]
	}
	return files, nil
}

// parseRawNumstat parses `git diff -z --raw --numstat`: all raw records, then
// all numstat records, in the same order.
func parseRawNumstat(out []byte) ([]FileDiff, error) {
	fields := strings.Split(string(out), "\x00")
	var files []FileDiff
	n := 0 // numstat records seen
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if f == "" {
			continue
		}
		if f[0] == ':' {
			// ":100644 100644 abc def M" then one path, two for R and C.
			meta := strings.Fields(f)
			if len(meta) < 5 || i+1 >= len(fields) {
				return nil, fmt.Errorf("bad raw record %q", f)
			}
			st := meta[4]
			fd := FileDiff{Path: fields[i+1]}
			i++
			switch st[0] {
			case 'A':
				fd.Status = StatusAdded
			case 'D':
				fd.Status = StatusDeleted
			case 'R', 'C':
				if i+1 >= len(fields) {
					return nil, fmt.Errorf("bad rename record %q", f)
				}
				fd.OldPath, fd.Path = fd.Path, fields[i+1]
				i++
				fd.Status = StatusRenamed
				if st[0] == 'C' {
					fd.Status = StatusAdded
				}
			default: // M, T (type change), U, X
				fd.Status = StatusModified
			}
			files = append(files, fd)
			continue
		}
		// "adds\tdels\tpath", or "adds\tdels\t" then two paths on renames.
		parts := strings.SplitN(f, "\t", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("bad numstat record %q", f)
		}
		if parts[2] == "" {
			i += 2
		}
		if n >= len(files) {
			return nil, fmt.Errorf("numstat record %q without a raw record", f)
		}
		fd := &files[n]
		n++
		if parts[0] == "-" && parts[1] == "-" {
			fd.Binary = true
			continue
		}
		var err1, err2 error
		fd.Additions, err1 = strconv.Atoi(parts[0])
		fd.Deletions, err2 = strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad numstat record %q", f)
		}
	}
	if n != len(files) {
		return nil, fmt.Errorf("%d numstat records for %d files", n, len(files))
	}
	return files, nil
}

// parsePatches splits `git diff` output at its "diff --git" headers and
// parses each file's hunks. Hunk bodies are read by their line counts, so a
// content line that looks like a header cannot confuse the parser.
func parsePatches(out []byte) ([][]Hunk, error) {
	var patches [][]Hunk
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<30)
	sc.Split(scanLF)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "diff --git "):
			patches = append(patches, nil)
		case strings.HasPrefix(line, "@@ "):
			if len(patches) == 0 {
				return nil, fmt.Errorf("hunk before any file header")
			}
			h, err := parseHunkHeader(line)
			if err != nil {
				return nil, err
			}
			oldLeft, newLeft := h.OldLines, h.NewLines
			for oldLeft > 0 || newLeft > 0 {
				if !sc.Scan() {
					return nil, fmt.Errorf("hunk %q cut short", line)
				}
				l := sc.Text()
				if l == "" {
					// Some tools strip the space of empty context lines.
					l = " "
				}
				switch l[0] {
				case ' ':
					oldLeft--
					newLeft--
				case '-':
					oldLeft--
				case '+':
					newLeft--
				case '\\':
					continue
				default:
					return nil, fmt.Errorf("bad line %q in hunk %q", l, line)
				}
				if oldLeft < 0 || newLeft < 0 {
					return nil, fmt.Errorf("line %q in hunk %q: more lines than its header counts", l, line)
				}
				h.Lines = append(h.Lines, l)
			}
			patches[len(patches)-1] = append(patches[len(patches)-1], h)
		}
		// Extended header lines, "\ No newline" after a hunk's last line,
		// and "Binary files differ" carry nothing the raw records lack.
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return patches, nil
}

// parseHunkHeader parses "@@ -a,b +c,d @@ header"; a missing count is 1.
func parseHunkHeader(line string) (Hunk, error) {
	rest := strings.TrimPrefix(line, "@@ ")
	ranges, header, ok := strings.Cut(rest, " @@")
	if !ok {
		return Hunk{}, fmt.Errorf("bad hunk header %q", line)
	}
	oldR, newR, ok := strings.Cut(ranges, " ")
	if !ok || !strings.HasPrefix(oldR, "-") || !strings.HasPrefix(newR, "+") {
		return Hunk{}, fmt.Errorf("bad hunk header %q", line)
	}
	var h Hunk
	var err error
	if h.OldStart, h.OldLines, err = parseRange(oldR[1:]); err != nil {
		return Hunk{}, fmt.Errorf("bad hunk header %q", line)
	}
	if h.NewStart, h.NewLines, err = parseRange(newR[1:]); err != nil {
		return Hunk{}, fmt.Errorf("bad hunk header %q", line)
	}
	h.Header = strings.TrimPrefix(header, " ")
	return h, nil
}

func parseRange(s string) (start, n int, err error) {
	a, b, ok := strings.Cut(s, ",")
	if start, err = strconv.Atoi(a); err != nil {
		return 0, 0, err
	}
	n = 1
	if ok {
		if n, err = strconv.Atoi(b); err != nil {
			return 0, 0, err
		}
	}
	if start < 0 || n < 0 {
		return 0, 0, fmt.Errorf("negative range %q", s)
	}
	return start, n, nil
}

// scanLF splits at "\n" only: bufio.ScanLines would also drop the "\r" of
// CRLF lines, changing their content.
func scanLF(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
