package protocol

import (
	"os"
	"strconv"
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
	for _, c := range []int{CodeNotFound, CodeInvalid, CodeMergeConflict, CodeTargetDirty, CodeUntrusted, CodeBusy, CodeGit, CodeUnreviewed, CodeRequestCancelled} {
		if code := strconv.Itoa(c); !strings.Contains(doc, code) {
			t.Errorf("docs/protocol.md does not document error %s", code)
		}
	}
}
