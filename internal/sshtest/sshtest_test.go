package sshtest

import (
	"os/exec"
	"strings"
	"testing"
)

// The server lets the client key in as the test user, refuses another key,
// and drops its connections when stopped.
func TestServer(t *testing.T) {
	s := Start(t, Options{})
	ssh := func(host string, argv ...string) (string, error) {
		out, err := exec.Command("ssh", append([]string{"-F", s.Config, host, "--"}, argv...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	out, err := ssh(s.Alias, "id", "-un")
	if err != nil || out != User {
		t.Fatalf("ssh box id -un: %q, %v; want %q\n%s", out, err, User, s.Log())
	}
	if out, err := ssh(s.Alias, "cat", "/root/.profile"); err == nil {
		t.Errorf("the test user reads root's files: %q", out)
	}
	if out, err := ssh("refused", "true"); err == nil || !strings.Contains(out, "Permission denied") {
		t.Errorf("refused key: %q, %v; want Permission denied", out, err)
	}
	s.Stop()
	if _, err := ssh(s.Alias, "true"); err == nil {
		t.Error("ssh works with sshd stopped")
	}
	s.Restart()
	if out, err := ssh(s.Alias, "echo", "back"); err != nil || out != "back" {
		t.Errorf("after restart: %q, %v", out, err)
	}
}

// A host with a PATH of its own: no git there.
func TestServerPath(t *testing.T) {
	s := Start(t, Options{Path: "/nonexistent"})
	out, err := exec.Command("ssh", "-F", s.Config, s.Alias, "--", "git", "--version").CombinedOutput()
	if err == nil {
		t.Fatalf("git runs on a host without it on PATH: %s", out)
	}
}
