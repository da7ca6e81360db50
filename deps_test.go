package studiod_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestImportRules enforces the package rules of docs/architecture.md: which
// of our packages each package may import, and that protocol libraries
// stay in the faces that speak them. Test files are not checked.
func TestImportRules(t *testing.T) {
	const mod = "github.com/studiod/studiod/"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	// allowed lists, per package, the module's packages it may import.
	// cmd/studiod, which wires everything together, may import any.
	allowed := map[string][]string{
		"vocab":                            {},
		"workspace":                        {"vocab"},
		"protocol":                         {"vocab"},
		"protocol/internal/gen":            {},
		"agents":                           {"workspace", "agents/host", "vocab", "plan"},
		"plan":                             {"workspace"},
		"agents/host":                      {"workspace", "agents/shim"},
		"agents/shim":                      {},
		"server":                           {"agents", "agents/host", "workspace", "protocol", "vocab", "plan"},
		"server/lsp":                       {"protocol"},
		"server/mcp":                       {"protocol"},
		"server/acp":                       {"protocol"},
		"internal/home":                    {},
		"internal/gittest":                 {},
		"internal/studiotest":              {"protocol"},
		"internal/fakemodel":               {},
		"internal/fakemodel/cmd/fakemodel": {"internal/fakemodel"},
		"test/soak":                        {"protocol"},
		"internal/fsmonitor":               {"protocol"},
		"internal/hook":                    {"protocol", "internal/home"},
		// git runs the fsmonitor hook at every status, agents their hook at
		// every tool call: they must stay small.
		"cmd/studiod-fsmonitor": {"internal/fsmonitor"},
		"cmd/studiod-hook":      {"internal/hook"},
	}
	// libraries lists, per protocol library, the packages that may use it:
	// the daemon core knows nothing of LSP or MCP.
	libraries := map[string][]string{
		"github.com/sourcegraph/jsonrpc2": {"protocol", "server", "server/lsp"},
		"go.lsp.dev/":                     {"server/lsp"},
		"github.com/mark3labs/mcp-go":     {"server/mcp"},
		// agents drives ACP agents (client side); server/acp is one.
		"github.com/coder/acp-go-sdk": {"agents", "server/acp"},
		// The terminal board (studiod ui) is a client like the CLI verbs.
		"charm.land/bubbletea/": {"cmd/studiod"},
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], mod)
		if pkg == f[0] || pkg == "github.com/studiod/studiod" {
			continue
		}
		seen[pkg] = true
		for _, imp := range f[1:] {
			for lib, users := range libraries {
				if strings.HasPrefix(imp, lib) && !slices.Contains(users, pkg) {
					t.Errorf("%s imports %s: only %v may", pkg, imp, users)
				}
			}
			dep, ok := strings.CutPrefix(imp, mod)
			if !ok || pkg == "cmd/studiod" {
				continue
			}
			rules, ok := allowed[pkg]
			if !ok {
				t.Errorf("package %s has no import rule: add it to this test and to docs/architecture.md", pkg)
				continue
			}
			if !slices.Contains(rules, dep) {
				t.Errorf("%s imports %s, which docs/architecture.md does not allow", pkg, dep)
			}
		}
	}
	for pkg := range allowed {
		if !seen[pkg] {
			t.Errorf("rule for %s, which does not exist", pkg)
		}
	}
}
