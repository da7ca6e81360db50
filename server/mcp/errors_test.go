package mcp

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/studiod/studiod/protocol"
)

// cliWords match what a model cannot act on: a CLI command or flag.
var cliWords = regexp.MustCompile("studiod [a-z]|(^|[\\s(])--[a-z]")

// TestToolFixes: every fix is worded with the tools, never with a CLI
// command or flag, and the session it concerns is named.
func TestToolFixes(t *testing.T) {
	for _, f := range protocol.Fixes {
		text := toolFix(protocol.ErrorData{Fix: f, Session: "s1", Repo: "/r", Path: "/r/.studio.toml"})
		if text == "" {
			t.Errorf("fix %s: no words for it", f)
		}
		if cliWords.MatchString(text) {
			t.Errorf("fix %s: %q names a CLI command or flag", f, text)
		}
	}
	for f, tool := range map[protocol.Fix]string{
		protocol.FixStopFirst: ToolStopSession, protocol.FixSyncSend: ToolSyncSession, protocol.FixCleanUp: ToolRemoveSession,
		protocol.FixListSessions: ToolListSessions, protocol.FixAddComments: ToolAddReviewComment,
	} {
		if text := toolFix(protocol.ErrorData{Fix: f, Session: "s1"}); !strings.Contains(text, tool) {
			t.Errorf("fix %s: %q does not name %s", f, text, tool)
		}
	}
}

// TestToolError: a daemon error becomes the daemon's message and this
// face's words for its fix; an error without data gets its code's.
func TestToolError(t *testing.T) {
	data, _ := json.Marshal(protocol.ErrorData{What: "busy: session a is working", Session: "a", Fix: protocol.FixStopFirst})
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"with data", &protocol.Error{Code: protocol.CodeBusy, Message: "busy: session a is working", Data: data},
			[]string{"remove a: busy: session a is working.", ToolStopSession, `remove_session with session "a" and force=true`}},
		{"code only", &protocol.Error{Code: protocol.CodeNotFound, Message: "not found: x"}, []string{ToolListSessions}},
		{"argument", argError{"session is required"}, []string{"remove a: session is required"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := resultText(toolError("remove a", tc.err))
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("got %q, want it to contain %q", got, w)
				}
			}
			if cliWords.MatchString(got) {
				t.Errorf("%q names a CLI command or flag", got)
			}
		})
	}
}

func resultText(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}
