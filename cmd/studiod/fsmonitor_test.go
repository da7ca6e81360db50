package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// TestFsmonitorRandomOps runs random operations an agent's git and editor
// make — edits, renames, symlink swaps, stash -u and pop, reset --hard,
// checkout, commit and rebase — in a session worktree configured as the
// daemon configures it, and checks after each one that git status through
// the daemon's fsmonitor says what plain git status says, and that no git
// command dies (git 2.38–2.40 abort with "BUG: fsmonitor.c" when a split
// index is beside the fsmonitor). STUDIOD_FSMONITOR_SEED repeats a run.
func TestFsmonitorRandomOps(t *testing.T) {
	t.Parallel()
	files := map[string]string{}
	for i := range 12 {
		files[fmt.Sprintf("d%d/f%d.txt", i%3, i)] = fmt.Sprintf("file %d\n", i)
	}
	repo := gittest.NewRepo(t, files)
	for i := range 3 {
		gittest.Write(t, repo, map[string]string{fmt.Sprintf("base%d.txt", i): "b\n"})
		gittest.Git(t, repo, "add", "-A")
		gittest.Git(t, repo, "commit", "-q", "-m", fmt.Sprintf("base %d", i))
	}
	home := newHome(t)
	d := startDaemon(t, home)
	c := d.client(nil)
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "ops", Command: []string{"fakeagent", "-hang"}})
	if err != nil {
		t.Fatal(err)
	}
	wt := s.Worktree
	if hook, _ := gittest.Try(wt, "config", "core.fsmonitor"); hook == "" {
		t.Fatal("the session worktree has no fsmonitor hook")
	}
	branch := gittest.Git(t, wt, "branch", "--show-current")

	seed := uint64(rand.Uint32())
	if v := os.Getenv("STUDIOD_FSMONITOR_SEED"); v != "" {
		fmt.Sscan(v, &seed)
	}
	t.Logf("seed %d (STUDIOD_FSMONITOR_SEED)", seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	// git runs git as the agent would, with the worktree's own config; it
	// fails the test when git dies rather than refuses.
	var history []string
	git := func(args ...string) (string, error) {
		t.Helper()
		if rng.IntN(3) == 0 {
			// As the daemon's own git runs in the worktree (checkpoint
			// commits, sync, merges).
			args = append([]string{"-c", "core.fsmonitor=false", "-c", "core.splitIndex=false"}, args...)
		}
		cmd := exec.Command("git", args...)
		cmd.Dir = wt
		cmd.Env = append(os.Environ(), gittest.Env...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) && (ee.ExitCode() > 1 && ee.ExitCode() != 128 || ee.ExitCode() < 0) || strings.Contains(string(out), "BUG:") {
			t.Fatalf("git %s died (%v):\n%s\nafter:\n%s", strings.Join(args, " "), err, out, strings.Join(history, "\n"))
		}
		return string(out), err
	}
	// plain is git status without the fsmonitor or the untracked cache,
	// writing nothing to the index.
	plain := func() string {
		t.Helper()
		cmd := exec.Command("git", "-c", "core.fsmonitor=false", "-c", "core.untrackedCache=false", "status", "--porcelain", "-uall")
		cmd.Dir = wt
		cmd.Env = append(os.Environ(), append(gittest.Env, "GIT_OPTIONAL_LOCKS=0")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("plain git status: %v:\n%s\nafter:\n%s", err, out, strings.Join(history, "\n"))
		}
		return string(out)
	}
	path := func() string {
		return fmt.Sprintf("d%d/f%d.txt", rng.IntN(4), rng.IntN(16))
	}
	write := func(p, content string) {
		full := filepath.Join(wt, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if fi, err := os.Lstat(full); err == nil && fi.IsDir() {
			return
		}
		os.Remove(full) // a symlink is replaced, not followed
		os.WriteFile(full, []byte(content), 0o644)
	}
	commits := 0
	ops := []struct {
		name string
		do   func() string
	}{
		{"edit", func() string { p := path(); write(p, fmt.Sprintf("%d\n", rng.Int())); return p }},
		{"remove", func() string { p := path(); os.Remove(filepath.Join(wt, p)); return p }},
		{"rename", func() string {
			a, b := path(), path()
			os.MkdirAll(filepath.Dir(filepath.Join(wt, b)), 0o755)
			os.Rename(filepath.Join(wt, a), filepath.Join(wt, b))
			return a + " " + b
		}},
		{"git mv", func() string { a, b := path(), path(); git("mv", "-k", a, b); return a + " " + b }},
		{"symlink swap", func() string {
			p, target := path(), path()
			full := filepath.Join(wt, p)
			if fi, err := os.Lstat(full); err == nil && fi.Mode()&os.ModeSymlink != 0 {
				write(p, "was a link\n")
				return p + " (back to a file)"
			}
			os.Remove(full)
			os.MkdirAll(filepath.Dir(full), 0o755)
			rel, _ := filepath.Rel(filepath.Dir(full), filepath.Join(wt, target))
			os.Symlink(rel, full)
			return p + " -> " + target
		}},
		{"add", func() string { git("add", "-A"); return "" }},
		{"commit", func() string {
			git("add", "-A")
			if _, err := git("commit", "-q", "-m", fmt.Sprintf("c%d", commits)); err == nil {
				commits++
			}
			return ""
		}},
		{"stash -u", func() string { git("stash", "push", "-q", "-u"); return "" }},
		{"stash pop", func() string {
			if _, err := git("stash", "pop", "-q"); err != nil {
				git("reset", "-q", "--hard")
				git("clean", "-q", "-fd")
			}
			return ""
		}},
		{"reset --hard HEAD~1", func() string { git("reset", "-q", "--hard", "HEAD~1"); return "" }},
		{"checkout", func() string {
			if rng.IntN(2) == 0 {
				git("checkout", "-q", "-f", "-B", "side")
			} else {
				git("checkout", "-q", "-f", branch)
			}
			return ""
		}},
		{"checkout file", func() string { p := path(); git("checkout", "-q", "HEAD", "--", p); return p }},
		{"rebase", func() string {
			git("add", "-A")
			git("commit", "-q", "-m", "to rebase")
			if _, err := git("rebase", "-q", "--onto", "HEAD~2", "HEAD~1"); err != nil {
				git("rebase", "--abort")
			}
			return ""
		}},
		{"status", func() string { git("status", "--porcelain"); return "" }},
		{"merge", func() string {
			git("add", "-A")
			git("commit", "-q", "-m", "before merge")
			git("branch", "-f", "other", "HEAD~1")
			write(path(), "on other\n")
			if _, err := git("merge", "-q", "--no-edit", "other"); err != nil {
				git("merge", "--abort")
			}
			return ""
		}},
		{"rebase -r", func() string {
			if _, err := git("rebase", "-q", "--force-rebase", "-r", "HEAD~3"); err != nil {
				git("rebase", "--abort")
			}
			return ""
		}},
	}
	// A rebase -r and a merge, with the daemon's own git in between, are
	// what broke git 2.39's split index: twice as likely as the rest.
	weights := map[string]int{"rebase -r": 2, "merge": 2}
	var deck []int
	for i, op := range ops {
		for range max(1, weights[op.name]) {
			deck = append(deck, i)
		}
	}
	n := 300
	if testing.Short() || raceBuild {
		n = 60
	}
	for i := range n {
		op := ops[deck[rng.IntN(len(deck))]]
		arg := op.do()
		history = append(history, strings.TrimSpace(op.name+" "+arg))
		got, err := git("status", "--porcelain", "-uall")
		if err != nil {
			t.Fatalf("git status: %v:\n%s", err, got)
		}
		if want := plain(); got != want {
			t.Fatalf("op %d: git status with the fsmonitor:\n%s\nplain git status:\n%s\nafter:\n%s", i, got, want, strings.Join(history, "\n"))
		}
	}
}

// TestIndexRepairAtStart: a session worktree left with an index git
// aborts on (as git 2.38–2.40 left them beside a split index) works again
// once the daemon starts, and the daemon's log says what it did.
func TestIndexRepairAtStart(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	home := newHome(t)
	d := startDaemon(t, home)
	c := d.client(nil)
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "broken", Command: []string{"fakeagent", "-hang"}})
	if err != nil {
		t.Fatal(err)
	}
	gd := gittest.Git(t, s.Worktree, "rev-parse", "--absolute-git-dir")
	fixture, err := os.ReadFile("../../workspace/testdata/fsmonitor-bug.index")
	if err != nil {
		t.Fatal(err)
	}
	d.kill9()
	gittest.Git(t, s.Worktree, "config", "--worktree", "core.splitIndex", "true")
	if err := os.WriteFile(filepath.Join(gd, "index"), fixture, 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(gd, "sharedindex.0123456789012345678901234567890123456789"), nil, 0o644)
	gittest.Write(t, s.Worktree, map[string]string{"a.txt": "mine\n"})
	if out, err := gittest.Try(s.Worktree, "status", "--porcelain"); err == nil {
		t.Skipf("this git reads the index 2.38–2.40 abort on: %s", out)
	}
	startDaemon(t, home)
	if st, err := gittest.Try(s.Worktree, "status", "--porcelain"); err != nil || st != "M a.txt" {
		t.Errorf("git status after the daemon started: %q, %v; want the edit of a.txt", st, err)
	}
	b, _ := os.ReadFile(filepath.Join(home, "state", "studiod.log"))
	if !strings.Contains(string(b), "index repaired") || !strings.Contains(string(b), "rewritten from HEAD") {
		t.Errorf("the daemon's log does not say the index was repaired:\n%s", b)
	}
	// doctor says so too, naming the session and its worktree.
	if got := doctorCheck(t, home, "index"); !got.Warn || !strings.Contains(got.Detail, "repaired: broken ("+s.Worktree+")") ||
		!strings.Contains(got.Detail, "rewritten from HEAD") {
		t.Errorf("doctor's index check: %+v, want a warning that broken's index was rewritten", got)
	}
}

// doctorCheck runs `studiod doctor --json` against the daemon at home and
// returns its check called name.
func doctorCheck(t *testing.T, home, name string) check {
	t.Helper()
	cmd := exec.Command("studiod", "doctor", "--json")
	cmd.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	out, _ := cmd.Output()
	var res struct{ Checks []check }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, out)
	}
	for _, c := range res.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("doctor has no %s check: %s", name, out)
	return check{}
}
