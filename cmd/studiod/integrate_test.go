package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/internal/studiotest"
	"github.com/studiod/studiod/protocol"
)

// The integration repository: main.sh calls hello from lib.sh, and the
// check runs every script. Sessions rename hello (and its caller), add a
// new caller of hello, document, and two of them change the same line of
// notes.txt.
var integFiles = map[string]string{
	"lib.sh":       "hello() { echo \"hello $1\"; }\n",
	"main.sh":      ". ./lib.sh\nhello world\n",
	"check.sh":     "set -e\nfor f in *.sh; do [ \"$f\" = check.sh ] || sh -e \"$f\"; done\necho all scripts ran\n",
	"notes.txt":    "notes\n",
	"README.md":    "# integ\n",
	".studio.toml": "[check]\ncommand = \"sh check.sh\"\n",
}

// agentWriting is an agent that writes files (uncommitted) and then echoes
// what it is sent: the fake agent behind a copy.
func agentWriting(t *testing.T, files map[string]string) []string {
	t.Helper()
	dir := t.TempDir()
	gittest.Write(t, dir, files)
	return []string{"sh", "-c", "cp -R " + dir + "/. . && exec fakeagent -echo"}
}

// integEnv is a daemon with a client that follows sessions, conflicts,
// previews and the output of the sessions it spawns.
type integEnv struct {
	t    *testing.T
	repo string
	d    *daemon
	c    *protocol.Client
	w    *studiotest.Watch

	mu       sync.Mutex
	previews []protocol.Preview
	outs     []protocol.OutputSubscription
}

func newIntegEnv(t *testing.T, files map[string]string, env ...string) *integEnv {
	t.Helper()
	e := &integEnv{t: t, repo: gittest.NewRepo(t, files)}
	e.d = startDaemonEnv(t, newHome(t), env...)
	e.connect()
	return e
}

func (e *integEnv) connect() {
	e.w = studiotest.NewWatch()
	e.c = e.d.client(func(method string, params json.RawMessage) {
		if method == protocol.NotifyPreviewChanged {
			var n protocol.PreviewChanged
			if json.Unmarshal(params, &n) == nil {
				e.mu.Lock()
				e.previews = append(e.previews, n.Preview)
				e.mu.Unlock()
			}
		}
		e.w.Receive(method, params)
	})
	e.w.Follow(e.t, e.c, e.outs...)
	e.subscribe()
}

func (e *integEnv) subscribe() {
	e.t.Helper()
	if _, err := e.c.Subscribe(e.t.Context(), protocol.SubscribeParams{Sessions: true, Conflicts: true, Preview: true, Output: e.outs}); err != nil {
		e.t.Fatal(err)
	}
}

// spawn starts an agent that writes files, and waits for it to be idle.
func (e *integEnv) spawn(name string, files map[string]string) *protocol.Session {
	e.t.Helper()
	s, err := e.c.Spawn(e.t.Context(), protocol.SpawnParams{Repo: e.repo, Name: name, Command: agentWriting(e.t, files)})
	if err != nil {
		e.t.Fatal(err)
	}
	e.outs = append(e.outs, protocol.OutputSubscription{Session: s.ID, Offset: 0})
	e.subscribe()
	e.awaitWork(s.ID)
	return s
}

// awaitWork waits until a session is idle and its changes are seen (its
// change stats come from the snapshots previews fold).
func (e *integEnv) awaitWork(ref string) {
	e.t.Helper()
	e.w.Await(e.t, "session "+ref+" idle with its changes seen", func() bool {
		s, ok := e.w.Session(ref)
		return ok && s.State == protocol.StateIdle && s.Changes.Files > 0
	}, func() string { s, _ := e.w.Session(ref); return jsonString(s) })
}

func (e *integEnv) output(name string) string {
	s, _ := e.w.Session(name)
	out, _ := e.w.Output(s.ID)
	return string(out)
}

func (e *integEnv) lastPreview() (protocol.Preview, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.previews) == 0 {
		return protocol.Preview{}, false
	}
	return e.previews[len(e.previews)-1], true
}

func previewSession(pv *protocol.Preview, name string) protocol.PreviewSession {
	for _, ps := range pv.Sessions {
		if ps.Session == name {
			return ps
		}
	}
	return protocol.PreviewSession{}
}

// TestIntegrationLoop runs the loop on a real repository: a check fails for
// one pair of sessions that merge cleanly (one renames a function, the
// other adds a call to the old name); preview names the pair and leaves a
// conflicting session out with its reason; land lands the others, stops at
// the breaking one and tells its agent; the remaining sessions show how far
// behind they are, one syncs cleanly and the other is refused; the land is
// undone.
func TestIntegrationLoop(t *testing.T) {
	t.Parallel()
	e := newIntegEnv(t, integFiles)
	ctx := t.Context()
	if _, err := e.c.Trust(ctx, protocol.TrustParams{Repo: e.repo}); err != nil {
		t.Fatal(err)
	}
	e.spawn("docs", map[string]string{"README.md": "# integ\n\nHow to run: sh main.sh\n"})
	e.spawn("rename", map[string]string{"lib.sh": "greet() { echo \"hello $1\"; }\n", "main.sh": ". ./lib.sh\ngreet world\n"})
	e.spawn("caller", map[string]string{"extra.sh": ". ./lib.sh\nhello caller\n"})
	e.spawn("red", map[string]string{"notes.txt": "notes by red\n"})
	e.spawn("blue", map[string]string{"notes.txt": "notes by blue\n"})
	old := gittest.Git(t, e.repo, "rev-parse", "main")

	// Without the check: everything but blue combines.
	pv, err := e.c.Preview(ctx, protocol.PreviewParams{Repo: e.repo})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"docs", "rename", "caller", "red"}; !slices.Equal(pv.Order, want) {
		t.Fatalf("order %v, want %v\n%+v", pv.Order, want, pv.Sessions)
	}
	blue := previewSession(pv, "blue")
	if blue.Status != protocol.PreviewConflict || !slices.Equal(blue.With, []string{"red"}) || !strings.Contains(blue.Reason, "notes.txt (line 1)") {
		t.Errorf("blue: %+v, want left out for a conflict with red on notes.txt line 1", blue)
	}
	if gittest.Git(t, e.repo, "rev-parse", "main") != old {
		t.Fatal("preview moved main")
	}

	// With the check: caller breaks it together with rename.
	pv, err = e.c.Preview(ctx, protocol.PreviewParams{Repo: e.repo, Check: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"docs", "rename", "red"}; !slices.Equal(pv.Order, want) {
		t.Fatalf("checked order %v, want %v\n%+v\n%+v", pv.Order, want, pv.Sessions, pv.Check)
	}
	if pv.Check == nil || pv.Check.Status != protocol.CheckFailed || !slices.Equal(pv.Check.Culprit, []string{"rename", "caller"}) {
		t.Fatalf("check %+v, want failed with the pair rename, caller", pv.Check)
	}
	caller := previewSession(pv, "caller")
	if caller.Status != protocol.PreviewBreaks || !slices.Equal(caller.With, []string{"rename"}) || !strings.Contains(caller.Reason, "combined with rename") {
		t.Errorf("caller: %+v, want breaks with rename", caller)
	}
	if !strings.Contains(pv.Check.Tail, "hello: not found") {
		t.Errorf("check tail %q lacks the failure", pv.Check.Tail)
	}
	if b, err := os.ReadFile(pv.Check.Log); err != nil || !strings.Contains(string(b), "sh check.sh") {
		t.Errorf("full log %s: %v\n%s", pv.Check.Log, err, b)
	}
	for _, name := range pv.Order {
		if ps := previewSession(pv, name); ps.Check != protocol.CheckPassed {
			t.Errorf("%s in the order: check %q, want passed", name, ps.Check)
		}
	}

	// Land: the others land, caller stops the queue and hears why.
	r, err := e.c.Land(ctx, protocol.LandParams{Repo: e.repo, Check: true, SendFailures: true})
	if err != nil {
		t.Fatal(err)
	}
	var landed []string
	for _, d := range r.Landed {
		landed = append(landed, d.Session)
		if d.Check == nil || d.Check.Status != protocol.CheckPassed {
			t.Errorf("%s landed without a passing check: %+v", d.Session, d.Check)
		}
	}
	if !slices.Equal(landed, []string{"docs", "rename", "red"}) || r.Stopped == nil || r.Stopped.Session != "caller" || r.Stopped.Reason != "check" {
		t.Fatalf("land: landed %v, stopped %+v", landed, r.Stopped)
	}
	if !r.Stopped.Sent || r.Stopped.Via != "typed" || !slices.Equal(r.Remaining, []string{"blue"}) {
		t.Errorf("stop %+v, remaining %v: want the failure sent to caller's agent and blue not tried", r.Stopped, r.Remaining)
	}
	e.w.Await(t, "caller's agent to get the failure", func() bool {
		out := e.output("caller")
		return strings.Contains(out, "got: studiod could not land your work on main") && strings.Contains(out, "hello: not found")
	}, func() string { return e.output("caller") })
	// On this connection the agent's "working" came before its output: once
	// it is idle again it has handled the message.
	e.w.AwaitState(t, "caller", protocol.StateIdle)
	if got := gittest.Git(t, e.repo, "rev-parse", "main"); got != r.New || r.Old != old {
		t.Errorf("main at %s; land says %s → %s", got, r.Old, r.New)
	}
	for _, f := range []string{"README.md", "lib.sh", "notes.txt"} {
		if out := gittest.Git(t, e.repo, "diff", "--stat", old, "main", "--", f); out == "" {
			t.Errorf("%s did not change on main", f)
		}
	}
	if _, err := gittest.Try(e.repo, "cat-file", "-e", "main:extra.sh"); err == nil {
		t.Error("caller's extra.sh landed")
	}

	// The rest: both behind main by three merges (each a checkpoint of the
	// session's uncommitted work and a merge commit); blue would conflict,
	// caller would not.
	e.w.Await(t, "blue and caller to know they are behind", func() bool {
		b, _ := e.w.Session("blue")
		c, _ := e.w.Session("caller")
		return b.Behind == 6 && b.WouldConflict && c.Behind == 6 && !c.WouldConflict
	}, func() string {
		b, _ := e.w.Session("blue")
		c, _ := e.w.Session("caller")
		return "blue " + jsonString(b) + "\ncaller " + jsonString(c)
	})
	_, err = e.c.Sync(ctx, protocol.SyncParams{SessionRef: protocol.SessionRef{Session: "blue", Repo: e.repo}, Send: true})
	var pe *protocol.Error
	if protocol.CodeOf(err) != protocol.CodeMergeConflict || !asError(err, &pe) {
		t.Fatalf("sync blue: %v, want a merge conflict", err)
	}
	var data protocol.MergeConflictData
	json.Unmarshal(pe.Data, &data)
	if !slices.Equal(data.Paths, []string{"notes.txt"}) || !data.Sent {
		t.Errorf("refused sync data %+v, want notes.txt, sent", data)
	}
	e.w.Await(t, "blue's agent to get the conflicts", func() bool {
		return strings.Contains(e.output("blue"), "got: main has moved on and bringing it into your branch conflicts in notes.txt")
	}, func() string { return e.output("blue") })
	sr, err := e.c.Sync(ctx, protocol.SyncParams{SessionRef: protocol.SessionRef{Session: "caller", Repo: e.repo}, Strategy: protocol.StrategyRebase})
	if err != nil {
		t.Fatal(err)
	}
	if sr.Checkpoint == "" || sr.TargetTip != r.New {
		t.Errorf("sync caller: %+v, want a checkpoint and main's tip %s", sr, r.New)
	}
	if _, err := gittest.Try(e.repo, "merge-base", "--is-ancestor", r.New, "studio/caller"); err != nil {
		t.Errorf("caller's branch lacks main after the sync: %v", err)
	}
	if st := gittest.Git(t, sr.Session.Worktree, "status", "--porcelain"); st != "" {
		t.Errorf("caller's worktree after the sync:\n%s", st)
	}
	e.w.Await(t, "caller up to date", func() bool {
		c, _ := e.w.Session("caller")
		return c.Behind == 0
	})

	// Undo the land: main is back, the landed sessions too.
	u, err := e.c.UndoLand(ctx, protocol.UndoLandParams{Repo: e.repo, Land: "last"})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != r.ID || u.Restored != old || !slices.Equal(u.Sessions, []string{"docs", "rename", "red"}) {
		t.Errorf("undo land: %+v", u)
	}
	if got := gittest.Git(t, e.repo, "rev-parse", "main"); got != old {
		t.Errorf("main after undo: %s, want %s", got, old)
	}
	e.w.Await(t, "the landed sessions back from merged", func() bool {
		for _, name := range []string{"docs", "rename", "red"} {
			if s, _ := e.w.Session(name); s.State != protocol.StateStopped {
				return false
			}
		}
		return true
	})
	if _, err := e.c.UndoLand(ctx, protocol.UndoLandParams{Repo: e.repo, Land: r.ID}); protocol.CodeOf(err) != protocol.CodeInvalid {
		t.Errorf("undo twice: %v, want invalid", err)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func asError(err error, pe **protocol.Error) bool {
	e, ok := err.(*protocol.Error)
	*pe = e
	return ok && e != nil
}

// TestLandCrashRecovery kills the daemon (SIGKILL, from inside, right after
// each journaled step of a two-session land: the queue recorded, each step
// of each merge, each merge recorded) and restarts it: the target is at a
// state reached by whole merges only, every backup ref of a merge that
// moved it is kept, the queue is recorded as interrupted, and resuming it
// lands the rest.
func TestLandCrashRecovery(t *testing.T) {
	t.Parallel()
	steps := []string{"land-begin", "begin", "checkpoint", "build", "backup", "move", "land-merged", "move#2", "land-merged#2"}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			e := newIntegEnv(t, map[string]string{"a.txt": "a\n"}, "STUDIOD_DEBUG_CRASH_AFTER="+step)
			old := gittest.Git(t, e.repo, "rev-parse", "main")
			for _, name := range []string{"one", "two"} {
				s, err := e.c.Spawn(t.Context(), protocol.SpawnParams{Repo: e.repo, Name: name,
					Command: []string{"fakeagent", "-edit", name + ".txt", "-echo"}})
				if err != nil {
					t.Fatal(err)
				}
				e.awaitWork(s.ID)
			}
			if r, err := e.c.Land(t.Context(), protocol.LandParams{Repo: e.repo}); err == nil {
				t.Fatalf("the land finished although the daemon was to die: %+v, stopped %+v", r, r.Stopped)
			}
			select {
			case <-e.d.exited:
			case <-t.Context().Done():
				t.Fatal("the daemon did not die")
			}

			e.d = startDaemon(t, e.d.home)
			e.connect()
			// Whole merges only: main's first parents back to the old tip
			// are merge commits of the sessions, in order.
			chain := strings.Fields(gittest.Git(t, e.repo, "rev-list", "--first-parent", "--reverse", old+"..main"))
			if len(chain) > 2 {
				t.Fatalf("main moved by %d commits: %v", len(chain), chain)
			}
			backups := gittest.Git(t, e.repo, "for-each-ref", "--format=%(objectname)", "refs/studio/backup/main/")
			for i, c := range chain {
				want := []string{"one.txt", "two.txt"}[i]
				if got := gittest.Git(t, e.repo, "show", c+":"+want); got != "edited by "+[]string{"one", "two"}[i] {
					t.Errorf("merge %d (%s) lacks %s: %q", i+1, c, want, got)
				}
				if parents := strings.Fields(gittest.Git(t, e.repo, "rev-list", "--parents", "-n1", c)); len(parents) != 3 {
					t.Errorf("main's commit %s is not a merge: %v", c, parents)
				}
				if prev := gittest.Git(t, e.repo, "rev-parse", c+"^1"); !strings.Contains(backups, prev) {
					t.Errorf("no backup ref of %s, the tip before merge %d: %q", prev, i+1, backups)
				}
			}
			wantMoved := map[string]int{"move": 1, "land-merged": 1, "move#2": 2, "land-merged#2": 2}[step]
			if len(chain) != wantMoved {
				t.Errorf("crash after %s: main moved by %d merges, want %d", step, len(chain), wantMoved)
			}
			// The queue says it was interrupted, with what landed.
			files, _ := filepath.Glob(filepath.Join(e.d.home, "state", "lands", "*.json"))
			if len(files) != 1 {
				t.Fatalf("land records: %v", files)
			}
			var rec struct {
				Status string `json:"status"`
				Landed []struct {
					Name string `json:"name"`
				} `json:"landed"`
			}
			b, _ := os.ReadFile(files[0])
			json.Unmarshal(b, &rec)
			if rec.Status != "interrupted" || len(rec.Landed) != len(chain) {
				t.Errorf("land record after the crash: status %s, %d landed; want interrupted, %d", rec.Status, len(rec.Landed), len(chain))
			}
			for _, name := range []string{"one", "two"} {
				e.w.AwaitState(t, name, protocol.StateIdle, protocol.StateMerged, protocol.StateStopped, protocol.StateExited)
			}
			r, err := e.c.Land(t.Context(), protocol.LandParams{Repo: e.repo, Resume: "last"})
			if err != nil {
				t.Fatalf("resume: %v", err)
			}
			if r.Status != protocol.LandDone || len(r.Landed) != 2 || r.Old != old {
				t.Fatalf("resumed land: %+v, stopped: %+v", r, r.Stopped)
			}
			for _, f := range []string{"one.txt", "two.txt"} {
				if _, err := gittest.Try(e.repo, "cat-file", "-e", "main:"+f); err != nil {
					t.Errorf("%s not on main after the resumed land", f)
				}
			}
			// And the whole queue can be undone.
			if _, err := e.c.UndoLand(t.Context(), protocol.UndoLandParams{Repo: e.repo, Land: r.ID}); err != nil {
				t.Fatal(err)
			}
			if got := gittest.Git(t, e.repo, "rev-parse", "main"); got != old {
				t.Errorf("main after undoing the land: %s, want %s", got, old)
			}
		})
	}
}

// TestPreviewCheckCancelled: a change while the check runs makes a newer
// preview, which cancels the older check (its whole process group is
// killed) and checks the new combination; the request gets the newer
// verdict.
func TestPreviewCheckCancelled(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	fifo := filepath.Join(tmp, "started")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	check := "if [ -f slow.txt ]; then sleep 1000 & echo $! > " + tmp + "/sleeper; echo started > " + fifo + "; wait; fi; echo quick"
	e := newIntegEnv(t, map[string]string{"README.md": "hi\n"})
	s := e.spawn("slow", map[string]string{"slow.txt": "slow\n"})
	type result struct {
		pv  *protocol.Preview
		err error
	}
	done := make(chan result, 1)
	go func() {
		pv, err := e.c.Preview(t.Context(), protocol.PreviewParams{Repo: e.repo, Check: true, CheckCommand: check})
		done <- result{pv, err}
	}()
	started, err := os.ReadFile(fifo) // blocks until the check has started
	if err != nil || strings.TrimSpace(string(started)) != "started" {
		t.Fatalf("the check did not start: %q, %v", started, err)
	}
	pid, err := os.ReadFile(filepath.Join(tmp, "sleeper"))
	if err != nil {
		t.Fatal(err)
	}
	// The agent changes its mind: no slow file any more.
	os.Remove(filepath.Join(s.Worktree, "slow.txt"))
	gittest.Write(t, s.Worktree, map[string]string{"quick.txt": "quick\n"})
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.pv.Check == nil || r.pv.Check.Status != protocol.CheckPassed || !strings.Contains(r.pv.Check.Tail, "quick") {
		t.Fatalf("check %+v, want the new combination checked and passed", r.pv.Check)
	}
	if r.pv.Generation < 2 {
		t.Errorf("generation %d: the verdict is not of a newer preview", r.pv.Generation)
	}
	// The cancelled check's process group is gone (at most a zombie
	// waiting to be reaped by init).
	n, _ := strconv.Atoi(strings.TrimSpace(string(pid)))
	if st, err := os.ReadFile("/proc/" + strconv.Itoa(n) + "/stat"); err == nil {
		if f := strings.Fields(string(st)); len(f) > 2 && f[2] != "Z" {
			t.Errorf("the cancelled check's sleep (pid %d) still runs: %s", n, st)
		}
	}
}
