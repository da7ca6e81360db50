package workspace

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// patch is one file's part of `git diff` output.
type patch struct {
	hunks  []Hunk
	binary bool
}

// parsePatches parses `git diff` output (any -U) into one patch per file
// header, in order, with go-gitdiff: the one unified-diff parser of the
// module (Diff and the predictor's line ranges both use it). Hunk bodies
// are read by their line counts, so content that looks like a header
// cannot confuse it.
func parsePatches(out []byte) (ps []patch, err error) {
	defer func() {
		// A parser bug must not take the daemon down with it.
		if r := recover(); r != nil {
			ps, err = nil, fmt.Errorf("parse diff: %v", r)
		}
	}()
	return parseGitDiff(out)
}

// parseGitDiff is parsePatches without the safety net, for the fuzz test.
func parseGitDiff(out []byte) ([]patch, error) {
	files, _, err := gitdiff.Parse(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("parse diff: %w", err)
	}
	ps := make([]patch, len(files))
	for i, f := range files {
		ps[i].binary = f.IsBinary
		for _, frag := range f.TextFragments {
			ps[i].hunks = append(ps[i].hunks, fromFragment(frag))
		}
	}
	return ps, nil
}

// fromFragment turns a go-gitdiff fragment into a Hunk: lines keep their
// prefix and lose their line feed (a CR stays: it is content).
func fromFragment(frag *gitdiff.TextFragment) Hunk {
	h := Hunk{
		OldStart: int(frag.OldPosition), OldLines: int(frag.OldLines),
		NewStart: int(frag.NewPosition), NewLines: int(frag.NewLines),
		Header: frag.Comment,
		Lines:  make([]string, len(frag.Lines)),
	}
	for i, l := range frag.Lines {
		h.Lines[i] = l.Op.String() + strings.TrimSuffix(l.Line, "\n")
	}
	return h
}

// span is the hunk's line numbers, as in its header.
func (h Hunk) span() span {
	return span{OldStart: h.OldStart, OldCount: h.OldLines, NewStart: h.NewStart, NewCount: h.NewLines}
}
