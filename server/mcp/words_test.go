package mcp

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestToolWords: the daemon's notes and details that reach a model name
// tools, not CLI commands. The texts are read from the agents package's
// source, so a new note pointing at the CLI fails here.
func TestToolWords(t *testing.T) {
	for in, want := range map[string]string{
		"typed, but not confirmed: see `studiod attach api`":                `typed, but not confirmed: see read_output {"session":"api"}`,
		"queued (follow with `studiod logs api -f`)":                        `queued (follow with read_output {"session":"api"})`,
		"deleted outside studiod: `studiod rm api --force` cleans up":       `deleted outside studiod: remove_session {"session":"api","force":true} cleans up`,
		"nothing was removed (--force removes it without keeping its work)": "nothing was removed (force=true removes it without keeping its work)",
		"nothing to rewrite: studiod keeps it":                              "nothing to rewrite: studiod keeps it",
	} {
		if got := toolWords(in); got != want {
			t.Errorf("toolWords(%q) = %q, want %q", in, got, want)
		}
	}

	// Lines setting a delivery's note or a session's detail to a text
	// naming a CLI command.
	line := regexp.MustCompile("(Note|Detail) = .*`studiod ")
	lit := regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	n := 0
	err := filepath.WalkDir("../../agents", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, l := range strings.Split(string(b), "\n") {
			if !line.MatchString(l) {
				continue
			}
			// The text as the daemon makes it: its literals, with a
			// session name for what is filled in.
			var parts []string
			for _, q := range lit.FindAllString(l, -1) {
				s, err := strconv.Unquote(q)
				if err != nil {
					t.Fatalf("%s:%d: %v", path, i+1, err)
				}
				parts = append(parts, s)
			}
			text := strings.NewReplacer("%q", `"claude"`, "%s", "api").Replace(strings.Join(parts, "api"))
			n++
			if got := toolWords(text); cliWords.MatchString(got) {
				t.Errorf("%s:%d: %q reaches MCP naming a CLI command", path, i+1, got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d texts of agents name a CLI command", n)
	if n == 0 {
		t.Fatal("no note or detail naming a CLI command found in agents: the test reads nothing")
	}
}
