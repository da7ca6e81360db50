package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/studiod/studiod/agents/shim"
	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/internal/sshtest"
	"github.com/studiod/studiod/internal/studiotest"
	"github.com/studiod/studiod/protocol"
)

// hostEnv is a daemon with a host "box" in its config: a real sshd on
// loopback, logging in as another local user, reached only over ssh.
type hostEnv struct {
	t    *testing.T
	ssh  *sshtest.Server
	home string
	repo string
	d    *daemon
	c    *protocol.Client
	w    *studiotest.Watch
}

func newHostEnv(t *testing.T, opts sshtest.Options, files map[string]string) *hostEnv {
	t.Helper()
	// sshd first: its cleanup runs last, after the daemon's has stopped
	// the sessions on it.
	e := &hostEnv{t: t, ssh: sshtest.Start(t, opts)}
	e.home = newHome(t)
	e.writeConfig(fmt.Sprintf("[hosts.box]\nssh = %q\ndir = %q\nssh_command = %q\n\n[hosts.refused]\nssh = \"refused\"\nssh_command = %q\n",
		e.ssh.Alias, e.ssh.Dir, e.ssh.SSHCommand(), e.ssh.SSHCommand()))
	e.repo = gittest.NewRepo(t, files)
	e.d = startDaemon(t, e.home)
	e.c, e.w = e.d.watch()
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(e.home, "*", "studiod.log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				t.Logf("%s:\n%s", l, b)
			}
			t.Logf("sshd:\n%s", e.ssh.Log())
		}
	})
	return e
}

func (e *hostEnv) writeConfig(conf string) {
	e.t.Helper()
	if err := os.MkdirAll(filepath.Join(e.home, "config"), 0o700); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.home, "config", "config.toml"), []byte(conf), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// onHost runs a shell command on the host as its user (not over ssh), to
// look at what the host holds.
func (e *hostEnv) onHost(script string) string {
	e.t.Helper()
	out, err := e.ssh.AsUser("sh", "-c", script)
	if err != nil {
		e.t.Fatalf("on the host: %s: %v: %s", script, err, out)
	}
	return out
}

func (e *hostEnv) spawn(name string, argv ...string) *protocol.Session {
	e.t.Helper()
	s, err := e.c.Spawn(e.t.Context(), protocol.SpawnParams{Repo: e.repo, Name: name, Host: "box", Command: argv})
	if err != nil {
		e.t.Fatalf("spawn on host box: %v\nsshd: %s", err, e.ssh.Log())
	}
	return s
}

// A session on a host: studiod installs itself there over ssh, the base
// travels by git, the agent runs under a shim there; its output, input and
// work reach home; rm leaves nothing on the host.
func TestHostSession(t *testing.T) {
	t.Parallel()
	e := newHostEnv(t, sshtest.Options{}, map[string]string{"a.txt": "one\n", "c.txt": "gone\n", "x/run.sh": "#!/bin/sh\n"})
	c := e.c

	hs, err := c.Hosts(t.Context(), protocol.HostsParams{Host: "box"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hs.Hosts) != 1 || !hs.Hosts[0].Reachable || hs.Hosts[0].Git == "" || hs.Hosts[0].Error != "" {
		t.Fatalf("hosts: %+v", hs.Hosts)
	}

	s := e.spawn("remote", "sh", "-c", `echo two >> a.txt; echo new > b.txt; rm c.txt; mkdir -p d/e; echo deep > d/e/f.txt; chmod +x x/run.sh; echo "on $(id -un)"; while read l; do echo "got $l"; done`)
	if s.Host != "box" {
		t.Errorf("session host %q, want box", s.Host)
	}
	// The agent runs as the host's user, in the host's worktree.
	e.follow(s.ID)
	e.awaitOutput(s.ID, "on "+sshtest.User)
	wt := e.onHost("ls -d " + e.ssh.Dir + "/worktrees/*/remote")
	if e.onHost("cat "+wt+"/a.txt") != "one\ntwo" {
		t.Errorf("host worktree a.txt: %q", e.onHost("cat "+wt+"/a.txt"))
	}
	// Its work comes home as git objects: the diff at home shows it.
	e.w.Await(t, "the host's changes at home", func() bool {
		d, err := c.Diff(t.Context(), protocol.DiffParams{SessionRef: protocol.SessionRef{Session: s.ID}})
		return err == nil && len(d.Files) == 5
	})
	// The mirror at home holds the host's files.
	for name, want := range map[string]string{"a.txt": "one\ntwo\n", "b.txt": "new\n", "d/e/f.txt": "deep\n"} {
		if b, err := os.ReadFile(filepath.Join(s.Worktree, name)); err != nil || string(b) != want {
			t.Errorf("%s at home: %q, %v; want %q", name, b, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Worktree, "c.txt")); err == nil {
		t.Error("c.txt, deleted on the host, is still at home")
	}
	if fi, err := os.Stat(filepath.Join(s.Worktree, "x/run.sh")); err != nil || fi.Mode()&0o100 == 0 {
		t.Errorf("x/run.sh made executable on the host: %v, %v at home", fi, err)
	}

	if _, err := c.Send(t.Context(), protocol.SendParams{SessionRef: protocol.SessionRef{Session: s.ID}, Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	e.awaitOutput(s.ID, "got hello")

	// studiod attach speaks to the shim's socket: the session's socket at
	// home carries it to the host's.
	cur, err := c.Session(t.Context(), protocol.SessionRef{Session: s.ID})
	if err != nil {
		t.Fatal(err)
	}
	if cur.Socket == "" {
		t.Fatal("a session on a host has no socket to attach to")
	}
	st, err := shim.Attach(t.Context(), cur.Socket, 0)
	if err != nil {
		t.Fatalf("attach through the socket at home: %v", err)
	}
	if _, err := st.Write([]byte("typed\r")); err != nil {
		t.Fatal(err)
	}
	var seen []byte
	buf := make([]byte, 4096)
	for !strings.Contains(string(seen), "got typed") {
		n, err := st.Read(buf)
		seen = append(seen, buf[:n]...)
		if err != nil {
			t.Fatalf("attached stream: %v after %q", err, seen)
		}
	}
	st.Close()

	if logs, err := e.cli("logs", "remote"); err != nil || !strings.Contains(logs, "got typed") {
		t.Errorf("studiod logs of a session on a host: %v:\n%s", err, logs)
	}

	ls, err := e.cli("ls")
	if err != nil {
		t.Fatalf("ls: %v: %s", err, ls)
	}
	if !strings.Contains(ls, "HOST") || !strings.Contains(ls, "box") {
		t.Errorf("ls does not show the host:\n%s", ls)
	}

	if _, err := c.Remove(t.Context(), protocol.RemoveParams{SessionRef: protocol.SessionRef{Session: s.ID}, Force: true}); err != nil {
		t.Fatal(err)
	}
	if left := e.onHost("cd " + e.ssh.Dir + " && find worktrees state run -mindepth 1 -not -name shims -not -name sessions -not -name 'home-*.sock'"); left != "" {
		t.Errorf("rm left on the host:\n%s", left)
	}
	if ps := e.ssh.Processes(); len(ps) > 0 {
		t.Errorf("rm left processes on the host: %v", ps)
	}
	if b := e.onHost("git -C " + e.ssh.Dir + "/repos/*.git branch --list"); b != "" {
		t.Errorf("rm left branches on the host: %q", b)
	}
}

// awaitOutput waits until the session's output holds want.
func (e *hostEnv) awaitOutput(id, want string) {
	e.t.Helper()
	e.w.Await(e.t, "output "+want, func() bool {
		out, _ := e.w.Output(id)
		return strings.Contains(string(out), want)
	}, func() string {
		out, _ := e.w.Output(id)
		return "output so far: " + string(out)
	})
}

// follow subscribes to the session's output from its start.
func (e *hostEnv) follow(id string) {
	e.t.Helper()
	if _, err := e.c.Subscribe(e.t.Context(), protocol.SubscribeParams{Sessions: true, Conflicts: true,
		Output: []protocol.OutputSubscription{{Session: id}}}); err != nil {
		e.t.Fatal(err)
	}
}

// cli runs the studiod CLI against the env's daemon.
func (e *hostEnv) cli(args ...string) (string, error) {
	cmd := exec.Command("studiod", args...)
	cmd.Env = append(os.Environ(), "STUDIOD_HOME="+e.home)
	cmd.Dir = e.repo
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// A session on a host and one on this machine that change the same lines
// conflict, predicted as between two local sessions; the host's session
// merges at home like any other.
func TestHostConflictAndMerge(t *testing.T) {
	t.Parallel()
	e := newHostEnv(t, sshtest.Options{}, map[string]string{"a.txt": "one\ntwo\nthree\n", "b.txt": "b\n"})
	c := e.c
	local, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: e.repo, Name: "here",
		Command: agentWriting(t, map[string]string{"a.txt": "one\nhere\nthree\n"})})
	if err != nil {
		t.Fatal(err)
	}
	remote := e.spawn("there", "sh", "-c", `printf 'one\nthere\nthree\n' > a.txt; echo more >> b.txt; echo done; exec cat`)
	cf := e.w.AwaitConflict(t, "a conflict between the local and the remote session", func(cf protocol.Conflict) bool {
		names := []string{cf.A.Session, cf.B.Session}
		return cf.Path == "a.txt" && cf.Severity == protocol.SeverityConflict && slices.Contains(names, "here") && slices.Contains(names, "there")
	})
	for _, side := range []protocol.Side{cf.A, cf.B} {
		if len(side.Ranges) == 0 || side.Ranges[0].Start != 2 {
			t.Errorf("side %s: ranges %+v, want line 2", side.Session, side.Ranges)
		}
	}

	// The local session goes; the remote one merges at home.
	if _, err := c.Remove(t.Context(), protocol.RemoveParams{SessionRef: protocol.SessionRef{Session: local.ID}, Force: true}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Merge(t.Context(), protocol.MergeParams{SessionRef: protocol.SessionRef{Session: remote.ID}, Force: true, Cleanup: true})
	if err != nil {
		t.Fatalf("merge the host's session: %v", err)
	}
	_ = res
	if got := gittest.Git(t, e.repo, "show", "main:a.txt"); got != "one\nthere\nthree" {
		t.Errorf("main:a.txt after merge = %q", got)
	}
	if got := gittest.Git(t, e.repo, "show", "main:b.txt"); got != "b\nmore" {
		t.Errorf("main:b.txt after merge = %q", got)
	}
	e.w.AwaitState(t, remote.ID, protocol.StateMerged)
	if ps := e.ssh.Processes(); len(ps) > 0 {
		t.Errorf("merge with cleanup left processes on the host: %v", ps)
	}
	if left := e.onHost("cd " + e.ssh.Dir + " && find worktrees state run -mindepth 1 -not -name shims -not -name sessions -not -name 'home-*.sock'"); left != "" {
		t.Errorf("merge with cleanup left on the host:\n%s", left)
	}
}

// The connection to the host dies mid-turn: the agent runs on there, the
// session shows disconnected, and reattaches when ssh works again.
func TestHostDisconnect(t *testing.T) {
	t.Parallel()
	e := newHostEnv(t, sshtest.Options{}, nil)
	s := e.spawn("ticks", "sh", "-c", `i=0; while :; do i=$((i+1)); echo "tick $i"; echo "tick $i" > ticks.txt; sleep 0.2; done`)
	e.follow(s.ID)
	e.awaitOutput(s.ID, "tick 2")

	e.ssh.Stop()
	d := e.w.AwaitState(t, s.ID, protocol.StateDisconnected)
	if !strings.Contains(d.Detail, "box") {
		t.Errorf("disconnected detail %q does not name the host", d.Detail)
	}
	// The agent keeps running on the host: its file keeps changing.
	first := e.onHost("cat " + e.ssh.Dir + "/worktrees/*/ticks/ticks.txt")
	e.w.Await(t, "the agent writing on while disconnected", func() bool {
		go e.w.Notify()
		return e.onHost("cat "+e.ssh.Dir+"/worktrees/*/ticks/ticks.txt") != first
	})

	e.ssh.Restart()
	e.w.AwaitState(t, s.ID, protocol.StateWorking, protocol.StateIdle)
	// Output written while disconnected arrives too, and more after it.
	n := strings.TrimPrefix(e.onHost("cat "+e.ssh.Dir+"/worktrees/*/ticks/ticks.txt"), "tick ")
	e.awaitOutput(s.ID, fmt.Sprintf("tick %d", atoi(t, n)+2))
	for _, st := range e.w.States(s.ID) {
		if st == protocol.StateFailed || st == protocol.StateExited {
			t.Errorf("states %v: the session ended on a dropped connection", e.w.States(s.ID))
		}
	}

	// stop ends the agent and its shim on the host.
	if _, err := e.c.Stop(t.Context(), protocol.StopParams{SessionRef: protocol.SessionRef{Session: s.ID}}); err != nil {
		t.Fatal(err)
	}
	e.w.AwaitState(t, s.ID, protocol.StateStopped)
	for _, pid := range e.ssh.Processes() {
		if cl := sshtest.Cmdline(pid); strings.Contains(cl, " shim ") || strings.Contains(cl, "tick") {
			t.Errorf("stop left running on the host: %s", cl)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// fakeBin makes a directory the host's user can read, holding links to
// the tools named and scripts given by name.
func fakeBin(t *testing.T, links []string, scripts map[string]string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sshbin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	for _, l := range links {
		p, err := exec.LookPath(l)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(dir, l)); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// nothingMade checks that a refused spawn left nothing: no session, no
// branch or worktree at home, no repository, worktree or session on the
// host.
func (e *hostEnv) nothingMade() {
	e.t.Helper()
	ss, err := e.c.Sessions(e.t.Context(), protocol.SessionsParams{All: true})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(ss.Sessions) > 0 {
		e.t.Errorf("a refused spawn left a session: %+v", ss.Sessions[0])
	}
	if b := gittest.Git(e.t, e.repo, "branch", "--list"); b != "* main" {
		e.t.Errorf("a refused spawn left branches: %q", b)
	}
	if wt := gittest.Git(e.t, e.repo, "worktree", "list", "--porcelain"); strings.Count(wt, "worktree ") != 1 {
		e.t.Errorf("a refused spawn left worktrees:\n%s", wt)
	}
	// bin and run are studiod's own there (its binary, the sockets of the
	// connection and of the shims), not the session's.
	if left := e.onHost("cd " + e.ssh.Dir + " && ls -A | grep -v '^bin$' | grep -v '^run$' || true"); left != "" {
		e.t.Errorf("a refused spawn left on the host: %s", left)
	}
}

// Bad hosts: each refused with an error that says what to do, nothing
// made on either side.
func TestHostBadInput(t *testing.T) {
	t.Parallel()
	e := newHostEnv(t, sshtest.Options{}, nil)
	spawn := func(host string) error {
		_, err := e.c.Spawn(t.Context(), protocol.SpawnParams{Repo: e.repo, Name: "x", Host: host, Command: []string{"true"}})
		return err
	}
	for _, tc := range []struct{ host, want string }{
		{"nope", `no host "nope" (configured: box, refused): add [hosts.nope]`},
		{"refused", "host refused unreachable: "},
	} {
		err := spawn(tc.host)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("spawn --host %s: %v, want an error with %q", tc.host, err, tc.want)
		}
		e.nothingMade()
	}
	if err := spawn("refused"); err == nil || !strings.Contains(err.Error(), "Permission denied") {
		t.Errorf("refused key: %v, want ssh's own reason", err)
	}
	out, err := e.cli("hosts")
	if err != nil {
		t.Fatalf("hosts: %v: %s", err, out)
	}
	t.Logf("studiod hosts:\n%s", out)
	if !strings.Contains(out, "refused") || !strings.Contains(out, "Permission denied") {
		t.Errorf("hosts does not say why refused is out of reach:\n%s", out)
	}
	out, err = e.cli("hosts", "--json")
	var res protocol.HostsResult
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || len(res.Hosts) != 2 || !res.Hosts[0].Reachable || res.Hosts[1].Reachable {
		t.Errorf("hosts --json: %v: %s", err, out)
	}
	out, err = e.cli("spawn", "--host", "nope", "--name", "y", "--", "true")
	if err == nil || !strings.Contains(out, "no host \"nope\"") {
		t.Errorf("studiod spawn --host nope: %v: %s", err, out)
	}

	// Hosts are the person's: a repository cannot name one.
	gittest.Write(t, e.repo, map[string]string{".studio.toml": "[hosts.evil]\nssh = \"evil\"\n"})
	if err := spawn("box"); err == nil || !strings.Contains(err.Error(), "[hosts] belongs in your own config.toml") {
		t.Errorf("a repository naming hosts: %v", err)
	}
	os.Remove(filepath.Join(e.repo, ".studio.toml"))
	e.nothingMade()
	// A host without a destination, or with a relative dir.
	for conf, want := range map[string]string{
		"[hosts.box]\ndir = \"~/x\"\n":              "ssh must name the destination",
		"[hosts.box]\nssh = \"-oProxyCommand=x\"\n": "ssh must name the destination",
		"[hosts.box]\nssh = \"box\"\ndir = \"x\"\n": "must be absolute or start with ~/",
	} {
		e.writeConfig(conf)
		if err := spawn("box"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: %v, want %q", conf, err, want)
		}
		e.nothingMade()
	}
}

// A host without git refuses sessions and says so.
func TestHostWithoutGit(t *testing.T) {
	t.Parallel()
	bin := fakeBin(t, []string{"sh", "uname", "mkdir", "cat", "chmod", "mv", "ls"}, nil)
	e := newHostEnv(t, sshtest.Options{Path: bin}, nil)
	_, err := e.c.Spawn(t.Context(), protocol.SpawnParams{Repo: e.repo, Name: "x", Host: "box", Command: []string{"true"}})
	if err == nil || !strings.Contains(err.Error(), "host box has no usable git") {
		t.Errorf("spawn on a host without git: %v", err)
	}
	e.nothingMade()
	hs, err := e.c.Hosts(t.Context(), protocol.HostsParams{Host: "box"})
	if err != nil {
		t.Fatal(err)
	}
	if h := hs.Hosts[0]; !h.Reachable || h.Git != "" || !strings.Contains(h.Error, "no usable git") {
		t.Errorf("hosts: %+v", h)
	}
}

// A host of another architecture, and a studiod there that is not this
// build: the first is refused with what to do, the second replaced.
func TestHostVersions(t *testing.T) {
	t.Parallel()
	t.Run("other machine", func(t *testing.T) {
		bin := fakeBin(t, nil, map[string]string{"uname": "echo Linux riscv64\n"})
		e := newHostEnv(t, sshtest.Options{Path: bin + ":/usr/bin:/bin"}, nil)
		_, err := e.c.Spawn(t.Context(), protocol.SpawnParams{Repo: e.repo, Name: "x", Host: "box", Command: []string{"true"}})
		if err == nil || !strings.Contains(err.Error(), "host box runs Linux riscv64 (linux/riscv64); this studiod is built for linux/") {
			t.Errorf("spawn on another architecture: %v", err)
		}
		e.nothingMade()
	})
	t.Run("other build", func(t *testing.T) {
		e := newHostEnv(t, sshtest.Options{}, nil)
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		build := fileBuild(t, self)
		// What an older studiod left there.
		e.onHost(fmt.Sprintf(`mkdir -p %[1]s/bin/%[2]s && printf '#!/bin/sh\necho "{\\"protocol\\":1,\\"build\\":\\"0123\\",\\"dir\\":\\"%[1]s\\",\\"git\\":\\"2.39\\"}"\n' > %[1]s/bin/%[2]s/studiod && chmod 700 %[1]s/bin/%[2]s/studiod`, e.ssh.Dir, build))
		s := e.spawn("x", "sh", "-c", "echo ran; exec cat")
		e.follow(s.ID)
		e.awaitOutput(s.ID, "ran")
		if got := e.onHost("sha256sum " + e.ssh.Dir + "/bin/" + build + "/studiod | cut -c1-16"); got != build {
			t.Errorf("studiod on the host is %s, want this build %s", got, build)
		}
	})
}

func fileBuild(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("sha256sum", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out[:16])
}

// The shim on the host is killed: the session fails with why, and nothing
// of it runs on there.
func TestHostShimKilled(t *testing.T) {
	t.Parallel()
	e := newHostEnv(t, sshtest.Options{}, nil)
	s := e.spawn("victim", "sh", "-c", "echo up; exec sleep 12345")
	e.follow(s.ID)
	e.awaitOutput(s.ID, "up")
	killed := false
	for _, pid := range e.ssh.Processes() {
		if strings.Contains(sshtest.Cmdline(pid), " shim ") {
			syscall.Kill(pid, syscall.SIGKILL)
			killed = true
		}
	}
	if !killed {
		t.Fatal("no shim runs on the host")
	}
	f := e.w.AwaitState(t, s.ID, protocol.StateFailed)
	if !strings.Contains(f.Detail, "agent lost") {
		t.Errorf("detail %q", f.Detail)
	}
	for _, pid := range e.ssh.Processes() {
		if strings.Contains(sshtest.Cmdline(pid), "sleep 12345") {
			t.Errorf("the agent runs on after its shim was killed: %d", pid)
		}
	}
}

// The daemon restarts while the host is out of reach: its session shows
// disconnected, then reattaches when the host answers.
func TestHostDaemonRestart(t *testing.T) {
	t.Parallel()
	e := newHostEnv(t, sshtest.Options{}, nil)
	s := e.spawn("ticks", "sh", "-c", `i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done`)
	e.follow(s.ID)
	e.awaitOutput(s.ID, "tick 2")
	e.d.kill9()
	e.ssh.Stop()
	e.d = startDaemon(t, e.home)
	e.c, e.w = e.d.watch()
	e.w.AwaitState(t, s.ID, protocol.StateDisconnected)
	e.ssh.Restart()
	e.w.AwaitState(t, s.ID, protocol.StateWorking, protocol.StateIdle)
	e.follow(s.ID)
	e.awaitOutput(s.ID, "tick 30")
}

// An agent on a host asks a question (its profile's waiting pattern, read
// from its screen over ssh): the session waits, and the answer reaches it.
func TestHostAnswer(t *testing.T) {
	t.Parallel()
	e := newHostEnv(t, sshtest.Options{}, nil)
	conf, err := os.ReadFile(filepath.Join(e.home, "config", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	e.writeConfig(string(conf) + `
[agents.asker]
command = ["sh", "-c", "printf 'Deploy to staging? ' && read a && echo \"answered $a\" && exec cat"]
waiting = ["Deploy to staging\\?"]
`)
	s, err := e.c.Spawn(t.Context(), protocol.SpawnParams{Repo: e.repo, Name: "asker", Agent: "asker", Host: "box"})
	if err != nil {
		t.Fatal(err)
	}
	e.follow(s.ID)
	w := e.w.AwaitState(t, s.ID, protocol.StateWaiting)
	if w.Waiting == nil || !strings.Contains(w.Waiting.Question, "Deploy to staging?") {
		t.Errorf("waiting: %+v", w.Waiting)
	}
	if _, err := e.c.Answer(t.Context(), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: s.ID}, Text: "yes"}); err != nil {
		t.Fatal(err)
	}
	e.awaitOutput(s.ID, "answered yes")
}

// Many sessions on one host: more streams than one ssh connection carries
// (sshd's MaxSessions, 10 by default), each session still followed.
func TestHostManySessions(t *testing.T) {
	t.Parallel()
	e := newHostEnv(t, sshtest.Options{}, nil)
	var ids []string
	for i := range 7 {
		s := e.spawn(fmt.Sprintf("s%d", i), "sh", "-c", fmt.Sprintf("echo hello %d > f%d.txt; echo started %d; exec cat", i, i, i))
		e.follow(s.ID)
		ids = append(ids, s.ID)
	}
	for i, id := range ids {
		e.awaitOutput(id, fmt.Sprintf("started %d", i))
		e.w.Await(t, fmt.Sprintf("session %d's file at home", i), func() bool {
			d, err := e.c.Diff(t.Context(), protocol.DiffParams{SessionRef: protocol.SessionRef{Session: id}})
			return err == nil && len(d.Files) == 1
		})
	}
	for _, id := range ids {
		if slices.Contains(e.w.States(id), protocol.StateDisconnected) {
			t.Errorf("session %s went disconnected with its host up: %v", id, e.w.States(id))
		}
	}
}
