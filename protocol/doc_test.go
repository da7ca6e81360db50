package protocol

import (
	"os"
	"strings"
	"testing"
)

// TestReferenceInStep fails when docs/protocol.md misses a method,
// notification, command or error code declared here.
func TestReferenceInStep(t *testing.T) {
	b, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var names []string
	names = append(names, Methods...)
	names = append(names, Notifications...)
	names = append(names, Commands...)
	for _, n := range names {
		if !strings.Contains(doc, "`"+n+"`") {
			t.Errorf("docs/protocol.md does not document %s", n)
		}
	}
	for _, code := range []string{"-32001", "-32002", "-32003", "-32004", "-32005", "-32006", "-32007"} {
		if !strings.Contains(doc, code) {
			t.Errorf("docs/protocol.md does not document error %s", code)
		}
	}
}
