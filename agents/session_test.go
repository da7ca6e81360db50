package agents

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/vocab"
	"github.com/studiod/studiod/workspace"
)

// rig is a Manager over a Fake runtime and a real repository: the parts of
// a session run in process, the agent is played by the test.
type rig struct {
	t    *testing.T
	rt   *host.Fake
	opts Options
	m    *Manager
	repo string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	gittest.Setenv(t)
	home := t.TempDir()
	r := &rig{t: t, rt: host.NewFake(), repo: gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})}
	// The watcher outlives a restart, as the runtime's processes do.
	w, err := workspace.NewWatcher(workspace.DefaultGit, workspace.WatcherOptions{CookieDir: filepath.Join(home, "cookies")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	r.rt.StateDir, r.rt.Watcher = filepath.Join(home, "state"), w
	r.opts = Options{
		StateDir: filepath.Join(home, "state"), RuntimeDir: filepath.Join(home, "run"),
		WorktreeDir: filepath.Join(home, "wt"), UserConfig: filepath.Join(home, "config.toml"),
		Self: "/nonexistent/studiod", Runtime: r.rt, Watcher: w,
	}
	r.open()
	t.Cleanup(func() {
		if r.m != nil {
			r.m.Close()
		}
	})
	return r
}

// open starts a Manager over the rig's state, as a daemon starting.
func (r *rig) open() {
	r.t.Helper()
	m, err := New(r.t.Context(), r.opts)
	if err != nil {
		r.t.Fatalf("New: %v", err)
	}
	r.m = m
}

// restart closes the Manager and opens another over the same state and
// runtime, as a daemon restarting while its agents run on.
func (r *rig) restart() {
	r.t.Helper()
	r.m.Close()
	r.m = nil
	r.open()
}

func (r *rig) spawn(name string) (Session, *host.FakeProc) {
	r.t.Helper()
	s, err := r.m.Spawn(r.t.Context(), SpawnRequest{Repo: r.repo, Name: name, Command: []string{"agent"}}, nil)
	if err != nil {
		r.t.Fatalf("spawn %s: %v", name, err)
	}
	p := r.rt.Proc(s.ID)
	if p == nil {
		r.t.Fatalf("spawn %s started no process", name)
	}
	return s, p
}

// await waits until session id's record satisfies cond, and returns it.
func (r *rig) await(id string, what string, cond func(Session) bool) Session {
	r.t.Helper()
	changed := make(chan struct{}, 1)
	cancel := r.m.Subscribe(func(e Event) {
		if e.Session.ID == id {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	})
	defer cancel()
	for {
		s, err := r.m.Lookup(Ref{Session: id})
		if err != nil {
			r.t.Fatalf("lookup %s: %v", id, err)
		}
		if cond(s) {
			return s
		}
		select {
		case <-changed:
		case <-r.t.Context().Done():
			r.t.Fatalf("session %s: gave up waiting for %s; last %s (%s)", s.Name, what, s.State, s.Detail)
		}
	}
}

func (r *rig) awaitState(id string, state vocab.State) Session {
	r.t.Helper()
	return r.await(id, string(state), func(s Session) bool { return s.State == state })
}

func awaitProc(t *testing.T, p *host.FakeProc, what string, cond func(*host.FakeProc) bool) {
	t.Helper()
	if err := p.Await(t.Context(), cond); err != nil {
		t.Fatalf("process %s: waiting for %s: %v", p.ID(), what, err)
	}
}

func TestSessionLifecycle(t *testing.T) {
	r := newRig(t)
	s, p := r.spawn("life")
	if s.State != Working {
		t.Fatalf("after spawn: got state %s, want %s", s.State, Working)
	}
	if spec := p.Spec(); spec.Dir != s.Worktree || !slices.Equal(spec.Argv, []string{"agent"}) || spec.Mode != host.Terminal {
		t.Errorf("started %+v, want agent in %s on a terminal", spec, s.Worktree)
	}
	if !slices.Contains(p.Spec().Env, "STUDIO_SESSION_ID="+s.ID) {
		t.Errorf("the agent's environment lacks its session id")
	}
	if _, err := os.Stat(filepath.Join(s.Worktree, "a.txt")); err != nil {
		t.Errorf("worktree: %v", err)
	}

	p.Write([]byte("hello from the agent\n"))
	out, err := r.m.ReadOutput(Ref{Session: s.ID}, 0, 0)
	if err != nil || string(out.Data) != "hello from the agent\n" || out.Done {
		t.Errorf("ReadOutput: got %q, done %v, %v; want the agent's line, not done", out.Data, out.Done, err)
	}

	if _, err := r.m.Resize(t.Context(), Ref{Session: s.ID}, 40, 100); err != nil {
		t.Errorf("Resize: %v", err)
	}
	if _, err := r.m.Resize(t.Context(), Ref{Session: s.ID}, 0, 100); err == nil {
		t.Errorf("Resize to 0 rows: no error")
	}

	if _, d, err := r.m.Send(t.Context(), Ref{Session: s.ID}, "add tests", true); err != nil || d.Via != "typed" {
		t.Fatalf("Send: got %+v, %v; want typed", d, err)
	}
	awaitProc(t, p, "the message and Enter", func(p *host.FakeProc) bool { return p.HasTyped("add tests\r") })

	p.End(0)
	s = r.awaitState(s.ID, Exited)
	if s.ExitCode == nil || *s.ExitCode != 0 {
		t.Errorf("exit code: got %v, want 0", s.ExitCode)
	}
	out, _ = r.m.ReadOutput(Ref{Session: s.ID}, 0, 0)
	if !out.Done {
		t.Errorf("ReadOutput after exit: not done")
	}
	if _, err := r.m.Resize(t.Context(), Ref{Session: s.ID}, 40, 100); err == nil {
		t.Errorf("Resize of an exited session: no error")
	}

	res, err := r.m.Remove(t.Context(), Ref{Session: s.ID}, false, false)
	if err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if res.Session.State != Removed || !res.BranchDeleted {
		t.Errorf("Remove: got %s, branch deleted %v; want removed, deleted (nothing unmerged)", res.Session.State, res.BranchDeleted)
	}
	if _, err := os.Stat(s.Worktree); !os.IsNotExist(err) {
		t.Errorf("worktree after remove: %v, want gone", err)
	}
}

func TestSpawnExitingAtOnceRollsBack(t *testing.T) {
	r := newRig(t)
	r.rt.Started = func(p *host.FakeProc) {
		p.Write([]byte("error: no such model\n"))
		p.End(3)
	}
	s, _ := r.spawn("early")
	s = r.awaitState(s.ID, Failed)
	if !strings.Contains(s.Detail, "code 3") || !strings.Contains(s.Detail, "no such model") {
		t.Errorf("detail: got %q, want the exit code and the agent's last line", s.Detail)
	}
	if _, err := os.Stat(s.Worktree); !os.IsNotExist(err) {
		t.Errorf("worktree after rollback: %v, want gone", err)
	}
	if out, err := gittest.Try(r.repo, "rev-parse", "--verify", "refs/heads/"+s.Branch); err == nil {
		t.Errorf("branch %s after rollback: %s, want gone", s.Branch, out)
	}
}

func TestStop(t *testing.T) {
	r := newRig(t)
	s, p := r.spawn("stopme")
	if _, err := r.m.Remove(t.Context(), Ref{Session: s.ID}, false, false); err == nil {
		t.Fatalf("Remove of a working session without force: no error")
	}
	s, err := r.m.Stop(t.Context(), Ref{Session: s.ID}, false)
	if err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if s.State != Stopped {
		t.Errorf("after Stop: got %s, want %s", s.State, Stopped)
	}
	if got := p.Signals(); !slices.Equal(got, []syscall.Signal{syscall.SIGTERM}) {
		t.Errorf("signals: got %v, want SIGTERM", got)
	}
	if _, _, err := r.m.Send(t.Context(), Ref{Session: s.ID}, "more", true); err == nil {
		t.Errorf("Send to a stopped session (no resume command): no error")
	}
}

func TestLostProcess(t *testing.T) {
	r := newRig(t)
	s, p := r.spawn("lost")
	p.Kill()
	s = r.awaitState(s.ID, Failed)
	if !strings.Contains(s.Detail, "agent lost") {
		t.Errorf("detail: got %q, want it to say the agent was lost", s.Detail)
	}
}

func TestRestartReattaches(t *testing.T) {
	r := newRig(t)
	live, lp := r.spawn("live")
	done, dp := r.spawn("done")
	r.m.Close()
	r.m = nil
	// While no daemon watches: one agent writes, the other exits.
	lp.Write([]byte("written while the daemon was away\n"))
	dp.End(2)
	r.open()

	if s := r.awaitState(done.ID, Exited); s.ExitCode == nil || *s.ExitCode != 2 {
		t.Errorf("session that exited while away: exit code %v, want 2", s.ExitCode)
	}
	if s, _ := r.m.Lookup(Ref{Session: live.ID}); s.State != Working {
		t.Errorf("running session after restart: got %s, want %s", s.State, Working)
	}
	out, err := r.m.ReadOutput(Ref{Session: live.ID}, 0, 0)
	if err != nil || !strings.Contains(string(out.Data), "while the daemon was away") {
		t.Errorf("output after restart: got %q, %v", out.Data, err)
	}
	lp.End(0)
	r.awaitState(live.ID, Exited)
}

func TestMergeAndUndo(t *testing.T) {
	r := newRig(t)
	s, p := r.spawn("feature")
	gittest.Write(t, s.Worktree, map[string]string{"b.txt": "b\n"})
	gittest.Commit(t, s.Worktree, "add b")
	if _, _, err := r.m.Merge(t.Context(), Ref{Session: s.ID}, MergeRequest{}); err == nil {
		t.Fatalf("Merge of a working session without force: no error")
	}
	p.End(0)
	r.awaitState(s.ID, Exited)
	s = r.await(s.ID, "its change counted", func(s Session) bool { return s.Changes.Files == 1 })

	merged, res, err := r.m.Merge(t.Context(), Ref{Session: s.ID}, MergeRequest{})
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	if merged.State != Merged || res.New == "" {
		t.Errorf("Merge: got %s, commit %q; want merged with a commit", merged.State, res.New)
	}
	if got := gittest.Git(t, r.repo, "show", "main:b.txt"); got != "b" {
		t.Errorf("main:b.txt: got %q, want b", got)
	}
	undone, _, err := r.m.Undo(t.Context(), Ref{Session: s.ID})
	if err != nil {
		t.Fatalf("Undo: %v", err)
	}
	if _, err := gittest.Try(r.repo, "show", "main:b.txt"); err == nil {
		t.Errorf("main:b.txt after undo: still there")
	}
	if undone.State == Merged {
		t.Errorf("after undo: still %s", undone.State)
	}
}

func TestBadRequestsChangeNothing(t *testing.T) {
	r := newRig(t)
	for _, tc := range []struct {
		name string
		req  SpawnRequest
	}{
		{"bad name", SpawnRequest{Repo: r.repo, Name: "Bad Name", Command: []string{"agent"}}},
		{"no such profile", SpawnRequest{Repo: r.repo, Name: "x", Agent: "nosuch"}},
		{"bad scope", SpawnRequest{Repo: r.repo, Name: "x", Command: []string{"agent"}, Scopes: []string{"["}}},
		{"not a repository", SpawnRequest{Repo: t.TempDir(), Name: "x", Command: []string{"agent"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.m.Spawn(t.Context(), tc.req, nil); err == nil {
				t.Fatalf("Spawn: no error")
			}
			if l := r.m.List("", true); len(l) != 0 {
				t.Errorf("sessions after a refused spawn: %d, want none", len(l))
			}
		})
	}
	if _, err := r.m.Lookup(Ref{Session: "nosuch"}); err == nil {
		t.Errorf("Lookup of no session: no error")
	}
}

func TestSpawnCopiesAndSetsUp(t *testing.T) {
	r := newRig(t)
	os.WriteFile(filepath.Join(r.repo, ".env"), []byte("KEY=1\n"), 0o600)
	os.WriteFile(r.opts.UserConfig, []byte("[setup]\ncopy = [\".env\"]\ncommands = [\"echo $STUDIO_SESSION_ID > made.txt\"]\n"), 0o600)
	r.restart()
	s, _ := r.spawn("setup")
	if b, err := os.ReadFile(filepath.Join(s.Worktree, ".env")); err != nil || string(b) != "KEY=1\n" {
		t.Errorf(".env in the worktree: got %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(s.Worktree, "made.txt")); err != nil || strings.TrimSpace(string(b)) != s.ID {
		t.Errorf("what the setup command made: got %q, %v; want the session id", b, err)
	}

	os.WriteFile(r.opts.UserConfig, []byte("[setup]\ncommands = [\"echo broken >&2; exit 7\"]\n"), 0o600)
	r.restart()
	_, err := r.m.Spawn(t.Context(), SpawnRequest{Repo: r.repo, Name: "broken", Command: []string{"agent"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("spawn with a failing setup command: got %v, want its output in the error", err)
	}
	b, _ := r.m.Lookup(Ref{Session: "broken", Repo: r.repo})
	if b.State != Failed {
		t.Errorf("after a failed setup: got %s, want %s", b.State, Failed)
	}
	if _, err := os.Stat(b.Worktree); !os.IsNotExist(err) {
		t.Errorf("worktree after a failed setup: %v, want gone", err)
	}
}

// TestAnsweredEarlyExitIsNotAFailedStart: an agent that ends right after
// the person answered it (a trust question refused) ended because of the
// answer: it is exited, with its worktree, not a failed start rolled back,
// however soon after starting it ends.
func TestAnsweredEarlyExitIsNotAFailedStart(t *testing.T) {
	r := newRig(t)
	if err := os.WriteFile(r.opts.UserConfig, []byte("[agents.asker]\ncommand = [\"sh\"]\nwaiting = ['Trust this folder\\?']\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.opts.SpawnGrace = time.Hour // any end is "right after starting"
	r.restart()
	s, err := r.m.Spawn(t.Context(), SpawnRequest{Repo: r.repo, Name: "trusty", Agent: "asker"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := r.rt.Proc(s.ID)
	p.SetScreen("Trust this folder? (y/n)")
	p.Write([]byte("Trust this folder? (y/n)"))
	r.awaitState(s.ID, Waiting)
	if _, _, err := r.m.Answer(t.Context(), Ref{Session: s.ID}, "", "n", "test"); err != nil {
		t.Fatal(err)
	}
	awaitProc(t, p, "the answer", func(p *host.FakeProc) bool { return p.HasTyped("n") })
	p.Write([]byte("\nNot trusted: exiting.\n"))
	p.End(1)
	s = r.await(s.ID, "its end", func(s Session) bool { return s.State == Exited || s.State == Failed })
	if s.State != Exited {
		t.Fatalf("state %s (%s), want exited: the person's answer ended it", s.State, s.Detail)
	}
	if s.ExitCode == nil || *s.ExitCode != 1 {
		t.Errorf("exit code %v, want 1", s.ExitCode)
	}
	if _, err := os.Stat(s.Worktree); err != nil {
		t.Errorf("the worktree went with the answered session: %v", err)
	}
}

// TestSnapshotPinned: a session's newest snapshot has a ref, so that a gc
// pruning unreachable objects keeps the files its agent wrote and never
// committed; removing the session deletes the ref.
func TestSnapshotPinned(t *testing.T) {
	r := newRig(t)
	s, p := r.spawn("pinned")
	gittest.Write(t, s.Worktree, map[string]string{"notes.txt": "written by the agent, never committed\n"})
	blob := gittest.Git(t, s.Worktree, "hash-object", "notes.txt")
	r.m.refreshChanges(t.Context(), s.ID)
	r.await(s.ID, "its change stats", func(s Session) bool { return s.Changes.Files == 1 })
	ref := gittest.Git(t, r.repo, "rev-parse", "--verify", SnapPrefix+s.ID)
	if got := gittest.Git(t, r.repo, "rev-parse", ref+":notes.txt"); got != blob {
		t.Fatalf("the pinned snapshot's notes.txt is %s, want %s", got, blob)
	}
	gittest.Git(t, r.repo, "prune", "--expire=now")
	if _, err := gittest.Try(r.repo, "cat-file", "-e", blob); err != nil {
		t.Fatalf("a prune took the agent's uncommitted file: %v", err)
	}
	p.End(0)
	r.awaitState(s.ID, Exited)
	if _, err := r.m.Remove(t.Context(), Ref{Session: s.ID}, false, true); err != nil {
		t.Fatal(err)
	}
	if out, err := gittest.Try(r.repo, "rev-parse", "--verify", "-q", SnapPrefix+s.ID); err == nil {
		t.Errorf("the snapshot ref outlives the session: %s", out)
	}
}

// TestTrustKeyLost: keys typed at a trust question that the agent never
// read (its screen stays exactly as it was) are typed once more; keys it
// read (its screen changed) never are, whatever comes next.
func TestTrustKeyLost(t *testing.T) {
	defer func(a, k time.Duration) { answerSettle, keyLost = a, k }(answerSettle, keyLost)
	answerSettle, keyLost = 50*time.Millisecond, 300*time.Millisecond
	rows, err := os.ReadFile(filepath.Join("testdata", "screens", "gemini-trust.txt"))
	if err != nil {
		t.Fatal(err)
	}
	screen := strings.Split(strings.TrimRight(string(rows), "\n"), "\n")
	r := newRig(t)
	if err := os.WriteFile(r.opts.UserConfig, []byte("[agents.asker]\ncommand = [\"sh\"]\nscreen = \"gemini\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.restart()
	typed := func(p *host.FakeProc) int { return bytes.Count(p.Typed(), []byte("1")) }
	for _, tc := range []struct {
		name  string
		reads bool // the agent reads the key: its screen changes
		want  int  // times the key is typed
	}{
		{"lost", false, 2},
		{"read", true, 1},
	} {
		s, err := r.m.Spawn(t.Context(), SpawnRequest{Repo: r.repo, Name: "trust-" + tc.name, Agent: "asker"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := r.rt.Proc(s.ID)
		if tc.reads {
			p.OnInput(func([]byte) { p.SetScreen("Gemini CLI is restarting to apply the trust changes...") })
		}
		p.SetScreen(screen...)
		p.Write([]byte("trust?"))
		r.await(s.ID, "waiting on trust", func(s Session) bool { return s.State == Waiting && s.Ask != nil && s.Ask.Kind == WaitTrust })
		if _, _, err := r.m.Answer(t.Context(), Ref{Session: s.ID}, AnswerAllow, "", "test"); err != nil {
			t.Fatal(err)
		}
		if got := typed(p); got != tc.want {
			t.Errorf("%s: the trust key typed %d times (%q), want %d", tc.name, got, p.Typed(), tc.want)
		}
	}
}
