package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/internal/sshtest"
	"github.com/studiod/studiod/protocol"
)

// BenchmarkHostSpawn measures sessions on a host (a real sshd on loopback)
// against the same work done by hand over one multiplexed ssh connection
// of the same kind, in the same run: the first spawn (the whole history
// pushed; studiod's own install timed apart) and warm ones (git push of
// nothing new, worktree add, the agent started); the bytes a snapshot of a
// one-line change brings home, against the repository's packed size; and
// the time from a write on the host to the conflict it makes with a local
// session at a subscribed client (p50, p99). STUDIOD_BENCH_FILES sets the
// repository's size (default 10000), STUDIOD_BENCH_ROUNDS the rounds
// (default 5). Run it as
//
//	go test -run XXX -bench HostSpawn -benchtime 1x ./cmd/studiod/
func BenchmarkHostSpawn(b *testing.B) {
	files := envInt("STUDIOD_BENCH_FILES", 10000)
	rounds := envInt("STUDIOD_BENCH_ROUNDS", 5)
	srv := sshtest.Start(b, sshtest.Options{})
	repo := poolRepo(b, files, nil)
	conflicts := make(chan time.Time, 64)
	c, home := benchDaemonHome(b, func(method string, params json.RawMessage) {
		if method == protocol.NotifyConflictsChanged {
			select {
			case conflicts <- time.Now():
			default:
			}
		}
	})
	conf := fmt.Sprintf("[hosts.box]\nssh = %q\ndir = %q\nssh_command = %q\n", srv.Alias, srv.Dir+"/studiod", srv.SSHCommand())
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "config", "config.toml"), []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Subscribe(b.Context(), protocol.SubscribeParams{Conflicts: true}); err != nil {
		b.Fatal(err)
	}

	// By hand: one master connection, then ssh and git over it.
	cp := filepath.Join(b.TempDir(), "cm")
	ssh := func(script string) {
		b.Helper()
		out, err := exec.Command("ssh", "-F", srv.Config, "-o", "ControlPath="+cp, "-o", "ControlMaster=no", srv.Alias, "--", script).CombinedOutput()
		if err != nil {
			b.Fatalf("ssh %s: %v: %s", script, err, out)
		}
	}
	if out, err := exec.Command("ssh", "-F", srv.Config, "-o", "ControlPath="+cp, "-o", "ControlMaster=yes", "-o", "ControlPersist=yes", "-f", "-N", srv.Alias).CombinedOutput(); err != nil {
		b.Fatalf("ssh master: %v: %s", err, out)
	}
	b.Cleanup(func() { exec.Command("ssh", "-F", srv.Config, "-o", "ControlPath="+cp, "-O", "exit", srv.Alias).Run() })
	hand := srv.Dir + "/hand"
	push := func() {
		b.Helper()
		cmd := exec.Command("git", "push", "-q", srv.Alias+":"+hand+".git", "main:refs/heads/main")
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_SSH_COMMAND=ssh -F "+srv.Config+" -o ControlPath="+cp+" -o ControlMaster=no")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git push: %v: %s", err, out)
		}
	}
	byHand := func(n int, first bool) time.Duration {
		t0 := time.Now()
		if first {
			ssh("git init -q --bare " + hand + ".git")
		}
		push()
		ssh(fmt.Sprintf("git -C %[1]s.git worktree add -q -b h%[2]d %[1]s/h%[2]d main && cd %[1]s/h%[2]d && (setsid sleep 100 </dev/null >/dev/null 2>&1 &)", hand, n))
		return time.Since(t0)
	}
	spawn := func(name string, argv ...string) (*protocol.Session, time.Duration) {
		b.Helper()
		t0 := time.Now()
		s, err := c.Spawn(b.Context(), protocol.SpawnParams{Repo: repo, Name: name, Host: "box", Command: argv})
		if err != nil {
			b.Fatalf("spawn on host: %v", err)
		}
		return s, time.Since(t0)
	}

	var install, firstHand, firstStudio time.Duration
	var warmHand, warmStudio, conflictAt []time.Duration
	var snapBytes int
	var packBytes int64
	for b.Loop() {
		t0 := time.Now()
		if _, err := c.Hosts(b.Context(), protocol.HostsParams{Host: "box"}); err != nil {
			b.Fatal(err)
		}
		install = time.Since(t0)
		firstHand = byHand(0, true)
		var s *protocol.Session
		s, firstStudio = spawn("first", "sleep", "100")
		for i := 1; i <= rounds; i++ {
			warmHand = append(warmHand, byHand(i, false))
			_, d := spawn(fmt.Sprintf("warm%d", i), "sleep", "100")
			warmStudio = append(warmStudio, d)
		}

		// A one-line change on the host, brought home.
		wt, err := srv.AsUser("sh", "-c", "echo "+srv.Dir+"/studiod/worktrees/"+filepath.Base(repo)+"-*/first")
		if err != nil {
			b.Fatal(err)
		}
		onHost(b, srv, "echo changed >> "+wt+"/d00/e00/f000000.txt")
		for {
			d, err := c.Diff(b.Context(), protocol.DiffParams{SessionRef: protocol.SessionRef{Session: s.ID}, Stat: true})
			if err == nil && len(d.Files) == 1 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		out := gittest.Git(b, repo, "rev-list", "--objects", "refs/studio/remote/"+s.ID+"/snap", "--not", s.Base)
		pack := exec.Command("git", "pack-objects", "--stdout", "-q")
		pack.Dir = repo
		pack.Stdin = strings.NewReader(out + "\n")
		p, err := pack.Output()
		if err != nil {
			b.Fatal(err)
		}
		snapBytes = len(p)
		// What the repository's objects take (loose and packed).
		for _, l := range strings.Split(gittest.Git(b, repo, "count-objects", "-v"), "\n") {
			k, v, _ := strings.Cut(l, ": ")
			if k == "size" || k == "size-pack" {
				var kib int64
				fmt.Sscan(v, &kib)
				packBytes += kib * 1024
			}
		}

		// A write on the host against a local session's change of the
		// same line: the time to the conflict's notification.
		target := "d01/e00/f000001.txt"
		orig := gittest.Git(b, repo, "show", "main:"+target) + "\n"
		local := strings.Replace(orig, "line 2\n", "local 2\n", 1)
		dir := b.TempDir()
		gittest.Write(b, dir, map[string]string{"f": local})
		if _, err := c.Spawn(b.Context(), protocol.SpawnParams{Repo: repo, Name: "local",
			Command: []string{"sh", "-c", "cp " + dir + "/f " + target + " && exec sleep 100"}}); err != nil {
			b.Fatal(err)
		}
		remote := strings.Replace(orig, "line 2\n", "remote 2\n", 1)
		for i := 0; i < 2*rounds; i++ {
			content := remote
			if i%2 == 1 {
				content = orig
			}
			for len(conflicts) > 0 {
				<-conflicts
			}
			onHost(b, srv, fmt.Sprintf("printf '%s' > %s/%s", strings.ReplaceAll(content, "\n", `\n`), wt, target))
			t0 := time.Now()
			select {
			case at := <-conflicts:
				conflictAt = append(conflictAt, at.Sub(t0))
			case <-time.After(60 * time.Second):
				cs, _ := c.Conflicts(b.Context(), protocol.ConflictsParams{})
				b.Fatalf("no conflictsChanged after a write on the host; conflicts now: %+v", cs)
			}
		}
	}
	fs, fh := ms(firstStudio), ms(firstHand)
	ws, wh := ms(median(warmStudio)), ms(median(warmHand))
	b.ReportMetric(ms(install), "install-ms")
	b.ReportMetric(fs, "first-spawn-ms")
	b.ReportMetric(fh, "first-by-hand-ms")
	b.ReportMetric(ws, "warm-spawn-ms")
	b.ReportMetric(wh, "warm-by-hand-ms")
	b.ReportMetric(float64(snapBytes), "snapshot-bytes")
	b.ReportMetric(ms(pct(conflictAt, 50)), "conflict-p50-ms")
	b.ReportMetric(ms(pct(conflictAt, 99)), "conflict-p99-ms")
	b.Logf("%d files: studiod installs itself in %.0f ms; first spawn on the host %.0f ms against %.0f ms by hand (ratio %.2f); warm %.0f ms against %.0f ms (ratio %.2f)",
		files, ms(install), fs, fh, fs/fh, ws, wh, ws/wh)
	b.Logf("a one-line change brings home a %d-byte pack (the repository's objects take %d bytes); a write on the host to the conflict at a local subscriber: p50 %.0f ms, p99 %.0f ms",
		snapBytes, packBytes, ms(pct(conflictAt, 50)), ms(pct(conflictAt, 99)))
}

func onHost(b *testing.B, srv *sshtest.Server, script string) {
	b.Helper()
	if out, err := srv.AsUser("sh", "-c", script); err != nil {
		b.Fatalf("on the host: %s: %v: %s", script, err, out)
	}
}
