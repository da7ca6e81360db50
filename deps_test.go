package studiod_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules enforces DESIGN.md §2: which of our packages each package
// may import, and that third-party protocol libraries stay at the edge.
func TestImportRules(t *testing.T) {
	const mod = "github.com/studiod/studiod/"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	// allowed lists, per package, the module's packages it may import.
	allowed := map[string][]string{
		"workspace":        {},
		"protocol":         {},
		"agents":           {"workspace", "agents/shim"},
		"agents/shim":      {},
		"server":           {"agents", "agents/shim", "workspace", "protocol"},
		"internal/home":    {},
		"internal/gittest": {},
	}
	edgeOnly := []string{"github.com/sourcegraph/jsonrpc2", "github.com/mark3labs/mcp-go", "go.lsp.dev/"}
	edgeAllowed := map[string]bool{"server": true, "protocol": true, "cmd/studiod": true}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], mod)
		if pkg == f[0] || pkg == "github.com/studiod/studiod" {
			continue
		}
		for _, imp := range f[1:] {
			for _, e := range edgeOnly {
				if strings.HasPrefix(imp, e) && !edgeAllowed[pkg] {
					t.Errorf("%s imports %s: protocol libraries stay in server and protocol", pkg, imp)
				}
			}
			dep, ok := strings.CutPrefix(imp, mod)
			if !ok {
				continue
			}
			rules, ok := allowed[pkg]
			if !ok {
				continue // cmd/studiod may import everything
			}
			permitted := false
			for _, r := range rules {
				if dep == r {
					permitted = true
				}
			}
			if !permitted {
				t.Errorf("%s imports %s, which DESIGN.md §2 does not allow", pkg, dep)
			}
		}
	}
}
