package agents

import (
	"strings"
	"testing"
)

// TestSandboxStatusSaysWhyNot: without bwrap on PATH the sandbox is
// unavailable, and the reason says what to install.
func TestSandboxStatusSaysWhyNot(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	ok, why := SandboxStatus(t.Context())
	if ok || !strings.Contains(why, "apt-get install bubblewrap") {
		t.Fatalf("got %v %q, want unavailable, saying how to install it", ok, why)
	}
}

// TestOverlaySandbox: a repository's config widens the person's sandbox
// but cannot turn it off.
func TestOverlaySandbox(t *testing.T) {
	tests := []struct {
		name       string
		base, o    Sandbox
		wantMode   string
		wantWrites int
	}{
		{"repo turns it on", Sandbox{}, Sandbox{Mode: SandboxBwrap}, SandboxBwrap, 0},
		{"repo cannot turn it off", Sandbox{Mode: SandboxBwrap, Writable: []string{"~/.cache"}}, Sandbox{Mode: SandboxOff, Writable: []string{"~/.npm"}}, SandboxBwrap, 2},
		{"unset stays", Sandbox{Mode: SandboxOff}, Sandbox{}, SandboxOff, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := overlaySandbox(tt.base, tt.o)
			if got.Mode != tt.wantMode || len(got.Writable) != tt.wantWrites {
				t.Fatalf("got %+v, want mode %s and %d writable", got, tt.wantMode, tt.wantWrites)
			}
		})
	}
}

// TestSandboxRefusal finds the line of a tool's response that says the
// sandbox refused a write, in each agent's response shape.
func TestSandboxRefusal(t *testing.T) {
	tests := []struct{ name, resp, want string }{
		{"claude bash", `{"stdout":"tried","stderr":"x\n/bin/sh: 1: cannot create /r/a.txt: Read-only file system\n","interrupted":false}`, "/bin/sh: 1: cannot create /r/a.txt: Read-only file system"},
		{"plain string", `"EROFS: Read-only file system, open '/r/a.txt'"`, "EROFS: Read-only file system, open '/r/a.txt'"},
		{"nested", `{"llmContent":[{"text":"ok\nmkdir: cannot create directory '/h/x': Read-only file system"}]}`, "mkdir: cannot create directory '/h/x': Read-only file system"},
		{"none", `{"stdout":"fine"}`, ""},
		{"not json", `Read-only file system`, "Read-only file system"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sandboxRefusal([]byte(tt.resp)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
