package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// poolOf waits until the pool of repo has done its pending work and
// returns it.
func poolOf(t *testing.T, c *protocol.Client, repo string) protocol.PoolRepo {
	t.Helper()
	res, err := c.Pool(t.Context(), protocol.PoolParams{Repo: repo, Wait: true})
	if err != nil {
		t.Fatalf("pool: %v", err)
	}
	if len(res.Repos) != 1 {
		t.Fatalf("pool: got %d repos, want 1: %+v", len(res.Repos), res)
	}
	return res.Repos[0]
}

// readyTrees returns the paths of a pool's ready trees at commit.
func readyTrees(p protocol.PoolRepo, commit string) []string {
	var out []string
	for _, tr := range p.Trees {
		if tr.State == protocol.PoolReady && tr.Commit == commit {
			out = append(out, tr.Path)
		}
	}
	return out
}

// worktrees returns `git worktree list --porcelain` as records: path, then
// the other lines.
func worktrees(t *testing.T, repo string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, rec := range strings.Split(gittest.Git(t, repo, "worktree", "list", "--porcelain"), "\n\n") {
		lines := strings.Split(strings.TrimSpace(rec), "\n")
		if p, ok := strings.CutPrefix(lines[0], "worktree "); ok {
			out[p] = lines[1:]
		}
	}
	return out
}

func hasLine(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// checkPoolConsistent checks that git and the pool agree: every worktree
// besides the main one is a session's or a ready pool tree, pool trees are
// detached and locked with studiod's reason, nothing of the pool is a
// branch, and every directory under the repository's worktree root is one
// of them.
func checkPoolConsistent(t *testing.T, c *protocol.Client, repo string, sessions ...string) protocol.PoolRepo {
	t.Helper()
	p := poolOf(t, c, repo)
	wts := worktrees(t, repo)
	pooled := map[string]bool{}
	for _, tr := range p.Trees {
		if tr.State != protocol.PoolReady {
			t.Errorf("pool tree %s is %s after waiting", tr.Path, tr.State)
		}
		pooled[tr.Path] = true
		lines, ok := wts[tr.Path]
		if !ok {
			t.Errorf("pool tree %s is not a worktree git knows", tr.Path)
			continue
		}
		if !hasLine(lines, "detached") || !hasLine(lines, "locked studiod pool:") {
			t.Errorf("pool tree %s: want detached and locked by studiod, got %q", tr.Path, lines)
		}
	}
	mine := map[string]bool{}
	for _, s := range sessions {
		mine[s] = true
	}
	var dirs []string
	for path, lines := range wts {
		if path == repo || pooled[path] || mine[path] {
			continue
		}
		t.Errorf("worktree %s is neither the main one, a session's nor the pool's: %q (pool: %+v)", path, lines, p.Trees)
	}
	if len(p.Trees) > 0 {
		entries, _ := os.ReadDir(filepath.Dir(p.Trees[0].Path))
		for _, e := range entries {
			dirs = append(dirs, filepath.Join(filepath.Dir(p.Trees[0].Path), e.Name()))
		}
	}
	for _, d := range dirs {
		if !pooled[d] && !mine[d] {
			t.Errorf("directory %s left behind", d)
		}
	}
	if out := gittest.Git(t, repo, "branch", "--list", "--all"); strings.Contains(out, "pool") {
		t.Errorf("git branch shows the pool: %q", out)
	}
	return p
}

// TestPoolSpawn spawns from a warm pool: the session gets the ready tree,
// on its branch at the target's tip, clean, with the fsmonitor hook; the
// pool refills; git shows pool trees only as locked detached worktrees.
func TestPoolSpawn(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{
		"a.txt": "a\n", "src/b.txt": "b\n", ".studio.toml": "[pool]\nsize = 1\n",
	})
	// Made after the repository, the home is cleaned up before it: the
	// daemon stops before the repository goes.
	home := newHome(t)
	tip := gittest.Git(t, repo, "rev-parse", "main")
	d := startDaemon(t, home)
	c := d.client(nil)
	p := checkPoolConsistent(t, c, repo)
	ready := readyTrees(p, tip)
	if len(ready) != 1 {
		t.Fatalf("ready trees at %s: %+v", tip, p)
	}
	if lines := worktrees(t, repo)[ready[0]]; !hasLine(lines, "locked studiod pool: ") {
		t.Errorf("git worktree list: pool tree without studiod's reason: %q", lines)
	}

	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "warm", Command: []string{"fakeagent", "-hang"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Worktree != ready[0] {
		t.Errorf("session worktree %s, want the ready tree %s", s.Worktree, ready[0])
	}
	if head := gittest.Git(t, s.Worktree, "rev-parse", "HEAD"); head != tip {
		t.Errorf("session HEAD %s, want the tip %s", head, tip)
	}
	if br := gittest.Git(t, s.Worktree, "symbolic-ref", "--short", "HEAD"); br != "studio/warm" {
		t.Errorf("session branch %q", br)
	}
	if st := gittest.Git(t, s.Worktree, "status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Errorf("session worktree not clean: %q", st)
	}
	if b, err := os.ReadFile(filepath.Join(s.Worktree, "src/b.txt")); err != nil || string(b) != "b\n" {
		t.Errorf("src/b.txt: %q %v", b, err)
	}
	if lines := worktrees(t, repo)[s.Worktree]; hasLine(lines, "locked") || !hasLine(lines, "branch refs/heads/studio/warm") {
		t.Errorf("the session's worktree in git worktree list: %q", lines)
	}
	if hook := gittest.Git(t, s.Worktree, "config", "core.fsmonitor"); !strings.Contains(hook, "fsmonitor' --socket") {
		t.Errorf("core.fsmonitor in the session: %q", hook)
	}
	// Never a split index beside the fsmonitor (workspace/splitindex.go).
	if split, err := gittest.Try(s.Worktree, "config", "core.splitIndex"); err == nil {
		t.Errorf("core.splitIndex in the session: %q, want it unset", split)
	}
	if out, err := gittest.Try(repo, "config", "core.splitIndex"); err == nil {
		t.Errorf("the main worktree got core.splitIndex %q", out)
	}
	if out, err := gittest.Try(repo, "config", "core.fsmonitor"); err == nil {
		t.Errorf("the main worktree got core.fsmonitor %q", out)
	}
	if out := gittest.Git(t, repo, "branch", "--list"); out != "* main\n+ studio/warm" {
		t.Errorf("git branch: %q", out)
	}

	// The pool refills with another tree.
	p = checkPoolConsistent(t, c, repo, s.Worktree)
	if again := readyTrees(p, tip); len(again) != 1 || again[0] == s.Worktree {
		t.Errorf("after the spawn, ready trees %q", again)
	}
}

// TestPoolNeverStale moves the target and touches a ready tree: a spawn
// never gets a tree at the old tip or with someone's change in it.
func TestPoolNeverStale(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n", ".studio.toml": "[pool]\nsize = 1\n"})
	// Made after the repository, the home is cleaned up before it: the
	// daemon stops before the repository goes.
	home := newHome(t)
	d := startDaemon(t, home)
	c := d.client(nil)
	old := gittest.Git(t, repo, "rev-parse", "main")
	if len(readyTrees(poolOf(t, c, repo), old)) != 1 {
		t.Fatal("no ready tree")
	}

	// The target moves; a spawn right away starts from the new tip,
	// whether the pool has caught up or not.
	gittest.Write(t, repo, map[string]string{"a.txt": "new\n"})
	tip := gittest.Commit(t, repo, "move the target")
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "fresh", Command: []string{"fakeagent", "-hang"}})
	if err != nil {
		t.Fatal(err)
	}
	if head := gittest.Git(t, s.Worktree, "rev-parse", "HEAD"); head != tip {
		t.Errorf("session HEAD %s, want the new tip %s", head, tip)
	}
	if b, _ := os.ReadFile(filepath.Join(s.Worktree, "a.txt")); string(b) != "new\n" {
		t.Errorf("a.txt in the session: %q", b)
	}
	if st := gittest.Git(t, s.Worktree, "status", "--porcelain"); st != "" {
		t.Errorf("session not clean: %q", st)
	}
	// The pool follows the tip.
	p := checkPoolConsistent(t, c, repo, s.Worktree)
	ready := readyTrees(p, tip)
	if len(ready) != 1 {
		t.Fatalf("ready trees at the new tip: %+v", p)
	}

	// Someone writes into the ready tree; a spawn right away gets it
	// clean.
	gittest.Write(t, ready[0], map[string]string{"a.txt": "stray\n", "stray.txt": "x\n"})
	s2, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "clean", Command: []string{"fakeagent", "-hang"}})
	if err != nil {
		t.Fatal(err)
	}
	if st := gittest.Git(t, s2.Worktree, "status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Errorf("a touched pool tree was handed out as it was: %q", st)
	}
	if head := gittest.Git(t, s2.Worktree, "rev-parse", "HEAD"); head != tip {
		t.Errorf("session HEAD %s, want %s", head, tip)
	}
	checkPoolConsistent(t, c, repo, s.Worktree, s2.Worktree)
}

// TestPoolRecycle removes a session while the pool wants a tree: its
// worktree is recycled (same files, reset and cleaned) instead of deleted.
// Uncommitted work is never recycled without --force.
func TestPoolRecycle(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n", ".gitignore": "build/\n", ".studio.toml": "[pool]\nsize = 1\n"})
	// Made after the repository, the home is cleaned up before it: the
	// daemon stops before the repository goes.
	home := newHome(t)
	tip := gittest.Git(t, repo, "rev-parse", "main")
	// The pool must not refill on its own before the session is removed.
	d := startDaemonEnv(t, home, "STUDIOD_DEBUG_POOL_SETTLE=10m")
	c := d.client(nil)
	poolOf(t, c, repo)
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "used", Command: []string{"fakeagent", "-hang"}})
	if err != nil {
		t.Fatal(err)
	}
	// The session works: uncommitted, untracked and ignored files.
	gittest.Write(t, s.Worktree, map[string]string{"a.txt": "mine\n", "new.txt": "n\n", "build/out": "o\n"})
	var before syscall.Stat_t
	if err := syscall.Stat(filepath.Join(s.Worktree, ".gitignore"), &before); err != nil {
		t.Fatal(err)
	}
	ref := protocol.SessionRef{Session: s.ID}
	if _, err := c.Stop(t.Context(), protocol.StopParams{SessionRef: ref, Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Remove(t.Context(), protocol.RemoveParams{SessionRef: ref}); protocol.CodeOf(err) != protocol.CodeInvalid {
		t.Fatalf("remove with uncommitted work: got %v, want it refused", err)
	}
	if b, _ := os.ReadFile(filepath.Join(s.Worktree, "a.txt")); string(b) != "mine\n" {
		t.Fatalf("a refused remove touched the work: a.txt is %q", b)
	}
	if _, err := c.Remove(t.Context(), protocol.RemoveParams{SessionRef: ref, Force: true}); err != nil {
		t.Fatal(err)
	}
	p := checkPoolConsistent(t, c, repo)
	if _, err := os.Stat(s.Worktree); err == nil {
		t.Errorf("the session's worktree %s is still there", s.Worktree)
	}
	ready := readyTrees(p, tip)
	if len(ready) != 1 {
		t.Fatalf("ready trees: %+v", p)
	}
	var after syscall.Stat_t
	if err := syscall.Stat(filepath.Join(ready[0], ".gitignore"), &after); err != nil {
		t.Fatal(err)
	}
	if after.Ino != before.Ino {
		t.Errorf("the ready tree is not the recycled one (inode %d, want %d)", after.Ino, before.Ino)
	}
	if st := gittest.Git(t, ready[0], "status", "--porcelain", "--untracked-files=all", "--ignored"); st != "" {
		t.Errorf("recycled tree not clean: %q", st)
	}
	if out := gittest.Git(t, repo, "branch", "--list"); out != "* main" {
		t.Errorf("git branch: %q", out)
	}
}

// TestPoolCrash kills the daemon at the steps of taking a tree, making
// one and refreshing one; the next daemon leaves git and the pool
// consistent, nothing leaked, and spawns again.
func TestPoolCrash(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"pool-branch", "pool-head", "pool-create", "pool-refresh"} {
		t.Run(step, func(t *testing.T) {
			repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n", ".studio.toml": "[pool]\nsize = 1\n"})
			// Made after the repository, the home is cleaned up before it:
			// the daemon stops before the repository goes.
			home := newHome(t)
			if step != "pool-create" {
				d := startDaemon(t, home)
				poolOf(t, d.client(nil), repo)
				d.kill9()
			}
			d := startDaemonEnv(t, home, "STUDIOD_DEBUG_CRASH_AFTER="+step)
			c := d.client(nil)
			if step == "pool-branch" || step == "pool-head" {
				// The tree the last daemon left is checked before use.
				poolOf(t, c, repo)
			}
			spawned := make(chan error, 1)
			switch step {
			case "pool-branch", "pool-head":
				go func() {
					_, err := c.Spawn(context.Background(), protocol.SpawnParams{Repo: repo, Name: "cut", Command: []string{"fakeagent", "-hang"}})
					spawned <- err
				}()
			case "pool-create":
				go func() {
					_, err := c.Pool(context.Background(), protocol.PoolParams{Repo: repo, Wait: true})
					spawned <- err
				}()
			case "pool-refresh":
				gittest.Write(t, repo, map[string]string{"a.txt": "b\n"})
				gittest.Commit(t, repo, "move")
				go func() {
					_, err := c.Pool(context.Background(), protocol.PoolParams{Repo: repo, Wait: true})
					spawned <- err
				}()
			}
			if err := <-spawned; !errors.Is(err, protocol.ErrClosed) {
				t.Fatalf("the daemon answered (%v) instead of crashing after %s", err, step)
			}
			d.kill9() // reaps it: it is gone already

			d2 := startDaemon(t, home)
			c2 := d2.client(nil)
			tip := gittest.Git(t, repo, "rev-parse", "main")
			res, err := c2.Sessions(t.Context(), protocol.SessionsParams{All: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range res.Sessions {
				if s.State != protocol.StateFailed || !strings.Contains(s.Detail, "interrupted") {
					t.Errorf("session %s after restart: %s %q, want failed: interrupted", s.Name, s.State, s.Detail)
				}
			}
			if out := gittest.Git(t, repo, "branch", "--list"); out != "* main" {
				t.Errorf("git branch after restart: %q", out)
			}
			p := checkPoolConsistent(t, c2, repo)
			if len(readyTrees(p, tip)) != 1 {
				t.Errorf("ready trees at the tip after restart: %+v", p)
			}
			s, err := c2.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "cut", Command: []string{"fakeagent", "-hang"}})
			if err != nil {
				t.Fatalf("spawn after the restart: %v", err)
			}
			if head := gittest.Git(t, s.Worktree, "rev-parse", "HEAD"); head != tip {
				t.Errorf("session HEAD %s, want %s", head, tip)
			}
			checkPoolConsistent(t, c2, repo, s.Worktree)
		})
	}
}

// TestPoolCrashMidPrepare kills the daemon while a prepare command runs in
// a tree being refreshed: the next daemon ends what the command left
// running, removes the half-prepared tree and makes a good one.
func TestPoolCrashMidPrepare(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "prepare-started")
	repo := gittest.NewRepo(t, map[string]string{
		"a.txt":      "a\n",
		".gitignore": "deps/\n",
		".studio.toml": "[pool]\nsize = 1\n[setup]\nprepare = [\"mkdir -p deps && echo ok > deps/ready\", " +
			"\"if [ -p " + fifo + " ]; then echo $STUDIO_WORKTREE > " + fifo + "; sleep 300; fi\"]\n",
	})
	// Made after the repository, the home is cleaned up before it: the
	// daemon stops before the repository goes.
	home := newHome(t)
	d := startDaemon(t, home)
	c := d.client(nil)
	if _, err := c.Trust(t.Context(), protocol.TrustParams{Repo: repo}); err != nil {
		t.Fatal(err)
	}
	first := poolOf(t, c, repo)
	if len(first.Trees) != 1 {
		t.Fatalf("pool: %+v", first)
	}
	if b, _ := os.ReadFile(filepath.Join(first.Trees[0].Path, "deps/ready")); string(b) != "ok\n" {
		t.Fatalf("prepare did not run in the pool tree: deps/ready is %q", b)
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	gittest.Write(t, repo, map[string]string{"a.txt": "b\n"})
	gittest.Commit(t, repo, "move")
	// The refresh's prepare says where it runs, then hangs.
	b, err := os.ReadFile(fifo)
	if err != nil {
		t.Fatal(err)
	}
	tree := strings.TrimSpace(string(b))
	d.kill9()
	os.Remove(fifo)

	d2 := startDaemon(t, home)
	c2 := d2.client(nil)
	tip := gittest.Git(t, repo, "rev-parse", "main")
	p := checkPoolConsistent(t, c2, repo)
	ready := readyTrees(p, tip)
	if len(ready) != 1 || ready[0] == tree {
		t.Fatalf("ready trees after the restart: %q (the cut one was %s)", ready, tree)
	}
	if _, err := os.Stat(tree); err == nil {
		t.Errorf("the half-prepared tree %s is still there", tree)
	}
	if pids := procsIn(tree); len(pids) > 0 {
		t.Errorf("processes of the killed prepare still run in %s: %v", tree, pids)
	}
	s, err := c2.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "deps", Command: []string{"fakeagent", "-hang"}})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(s.Worktree, "deps/ready")); string(b) != "ok\n" {
		t.Errorf("the session did not get the prepared dependencies: deps/ready is %q", b)
	}
}

// procsIn lists the processes whose working directory is dir or below.
func procsIn(dir string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err == nil && (cwd == dir || strings.HasPrefix(cwd, dir+"/") || strings.HasPrefix(cwd, dir+" (deleted)")) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestFsmonitorHook runs the hook git runs in a session worktree: a file
// changed after a token is reported with the next answer, git's own status
// uses it and stays right, and with the daemon down the answer is "/".
func TestFsmonitorHook(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n", "dir/b.txt": "b\n"})
	// Made after the repository, the home is cleaned up before it: the
	// daemon stops before the repository goes.
	home := newHome(t)
	d := startDaemon(t, home)
	c := d.client(nil)
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "fsm", Command: []string{"fakeagent", "-hang"}})
	if err != nil {
		t.Fatal(err)
	}
	hook := gittest.Git(t, s.Worktree, "config", "core.fsmonitor")
	ask := func(token string) (string, []string) {
		t.Helper()
		cmd := exec.Command("sh", "-c", hook+` "$@"`, "hook", "2", token)
		cmd.Dir = s.Worktree
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("hook: %v", err)
		}
		parts := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
		return parts[0], parts[1:]
	}
	if !strings.Contains(hook, "studiod-fsmonitor' --socket") {
		t.Errorf("core.fsmonitor %q: want the small hook next to studiod", hook)
	}
	tok, paths := ask("1700000000000000000")
	if len(paths) != 1 || paths[0] != "/" {
		t.Fatalf("first answer: %q, want everything (/)", paths)
	}
	gittest.Write(t, s.Worktree, map[string]string{"a.txt": "changed\n", "dir/new.txt": "n\n"})
	tok2, paths := ask(tok)
	if strings.Join(paths, ",") != "a.txt,dir/new.txt" {
		t.Errorf("after two writes: %q, want a.txt and dir/new.txt", paths)
	}
	if _, paths = ask(tok2); len(paths) != 0 {
		t.Errorf("nothing changed: got %q", paths)
	}

	// studiod's own verb answers the same way.
	cmd := exec.Command("studiod", "fsmonitor", "--socket", d.socket(), "2", tok2)
	cmd.Dir = s.Worktree
	if out, err := cmd.Output(); err != nil || !strings.HasPrefix(string(out), "studiod:") || strings.Count(string(out), "\x00") != 1 {
		t.Errorf("studiod fsmonitor: %q, %v; want a token and no path", out, err)
	}

	// git status with the hook: right, and the hook answered it.
	status := func() (string, string) {
		cmd := exec.Command("git", "status", "--porcelain")
		cmd.Dir = s.Worktree
		cmd.Env = append(append(os.Environ(), gittest.Env...), "GIT_TRACE_FSMONITOR=1")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git status: %v: %s", err, stderr.String())
		}
		return strings.TrimRight(string(out), "\n"), stderr.String()
	}
	status() // the first one scans everything and keeps the token
	gittest.Write(t, s.Worktree, map[string]string{"dir/b.txt": "changed\n", "later.txt": "l\n"})
	got, trace := status()
	want := " M a.txt\n M dir/b.txt\n?? dir/new.txt\n?? later.txt"
	if got != want {
		t.Errorf("git status with the hook:\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(trace, "returned success") {
		t.Errorf("git did not use the hook:\n%s", trace)
	}

	// Daemon down: everything may have changed, and git still says the
	// right thing.
	d.kill9()
	if _, paths = ask(tok2); len(paths) != 1 || paths[0] != "/" {
		t.Errorf("daemon down: got %q, want /", paths)
	}
	gittest.Write(t, s.Worktree, map[string]string{"dir/b.txt": "b\n"})
	if got, _ := status(); got != " M a.txt\n?? dir/new.txt\n?? later.txt" {
		t.Errorf("git status with the daemon down:\n%s", got)
	}
}
