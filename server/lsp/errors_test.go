package lsp

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/studiod/studiod/protocol"
)

// TestEditorFixes: every fix has an editor's words, which name no MCP tool
// and no CLI verb but trust (no editor command trusts a repository).
func TestEditorFixes(t *testing.T) {
	for _, f := range protocol.Fixes {
		text := editorFix(protocol.ErrorData{Fix: f, Session: "s1", Path: "/w"})
		if text == "" {
			t.Errorf("fix %s: no words for it", f)
		}
		if strings.Contains(text, "_session") || strings.Contains(text, "studiod ") && f != protocol.FixTrust {
			t.Errorf("fix %s: %q names another face's command", f, text)
		}
	}
}

func TestEditorError(t *testing.T) {
	data, _ := json.Marshal(protocol.ErrorData{What: "busy: session a is working", Session: "a", Fix: protocol.FixStopFirst})
	err := editorError(&protocol.Error{Code: protocol.CodeBusy, Message: "busy: session a is working", Data: data})
	pe := err.(*protocol.Error)
	if pe.Code != protocol.CodeBusy || pe.Message != "busy: session a is working: stop it first (Stop Session), or remove it with force" || string(pe.Data) != string(data) {
		t.Errorf("got %d %q %s", pe.Code, pe.Message, pe.Data)
	}
}
