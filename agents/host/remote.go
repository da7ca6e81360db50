package host

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/studiod/studiod/workspace"
)

// The remote helper: `studiod remote OP --dir DIR [flags]`, run by the home
// daemon over ssh on a host, one process per operation over the host's one
// multiplexed connection. It holds nothing between operations: the host's
// sessions are a Local runtime below DIR (a detached shim each, which
// outlives the connection) and git worktrees of bare repositories the home
// daemon pushes to.
//
// DIR holds:
//
//	bin/BUILD/studiod            this binary, installed by the home daemon
//	repos/KEY.git                a bare repository per home repository
//	worktrees/KEY/NAME           the sessions' worktrees
//	state/sessions/ID/           each session's shim files, meta.json, snapshot index
//	state/sessions/ID/gemini-home  a Gemini CLI session's home
//	codex-home/KEY               a repository's Codex home
//	run/shims/ID.sock            each session's shim socket
//
// Exit codes: 0 done, 1 failed (stderr says why), 3 the session's process
// is gone, 4 nothing recorded (no exit status). ssh's own failures are 255.

// RemoteProtocol numbers the helper's operations: a home daemon refuses a
// helper speaking another.
const RemoteProtocol = 1

const (
	remoteExitGone    = 3
	remoteExitMissing = 4
)

// Hello is what a host says of itself.
type Hello struct {
	Protocol int    `json:"protocol"`
	Version  string `json:"version"`
	Build    string `json:"build"` // of the helper's executable
	Dir      string `json:"dir"`   // DIR, absolute
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	Git      string `json:"git,omitempty"` // git's version; empty: none
	GitError string `json:"gitError,omitempty"`
	Sessions int    `json:"sessions"` // live agents
	Load     string `json:"load,omitempty"`
}

// remoteMeta is what the host keeps of a session.
type remoteMeta struct {
	Repo     string `json:"repo"` // the bare repository
	Worktree string `json:"worktree"`
	Branch   string `json:"branch"`
}

// Remote runs one helper operation; it returns the exit code.
func Remote(args []string, version string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "studiod remote: no operation")
		return 2
	}
	op := args[0]
	fs := flag.NewFlagSet("remote "+op, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "studiod's directory on this host")
	id := fs.String("id", "", "session ID")
	repo := fs.String("repo", "", "repository key")
	branch := fs.String("branch", "", "branch")
	base := fs.String("base", "", "base commit")
	name := fs.String("name", "", "session name")
	offset := fs.Int64("offset", 0, "output offset")
	rows := fs.Int("rows", 0, "rows")
	cols := fs.Int("cols", 0, "cols")
	sig := fs.Int("signal", 0, "signal number")
	force := fs.Bool("force", false, "force")
	wait := fs.Duration("wait", 0, "how long to wait")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "studiod remote: --dir is required")
		return 2
	}
	d, err := expandHome(*dir)
	if err != nil {
		fmt.Fprintln(stderr, "studiod remote:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	r := &remoteHost{dir: d, version: version}
	if *id != "" && !validID(*id) {
		fmt.Fprintf(stderr, "studiod remote: bad session id %q\n", *id)
		return 2
	}
	err = r.do(ctx, op, remoteArgs{id: *id, repo: *repo, branch: *branch, base: *base, name: *name,
		offset: *offset, rows: *rows, cols: *cols, sig: *sig, force: *force, wait: *wait}, stdin, stdout)
	switch {
	case err == nil:
		return 0
	case IsGone(err):
		return remoteExitGone
	case errors.Is(err, os.ErrNotExist):
		fmt.Fprintln(stderr, err)
		return remoteExitMissing
	}
	fmt.Fprintln(stderr, err)
	return 1
}

type remoteArgs struct {
	id, repo, branch, base, name string
	offset                       int64
	rows, cols, sig              int
	force                        bool
	wait                         time.Duration
}

type remoteHost struct {
	dir     string
	version string
}

func (r *remoteHost) local() (*Local, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return NewLocal(self, filepath.Join(r.dir, "state"), filepath.Join(r.dir, "run"))
}

func (r *remoteHost) sessionDir(id string) string {
	return filepath.Join(r.dir, "state", "sessions", id)
}

func (r *remoteHost) meta(id string) (remoteMeta, error) {
	var m remoteMeta
	b, err := os.ReadFile(filepath.Join(r.sessionDir(id), "meta.json"))
	if err != nil {
		return m, fmt.Errorf("session %s on this host: %w", id, err)
	}
	return m, json.Unmarshal(b, &m)
}

func (r *remoteHost) repoPath(key string) (string, error) {
	if key == "" || strings.ContainsAny(key, "/\\") || strings.HasPrefix(key, ".") {
		return "", fmt.Errorf("bad repository key %q", key)
	}
	return filepath.Join(r.dir, "repos", key+".git"), nil
}

func (r *remoteHost) do(ctx context.Context, op string, a remoteArgs, stdin io.Reader, stdout io.Writer) error {
	g := workspace.DefaultGit
	switch op {
	case "hello":
		return json.NewEncoder(stdout).Encode(r.hello(ctx))
	case "init":
		p, err := r.repoPath(a.repo)
		if err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(p, "HEAD")); err == nil {
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		_, err = g.Run(ctx, "", "init", "--quiet", "--bare", p)
		return err
	case "acquire":
		return r.acquire(ctx, a)
	case "release":
		return r.release(ctx, a)
	case "start":
		return r.start(ctx, a, stdin, stdout)
	case "setup":
		m, err := r.meta(a.id)
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, "sh", "-c", readAllString(stdin))
		cmd.Dir, cmd.Stdout, cmd.Stderr = m.Worktree, stdout, stdout
		// Marked as the session's: its release ends what the command
		// left running, or what still runs of it when the connection that
		// ran it dropped.
		cmd.Env = append(os.Environ(), "STUDIO_WORKTREE="+m.Worktree, Mark(a.id))
		return cmd.Run()
	case "snapshot":
		s, err := r.snapshot(ctx, a.id, nil)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, s.Head, s.Commit)
		return err
	case "watch":
		return r.watch(ctx, a.id, stdin, stdout)
	case "home":
		return r.agentHome(a.id, stdin, stdout)
	}
	// The operations on a session's process.
	l, err := r.local()
	if err != nil {
		return err
	}
	p := l.proc(a.id)
	switch op {
	case "attach":
		return r.attach(ctx, p, a.offset, stdin, stdout)
	case "proxy":
		return remoteProxy(p.socket, stdin, stdout)
	case "input":
		data, err := io.ReadAll(stdin)
		if err != nil {
			return err
		}
		return p.Input(ctx, data)
	case "resize":
		return p.Resize(ctx, a.rows, a.cols)
	case "signal":
		return p.Signal(ctx, syscall.Signal(a.sig))
	case "status":
		st, err := p.Status(ctx)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(st)
	case "screen":
		sc, err := p.Screen(ctx)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(sc)
	case "exit":
		ex, err := p.Exit()
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(ex)
	case "clear-exit":
		return p.ClearExit()
	case "wait-gone":
		p.WaitGone(a.wait)
		return nil
	case "log":
		lg, err := p.OpenLog()
		if err != nil {
			return err
		}
		defer lg.Close()
		start, end := lg.Start(), lg.End()
		fmt.Fprintf(stdout, "%d %d\n", start, end)
		_, err = io.Copy(stdout, io.NewSectionReader(lg, start, end-start))
		return err
	case "head":
		_, err := stdout.Write(p.Head())
		return err
	case "remove-log":
		return p.RemoveLog()
	case "sweep":
		_, err := fmt.Fprintln(stdout, p.Sweep())
		return err
	}
	return fmt.Errorf("unknown operation %q", op)
}

func (r *remoteHost) hello(ctx context.Context) Hello {
	h := Hello{Protocol: RemoteProtocol, Version: r.version, Dir: r.dir, OS: runtime.GOOS, Arch: runtime.GOARCH}
	h.Build, _ = selfBuild()
	if v, err := workspace.DefaultGit.Version(ctx); err != nil {
		h.GitError = err.Error()
	} else {
		h.Git = v
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		h.Load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	entries, _ := os.ReadDir(filepath.Join(r.dir, "run", "shims"))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sock") {
			h.Sessions++
		}
	}
	return h
}

// acquire makes the session's worktree on branch a.branch at a.base, which
// the home daemon pushed as refs/studio/base/ID.
func (r *remoteHost) acquire(ctx context.Context, a remoteArgs) error {
	g := workspace.DefaultGit
	repo, err := r.repoPath(a.repo)
	if err != nil {
		return err
	}
	if err := ValidateBranchArg(a.branch); err != nil {
		return err
	}
	if err := workspace.ValidateRefArg(a.base); err != nil {
		return err
	}
	if !validName(a.name) {
		return fmt.Errorf("bad session name %q", a.name)
	}
	wt := filepath.Join(r.dir, "worktrees", a.repo, a.name)
	if _, err := os.Stat(wt); err == nil {
		return fmt.Errorf("worktree %s already exists on this host", wt)
	}
	sdir := r.sessionDir(a.id)
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(wt), 0o700); err != nil {
		return err
	}
	if _, err := g.Run(ctx, repo, "worktree", "add", "--quiet", "-b", a.branch, "--", wt, a.base); err != nil {
		os.RemoveAll(sdir)
		return err
	}
	g.Run(ctx, repo, "update-ref", "-d", "refs/studio/base/"+a.id)
	b, _ := json.Marshal(remoteMeta{Repo: repo, Worktree: wt, Branch: a.branch})
	return os.WriteFile(filepath.Join(sdir, "meta.json"), b, 0o600)
}

// release removes everything the host keeps of the session: its process
// (if it still runs), worktree, branch, refs, logs and files.
func (r *remoteHost) release(ctx context.Context, a remoteArgs) error {
	g := workspace.DefaultGit
	l, err := r.local()
	if err != nil {
		return err
	}
	p := l.proc(a.id)
	if err := p.Signal(ctx, syscall.SIGKILL); err == nil {
		p.WaitGone(10 * time.Second)
	}
	p.Sweep()
	m, err := r.meta(a.id)
	if err == nil {
		if _, err := os.Stat(m.Worktree); err == nil {
			args := []string{"worktree", "remove", "--force", "--force", "--", m.Worktree}
			if _, err := g.Run(ctx, m.Repo, args...); err != nil {
				if !a.force {
					return err
				}
				os.RemoveAll(m.Worktree)
			}
		}
		g.Run(ctx, m.Repo, "worktree", "prune")
		g.Run(ctx, m.Repo, "branch", "-D", "--", m.Branch)
		g.Run(ctx, m.Repo, "update-ref", "-d", "refs/studio/snap/"+a.id)
		os.Remove(filepath.Dir(m.Worktree)) // when it was the repository's last
	}
	if a.repo != "" {
		if repo, err := r.repoPath(a.repo); err == nil {
			g.Run(ctx, repo, "update-ref", "-d", "refs/studio/base/"+a.id)
		}
	}
	os.Remove(p.socket)
	return os.RemoveAll(r.sessionDir(a.id))
}

// start starts the agent: a ProcSpec on stdin, its Dir and paths made the
// host's.
func (r *remoteHost) start(ctx context.Context, a remoteArgs, stdin io.Reader, stdout io.Writer) error {
	m, err := r.meta(a.id)
	if err != nil {
		return err
	}
	var ps ProcSpec
	if err := json.NewDecoder(stdin).Decode(&ps); err != nil {
		return fmt.Errorf("read the process spec: %w", err)
	}
	l, err := r.local()
	if err != nil {
		return err
	}
	ps.ID, ps.Dir = a.id, m.Worktree
	if len(ps.Argv) > 0 && ps.Argv[0] == selfArg {
		ps.Argv[0] = l.Self
	}
	// studiod on the agent's PATH is this one: the agent's hooks run it.
	env := append(os.Environ(), "PATH="+filepath.Dir(l.Self)+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, kv := range ps.Env {
		env = append(env, kv)
	}
	ps.Env = append(env, "STUDIO_WORKTREE="+m.Worktree, "STUDIO_SESSION_DIR="+r.sessionDir(a.id), Mark(a.id))
	p, err := l.Start(ctx, ps)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, p.PID())
	return err
}

// selfArg stands for studiod's own executable in a process spec sent to a
// host: the demo agent, for one, is studiod.
const selfArg = "{studiod}"

// attach streams the output: a line "OFFSET", then the bytes. It ends when
// the home side closes its end (stdin).
func (r *remoteHost) attach(ctx context.Context, p *localProc, offset int64, stdin io.Reader, stdout io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		io.Copy(io.Discard, stdin)
		cancel()
	}()
	st, err := p.Attach(ctx, offset)
	if err != nil {
		return err
	}
	defer st.Close()
	context.AfterFunc(ctx, func() { st.Close() })
	w := bufio.NewWriterSize(stdout, 32<<10)
	fmt.Fprintf(w, "%d\n", st.Offset())
	if err := w.Flush(); err != nil {
		return err
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := st.Read(buf)
		if n > 0 {
			if _, werr := stdout.Write(buf[:n]); werr != nil {
				return nil
			}
		}
		if err != nil {
			return nil
		}
	}
}

var snapMu sync.Mutex

// snapshot records the session's worktree as a snapshot commit (the same
// index-free snapshot the home daemon takes of its own worktrees) and points
// refs/studio/snap/ID at it, for the home daemon to fetch.
func (r *remoteHost) snapshot(ctx context.Context, id string, paths []string) (workspace.Snapshot, error) {
	snapMu.Lock()
	defer snapMu.Unlock()
	m, err := r.meta(id)
	if err != nil {
		return workspace.Snapshot{}, err
	}
	g := workspace.DefaultGit
	s, err := g.TakeSnapshot(ctx, m.Worktree, filepath.Join(r.sessionDir(id), "snap.index"), paths)
	if err != nil {
		return s, err
	}
	_, err = g.Run(ctx, m.Worktree, "update-ref", "refs/studio/snap/"+id, s.Commit)
	return s, err
}

// watch prints "HEAD SNAPSHOT" once, then again each time the worktree's
// snapshot changes, until the home side closes its end.
func (r *remoteHost) watch(ctx context.Context, id string, stdin io.Reader, stdout io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		io.Copy(io.Discard, stdin)
		cancel()
	}()
	m, err := r.meta(id)
	if err != nil {
		return err
	}
	w, err := workspace.NewWatcher(workspace.DefaultGit, workspace.WatcherOptions{})
	if err != nil {
		return err
	}
	defer w.Close()
	changed := make(chan []string, 1)
	var mu sync.Mutex
	var pending []string
	rescan := false
	stopWatch, err := w.Add(ctx, workspace.WatchRoot{Dir: m.Worktree, GitIgnore: true, Notify: func(b workspace.WatchBatch) {
		mu.Lock()
		pending = append(pending, b.Paths...)
		rescan = rescan || b.Rescan
		mu.Unlock()
		select {
		case changed <- nil:
		default:
		}
	}})
	if err != nil {
		return err
	}
	defer stopWatch()
	last := ""
	send := func(paths []string) error {
		s, err := r.snapshot(ctx, id, paths)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if _, serr := os.Stat(m.Worktree); serr != nil {
				return fmt.Errorf("worktree gone: %w", serr)
			}
			// Look at the whole worktree again shortly: nothing may change
			// after this to bring the snapshot up to date.
			mu.Lock()
			rescan = true
			mu.Unlock()
			time.AfterFunc(500*time.Millisecond, func() {
				select {
				case changed <- nil:
				default:
				}
			})
			return nil
		}
		if s.Commit == last {
			return nil
		}
		last = s.Commit
		_, err = fmt.Fprintln(stdout, s.Head, s.Commit)
		return err
	}
	if err := send(nil); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
		mu.Lock()
		paths, full := pending, rescan
		pending, rescan = nil, false
		mu.Unlock()
		if full {
			paths = nil
		} else if paths == nil {
			paths = []string{}
		}
		if err := send(paths); err != nil {
			return err
		}
	}
}

// expandHome makes a host directory setting absolute: "~/x" is below the
// user's home.
func expandHome(dir string) (string, error) {
	if rest, ok := strings.CutPrefix(dir, "~/"); ok || dir == "~" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, rest), nil
	}
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("dir %q: give an absolute path or one starting with ~/", dir)
	}
	return filepath.Clean(dir), nil
}

var (
	buildOnce sync.Once
	buildID   string
	buildErr  error
)

// selfBuild identifies this executable by its content: a host runs exactly
// the build the home daemon runs.
func selfBuild() (string, error) {
	buildOnce.Do(func() {
		self, err := os.Executable()
		if err != nil {
			buildErr = err
			return
		}
		buildID, buildErr = fileBuild(self)
	})
	return buildID, buildErr
}

func fileBuild(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func validName(n string) bool { return validID(n) && len(n) <= 40 && n[0] != '-' }

// ValidateBranchArg refuses a branch that git would read as an option or
// that leaves refs/heads.
func ValidateBranchArg(b string) error {
	if b == "" || strings.HasPrefix(b, "-") || strings.Contains(b, "..") || strings.ContainsAny(b, " ~^:?*[\\") {
		return fmt.Errorf("bad branch name %q", b)
	}
	return nil
}

func readAllString(r io.Reader) string {
	b, _ := io.ReadAll(r)
	return string(b)
}
