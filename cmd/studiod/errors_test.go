package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/studiod/studiod/protocol"
)

// TestCLIFixes: every fix has the CLI's words, which name verbs the CLI
// has and never an MCP tool.
func TestCLIFixes(t *testing.T) {
	t.Parallel()
	verbs := map[string]bool{}
	for _, c := range (&app{}).rootCmd().Commands() {
		verbs[c.Name()] = true
	}
	for _, f := range protocol.Fixes {
		text := cliFix(protocol.ErrorData{Fix: f, Session: "s1", Repo: "/r", Path: "/r/.studio.toml"})
		if text == "" {
			t.Errorf("fix %s: no words for it", f)
		}
		if strings.Contains(text, "_session") || strings.Contains(text, "list_sessions") {
			t.Errorf("fix %s: %q names an MCP tool", f, text)
		}
		for _, m := range strings.Split(text, "`studiod ")[1:] {
			cmd, _, _ := strings.Cut(m, "`")
			verb, _, _ := strings.Cut(cmd, " ")
			if !verbs[verb] {
				t.Errorf("fix %s: %q names `studiod %s`, which is no verb of the CLI", f, text, verb)
			}
		}
	}
	data, _ := json.Marshal(protocol.ErrorData{What: "busy: session a is working", Session: "a", Fix: protocol.FixStopFirst})
	got := cliMessage(&protocol.Error{Code: protocol.CodeBusy, Message: "busy: session a is working", Data: data})
	if want := "busy: session a is working: stop it first (`studiod stop a`) or pass --force"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
