package agents

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A write the sandbox refuses fails in the agent with "Read-only file
// system". When the agent's hooks report the tool's response, studiod
// notes the refusal on the session: in the daemon's log and in the
// session's hooks log, whose last line `studiod show` prints.

const erofs = "Read-only file system"

// sandboxRefusal returns the line of a tool's response that says a write
// was refused for a read-only file system, "" when none does.
func sandboxRefusal(resp json.RawMessage) string {
	if !bytes.Contains(resp, []byte(erofs)) {
		return ""
	}
	var v any
	if json.Unmarshal(resp, &v) != nil {
		v = string(resp)
	}
	var found string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			for line := range strings.SplitSeq(x, "\n") {
				if found == "" && strings.Contains(line, erofs) {
					found = clip(strings.TrimSpace(line), 200)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return found
}

// noteRefusal records that the sandbox refused one of s's writes.
func (m *Manager) noteRefusal(s Session, line string) {
	m.log.Warn("the sandbox refused a write", "session", s.Name, "what", line)
	f, err := os.OpenFile(filepath.Join(s.Dir, "hooks.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s sandbox: refused a write: %s\n", time.Now().UTC().Format(time.RFC3339), line)
}
