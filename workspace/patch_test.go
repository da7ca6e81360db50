package workspace

import (
	"reflect"
	"strings"
	"testing"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// patchSeeds are `git diff` outputs of the shapes studiod meets: context
// and -U0 hunks, additions, deletions, renames, binary files, files
// without a final newline, CRLF lines, content that looks like headers,
// quoted names, and a blob pair's header.
var patchSeeds = []string{
	"diff --git a/keep.txt b/keep.txt\nindex 1111111..2222222 100644\n--- a/keep.txt\n+++ b/keep.txt\n@@ -7,7 +7,7 @@ line 6\n line 7\n line 8\n line 9\n-line 10\n+ten\n line 11\n line 12\n line 13\n",
	"diff --git a/u.txt b/u.txt\nnew file mode 100644\nindex 0000000..3333333\n--- /dev/null\n+++ b/u.txt\n@@ -0,0 +1,2 @@\n+u1\n+u2\n",
	"diff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\nindex 4444444..0000000\n--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n",
	"diff --git a/old/mv.txt b/new/mv.txt\nsimilarity index 96%\nrename from old/mv.txt\nrename to new/mv.txt\nindex 5555555..6666666 100644\n--- a/old/mv.txt\n+++ b/new/mv.txt\n@@ -1,4 +1,4 @@\n-line 1\n+first\n line 2\n line 3\n line 4\n",
	"diff --git a/a b/b\nsimilarity index 100%\nrename from a\nrename to b\n",
	"diff --git a/img.bin b/img.bin\nindex 7777777..8888888 100644\nBinary files a/img.bin and b/img.bin differ\n",
	"diff --git a/no eol.txt b/no eol.txt\nindex 9999999..aaaaaaa 100644\n--- a/no eol.txt\n+++ b/no eol.txt\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n",
	"diff --git a/crlf.txt b/crlf.txt\nindex bbbbbbb..ccccccc 100644\n--- a/crlf.txt\n+++ b/crlf.txt\n@@ -1,2 +1,2 @@\n a\r\n-b\r\n+B\r\n",
	"diff --git a/t.txt b/t.txt\nindex ddddddd..eeeeeee 100644\n--- a/t.txt\n+++ b/t.txt\n@@ -1,3 +1,5 @@\n x\n+\n diff --git a/b c/d\n+\n --- a/x\n",
	"diff --git \"a/tab\\there.txt\" \"b/tab\\there.txt\"\nindex 1..2 100644\n--- \"a/tab\\there.txt\"\n+++ \"b/tab\\there.txt\"\n@@ -1 +1 @@\n-1\n+2\n",
	"diff --git a/x b/x\nindex 1..2 100644\n--- a/x\n+++ b/x\n@@ -3,0 +4,2 @@\n+a\n+b\n@@ -9 +10,0 @@\n-z\n",
	"diff --git a/blob b/blob\nindex 1..2 100644\nBinary files a/1 and b/2 differ\n",
	"diff --git a/m b/m\nold mode 100644\nnew mode 100755\n",
	"",
}

func FuzzParsePatches(f *testing.F) {
	for _, s := range patchSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		ps, err := parseGitDiff(out)
		if err != nil {
			return
		}
		for _, p := range ps {
			for _, h := range p.hunks {
				checkHunk(t, h)
			}
		}
		// What was parsed formats back to a diff that parses the same.
		again, err := parseGitDiff([]byte(formatPatches(ps)))
		if err != nil {
			t.Fatalf("reparse %q: %v", formatPatches(ps), err)
		}
		if len(again) != len(ps) {
			t.Fatalf("reparse: %d files, want %d", len(again), len(ps))
		}
		for i := range ps {
			if !reflect.DeepEqual(again[i].hunks, ps[i].hunks) && len(ps[i].hunks)+len(again[i].hunks) > 0 {
				t.Fatalf("file %d: reparsed %+v, want %+v", i, again[i].hunks, ps[i].hunks)
			}
		}
	})
}

// checkHunk checks that a hunk's lines agree with its header.
func checkHunk(t *testing.T, h Hunk) {
	t.Helper()
	var old, nw int
	for _, l := range h.Lines {
		if l == "" {
			t.Fatalf("empty line in %+v", h)
		}
		switch l[0] {
		case ' ':
			old++
			nw++
		case '-':
			old++
		case '+':
			nw++
		default:
			t.Fatalf("line %q without a prefix in %+v", l, h)
		}
		if strings.Contains(l, "\n") {
			t.Fatalf("line %q holds a line feed", l)
		}
	}
	if old != h.OldLines || nw != h.NewLines {
		t.Fatalf("hunk %+v has %d old and %d new lines", h, old, nw)
	}
}

// formatPatches writes patches back as a diff with go-gitdiff's formatter.
func formatPatches(ps []patch) string {
	var b strings.Builder
	for _, p := range ps {
		f := &gitdiff.File{OldName: "f", NewName: "f", IsBinary: p.binary && len(p.hunks) == 0}
		for _, h := range p.hunks {
			frag := &gitdiff.TextFragment{
				OldPosition: int64(h.OldStart), OldLines: int64(h.OldLines),
				NewPosition: int64(h.NewStart), NewLines: int64(h.NewLines),
				Comment: h.Header,
			}
			for _, l := range h.Lines {
				op := map[byte]gitdiff.LineOp{' ': gitdiff.OpContext, '-': gitdiff.OpDelete, '+': gitdiff.OpAdd}[l[0]]
				frag.Lines = append(frag.Lines, gitdiff.Line{Op: op, Line: l[1:] + "\n"})
			}
			f.TextFragments = append(f.TextFragments, frag)
		}
		b.WriteString(f.String())
	}
	return b.String()
}

func TestParsePatches(t *testing.T) {
	for _, s := range patchSeeds {
		ps, err := parsePatches([]byte(s))
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		for _, p := range ps {
			for _, h := range p.hunks {
				checkHunk(t, h)
			}
		}
	}
	// A hunk whose header promises more lines than follow is an error,
	// never a short hunk.
	if _, err := parsePatches([]byte("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n-b\n")); err == nil {
		t.Error("a cut-short hunk parsed")
	}
	// No newline at end of file: the marker is dropped, the lines stay.
	ps, err := parsePatches([]byte(patchSeeds[6]))
	if err != nil || len(ps) != 1 || !reflect.DeepEqual(ps[0].hunks[0].Lines, []string{" a", "-b", "+c"}) {
		t.Errorf("no-eol patch: %+v, %v", ps, err)
	}
	// A blob pair's binary diff (named by object names) from parseHunks.
	d, err := parseHunks([]byte("diff --git a/daa8f61 b/10f50c4\nindex daa8f61..10f50c4 100644\nBinary files a/daa8f61 and b/10f50c4 differ\n"))
	if err != nil || !d.binary {
		t.Errorf("binary blob pair: %+v, %v", d, err)
	}
	d, err = parseHunks([]byte(patchSeeds[10]))
	if err != nil || !reflect.DeepEqual(d.hunks, []span{{3, 0, 4, 2}, {9, 1, 10, 0}}) {
		t.Errorf("-U0 hunks: %+v, %v", d.hunks, err)
	}
}
