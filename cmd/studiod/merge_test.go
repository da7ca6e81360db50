package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// TestConcurrentMerges merges two sessions into the same target at once:
// when they do not collide both land, the second on top of the first; when
// they do, one wins and the other is refused with nothing changed.
func TestConcurrentMerges(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"shared.txt": "base\n"})
	d := startDaemon(t, home)
	c, w := d.watch()
	spawnIdle := func(name string, edit string) {
		t.Helper()
		if _, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: name,
			Command: []string{"fakeagent", "-edit", edit, "-echo"}}); err != nil {
			t.Fatal(err)
		}
		w.AwaitState(t, name, protocol.StateIdle)
	}
	mergeBoth := func(a, b string) []error {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, name := range []string{a, b} {
			wg.Go(func() {
				_, errs[i] = c.Merge(t.Context(), protocol.MergeParams{SessionRef: protocol.SessionRef{Session: name, Repo: repo}})
			})
		}
		wg.Wait()
		return errs
	}

	spawnIdle("left", "left.txt")
	spawnIdle("right", "right.txt")
	for _, err := range mergeBoth("left", "right") {
		if err != nil {
			t.Fatalf("non-colliding merges: %v", err)
		}
	}
	for _, f := range []string{"left.txt", "right.txt"} {
		if _, err := gittest.Try(repo, "cat-file", "-e", "main:"+f); err != nil {
			t.Errorf("%s missing from main after both merges", f)
		}
	}

	spawnIdle("red", "shared.txt")
	spawnIdle("blue", "shared.txt")
	before := gittest.Git(t, repo, "rev-parse", "main")
	errs := mergeBoth("red", "blue")
	won, refused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case protocol.CodeOf(err) == protocol.CodeMergeConflict:
			refused++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 || refused != 1 {
		t.Fatalf("colliding merges: %d won, %d refused (%v)", won, refused, errs)
	}
	after := gittest.Git(t, repo, "rev-parse", "main")
	if parents := gittest.Git(t, repo, "rev-list", "--parents", "-n1", after); !strings.Contains(parents, before) {
		t.Errorf("main moved by more than the winning merge: %s", parents)
	}
	if st := gittest.Git(t, repo, "status", "--porcelain"); st != "" {
		t.Errorf("the main worktree is not clean after the refused merge:\n%s", st)
	}
}

// TestPeerCredentials checks that the daemon refuses a client of another
// user even when the socket's permissions would let it connect. It needs
// root to act as another user.
func TestPeerCredentials(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root to connect as another user")
	}
	home := newHome(t)
	d := startDaemon(t, home)
	// Open the way in the file system, so only the daemon's check is left.
	for _, p := range []string{home, home + "/run"} {
		os.Chmod(p, 0o755)
	}
	os.Chmod(d.socket(), 0o777)
	// A client running as nobody: it connects, sends a request and must
	// get no answer but a closed connection.
	// The test binary, where that user may run it.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "peer")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	bin := dir + "/peer.test"
	if out, err := exec.Command("cp", self, bin).CombinedOutput(); err != nil {
		t.Fatalf("copy test binary: %v: %s", err, out)
	}
	os.Chmod(bin, 0o755)
	cmd := exec.Command(bin, "-test.run=^TestPeerClientHelper$", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "STUDIOD_PEER_SOCKET="+d.socket())
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "REFUSED") {
		t.Fatalf("a client of another user was served: %s", out)
	}
	// The daemon still serves its own user.
	if _, err := d.client(nil).Status(t.Context(), protocol.Empty{}); err != nil {
		t.Fatal(err)
	}
}

// TestPeerClientHelper is run by TestPeerCredentials as another user.
func TestPeerClientHelper(t *testing.T) {
	t.Parallel()
	sock := os.Getenv("STUDIOD_PEER_SOCKET")
	if sock == "" {
		t.Skip("run by TestPeerCredentials")
	}
	c, err := protocol.Dial(t.Context(), sock, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if _, err := c.Status(t.Context(), protocol.Empty{}); err != nil {
		os.Stdout.WriteString("REFUSED: " + err.Error() + "\n")
		return
	}
	os.Stdout.WriteString("SERVED\n")
}

// TestMergeCrashRecovery kills the daemon (SIGKILL, from inside, right
// after each journaled step of a merge), restarts it, and checks that the
// target is at its old tip or at the merge, never anything else; that the
// backup ref is there once written; that no work is lost; and that a merge
// cut short can simply be run again. After the target moved (move, then
// the steps that record the merge, stop the agent and mark the session),
// the restarted daemon finishes the merge: the session is merged, its agent
// ended, and the merge can be undone.
func TestMergeCrashRecovery(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"begin", "checkpoint", "build", "backup", "move", "recorded", "stopped", "marked"} {
		t.Run(step, func(t *testing.T) {
			home := newHome(t)
			repo := gittest.NewRepo(t, map[string]string{"a.txt": "a\n"})
			old := gittest.Git(t, repo, "rev-parse", "main")
			d := startDaemonEnv(t, home, "STUDIOD_DEBUG_CRASH_AFTER="+step)
			c, w := d.watch()
			s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: "work",
				Command: []string{"fakeagent", "-edit", "work.txt", "-echo"}})
			if err != nil {
				t.Fatal(err)
			}
			w.AwaitState(t, s.ID, protocol.StateIdle)
			if _, err := c.Merge(t.Context(), protocol.MergeParams{SessionRef: protocol.SessionRef{Session: s.ID}}); err == nil {
				t.Fatal("the merge finished although the daemon was to die")
			}
			select {
			case <-d.exited:
			case <-time.After(30 * time.Second):
				t.Fatal("the daemon did not die after the step")
			}

			d2 := startDaemon(t, home)
			c2, w2 := d2.watch()
			tip := gittest.Git(t, repo, "rev-parse", "main")
			moved := tip != old
			if moved {
				if got := gittest.Git(t, repo, "show", "main:work.txt"); got != "edited by work" {
					t.Fatalf("main moved to %s without the work: %q", tip, got)
				}
			}
			after := step == "move" || step == "recorded" || step == "stopped" || step == "marked"
			if after && !moved {
				t.Fatalf("crash after %s: main is back at its old tip", step)
			}
			if !after && moved {
				t.Fatalf("crash after %s: main moved", step)
			}
			backups := gittest.Git(t, repo, "for-each-ref", "--format=%(objectname)", "refs/studio/backup/")
			if (step == "backup" || after) && !strings.Contains(backups, old) {
				t.Errorf("no backup ref of the old tip after %s: %q", step, backups)
			}
			if _, err := os.Stat(filepath.Join(home, "state", "sessions", s.ID, "merge.journal")); err == nil {
				t.Error("the journal is still there after recovery")
			}
			// The work is on main or on the session (branch or worktree).
			branchHas := gittest.Git(t, repo, "log", "--format=%H", "studio/work", "--", "work.txt") != ""
			_, wtErr := os.Stat(filepath.Join(s.Worktree, "work.txt"))
			if !moved && !branchHas && wtErr != nil {
				t.Fatal("the session's work is lost")
			}
			got := sessionState(t, c2, s.ID)
			if moved {
				if got.State != protocol.StateMerged {
					t.Errorf("after a finished merge the session is %s, want merged", got.State)
				}
				if err := syscall.Kill(s.PID, 0); err == nil {
					t.Errorf("after a finished merge the agent (pid %d) still runs", s.PID)
				}
				if _, err := c2.Undo(t.Context(), protocol.SessionRef{Session: s.ID}); err != nil {
					t.Fatalf("undo the recovered merge: %v", err)
				}
				if tip := gittest.Git(t, repo, "rev-parse", "main"); tip != old {
					t.Errorf("main after undo: %s, want %s", tip, old)
				}
				return
			}
			// Rolled back: merging again works.
			w2.AwaitState(t, s.ID, protocol.StateWorking, protocol.StateWaiting, protocol.StateIdle, protocol.StateExited, protocol.StateStopped)
			if _, err := c2.Merge(t.Context(), protocol.MergeParams{SessionRef: protocol.SessionRef{Session: s.ID}, Force: true}); err != nil {
				t.Fatalf("merge again after the crash: %v", err)
			}
			if got := gittest.Git(t, repo, "show", "main:work.txt"); got != "edited by work" {
				t.Errorf("main after the second merge: %q", got)
			}
		})
	}
}
