package agents

import (
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestRuntimeSeam keeps the core on its side of the session runtime: no
// file of package agents reads, opens, removes or runs anything in a
// session's worktree itself (a call of the os or exec functions below with
// an argument naming a session's Worktree), imports the shim, or names a
// shim's socket or /proc. Those belong to the runtime (agents/host), which
// may hold the worktree on another machine.
func TestRuntimeSeam(t *testing.T) {
	local := map[string]bool{
		"os.Stat": true, "os.Lstat": true, "os.ReadFile": true, "os.WriteFile": true,
		"os.Open": true, "os.OpenFile": true, "os.OpenRoot": true, "os.ReadDir": true,
		"os.Remove": true, "os.RemoveAll": true, "os.MkdirAll": true,
		"exec.Command": true, "exec.CommandContext": true,
	}
	// Mentions of /proc that do not read it.
	allowProc := map[string]bool{
		// The gate resolves paths an agent names, /proc/self among them;
		// it judges the path, it does not read it.
		"gatepath.go": true,
		// The sandbox mounts a fresh /proc for the agent's process.
		"sandbox.go": true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := gotoken.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if path, _ := strconv.Unquote(imp.Path.Value); path == "github.com/studiod/studiod/agents/shim" {
				t.Errorf("%s: imports the shim: the runtime talks to it", fset.Position(imp.Pos()))
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if fn := calleeName(n.Fun); local[fn] {
					for _, arg := range n.Args {
						if mentionsWorktree(arg) {
							t.Errorf("%s: %s on a session's worktree: go through its host.Workspace", fset.Position(n.Pos()), fn)
						}
					}
				}
			case *ast.BasicLit:
				if n.Kind != gotoken.STRING {
					break
				}
				s, _ := strconv.Unquote(n.Value)
				if (s == "/proc" || strings.HasPrefix(s, "/proc/")) && !allowProc[name] {
					t.Errorf("%s: names /proc: finding processes is the runtime's", fset.Position(n.Pos()))
				}
				if s == "shims" || strings.HasSuffix(s, ".sock") {
					t.Errorf("%s: names a shim's socket (%q): reaching the process is the runtime's", fset.Position(n.Pos()), s)
				}
			}
			return true
		})
	}
}

// calleeName is "pkg.Func" for a call of a package's function, "" for
// anything else.
func calleeName(fun ast.Expr) string {
	sel, ok := fun.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	pkg, ok := sel.X.(*ast.Ident)
	if !ok {
		return ""
	}
	return pkg.Name + "." + sel.Sel.Name
}

// mentionsWorktree reports whether e names a session's worktree: a
// selector .Worktree anywhere in it.
func mentionsWorktree(e ast.Expr) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "Worktree" {
			found = true
		}
		return !found
	})
	return found
}
