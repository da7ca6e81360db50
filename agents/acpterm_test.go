package agents

import (
	"os"
	"strings"
	"sync"
	"testing"

	acp "github.com/coder/acp-go-sdk"
)

func TestOutputTail(t *testing.T) {
	tests := []struct {
		name, in string
		limit    int
		want     string
	}{
		{"under the limit", "abc", 10, "abc"},
		{"at the limit", "abc", 3, "abc"},
		{"ascii cut", "abcdef", 4, "cdef"},
		{"cut inside a character", "ééx", 4, "éx"},
		{"cut inside a 4-byte character", "a😀bc", 4, "bc"},
		{"cut at a character", "aéx", 3, "éx"},
		{"nothing kept", "abc", 0, ""},
		{"not text", "\xff\xfe\x80\x80\x80\x80z", 5, "\x80z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(outputTail([]byte(tt.in), tt.limit)); got != tt.want {
				t.Errorf("outputTail(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
			}
		})
	}
}

// TestTerminalsConcurrently: terminals are read, killed and released from
// many goroutines at once while their commands write; closing the
// connection ends those left.
func TestTerminalsConcurrently(t *testing.T) {
	var ts acpTerminals
	dir := t.TempDir()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			line := "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done"
			if i%2 == 1 {
				line = "echo ready; exec sleep 600"
			}
			id, err := ts.start("sess", "acp", []string{"/bin/sh", "-c", line}, os.Environ(), dir, 64)
			if err != nil {
				t.Error(err)
				return
			}
			tm, err := ts.get("acp", id)
			if err != nil {
				t.Error(err)
				return
			}
			for range 20 {
				tm.output()
			}
			if i%2 == 1 {
				if err := tm.kill(t.Context()); err != nil {
					t.Error(err)
				}
				if st := tm.output().ExitStatus; st == nil || st.Signal == nil || *st.Signal != "SIGKILL" {
					t.Errorf("after kill: exit status %+v, want signal SIGKILL", st)
				}
			} else {
				<-tm.exited
				out := tm.output()
				if !out.Truncated || !strings.HasSuffix(out.Output, "line 199\n") || len(out.Output) > 64 {
					t.Errorf("output %+v: want the last 64 bytes, truncated", out)
				}
			}
			if i%4 < 2 {
				if err := ts.release(t.Context(), "acp", id); err != nil {
					t.Error(err)
				}
				if _, err := ts.get("acp", id); err == nil {
					t.Errorf("terminal %s still known after its release", id)
				}
			}
		})
	}
	wg.Wait()
	if _, err := ts.get(acp.SessionId("other"), "term-0"); err == nil {
		t.Error("an unknown terminal was found")
	}
	ts.closeAll("sess")
	if _, err := ts.start("sess", "acp", []string{"/bin/true"}, nil, dir, 64); err == nil {
		t.Error("a terminal started after the connection closed")
	}
}
