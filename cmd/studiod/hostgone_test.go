package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/internal/sshtest"
	"github.com/studiod/studiod/protocol"
)

// TestHostGoneMidSpawn: the host goes away while a session is being made
// there (its setup command runs). The spawn fails with an error naming the
// host, and nothing half-made is left: no session, branch or worktree at
// home, and, once the host is back, nothing of the session on it either.
func TestHostGoneMidSpawn(t *testing.T) {
	t.Parallel()
	e := newHostEnv(t, sshtest.Options{}, map[string]string{"README.md": "hello\n"})
	e.writeConfig(fmt.Sprintf("[hosts.box]\nssh = %q\ndir = %q\nssh_command = %q\n\n[setup]\ncommands = [\"touch setup-started; sleep 600\"]\n",
		e.ssh.Alias, e.ssh.Dir, e.ssh.SSHCommand()))
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := e.cli("spawn", "--host", "box", "--name", "cut", "--", "sh", "-c", "exec cat")
		done <- result{out, err}
	}()
	e.w.Await(t, "the setup command running on the host", func() bool {
		go e.w.Notify()
		return e.onHost("ls "+e.ssh.Dir+"/worktrees/*/cut/setup-started 2>/dev/null || true") != ""
	})
	e.ssh.Stop()
	r := <-done
	if r.err == nil || !strings.Contains(r.out, "box") {
		t.Fatalf("spawn with the host gone: %v\n%s\nwant a failure naming the host", r.err, r.out)
	}
	t.Logf("spawn: %s", r.out)
	ss, err := e.c.Sessions(t.Context(), protocol.SessionsParams{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss.Sessions {
		if s.State.Live() {
			t.Errorf("a spawn cut by the host's loss left a live session: %+v", s)
		}
	}
	e.ssh.Restart()
	// Back, the host is cleaned of what the cut spawn made there (its
	// setup command included), and the next spawn on it works.
	e.writeConfig(fmt.Sprintf("[hosts.box]\nssh = %q\ndir = %q\nssh_command = %q\n", e.ssh.Alias, e.ssh.Dir, e.ssh.SSHCommand()))
	s := e.spawn("next", "sh", "-c", "echo ready; exec cat")
	e.follow(s.ID)
	e.awaitOutput(s.ID, "ready")
	e.w.Await(t, "nothing of the cut session on the host", func() bool {
		go e.w.Notify()
		return e.onHost("ls -d "+e.ssh.Dir+"/worktrees/*/cut 2>/dev/null || true") == "" &&
			!strings.Contains(e.onHost("ps -eo args"), "sleep 600")
	}, func() string {
		return e.onHost("cd "+e.ssh.Dir+" && find . -maxdepth 3 | sort") + "\n" + e.onHost("ps -eo pid,args")
	})
}

// TestHostLand: sessions on a host land as a queue at home, each checked
// as it lands, as local ones do.
func TestHostLand(t *testing.T) {
	t.Parallel()
	e := newHostEnv(t, sshtest.Options{}, map[string]string{"a.txt": "a\n", "b.txt": "b\n"})
	one := e.spawn("one", "sh", "-c", "echo one > a.txt; echo wrote; exec cat")
	two := e.spawn("two", "sh", "-c", "echo two > b.txt; echo wrote; exec cat")
	for _, s := range []*protocol.Session{one, two} {
		e.follow(s.ID)
		e.awaitOutput(s.ID, "wrote")
		id := s.ID
		e.w.Await(t, s.Name+"'s change at home", func() bool {
			got, _ := e.w.Session(id)
			return got.Changes.Files == 1
		})
	}
	r, err := e.c.Land(t.Context(), protocol.LandParams{Repo: e.repo, Sessions: []string{"one", "two"}, Force: true,
		Check: true, CheckCommand: "! grep -qx broken a.txt"})
	if err != nil {
		t.Fatalf("land: %v", err)
	}
	if r.Status != protocol.LandDone || len(r.Landed) != 2 || r.Stopped != nil {
		t.Fatalf("land: %s, want both landed", jsonString(r))
	}
	for path, want := range map[string]string{"a.txt": "one", "b.txt": "two"} {
		if got := gittest.Git(t, e.repo, "show", "main:"+path); got != want {
			t.Errorf("main:%s after the land = %q, want %q", path, got, want)
		}
	}
	for _, s := range []*protocol.Session{one, two} {
		e.w.AwaitState(t, s.ID, protocol.StateMerged)
	}
}
