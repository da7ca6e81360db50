package agents

import (
	"os"
	"path/filepath"
	"slices"
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

// TestLinkedFrom: programs on a PATH under the private /tmp that link
// elsewhere under it bring what they link to: an npm package tree whole,
// any other link its target's directory; links out of /tmp, and within
// the directory itself, bring nothing.
func TestLinkedFrom(t *testing.T) {
	tmp := t.TempDir()
	mk := func(p string) string {
		p = filepath.Join(tmp, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	link := func(target, name string) {
		os.MkdirAll(filepath.Join(tmp, filepath.Dir(name)), 0o755)
		if err := os.Symlink(target, filepath.Join(tmp, name)); err != nil {
			t.Fatal(err)
		}
	}
	mk("proj/node_modules/@scope/tool/bin/tool.js")
	mk("opt/lib/x")
	mk("opt/bin/plain")
	link("../@scope/tool/bin/tool.js", "proj/node_modules/.bin/tool")
	link("../lib/x", "opt/bin/x")
	link("plain", "opt/bin/same")
	link("/bin/sh", "opt/bin/sh")
	got := linkedFrom([]string{filepath.Join(tmp, "proj/node_modules/.bin"), filepath.Join(tmp, "opt/bin"), "/usr/bin"}, tmp)
	want := []string{filepath.Join(tmp, "proj/node_modules"), filepath.Join(tmp, "opt/lib")}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
