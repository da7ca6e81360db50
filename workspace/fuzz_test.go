package workspace

import (
	"path"
	"regexp"
	"strings"
	"testing"
)

// FuzzValidatePath: a path ValidatePath accepts is relative, clean, inside
// the repository, not an option, and not in .git.
func FuzzValidatePath(f *testing.F) {
	for _, seed := range []string{"a", "src/x.go", "../x", "/abs", "-x", ".git/config", ".GIT/x", "a/../b", "a//b", "a/./b",
		"", ".", "..", "a\x00b", "a\nb", `a\b`, "a/", "ü/ñ", ".gitignore", "x/.git/y"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if ValidatePath(p) != nil {
			return
		}
		first, _, _ := strings.Cut(p, "/")
		switch {
		case p == "" || strings.HasPrefix(p, "-") || strings.HasPrefix(p, "/") || path.IsAbs(p):
			t.Fatalf("accepted %q: empty, absolute or an option", p)
		case path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "/../"):
			t.Fatalf("accepted %q: not clean, or leaves the repository", p)
		case strings.ContainsAny(p, "\x00\n\\"):
			t.Fatalf("accepted %q: NUL, newline or backslash", p)
		case strings.EqualFold(first, ".git"):
			t.Fatalf("accepted %q: inside .git", p)
		}
	})
}

var refChars = regexp.MustCompile(`^[A-Za-z0-9._/@{}^~:+-]+$`)

// FuzzValidateRefArg: a ref ValidateRefArg accepts cannot be taken for an
// option and holds only characters refs and revisions use.
func FuzzValidateRefArg(f *testing.F) {
	for _, seed := range []string{"main", "studio/a", "HEAD~2", "v1.0^{commit}", "-x", "--upload-pack=x", "a b", "", "a\x00", "refs/heads/ü"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		if ValidateRefArg(ref) != nil {
			return
		}
		if ref == "" || ref[0] == '-' || !refChars.MatchString(ref) {
			t.Fatalf("accepted %q", ref)
		}
	})
}

// FuzzParseHunks: the -U0 hunk-header reader never panics and returns no
// negative spans.
func FuzzParseHunks(f *testing.F) {
	for _, seed := range []string{
		"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -3,0 +4,2 @@ f\n+a\n+b\n@@ -10 +12 @@\n-c\n+d\n",
		"Binary files a/x and b/x differ\n",
		"@@ -1,-2 +3 @@\n", "@@ -x +1 @@\n", "@@ -1 +1\n", "@@ -1 +1 @@",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		d, err := parseHunks(out)
		if err != nil {
			return
		}
		for _, h := range d.hunks {
			if h.OldStart < 0 || h.OldCount < 0 || h.NewStart < 0 || h.NewCount < 0 {
				t.Fatalf("negative span %+v from %q", h, out)
			}
			_ = h.Range()
		}
	})
}

// FuzzParseRawNumstat: the raw+numstat reader never panics; files it
// returns have a path, a known status and counts that are not negative.
func FuzzParseRawNumstat(f *testing.F) {
	for _, seed := range []string{
		":100644 100644 abc def M\x00a.txt\x00:000000 100644 000 abc A\x00b.txt\x003\x001\x00a.txt\x00-\x00-\x00b.txt\x00",
		":100644 100644 abc def R100\x00old\x00new\x000\x000\x00\x00old\x00new\x00",
		"1\t2\tx\x00", ":bad\x00", "",
	} {
		f.Add([]byte(strings.ReplaceAll(seed, "\x003\x001\x00", "\x003\t1\t")))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		files, err := parseRawNumstat(out)
		if err != nil {
			return
		}
		for _, fd := range files {
			switch fd.Status {
			case StatusAdded, StatusModified, StatusDeleted, StatusRenamed:
			default:
				t.Fatalf("status %q", fd.Status)
			}
			if fd.Additions < 0 || fd.Deletions < 0 {
				t.Fatalf("negative counts %+v", fd)
			}
		}
	})
}
