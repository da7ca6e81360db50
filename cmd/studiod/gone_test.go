package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// TestWorktreeDeletedByHand: a session whose worktree is deleted outside
// studiod says so (and counts no changes), whether the daemon saw it go or
// was down at the time, and `rm` removes it.
func TestWorktreeDeletedByHand(t *testing.T) {
	t.Parallel()
	for _, down := range []bool{false, true} {
		name := map[bool]string{false: "live", true: "down"}[down]
		t.Run(name, func(t *testing.T) {
			repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
			home := newHome(t)
			d := startDaemon(t, home)
			c, w := d.watch()
			s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "gone",
				Command: []string{"fakeagent", "-edit", "work.txt", "-hang"}})
			if err != nil {
				t.Fatal(err)
			}
			w.Await(t, "the change to be counted", func() bool {
				got, _ := w.Session(s.ID)
				return got.Changes.Files == 1
			}, func() string { got, _ := w.Session(s.ID); return jsonString(got) })
			if down {
				d.kill9()
			}
			if err := os.RemoveAll(s.Worktree); err != nil {
				t.Fatal(err)
			}
			if down {
				d = startDaemon(t, home)
				c, w = d.watch()
			}
			w.Await(t, "the session to say its worktree is gone", func() bool {
				got, _ := w.Session(s.ID)
				return strings.Contains(got.Detail, "deleted outside studiod") && got.Changes.Files == 0
			}, func() string { got, _ := w.Session(s.ID); return jsonString(got) })
			if _, err := c.Remove(t.Context(), protocol.RemoveParams{SessionRef: protocol.SessionRef{Session: s.ID}}); err != nil {
				t.Fatalf("rm: %v", err)
			}
			if got := sessionState(t, c, s.ID); got.State != protocol.StateRemoved {
				t.Errorf("after rm the session is %s", got.State)
			}
		})
	}
}

// TestHintedSessionIdles: an agent that reported through $STUDIO_HOOK
// that it was working, then went silent without another word, returns to
// idle once silent for the idle timeout, as an agent without hooks does;
// so it does after review feedback typed into it.
func TestHintedSessionIdles(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	home := newHome(t)
	d := startDaemonEnv(t, home, "STUDIOD_IDLE_TIMEOUT=1s")
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "hinted",
		Command: []string{"fakeagent", "-ask", "Proceed?", "-hang"}})
	if err != nil {
		t.Fatal(err)
	}
	w.AwaitState(t, s.ID, protocol.StateWaiting)
	if _, err := c.Send(t.Context(), protocol.SendParams{SessionRef: protocol.SessionRef{Session: s.ID}, Text: "yes"}); err != nil {
		t.Fatal(err)
	}
	// It says "working" through $STUDIO_HOOK, and nothing more.
	w.AwaitState(t, s.ID, protocol.StateWorking)
	w.AwaitState(t, s.ID, protocol.StateIdle)

	// Review comments typed into it put it to work; silent after them, it
	// is idle again.
	ref := protocol.SessionRef{Session: s.ID}
	gittest.Write(t, s.Worktree, map[string]string{"a.txt": "b\n"})
	w.Await(t, "the edit counted", func() bool { got, _ := w.Session(s.ID); return got.Changes.Files == 1 })
	if _, err := c.Comment(t.Context(), protocol.CommentParams{SessionRef: ref, Path: "a.txt", StartLine: 1, EndLine: 1, Body: "why b?"}); err != nil {
		t.Fatal(err)
	}
	// workedThenIdled waits for working, then idle, among the session's
	// events since before.
	workedThenIdled := func(what string, before int) {
		t.Helper()
		w.Await(t, "working after "+what+", then idle", func() bool {
			evs := w.Events(s.ID)[before:]
			i := slices.IndexFunc(evs, func(e protocol.Session) bool { return e.State == protocol.StateWorking })
			return i >= 0 && slices.ContainsFunc(evs[i:], func(e protocol.Session) bool { return e.State == protocol.StateIdle })
		}, func() string { got, _ := w.Session(s.ID); return jsonString(got) })
	}
	before := len(w.Events(s.ID))
	if _, err := c.Feedback(t.Context(), ref); err != nil {
		t.Fatal(err)
	}
	workedThenIdled("the feedback", before)

	// A land whose check fails sends the failure to the agent: the same.
	before = len(w.Events(s.ID))
	r, err := c.Land(t.Context(), protocol.LandParams{Repo: repo, Sessions: []string{s.ID}, Check: true, CheckCommand: "if grep -q b a.txt; then echo b is broken; exit 1; fi", SendFailures: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Stopped == nil || r.Stopped.Reason != "check" || !r.Stopped.Sent || len(r.Landed) != 0 {
		t.Fatalf("land: %+v, stopped %+v", r, r.Stopped)
	}
	workedThenIdled("a failed land", before)

	// A sync refused on a conflict with the target sends the conflicts: the
	// same.
	gittest.Write(t, repo, map[string]string{"a.txt": "c\n"})
	gittest.Git(t, repo, "commit", "-qam", "c on main")
	w.Await(t, "the conflict with main predicted", func() bool { got, _ := w.Session(s.ID); return got.Conflicts > 0 },
		func() string { got, _ := w.Session(s.ID); return jsonString(got) })
	before = len(w.Events(s.ID))
	if _, err := c.Sync(t.Context(), protocol.SyncParams{SessionRef: ref, Send: true}); protocol.CodeOf(err) != protocol.CodeMergeConflict {
		t.Fatalf("sync over a conflict: %v", err)
	}
	workedThenIdled("a refused sync", before)
}

// TestPoolDiskCapAfterRestart: the pool's trees from before a restart
// count what they take on disk, and a cap lowered meanwhile (or while the
// daemon runs) is enforced on the running daemon: it removes trees until
// the pool fits.
func TestPoolDiskCapAfterRestart(t *testing.T) {
	t.Parallel()
	for _, restart := range []bool{true, false} {
		t.Run(map[bool]string{true: "restart", false: "running"}[restart], func(t *testing.T) {
			repo := gittest.NewRepo(t, map[string]string{"a.txt": gittest.Lines(2000), ".studio.toml": "[pool]\nsize = 2\n"})
			home := newHome(t)
			d := startDaemon(t, home)
			c := d.client(nil)
			var p protocol.PoolRepo
			deadline := time.Now().Add(2 * time.Minute)
			for p = poolOf(t, c, repo); len(p.Trees) < 2; p = poolOf(t, c, repo) {
				if time.Now().After(deadline) {
					t.Fatalf("the pool never had 2 trees: %+v", p)
				}
				time.Sleep(50 * time.Millisecond)
			}
			one := p.Trees[0].Bytes
			if one == 0 {
				t.Fatalf("a pool tree takes 0 bytes: %+v", p)
			}
			if restart {
				d.kill9()
			}
			writeConfig(t, home, fmt.Sprintf("[pool]\nmax_disk = \"%d\"\n", one*3/2))
			if restart {
				c = startDaemon(t, home).client(nil)
			}
			deadline = time.Now().Add(2 * time.Minute)
			for p = poolOf(t, c, repo); len(p.Trees) != 1 || p.Bytes > one*3/2; p = poolOf(t, c, repo) {
				if time.Now().After(deadline) {
					t.Fatalf("the pool is over its cap of %d bytes: %+v", one*3/2, p)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// TestRemoveCleansTempObjects: the temporary object files a write cut short
// left in the repository (git on a full disk leaves its tmp_obj_ files)
// are gone once a session is removed.
func TestRemoveCleansTempObjects(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	home := newHome(t)
	c := startDaemon(t, home).client(nil)
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "tmp", Command: []string{"fakeagent", "-hang"}})
	if err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(repo, ".git", "objects", "ab", "tmp_obj_cut")
	os.MkdirAll(filepath.Dir(left), 0o755)
	if err := os.WriteFile(left, []byte("half an object"), 0o444); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Minute)
	os.Chtimes(left, old, old)
	// doctor says what they take and what deletes them.
	if got := doctorCheck(t, home, "objects"); !got.Warn || !strings.Contains(got.Detail, repo+": ") ||
		!strings.Contains(got.Detail, "1 temporary object file(s)") || !strings.Contains(got.Detail, "studiod rm") {
		t.Errorf("doctor's objects check: %+v, want a warning of the temporary file", got)
	}
	if _, err := c.Remove(t.Context(), protocol.RemoveParams{SessionRef: protocol.SessionRef{Session: s.ID}, Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); err == nil {
		t.Error("a tmp_obj_ file left by a cut-short write is still in the repository")
	}
	if got := doctorCheck(t, home, "objects"); !got.OK || !strings.Contains(got.Detail, repo+": ") || !strings.Contains(got.Detail, "loose objects") {
		t.Errorf("doctor's objects check after rm: %+v, want the loose objects counted, nothing to warn of", got)
	}
}

// TestRestartedWorkingIdles: a daemon killed while an agent works, the
// agent silent from then on: the next daemon takes the session back as
// working and, with nothing more from the agent, makes it idle after the
// idle time (no output comes to start its timers).
func TestRestartedWorkingIdles(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
	home := newHome(t)
	d := startDaemonEnv(t, home, "STUDIOD_IDLE_TIMEOUT=1h")
	c, w := d.watch()
	s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "quiet",
		Command: []string{"sh", "-c", `$STUDIO_HOOK working; $STUDIO_HOOK note reported; exec sleep 1000`}})
	if err != nil {
		t.Fatal(err)
	}
	// Its reports made (the note comes after the working), it is silent.
	w.Await(t, "the agent's own working", func() bool {
		got, _ := w.Session(s.ID)
		return got.State == protocol.StateWorking && got.Note == "reported"
	}, func() string { got, _ := w.Session(s.ID); return jsonString(got) })
	d.kill9()
	d2 := startDaemonEnv(t, home, "STUDIOD_IDLE_TIMEOUT=1s")
	_, w2 := d2.watch()
	w2.AwaitState(t, s.ID, protocol.StateIdle)
}
