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
	return agentsDir(t, pinnedBin(t), names)
}

// Node20Bin is the directory holding the agent CLIs at the versions `npm
// install` picks on Node 20 where they differ from the pinned ones
// (test/agents/node20, next to AgentsBin's test/agents/node_modules).
func Node20Bin(t testing.TB, names ...string) string {
	t.Helper()
	return agentsDir(t, filepath.Join(pinnedBin(t), "..", "..", "node20", "node_modules", ".bin"), names)
}

func pinnedBin(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("STUDIOD_AGENTS_BIN"); dir != "" {
		return dir
	}
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
	return filepath.Join(root, "test", "agents", "node_modules", ".bin")
}

func agentsDir(t testing.TB, dir string, names []string) string {
	t.Helper()
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Fatalf("%s is not installed in %s: run .ci/agents.sh (./test.sh does), or set STUDIOD_AGENTS_BIN", n, dir)
		}
	}
	return dir
}
