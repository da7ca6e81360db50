package mcp

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestForModel(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`no session "ghost" in /r (see ` + "`studiod ls`" + `)`, `no session "ghost" in /r (see list_sessions)`},
		{`session "dup" already exists in /r: pick another --name or remove it with ` + "`studiod rm dup`",
			`session "dup" already exists in /r: pick another name or remove it with remove_session {"session":"dup"}`},
		{"session a has no unsent review comments: add some with `studiod comment`", "session a has no unsent review comments: add some with add_review_comment"},
		{"worktree /w was deleted outside studiod: `studiod rm a --force` cleans up (the branch keeps committed work)",
			`worktree /w was deleted outside studiod: remove_session {"force":true,"session":"a"} cleans up (the branch keeps committed work)`},
		{"session a is working: stop it first (`studiod stop a`) or pass --force", `session a is working: stop it first (stop_session {"session":"a"}) or pass force: true`},
		{"/r/.studio.toml changed since it was trusted: run `studiod trust`", "/r/.studio.toml changed since it was trusted: ask the user to run `studiod trust`"},
		{"restart the daemon (`studiod shutdown`) after upgrading", "restart the daemon (`studiod shutdown` (for the user to run: no tool does it)) after upgrading"},
		{"to see it, run `studiod logs a`", `to see it, call read_output {"session":"a"}`},
		// Options inside values are not flags.
		{`"--upload-pack=x" looks like an option`, `"--upload-pack=x" looks like an option`},
		{"ref --force-with-lease is odd", "ref --force-with-lease is odd"},
		{"nothing to change", "nothing to change"},
	} {
		if got := forModel(tc.in); got != tc.want {
			t.Errorf("forModel(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestDaemonMessagesForModels reads every string the daemon's packages can
// put in an error and checks that, once forModel has rewritten it, it no
// longer sends a model to a CLI command a tool does, or to a CLI flag.
func TestDaemonMessagesForModels(t *testing.T) {
	cli := regexp.MustCompile("`studiod ([a-z][a-z-]*)")
	fset := token.NewFileSet()
	seen := 0
	for _, dir := range []string{"../../agents", "../../workspace", "../../server"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				// A message may be built with +: read it whole, with
				// "NAME" for what is not a literal.
				s, ok := message(n)
				if !ok {
					return true
				}
				if !strings.Contains(s, "`studiod ") {
					return false
				}
				seen++
				got := forModel(s)
				for _, m := range cli.FindAllStringSubmatch(got, -1) {
					if _, ok := verbTools[m[1]]; ok {
						t.Errorf("%s: %q still names `studiod %s`: %q", fset.Position(n.Pos()), s, m[1], got)
					}
				}
				for flag := range flagArgs {
					if regexp.MustCompile(`(^|[\s(])` + flag + `([\s),.;:]|$)`).MatchString(got) {
						t.Errorf("%s: %q still names %s: %q", fset.Position(n.Pos()), s, flag, got)
					}
				}
				return false
			})
		}
	}
	if seen == 0 {
		t.Fatal("no daemon message names a CLI command: is the scan looking in the right places?")
	}
}

// message returns the text of a string literal or of a + of strings.
func message(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.BasicLit:
		if n.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(n.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		if n.Op != token.ADD {
			return "", false
		}
		x, okx := message(n.X)
		y, oky := message(n.Y)
		if !okx && !oky {
			return "", false
		}
		if !okx {
			x = "NAME"
		}
		if !oky {
			y = "NAME"
		}
		return x + y, true
	}
	return "", false
}
