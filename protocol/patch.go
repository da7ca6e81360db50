package protocol

import (
	"os"
	"strconv"
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// Diffs are written as text by one library, go-gitdiff's formatter (the
// daemon parses git's output with its parser), so every face writes the
// same valid unified diff that `git apply` and `patch -p1` accept.

// HeaderLine returns the hunk's header: "@@ -a,b +c,d @@ header".
func (h Hunk) HeaderLine() string {
	return fragment(h).Header()
}

// UnifiedDiff writes files as a git-style unified diff, with git's mode
// lines, so that `git apply` creates, deletes and renames files as the
// diff says. Binary files get git's "Binary files … differ" line; a file
// with nothing a patch could say (a diff asked for with stat) is left out.
// The wire does not carry git's "\ No newline at end of file" marker, so a
// last line without one is written with one.
func UnifiedDiff(files []FileDiff) string {
	var b strings.Builder
	for _, f := range files {
		gf := &gitdiff.File{OldName: f.Path, NewName: f.Path, IsBinary: f.Binary, OldMode: mode(f.OldMode), NewMode: mode(f.NewMode)}
		switch f.Status {
		case "added":
			gf.OldName, gf.IsNew = "", true
		case "deleted":
			gf.NewName, gf.IsDelete = "", true
		case "renamed":
			gf.OldName, gf.IsRename = f.OldPath, true
		}
		if !f.Binary {
			for _, h := range f.Hunks {
				gf.TextFragments = append(gf.TextFragments, fragment(h))
			}
		}
		if gf.OldMode == gf.NewMode && !gf.IsNew && !gf.IsDelete {
			gf.OldMode, gf.NewMode = 0, 0 // no mode lines for a mode that stays
		}
		if !gf.IsBinary && !gf.IsRename && len(gf.TextFragments) == 0 && gf.OldMode == gf.NewMode {
			continue
		}
		b.WriteString(gf.String())
	}
	return b.String()
}

// fragment turns a hunk into go-gitdiff's form; lines get back the line
// feed the wire leaves out.
func fragment(h Hunk) *gitdiff.TextFragment {
	frag := &gitdiff.TextFragment{
		OldPosition: int64(h.OldStart), OldLines: int64(h.OldLines),
		NewPosition: int64(h.NewStart), NewLines: int64(h.NewLines),
		Comment: h.Header,
	}
	for _, l := range h.Lines {
		op, text := gitdiff.OpContext, l
		if l != "" {
			switch l[0] {
			case '+':
				op = gitdiff.OpAdd
			case '-':
				op = gitdiff.OpDelete
			}
			text = l[1:]
		}
		frag.Lines = append(frag.Lines, gitdiff.Line{Op: op, Line: text + "\n"})
	}
	return frag
}

// mode parses git's octal mode; 0 when there is none.
func mode(m string) os.FileMode {
	v, err := strconv.ParseUint(m, 8, 32)
	if err != nil {
		return 0
	}
	return os.FileMode(v)
}
