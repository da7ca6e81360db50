package host

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/studiod/studiod/workspace"
)

// sshMeta is what the home daemon keeps of a session on a host, in
// StateDir/sessions/ID/host.json.
type sshMeta struct {
	Host   string `json:"host"`
	Key    string `json:"key"`  // the repository's key on the host
	Repo   string `json:"repo"` // the home repository
	Path   string `json:"path"` // the mirror
	Branch string `json:"branch"`
	Base   string `json:"base"`
	// Remote is the worktree's path on the host, as the agent there names
	// its files.
	Remote string `json:"remote,omitempty"`
}

func (h *SSH) metaFile(id string) string {
	return filepath.Join(h.StateDir, "sessions", id, "host.json")
}

func (h *SSH) readMeta(id string) (sshMeta, error) {
	var m sshMeta
	b, err := os.ReadFile(h.metaFile(id))
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal(b, &m)
}

// HostOf says which host session id runs on ("" for this machine), from
// what an SSH runtime recorded in stateDir.
func HostOf(stateDir, id string) string {
	return recorded(stateDir, id).Host
}

// recorded is what an SSH runtime recorded in stateDir of session id (zero
// for a session of this machine).
func recorded(stateDir, id string) sshMeta {
	var m sshMeta
	if b, err := os.ReadFile(filepath.Join(stateDir, "sessions", id, "host.json")); err == nil && json.Unmarshal(b, &m) != nil {
		m = sshMeta{}
	}
	return m
}

// RemoteWorktree is the path on its host of session id's worktree ("" for
// a session of this machine), from what an SSH runtime recorded in
// stateDir.
func RemoteWorktree(stateDir, id string) string {
	return recorded(stateDir, id).Remote
}

// Acquire pushes the base commit to the host's repository, makes the
// worktree there, and checks the base out at home as the session's mirror.
func (h *SSH) Acquire(ctx context.Context, spec WorkspaceSpec) (Workspace, error) {
	if err := h.Ready(ctx); err != nil {
		return nil, err
	}
	key := RepoKey(spec.Repo.Root)
	if _, err := h.call(ctx, "init", nil, "--repo", key); err != nil {
		return nil, err
	}
	if _, err := h.git(ctx, spec.Repo.Root, "push", "--quiet", "--no-verify", h.gitRemote(key),
		spec.Base+":refs/studio/base/"+spec.Session); err != nil {
		return nil, fmt.Errorf("push the base to host %s: %w", h.Name, err)
	}
	release := func() {
		ctx := context.WithoutCancel(ctx)
		h.call(ctx, "release", nil, "--id", spec.Session, "--repo", key, "--force")
	}
	name := path.Base(spec.Branch)
	if !validName(name) {
		name = spec.Session
	}
	// The host's checkout and the mirror's at home are made at once.
	mirrored := make(chan error, 1)
	go func() {
		_, err := h.acquireMirror(ctx, spec)
		mirrored <- err
	}()
	_, err := h.call(ctx, "acquire", nil, "--id", spec.Session, "--repo", key, "--branch", spec.Branch,
		"--base", spec.Base, "--name", name)
	merr := <-mirrored
	if err != nil || merr != nil {
		release()
		if merr == nil {
			h.releaseMirror(context.WithoutCancel(ctx), spec, Discard)
		}
		return nil, cmpErr(err, merr)
	}
	m := sshMeta{Host: h.Name, Key: key, Repo: spec.Repo.Root, Path: spec.Path, Branch: spec.Branch, Base: spec.Base}
	if hl, err := h.Install(ctx); err == nil {
		m.Remote = hl.Dir + "/worktrees/" + key + "/" + name
	}
	b, _ := json.Marshal(m)
	err = os.MkdirAll(filepath.Dir(h.metaFile(spec.Session)), 0o700)
	if err == nil {
		err = os.WriteFile(h.metaFile(spec.Session), b, 0o600)
	}
	if err != nil {
		release()
		h.releaseMirror(context.WithoutCancel(ctx), spec, Discard)
		return nil, err
	}
	h.follow(spec.Session, m)
	return h.Workspace(spec), nil
}

// Workspace is the session's workspace: its files are read at home, from
// the mirror; its setup runs on the host, and its release gives up both.
// cmpErr is the first error that is not nil.
func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (h *SSH) Workspace(spec WorkspaceSpec) Workspace {
	var mirror Workspace = localWorkspace{spec: spec}
	if h.Mirror != nil {
		mirror = h.Mirror.Workspace(spec)
	}
	return sshWorkspace{Workspace: mirror, h: h, spec: spec}
}

// acquireMirror makes the session's mirror at home: a worktree on its
// branch at the base, from the warm pool when it has one ready.
func (h *SSH) acquireMirror(ctx context.Context, spec WorkspaceSpec) (Workspace, error) {
	if h.Mirror != nil {
		return h.Mirror.Acquire(ctx, spec)
	}
	return nil, spec.Repo.AddWorktree(ctx, spec.Path, spec.Branch, spec.Base)
}

func (h *SSH) releaseMirror(ctx context.Context, spec WorkspaceSpec, how Release) error {
	if h.Mirror != nil {
		return h.Mirror.Workspace(spec).Release(ctx, how)
	}
	if err := spec.Repo.RemoveWorktree(ctx, spec.Path, how != Keep); err != nil && dirExists(spec.Path) {
		return err
	}
	return nil
}

// Reports makes sure the agents on the host can report to this daemon
// (their hooks): it returns the socket they reach it by there.
func (h *SSH) Reports(ctx context.Context) (string, error) {
	p, err := h.forwardReports(ctx)
	if err == nil && p == "" {
		err = fmt.Errorf("host %s: this daemon has no reports socket to forward", h.Name)
	}
	return p, err
}

func (h *SSH) Reattach(ctx context.Context, id string) (Proc, error) {
	h.mu.Lock()
	_, following := h.follows[id]
	h.mu.Unlock()
	if !following {
		if m, err := h.readMeta(id); err == nil {
			h.follow(id, m)
		}
	}
	return &sshProc{h: h, id: id}, nil
}

// envOwn are the variables of the home daemon's that make no sense on the
// host.
var envOwn = []string{"STUDIOD_SOCKET", "STUDIOD_HOME", "STUDIO_HOOK", "STUDIO_WORKTREE", "STUDIO_SESSION_DIR", "STUDIO_REPO"}

// Start starts the agent under a shim on the host. The environment sent is
// what the session adds to the daemon's own (the host's user has an
// environment of its own); studiod's executable becomes the host's.
func (h *SSH) Start(ctx context.Context, ps ProcSpec) (Proc, error) {
	home := map[string]bool{}
	for _, kv := range os.Environ() {
		home[kv] = true
	}
	var env []string
	for _, kv := range ps.Env {
		k, _, _ := strings.Cut(kv, "=")
		if home[kv] || slices.Contains(envOwn, k) {
			continue
		}
		env = append(env, kv)
	}
	// The agent reports on the forwarded socket, through the host's
	// studiod (first on its PATH there).
	if p, err := h.forwardReports(ctx); err != nil {
		h.Log.Warn("the agents on the host cannot report", "err", err)
	} else if p != "" {
		env = append(env, "STUDIOD_SOCKET="+p, "STUDIO_HOOK=studiod hook --session "+ps.ID)
	}
	ps.Env = env
	ps.Argv = slices.Clone(ps.Argv)
	if len(ps.Argv) > 0 && ps.Argv[0] == h.Self {
		ps.Argv[0] = selfArg
	}
	b, err := json.Marshal(ps)
	if err != nil {
		return nil, err
	}
	out, err := h.call(ctx, "start", bytes.NewReader(b), "--id", ps.ID)
	if err != nil {
		return nil, err
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return &sshProc{h: h, id: ps.ID, pid: pid}, nil
}

type sshWorkspace struct {
	Workspace // the mirror's
	h         *SSH
	spec      WorkspaceSpec
}

func (w sshWorkspace) Path() string { return w.spec.Path }

// Copy copies files of the main worktree to the host's worktree: not yet,
// so a spawn that needs it fails before anything runs there.
func (w sshWorkspace) Copy(globs []string) (copied, cloned int, err error) {
	for _, g := range globs {
		if m, _ := filepath.Glob(filepath.Join(w.spec.Repo.Root, g)); len(m) > 0 {
			return 0, 0, fmt.Errorf("copying files (%s) to host %s is not supported: leave [setup] copy out for sessions on hosts", g, w.h.Name)
		}
	}
	return 0, 0, nil
}

// Setup runs the command in the host's worktree; its output is appended to
// logPath here.
func (w sshWorkspace) Setup(ctx context.Context, env []string, command, logPath string) error {
	out, err := w.h.call(ctx, "setup", strings.NewReader(command), "--id", w.spec.Session)
	if f, ferr := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); ferr == nil {
		fmt.Fprintf(f, "$ %s  (on host %s)\n%s", command, w.h.Name, out)
		f.Close()
	}
	if err != nil {
		return fmt.Errorf("%q on host %s: %v: %s", command, w.h.Name, err, lastLines(out))
	}
	return nil
}

func lastLines(b []byte) string {
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return strings.TrimSpace(string(b))
}

// Release gives up the mirror at home as a local worktree is given up
// (refused with uncommitted work unless forced), then removes everything
// the host keeps of the session: its process, worktree, branch, refs, logs.
// The branch at home stays, as for a local session.
func (w sshWorkspace) Release(ctx context.Context, how Release) error {
	h := w.h
	h.unfollow(w.spec.Session)
	if err := h.releaseMirror(ctx, w.spec, how); err != nil {
		h.follow(w.spec.Session, sshMeta{Host: h.Name, Key: RepoKey(w.spec.Repo.Root), Repo: w.spec.Repo.Root,
			Path: w.spec.Path, Branch: w.spec.Branch, Base: w.spec.Base})
		return err
	}
	h.stopProxy(w.spec.Session)
	key := RepoKey(w.spec.Repo.Root)
	if _, err := h.call(ctx, "release", nil, "--id", w.spec.Session, "--repo", key, "--force"); err != nil {
		if !errors.Is(err, ErrUnreachable) {
			return err
		}
		// Out of reach: what the host holds of the session goes when it
		// is back.
		if err := h.owe(w.spec.Session, key); err != nil {
			return err
		}
		h.Log.Warn("host out of reach: its part of the session is removed when it is back", "host", h.Name, "session", w.spec.Session)
	}
	for _, r := range []string{"snap", "applied", "head"} {
		w.spec.Repo.Run(ctx, "update-ref", "-d", "refs/studio/remote/"+w.spec.Session+"/"+r)
	}
	os.Remove(h.metaFile(w.spec.Session))
	return nil
}

// owedDir keeps the releases the host could not take when they were
// made: a file per session, holding its repository's key.
func (h *SSH) owedDir() string { return filepath.Join(h.StateDir, "hosts", h.Name, "owed") }

func (h *SSH) owe(id, key string) error {
	if err := os.MkdirAll(h.owedDir(), 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(h.owedDir(), id), []byte(key), 0o600)
}

// settleOwed removes from the host what it still holds of sessions
// released while it was out of reach.
func (h *SSH) settleOwed(ctx context.Context) {
	entries, _ := os.ReadDir(h.owedDir())
	for _, e := range entries {
		f := filepath.Join(h.owedDir(), e.Name())
		key, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if _, err := h.call(ctx, "release", nil, "--id", e.Name(), "--repo", string(key), "--force"); err != nil {
			h.Log.Warn("remove a released session from the host", "host", h.Name, "session", e.Name(), "err", err)
			continue
		}
		os.Remove(f)
	}
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// follow keeps session id's mirror at home up to date with the host's
// snapshots, until unfollow or Close.
type follow struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (h *SSH) follow(id string, m sshMeta) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.follows[id]; ok || h.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithCancel(h.ctx)
	f := &follow{cancel: cancel, done: make(chan struct{})}
	h.follows[id] = f
	h.wg.Go(func() {
		defer close(f.done)
		h.followLoop(ctx, id, m)
	})
}

func (h *SSH) unfollow(id string) {
	h.mu.Lock()
	f := h.follows[id]
	delete(h.follows, id)
	h.mu.Unlock()
	if f != nil {
		f.cancel()
		<-f.done
	}
}

// followLoop watches the host's worktree through `studiod remote watch`
// and brings each snapshot home; a dropped connection is tried again.
func (h *SSH) followLoop(ctx context.Context, id string, m sshMeta) {
	log := h.Log.With("host", h.Name, "session", id)
	repo, err := workspace.Open(ctx, h.Git, m.Repo)
	if err != nil {
		log.Warn("follow: open the repository", "err", err)
		return
	}
	st := appliedOf(ctx, repo, id, m)
	wait := 200 * time.Millisecond
	for ctx.Err() == nil {
		err := h.watchOnce(ctx, repo, id, m, st)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, os.ErrNotExist) {
			log.Info("follow: the host no longer has the session", "err", err)
			return
		}
		log.Info("follow: watching the host's worktree stopped; trying again", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

func (h *SSH) watchOnce(ctx context.Context, repo *workspace.Repo, id string, m sshMeta, st *applied) error {
	if _, err := h.Install(ctx); err != nil {
		return err
	}
	// A connection made again forwards the agents' reports again.
	if _, err := h.forwardReports(ctx); err != nil {
		h.Log.Warn("the agents on the host cannot report", "err", err)
	}
	if err := h.connect(ctx); err != nil {
		return err
	}
	cmd := h.command(ctx, h.helper("watch", "--id", id))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		return err
	}
	r := bufio.NewReader(stdout)
	for {
		line, err := readLine(r)
		if err != nil {
			stdin.Close()
			werr := cmd.Wait()
			if werr == nil {
				return io.EOF
			}
			if strings.Contains(errb.String(), "no such file") {
				return fmt.Errorf("%s: %w", strings.TrimSpace(errb.String()), os.ErrNotExist)
			}
			return h.sshError("watch", werr, errb.Bytes())
		}
		if _, _, ok := strings.Cut(line, " "); !ok {
			continue
		}
		if err := h.bringHome(ctx, repo, id, m, st); err != nil {
			h.Log.Warn("bring a snapshot home", "host", h.Name, "session", id, "err", err)
		}
	}
}

// bringHome fetches the host's latest snapshot of session id and writes
// what changed since the last one into the mirror; when the host's HEAD
// moved (the agent committed), the mirror's branch and index follow it, so
// the uncommitted work on the host is uncommitted work at home. Only the
// changed paths are written: the cost follows the change, not the tree.
func (h *SSH) bringHome(ctx context.Context, repo *workspace.Repo, id string, m sshMeta, st *applied) error {
	ref := "refs/studio/remote/" + id
	if _, err := h.git(ctx, repo.Root, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", h.gitRemote(m.Key),
		"+refs/studio/snap/"+id+":"+ref+"/snap"); err != nil {
		return err
	}
	// The ref may be newer than the line that announced it: bring home
	// what was fetched.
	out, err := repo.Run(ctx, "rev-parse", ref+"/snap^{commit}", ref+"/snap^1")
	if err != nil {
		return err
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return fmt.Errorf("snapshot of %s: unexpected rev-parse output %q", id, out)
	}
	snap, head := f[0], f[1]
	if snap == st.snap {
		return nil
	}
	if err := writeChanges(ctx, h.Git, m.Path, st.snap, snap); err != nil {
		return err
	}
	updates := "update " + ref + "/applied " + snap + "\n"
	if head != st.head {
		updates += "update refs/heads/" + m.Branch + " " + head + "\nupdate " + ref + "/head " + head + "\n"
	}
	if _, err := h.Git.RunCmd(ctx, workspace.Cmd{Dir: m.Path, Stdin: strings.NewReader(updates)}, "update-ref", "--stdin"); err != nil {
		return err
	}
	if head != st.head {
		if _, err := h.Git.Run(ctx, m.Path, "read-tree", "--reset", "HEAD"); err != nil {
			return err
		}
	}
	st.snap, st.head = snap, head
	return nil
}

// applied is what a mirror holds: the snapshot its files are, the host's
// HEAD its branch is.
type applied struct{ snap, head string }

// appliedOf reads what session id's mirror holds from its refs (the base
// before any snapshot came home).
func appliedOf(ctx context.Context, repo *workspace.Repo, id string, m sshMeta) *applied {
	st := &applied{snap: m.Base, head: m.Base}
	ref := "refs/studio/remote/" + id
	if out, err := repo.Run(ctx, "rev-parse", "--verify", "--quiet", ref+"/applied^{commit}"); err == nil {
		st.snap = strings.TrimSpace(string(out))
	}
	if out, err := repo.Run(ctx, "rev-parse", "--verify", "--quiet", ref+"/head^{commit}"); err == nil {
		st.head = strings.TrimSpace(string(out))
	}
	return st
}

// writeChanges makes the files of dir go from commit from's tree to to's:
// changed and added files written from their blobs, deleted ones removed.
func writeChanges(ctx context.Context, g *workspace.Git, dir, from, to string) error {
	out, err := g.Run(ctx, dir, "diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", from, to)
	if err != nil {
		return err
	}
	type entry struct {
		path, mode, oid string
	}
	var writes []entry
	fields := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	for i := 0; i+1 < len(fields); i += 2 {
		meta := strings.Fields(strings.TrimPrefix(fields[i], ":"))
		path := fields[i+1]
		if len(meta) < 5 || strings.HasPrefix(path, "/") || slices.Contains(strings.Split(path, "/"), "..") {
			continue
		}
		full := filepath.Join(dir, filepath.FromSlash(path))
		if meta[4] == "D" {
			os.Remove(full)
			continue
		}
		if meta[1] == "160000" {
			continue // a submodule: nothing to write
		}
		writes = append(writes, entry{path: full, mode: meta[1], oid: meta[3]})
	}
	if len(writes) == 0 {
		return nil
	}
	var in strings.Builder
	for _, w := range writes {
		in.WriteString(w.oid + "\n")
	}
	blobs, err := g.RunCmd(ctx, workspace.Cmd{Dir: dir, Stdin: strings.NewReader(in.String())}, "cat-file", "--batch")
	if err != nil {
		return err
	}
	for _, w := range writes {
		// "<oid> blob <size>\n<content>\n"
		nl := bytes.IndexByte(blobs, '\n')
		if nl < 0 {
			return fmt.Errorf("cat-file: short output")
		}
		hdr := strings.Fields(string(blobs[:nl]))
		if len(hdr) != 3 {
			return fmt.Errorf("cat-file: %q", blobs[:nl])
		}
		size, _ := strconv.Atoi(hdr[2])
		if nl+1+size > len(blobs) {
			return fmt.Errorf("cat-file: short output")
		}
		content := blobs[nl+1 : nl+1+size]
		blobs = blobs[min(nl+2+size, len(blobs)):]
		if err := os.MkdirAll(filepath.Dir(w.path), 0o755); err != nil {
			return err
		}
		if fi, err := os.Lstat(w.path); err == nil && fi.IsDir() {
			os.RemoveAll(w.path)
		}
		switch w.mode {
		case "120000":
			os.Remove(w.path)
			if err := os.Symlink(string(content), w.path); err != nil {
				return err
			}
			continue
		}
		perm := os.FileMode(0o644)
		if w.mode == "100755" {
			perm = 0o755
		}
		if fi, err := os.Lstat(w.path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			os.Remove(w.path)
		}
		if err := os.WriteFile(w.path, content, perm); err != nil {
			return err
		}
		os.Chmod(w.path, perm)
	}
	return nil
}

// sshProc is a session's agent on a host, reached through the helper.
type sshProc struct {
	h   *SSH
	id  string
	pid int
}

func (p *sshProc) ID() string { return p.id }
func (p *sshProc) PID() int   { return p.pid }

func (p *sshProc) call(ctx context.Context, op string, stdin io.Reader, args ...string) ([]byte, error) {
	return p.h.call(ctx, op, stdin, append([]string{"--id", p.id}, args...)...)
}

func bg() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 60*time.Second)
}

func (p *sshProc) Attach(ctx context.Context, offset int64) (Stream, error) {
	h := p.h
	if _, err := h.Install(ctx); err != nil {
		return nil, err
	}
	if err := h.connect(ctx); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cmd := h.command(sctx, h.helper("attach", "--id", p.id, "--offset", strconv.FormatInt(offset, 10)))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	r := bufio.NewReaderSize(stdout, 32<<10)
	line, err := readLine(r)
	if err != nil {
		stdin.Close()
		werr := cmd.Wait()
		cancel()
		if werr == nil {
			return nil, ErrGone
		}
		return nil, h.sshError("attach", werr, errb.Bytes())
	}
	off, err := strconv.ParseInt(line, 10, 64)
	if err != nil {
		stdin.Close()
		cmd.Wait()
		cancel()
		return nil, fmt.Errorf("attach on host %s: bad answer %q", h.Name, line)
	}
	return &sshStream{r: r, offset: off, close: func() {
		stdin.Close()
		cancel()
		cmd.Wait()
	}}, nil
}

type sshStream struct {
	r      io.Reader
	offset int64
	close  func()
}

func (s *sshStream) Read(b []byte) (int, error) { return s.r.Read(b) }
func (s *sshStream) Offset() int64              { return s.offset }
func (s *sshStream) Close() error               { s.close(); return nil }

func (p *sshProc) Input(ctx context.Context, data []byte) error {
	_, err := p.call(ctx, "input", bytes.NewReader(data))
	return err
}

func (p *sshProc) Resize(ctx context.Context, rows, cols int) error {
	_, err := p.call(ctx, "resize", nil, "--rows", strconv.Itoa(rows), "--cols", strconv.Itoa(cols))
	return err
}

func (p *sshProc) Signal(ctx context.Context, sig syscall.Signal) error {
	_, err := p.call(ctx, "signal", nil, "--signal", strconv.Itoa(int(sig)))
	return err
}

func (p *sshProc) Status(ctx context.Context) (Status, error) {
	var st Status
	out, err := p.call(ctx, "status", nil)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(out, &st)
}

func (p *sshProc) Screen(ctx context.Context) (Screen, error) {
	var sc Screen
	out, err := p.call(ctx, "screen", nil)
	if err != nil {
		return sc, err
	}
	return sc, json.Unmarshal(out, &sc)
}

func (p *sshProc) WaitGone(d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	p.call(ctx, "wait-gone", nil, "--wait", d.String())
}

func (p *sshProc) Exit() (*Exit, error) {
	ctx, cancel := bg()
	defer cancel()
	out, err := p.call(ctx, "exit", nil)
	if err != nil {
		return nil, err
	}
	var ex Exit
	return &ex, json.Unmarshal(out, &ex)
}

func (p *sshProc) ClearExit() error {
	ctx, cancel := bg()
	defer cancel()
	_, err := p.call(ctx, "clear-exit", nil)
	return err
}

// OpenLog reads what the host's log keeps, once: a copy at home.
func (p *sshProc) OpenLog() (Log, error) {
	ctx, cancel := bg()
	defer cancel()
	out, err := p.call(ctx, "log", nil)
	if err != nil {
		return nil, err
	}
	head, rest, ok := bytes.Cut(out, []byte("\n"))
	if !ok {
		return nil, fmt.Errorf("log on host %s: bad answer", p.h.Name)
	}
	var start, end int64
	if _, err := fmt.Sscan(string(head), &start, &end); err != nil {
		return nil, fmt.Errorf("log on host %s: bad answer %q", p.h.Name, head)
	}
	return &memLog{data: rest, start: start, end: start + int64(len(rest))}, nil
}

type memLog struct {
	data       []byte
	start, end int64
}

func (l *memLog) ReadAt(b []byte, off int64) (int, error) {
	if off < l.start {
		return 0, fmt.Errorf("offset %d: the log starts at %d", off, l.start)
	}
	i := off - l.start
	if i >= int64(len(l.data)) {
		return 0, io.EOF
	}
	n := copy(b, l.data[i:])
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}
func (l *memLog) Close() error { return nil }
func (l *memLog) Start() int64 { return l.start }
func (l *memLog) End() int64   { return l.end }

func (p *sshProc) Head() []byte {
	ctx, cancel := bg()
	defer cancel()
	out, err := p.call(ctx, "head", nil)
	if err != nil || len(out) == 0 {
		return nil
	}
	return out
}

func (p *sshProc) RemoveLog() error {
	ctx, cancel := bg()
	defer cancel()
	_, err := p.call(ctx, "remove-log", nil)
	return err
}

func (p *sshProc) Sweep() int {
	ctx, cancel := bg()
	defer cancel()
	out, err := p.call(ctx, "sweep", nil)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

// Endpoints names the socket at home that carries connections to the
// host's shim (sshproxy.go).
func (p *sshProc) Endpoints() Endpoints { return Endpoints{Socket: p.h.serveProxy(p.id)} }
