package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/studiod/studiod/protocol"
)

// TestDemoKeep runs `studiod demo --keep` and follows the instructions it
// prints: the sessions, repo and daemon are there to inspect.
func TestDemoKeep(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	cmd := exec.Command("studiod", "demo", "--keep")
	cmd.Env = append(os.Environ(), "STUDIO_DEMO_SPEED=8", "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo --keep: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`export STUDIOD_HOME=(\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no STUDIOD_HOME in the instructions:\n%s", out)
	}
	home := string(m[1])
	t.Cleanup(func() { cleanupHome(home) })
	if !strings.HasPrefix(home, tmp) {
		t.Errorf("demo home %s is not in the temp dir %s", home, tmp)
	}
	// --all: the demo lands auth; --keep keeps every session to look at.
	ls := exec.Command("studiod", "ls", "--all", "--json")
	ls.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	b, err := ls.Output()
	if err != nil {
		t.Fatalf("ls: %v", err)
	}
	for _, name := range []string{`"name": "auth"`, `"name": "billing"`} {
		if !strings.Contains(string(b), name) {
			t.Errorf("ls after demo --keep lacks %s:\n%s", name, b)
		}
	}
	c, err := protocol.Dial(t.Context(), filepath.Join(home, "run", "studiod.sock"), nil)
	if err != nil {
		t.Fatalf("the kept daemon is not running: %v", err)
	}
	c.Close()
	repo := filepath.Join(filepath.Dir(home), "repo")
	if _, err := os.Stat(filepath.Join(repo, ".git")); err != nil {
		t.Errorf("the demo repo is gone: %v", err)
	}
}
