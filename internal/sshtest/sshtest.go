// Package sshtest runs Debian's OpenSSH server on a loopback port for tests:
// its own host key, a client key in an authorized_keys file, and a second
// local user that stands in for another machine (its own home, no access to
// the files of the user running the tests). Tests reach it through a private
// ssh_config that names it by a Host alias, as a person's ~/.ssh/config would.
//
// Tests run as root (useradd, and sshd needs root to switch users); the
// user is made once and kept, each Server gets a fresh directory in its home.
package sshtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// User is the local account the tests log in as over ssh.
const User = "studiod-sshtest"

// Sshd is Debian's OpenSSH server.
const Sshd = "/usr/sbin/sshd"

// Server is a running sshd and what a client needs to reach it.
type Server struct {
	// Alias is the Host the ssh_config names the server by.
	Alias string
	// Config is the client's ssh_config: pass it with `ssh -F`.
	Config string
	// Key is the client's private key; BadKey one the server refuses.
	Key, BadKey string
	// Port is the server's loopback port.
	Port int
	// Home is the test user's home; Dir a fresh directory in it for this
	// server's test (owned by the user).
	Home, Dir string
	// UID and GID are the test user's.
	UID, GID int

	t       testing.TB
	dir     string // the server's own files (root's)
	conf    string // sshd_config
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	pathEnv string
}

// Options change the host the server stands for.
type Options struct {
	// Path, when set, is the PATH of the user's sessions (sshd's SetEnv):
	// a host without git, or with a uname of another machine.
	Path string
	// NoForwarding makes sshd refuse every forward, as a locked-down
	// server does.
	NoForwarding bool
}

// Start starts sshd for the test and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if os.Getuid() != 0 {
		t.Fatal("sshtest: the ssh tests run as root (they add a local user and run sshd)")
	}
	if _, err := os.Stat(Sshd); err != nil {
		t.Fatalf("sshtest: %s is missing: apt-get install openssh-server", Sshd)
	}
	u := ensureUser(t)
	s := &Server{Alias: "box", t: t, Home: u.HomeDir, pathEnv: opts.Path}
	s.UID, _ = strconv.Atoi(u.Uid)
	s.GID, _ = strconv.Atoi(u.Gid)

	// sshd reads authorized_keys as the user: its directory must be one
	// the user can reach, unlike the test's own temporary directories.
	dir, err := os.MkdirTemp("", "sshtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s.dir = dir
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // privilege separation
		t.Fatal(err)
	}
	hostKey := filepath.Join(dir, "host_key")
	s.Key = filepath.Join(dir, "client_key")
	s.BadKey = filepath.Join(dir, "refused_key")
	for _, k := range []string{hostKey, s.Key, s.BadKey} {
		run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sshtest", "-f", k)
	}
	pub, err := os.ReadFile(s.Key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	authKeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authKeys, pub, 0o644); err != nil {
		t.Fatal(err)
	}

	// A fresh directory of the user's for this test.
	s.Dir, err = os.MkdirTemp(u.HomeDir, "t-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chown(s.Dir, s.UID, s.GID)
	t.Cleanup(func() {
		// What a test left running on the "host" goes with its directory.
		for _, pid := range s.Processes() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		os.RemoveAll(s.Dir)
	})

	s.Port = freePort(t)
	s.conf = filepath.Join(dir, "sshd_config")
	conf := fmt.Sprintf(`ListenAddress 127.0.0.1
Port %d
HostKey %s
PidFile none
AuthorizedKeysFile %s
AllowUsers %s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin no
X11Forwarding no
LogLevel VERBOSE
`, s.Port, hostKey, authKeys, User)
	if opts.NoForwarding {
		// sshd denies remote unix-socket forwards along with TCP ones.
		conf += "AllowTcpForwarding no\nAllowStreamLocalForwarding no\n"
	}
	if opts.Path != "" {
		conf += "SetEnv PATH=" + opts.Path + "\n"
	}
	if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}

	hostPub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(hostPub))
	known := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(known, fmt.Appendf(nil, "[127.0.0.1]:%d %s %s\n", s.Port, fields[0], fields[1]), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Config = filepath.Join(dir, "ssh_config")
	client := ""
	for _, h := range []struct{ alias, key string }{{s.Alias, s.Key}, {"refused", s.BadKey}} {
		client += fmt.Sprintf(`Host %s
  HostName 127.0.0.1
  Port %d
  User %s
  IdentityFile %s
  IdentitiesOnly yes
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 10
`, h.alias, s.Port, User, h.key, known)
	}
	if err := os.WriteFile(s.Config, []byte(client), 0o644); err != nil {
		t.Fatal(err)
	}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// SSHCommand is the ssh command line that reaches the server
// (config.toml's ssh_command).
func (s *Server) SSHCommand() string { return "ssh -F " + s.Config }

// start runs sshd and waits until it accepts connections.
func (s *Server) start() {
	t := s.t
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	// -D: stay in the foreground (ours to stop); -e: log to stderr.
	cmd := exec.Command(Sshd, "-D", "-e", "-f", s.conf)
	// A file, not a pipe: the connections' processes hold it too, and a
	// pipe would keep Wait waiting for them.
	logf, err := os.OpenFile(filepath.Join(s.dir, "sshd.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stderr = logf
	// A test binary that dies (a panic, a timeout) takes its sshd along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	for {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)))
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("sshd exited: %s", s.logText())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Stop stops sshd and ends every connection it serves: ssh clients see
// their connections drop. Processes a session started in a session of its
// own (setsid) keep running, as on a real host.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	// Each connection is an sshd process of its own, left running when the
	// listener goes: end those too.
	conns := sshdChildren(cmd.Process.Pid)
	cmd.Process.Kill()
	for _, pid := range conns {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	<-exited
}

// Restart starts sshd again after Stop, on the same port and keys.
func (s *Server) Restart() { s.start() }

// Log is what sshd logged so far.
func (s *Server) Log() string { return s.logText() }

func (s *Server) logText() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "sshd.log"))
	return string(b)
}

// AsUser runs argv as the test user on the "host" (directly, not over
// ssh): for tests to look at what the host holds.
func (s *Server) AsUser(argv ...string) (string, error) {
	args := append([]string{"-u", User, "--", "env", "HOME=" + s.Home, "PATH=/usr/local/bin:/usr/bin:/bin"}, argv...)
	cmd := exec.Command("runuser", args...)
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// Processes lists the test user's processes that run from this server's
// Dir or name it: what studiod runs on the host for this test.
func (s *Server) Processes() []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fi, err := os.Stat("/proc/" + e.Name())
		if err != nil {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != s.UID {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		cwd, _ := os.Readlink("/proc/" + e.Name() + "/cwd")
		if strings.Contains(string(cmdline), s.Dir) || cwd == s.Dir || strings.HasPrefix(cwd, s.Dir+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// UserHome makes the test user (once) and returns its home directory,
// which the user and root can both reach.
func UserHome(t testing.TB) string {
	t.Helper()
	return ensureUser(t).HomeDir
}

var userOnce sync.Once

// ensureUser makes the test user once: a home of its own, a shell, and an
// account sshd accepts for key logins.
func ensureUser(t testing.TB) *user.User {
	t.Helper()
	userOnce.Do(func() {
		if _, err := user.Lookup(User); err == nil {
			return
		}
		cmd := exec.Command("useradd", "--create-home", "--shell", "/bin/bash", "--user-group", User)
		if out, err := cmd.CombinedOutput(); err != nil && !strings.Contains(string(out), "already exists") {
			t.Fatalf("useradd: %v: %s", err, out)
		}
	})
	u, err := user.Lookup(User)
	if err != nil {
		t.Fatal(err)
	}
	// A locked password ("!") makes sshd refuse even key logins without
	// PAM; "*" has no password and is not locked.
	run(t, "usermod", "-p", "*", User)
	if err := os.Chmod(u.HomeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return u
}

func run(t testing.TB, argv ...string) {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// sshdChildren lists the sshd processes below pid: the connections the
// listener pid serves (each a privileged process and the user's).
func sshdChildren(pid int) []int {
	parent := map[int]int{}
	comm := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		st := string(b)
		i, j := strings.IndexByte(st, '('), strings.LastIndexByte(st, ')')
		if i < 0 || j < i {
			continue
		}
		f := strings.Fields(st[j+1:])
		if len(f) < 2 {
			continue
		}
		parent[p], _ = strconv.Atoi(f[1])
		comm[p] = st[i+1 : j]
	}
	var out []int
	for p := range parent {
		if comm[p] != "sshd" {
			continue
		}
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// Cmdline is process pid's command line, its arguments joined by spaces.
func Cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}
