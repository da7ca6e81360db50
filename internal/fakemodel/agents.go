package fakemodel

import (
	"os"
	"path/filepath"
	"testing"
)

// AgentsBin is the directory holding the real agent CLIs the tests drive
// against a Server: $STUDIOD_AGENTS_BIN, or test/agents/node_modules/.bin
// of the module the test runs in, where .ci/agents.sh installs them. The
// test fails when one of names is missing there.
func AgentsBin(t testing.TB, names ...string) string {
	t.Helper()
	dir := os.Getenv("STUDIOD_AGENTS_BIN")
	if dir == "" {
		root, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
				break
			}
			if root == filepath.Dir(root) {
				t.Fatal("no go.mod above the test's directory: set STUDIOD_AGENTS_BIN")
			}
			root = filepath.Dir(root)
		}
		dir = filepath.Join(root, "test", "agents", "node_modules", ".bin")
	}
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Fatalf("%s is not installed in %s: run .ci/agents.sh (./test.sh does), or set STUDIOD_AGENTS_BIN", n, dir)
		}
	}
	return dir
}
