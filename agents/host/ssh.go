package host

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/studiod/studiod/workspace"
)

// SSH runs sessions on another machine through the system's OpenSSH
// client, so the person's own ssh config, keys, agent and ProxyJump apply.
// One multiplexed connection (a ControlMaster whose socket is in the
// daemon's runtime directory) carries every operation; each operation is a
// `studiod remote` process on the host (remote.go), which this runtime
// installs there on first use: its own executable, copied over the
// connection into DIR/bin/BUILD, checked by content.
//
// Code travels by git over the same connection: a session's base commit is
// pushed to a bare repository on the host (git sends only what the host
// lacks), the host makes the worktree, a detached shim there holds the
// agent, so the agent keeps running when the connection drops. The host's
// snapshots of the worktree come home as git objects: the home daemon keeps
// a checkout of the latest one at the session's worktree path (the mirror),
// on which conflict prediction, diff, review, merge and land run as for a
// local session.
type SSH struct {
	SSHConfig

	// connMu serializes making the connection and installing.
	connMu sync.Mutex
	hello  *Hello // the host's, once installed
	remote string // the helper's path on the host
	// masters counts the connections made; forwarded is the one whose
	// reports socket is forwarded, guarded by fwdMu (reports.go).
	masters   atomic.Int64
	fwdMu     sync.Mutex
	forwarded int64

	// mu guards follows and proxies.
	mu      sync.Mutex
	follows map[string]*follow      // the mirrors kept up to date, by session ID
	proxies map[string]net.Listener // the shims' sockets at home (sshproxy.go)
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// SSHConfig says how to reach a host.
type SSHConfig struct {
	Name    string   // the host's name in config.toml
	Target  string   // the ssh destination: a Host alias, user@host
	Dir     string   // studiod's directory on the host ("~/studiod")
	Command []string // the ssh command (default: ssh)
	Self    string   // studiod's executable here
	Version string
	// StateDir and RuntimeDir are the home daemon's.
	StateDir, RuntimeDir string
	// ReportSocket is the home daemon's socket for the agents' reports,
	// which the connection forwards to the host ("": none).
	ReportSocket string
	Git          *workspace.Git
	Log          *slog.Logger
	// Mirror makes and gives up the sessions' mirrors at home: the local
	// runtime, behind the warm pool (nil: plain worktrees).
	Mirror Runtime
}

// ErrUnreachable reports that a host could not be reached over ssh.
var ErrUnreachable = errors.New("host unreachable")

// UnreachableError says why a host could not be reached.
type UnreachableError struct {
	Host string
	Msg  string
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("host %s unreachable: %s", e.Host, e.Msg)
}

func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// NewSSH makes the runtime of one host.
func NewSSH(h SSHConfig) *SSH {
	if len(h.Command) == 0 {
		h.Command = []string{"ssh"}
	}
	if h.Dir == "" {
		h.Dir = "~/studiod"
	}
	if h.Git == nil {
		h.Git = workspace.DefaultGit
	}
	if h.Log == nil {
		h.Log = slog.New(slog.DiscardHandler)
	}
	s := &SSH{SSHConfig: h}
	s.follows = map[string]*follow{}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Close stops following the host's sessions and closes the connection; the
// agents there keep running.
func (h *SSH) Close() error {
	h.cancel()
	h.mu.Lock()
	for id, l := range h.proxies {
		l.Close()
		delete(h.proxies, id)
	}
	h.mu.Unlock()
	h.wg.Wait()
	cmd := exec.Command(h.Command[0], append(h.Command[1:], "-o", "ControlPath="+h.controlPath(), "-O", "exit", h.Target)...)
	cmd.Run()
	return nil
}

// controlPath is the connection's socket: in the runtime directory, or,
// when that path is too long for a socket, in the system's temporary one.
func (h *SSH) controlPath() string {
	sum := sha256.Sum256([]byte(h.Target + "\x00" + strings.Join(h.Command, "\x00") + "\x00" + h.RuntimeDir))
	key := hex.EncodeToString(sum[:])[:12]
	p := filepath.Join(h.RuntimeDir, "ssh", key)
	// ssh adds a random suffix of 17 while it binds; sun_path holds 107.
	if len(p)+17 > 100 {
		p = filepath.Join(os.TempDir(), fmt.Sprintf("studiod-%d-ssh-%s", os.Getuid(), key))
	}
	return p
}

func (h *SSH) sshArgs(opts ...string) []string {
	args := append([]string(nil), h.Command[1:]...)
	args = append(args, "-o", "ControlPath="+h.controlPath(), "-o", "BatchMode=yes")
	return append(args, opts...)
}

// connect makes sure the multiplexed connection is up: a master that stays
// in the background, started when its socket does not answer.
func (h *SSH) connect(ctx context.Context) error {
	cp := h.controlPath()
	if c, err := net.Dial("unix", cp); err == nil {
		c.Close()
		return nil
	}
	h.masters.Add(1)
	if err := os.MkdirAll(filepath.Dir(cp), 0o700); err != nil {
		return err
	}
	os.Remove(cp) // a master that died leaves its socket
	args := h.sshArgs("-o", "ControlMaster=yes", "-o", "ControlPersist=yes",
		"-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "-o", "ConnectTimeout=20",
		"-f", "-N", h.Target)
	cmd := exec.CommandContext(ctx, h.Command[0], args...)
	// The master stays in the background holding what it inherited: give it
	// a file, never a pipe someone waits on.
	errf, err := os.CreateTemp("", "studiod-ssh-")
	if err != nil {
		return err
	}
	os.Remove(errf.Name())
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = errf, errf
	if err := cmd.Run(); err != nil {
		errf.Seek(0, 0)
		b, _ := io.ReadAll(io.LimitReader(errf, 4096))
		msg := strings.TrimSpace(string(b))
		if msg == "" {
			msg = err.Error()
		}
		if errors.Is(err, exec.ErrNotFound) {
			msg = fmt.Sprintf("%s: %v (set ssh_command in [hosts.%s])", h.Command[0], err, h.Name)
		}
		return &UnreachableError{Host: h.Name, Msg: msg}
	}
	return nil
}

// shellQuote quotes s for the host's shell.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// dirArg is the host directory as the host's shell should read it: "~/x"
// becomes "$HOME"/x.
func (h *SSH) dirArg() string {
	if rest, ok := strings.CutPrefix(h.Dir, "~/"); ok {
		return `"$HOME"/` + shellQuote(rest)
	}
	return shellQuote(h.Dir)
}

// command is an ssh command running script (the host's shell reads it) over
// the connection.
func (h *SSH) command(ctx context.Context, script string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, h.Command[0], h.sshArgs("-o", "ControlMaster=no", "-T", h.Target, "--", script)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// sshError makes a failed ssh command's error: ssh's own failures (exit
// 255) say the host is unreachable.
func (h *SSH) sshError(what string, err error, stderr []byte) error {
	msg := strings.TrimSpace(string(stderr))
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		switch ee.ExitCode() {
		case 255:
			if msg == "" {
				msg = "the connection failed"
			}
			return &UnreachableError{Host: h.Name, Msg: msg}
		case remoteExitGone:
			return ErrGone
		case remoteExitMissing:
			return fmt.Errorf("%s on host %s: %s: %w", what, h.Name, msg, os.ErrNotExist)
		}
	}
	if msg == "" {
		msg = err.Error()
	}
	return fmt.Errorf("%s on host %s: %s", what, h.Name, msg)
}

// run runs script on the host and returns its output.
func (h *SSH) run(ctx context.Context, what, script string, stdin io.Reader) ([]byte, error) {
	if err := h.connect(ctx); err != nil {
		return nil, err
	}
	cmd := h.command(ctx, script)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), h.sshError(what, err, errb.Bytes())
	}
	return out.Bytes(), nil
}

// helper is the command line of a helper operation.
func (h *SSH) helper(op string, args ...string) string {
	var b strings.Builder
	b.WriteString(shellQuote(h.remote) + " remote " + op + " --dir " + h.dirArg())
	for _, a := range args {
		b.WriteString(" " + shellQuote(a))
	}
	return b.String()
}

// call runs a helper operation, installing the helper first.
func (h *SSH) call(ctx context.Context, op string, stdin io.Reader, args ...string) ([]byte, error) {
	if _, err := h.Install(ctx); err != nil {
		return nil, err
	}
	return h.run(ctx, op, h.helper(op, args...), stdin)
}

// goosUname maps uname -s -m to Go's names.
func goosUname(s string) (goos, goarch string) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return "", ""
	}
	goos = strings.ToLower(f[0])
	switch f[1] {
	case "x86_64", "amd64":
		goarch = "amd64"
	case "aarch64", "arm64":
		goarch = "arm64"
	case "i386", "i686":
		goarch = "386"
	default:
		goarch = f[1]
	}
	return goos, goarch
}

// Install makes sure this build of studiod runs on the host and says what
// the host has: its git, its live sessions, its load.
func (h *SSH) Install(ctx context.Context) (*Hello, error) {
	h.connMu.Lock()
	defer h.connMu.Unlock()
	if h.hello != nil {
		return h.hello, nil
	}
	build, err := fileBuild(h.Self)
	if err != nil {
		return nil, fmt.Errorf("read studiod's own executable: %w", err)
	}
	// The binary keeps the name studiod: it tells what to run by it.
	binDir := h.dirArg() + "/bin/" + build
	exe := binDir + "/studiod"
	out, err := h.run(ctx, "look at the host", "uname -s -m && if test -x "+exe+"; then echo installed; fi", nil)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	goos, goarch := goosUname(lines[0])
	if goos != runtime.GOOS || goarch != runtime.GOARCH {
		return nil, fmt.Errorf("host %s runs %s (%s/%s); this studiod is built for %s/%s: run a studiod built for %s/%s at home, or use another host",
			h.Name, strings.TrimSpace(lines[0]), goos, goarch, runtime.GOOS, runtime.GOARCH, goos, goarch)
	}
	installed := len(lines) > 1 && lines[len(lines)-1] == "installed"
	hello := func() (*Hello, error) {
		out, err := h.run(ctx, "start studiod", exe+" remote hello --dir "+h.dirArg(), nil)
		if err != nil {
			return nil, err
		}
		var hl Hello
		if err := json.Unmarshal(out, &hl); err != nil {
			return nil, fmt.Errorf("host %s: studiod there answered %q: %w", h.Name, strings.TrimSpace(string(out)), err)
		}
		return &hl, nil
	}
	var hl *Hello
	if installed {
		hl, err = hello()
		if err == nil && hl.Build != build {
			h.Log.Warn("studiod on the host differs from this build: installing it again", "host", h.Name, "have", hl.Build, "want", build)
			installed = false
		}
	}
	if !installed {
		f, err := os.Open(h.Self)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		tmp := binDir + "/.studiod.tmp"
		script := "umask 077 && mkdir -p " + binDir + " && cat > " + tmp + " && chmod 700 " + tmp + " && mv -f " + tmp + " " + exe
		if _, err := h.run(ctx, "install studiod", script, f); err != nil {
			return nil, err
		}
		if hl, err = hello(); err != nil {
			return nil, err
		}
	}
	if hl.Build != build {
		return nil, fmt.Errorf("host %s: studiod there is build %s, this one %s, even after installing it again: is %s/bin shared with another machine?", h.Name, hl.Build, build, h.Dir)
	}
	if hl.Protocol != RemoteProtocol {
		return nil, fmt.Errorf("host %s: studiod there speaks remote protocol %d, this one %d", h.Name, hl.Protocol, RemoteProtocol)
	}
	h.remote = hl.Dir + "/bin/" + build + "/studiod"
	h.hello = hl
	return hl, nil
}

// Hello is the host's own account of itself now (it installs studiod there
// first).
func (h *SSH) Hello(ctx context.Context) (*Hello, error) {
	if _, err := h.Install(ctx); err != nil {
		return nil, err
	}
	out, err := h.run(ctx, "hello", h.helper("hello"), nil)
	if err != nil {
		return nil, err
	}
	h.settleOwed(ctx)
	var hl Hello
	return &hl, json.Unmarshal(out, &hl)
}

// Ready checks that the host can hold sessions: reachable, studiod
// installed, git there.
func (h *SSH) Ready(ctx context.Context) error {
	hl, err := h.Install(ctx)
	if err != nil {
		return err
	}
	if hl.Git == "" {
		return fmt.Errorf("host %s has no usable git (%s): install git 2.38 or later there", h.Name, hl.GitError)
	}
	h.settleOwed(ctx)
	return nil
}

// gitSSH is the GIT_SSH_COMMAND that runs git's transfers over the
// connection.
func (h *SSH) gitSSH() string {
	parts := []string{}
	for _, a := range append([]string{h.Command[0]}, h.sshArgs("-o", "ControlMaster=no")...) {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// gitRemote is the URL of repository key on the host.
func (h *SSH) gitRemote(key string) string {
	return h.Target + ":" + h.hello.Dir + "/repos/" + key + ".git"
}

// git runs git at home against the host's repositories.
func (h *SSH) git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	if err := h.connect(ctx); err != nil {
		return nil, err
	}
	out, err := h.Git.RunCmd(ctx, workspace.Cmd{Dir: dir, Env: []string{"GIT_SSH_COMMAND=" + h.gitSSH(), "GIT_SSH_VARIANT=ssh"}}, args...)
	if err != nil {
		var ge *workspace.GitError
		if errors.As(err, &ge) && strings.Contains(ge.Stderr, "Could not read from remote repository") {
			return out, &UnreachableError{Host: h.Name, Msg: strings.TrimSpace(ge.Stderr)}
		}
	}
	return out, err
}

// RepoKey names a home repository on a host.
func RepoKey(root string) string {
	sum := sha256.Sum256([]byte(root))
	return filepath.Base(root) + "-" + hex.EncodeToString(sum[:])[:8]
}

// readLine reads one line, without its newline.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(line, "\n"), nil
}
