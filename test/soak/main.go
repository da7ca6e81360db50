// Command soak runs studiod under abuse for a while and then checks that
// nothing was lost: N agents write numbered lines (and edit files), M
// clients query the daemon without pause, and the daemon and the agents'
// shims are killed with SIGKILL at random. At the end every line an agent
// wrote must be in its session's log (for agents whose shim was killed,
// lines still in the terminal's buffer at the kill are counted apart),
// branches and worktrees must match the sessions, and no process of the
// run may be left. It is not part of CI:
//
//	go run ./test/soak -agents 4 -clients 2 -duration 10m
//
// It builds studiod from this module, or uses -studiod.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/studiod/studiod/protocol"
)

var (
	agents    = flag.Int("agents", 4, "agents writing at once")
	clients   = flag.Int("clients", 2, "clients querying the daemon")
	duration  = flag.Duration("duration", 10*time.Minute, "how long to run")
	daemonGap = flag.Duration("daemon-kill", 40*time.Second, "mean time between kills of the daemon")
	shimGap   = flag.Duration("shim-kill", 60*time.Second, "mean time between kills of a shim")
	binary    = flag.String("studiod", "", "studiod binary (default: build it)")
	keep      = flag.Bool("keep", false, "keep the run's directory")
	sandbox   = flag.Bool("sandbox", false, "run the agents in the bubblewrap sandbox ([sandbox] mode = \"bwrap\")")
)

// run is one soak run's world.
type run struct {
	dir, home, repo, bin, truth string
	env                         []string

	// mu guards daemon, exited and sessions.
	mu       sync.Mutex
	daemon   *exec.Cmd
	exited   chan struct{}    // closed when the daemon has been reaped
	sessions map[string]*sess // by name

	spawned, daemonKills, shimKills, restarts atomic.Int64
	ok, unavailable, failed                   atomic.Int64
	errs                                      sync.Map // error text → count
}

type sess struct {
	name, id   string
	shimKilled bool
}

func main() {
	flag.Parse()
	if err := soak(); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func soak() error {
	dir, err := os.MkdirTemp("", "soak")
	if err != nil {
		return err
	}
	r := &run{dir: dir, home: filepath.Join(dir, "h"), repo: filepath.Join(dir, "repo"), truth: filepath.Join(dir, "truth"), sessions: map[string]*sess{}}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	r.env = append(os.Environ(), "STUDIOD_HOME="+r.home, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=soak", "GIT_AUTHOR_EMAIL=soak@example.com", "GIT_COMMITTER_NAME=soak", "GIT_COMMITTER_EMAIL=soak@example.com")
	r.bin = *binary
	if r.bin == "" {
		r.bin = filepath.Join(dir, "studiod")
		if out, err := exec.Command("go", "build", "-o", r.bin, "./cmd/studiod").CombinedOutput(); err != nil {
			return fmt.Errorf("build studiod (run from the module root): %v: %s", err, out)
		}
	}
	for _, d := range []string{r.truth, r.repo} {
		os.MkdirAll(d, 0o755)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"commit", "-q", "--allow-empty", "-m", "init"}} {
		if err := r.git(args...); err != nil {
			return err
		}
	}
	if *sandbox {
		// The agents write their truth files outside their worktrees.
		conf := fmt.Sprintf("[sandbox]\nmode = \"bwrap\"\nwritable = [%q]\n", r.truth)
		os.MkdirAll(filepath.Join(r.home, "config"), 0o700)
		if err := os.WriteFile(filepath.Join(r.home, "config", "config.toml"), []byte(conf), 0o600); err != nil {
			return err
		}
	}
	fmt.Printf("soak: %d agents, %d clients, %s, in %s\n", *agents, *clients, *duration, dir)
	if err := r.startDaemon(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	for i := range *agents {
		r.spawn(ctx, fmt.Sprintf("a%d", i))
	}
	var wg sync.WaitGroup
	for range *clients {
		wg.Go(func() { r.client(ctx) })
	}
	wg.Go(func() { r.chaos(ctx) })
	<-ctx.Done()
	wg.Wait()
	return r.finish()
}

func (r *run) git(args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = r.repo, r.env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %v: %v: %s", args, err, out)
	}
	return nil
}

func (r *run) socket() string { return filepath.Join(r.home, "run", "studiod.sock") }

func (r *run) dial(ctx context.Context) (*protocol.Client, error) {
	return protocol.Dial(ctx, r.socket(), nil)
}

// startDaemon starts `studiod serve` and waits until it answers. A
// daemon killed a moment ago may still hold the lock while it dies: one
// that finds it held is started again.
func (r *run) startDaemon() error {
	logf, err := os.OpenFile(filepath.Join(r.dir, "daemon.out"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	var exited chan struct{}
	start := func() error {
		cmd := exec.Command(r.bin, "serve")
		cmd.Env, cmd.Stdout, cmd.Stderr = r.env, logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			return err
		}
		exited = make(chan struct{})
		go func(done chan struct{}) { cmd.Wait(); close(done) }(exited)
		r.mu.Lock()
		r.daemon, r.exited = cmd, exited
		r.mu.Unlock()
		return nil
	}
	if err := start(); err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			if err := start(); err != nil {
				return err
			}
		default:
		}
		if c, err := r.dial(context.Background()); err == nil {
			_, err = c.Hello(context.Background(), protocol.HelloParams{Client: "soak", Version: protocol.Version})
			c.Close()
			if err == nil {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("the daemon did not come up within 60s")
}

// agentScript starts a detached helper (its own session, SIGHUP ignored:
// it must not outlive the session), then writes numbered lines, recording
// each in the truth file once written, and edits files now and then (a
// shared one, for conflicts).
const agentScript = `setsid sh -c 'trap "" HUP; while :; do sleep 5; done' & i=0; while :; do i=$((i+1)); echo "$STUDIO_SESSION line $i"; echo $i >> "$TRUTH"; ` +
	`if [ $((i % 10)) = 0 ]; then echo "$i" > "own-$STUDIO_SESSION.txt"; echo "$STUDIO_SESSION $i" > shared.txt; fi; sleep 0.1; done`

func (r *run) spawn(ctx context.Context, base string) {
	for n := 0; ctx.Err() == nil; n++ {
		name := fmt.Sprintf("%s-%d", base, r.spawned.Load())
		c, err := r.dial(ctx)
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		truth := filepath.Join(r.truth, name)
		s, err := c.Spawn(ctx, protocol.SpawnParams{Repo: r.repo, Name: name,
			Command: []string{"env", "TRUTH=" + truth, "sh", "-c", agentScript}})
		c.Close()
		if err != nil {
			r.count(fmt.Errorf("spawn: %w", err))
			time.Sleep(200 * time.Millisecond)
			continue
		}
		r.spawned.Add(1)
		r.mu.Lock()
		r.sessions[name] = &sess{name: name, id: s.ID}
		r.mu.Unlock()
		return
	}
}

func (r *run) count(err error) {
	if err == nil {
		r.ok.Add(1)
		return
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return // cut short by the end of the run
	}
	if errors.Is(err, protocol.ErrNoDaemon) || errors.Is(err, protocol.ErrClosed) || strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe") {
		r.unavailable.Add(1)
		return
	}
	r.failed.Add(1)
	msg := err.Error()
	if len(msg) > 160 {
		msg = msg[:160]
	}
	v, _ := r.errs.LoadOrStore(msg, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// client queries the daemon without pause, on a new connection each round.
func (r *run) client(ctx context.Context) {
	for ctx.Err() == nil {
		c, err := r.dial(ctx)
		if err != nil {
			r.count(err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		list, err := c.Sessions(ctx, protocol.SessionsParams{All: true})
		if ctx.Err() != nil {
			c.Close()
			return // the run is over: what was cut short is not a failure
		}
		r.count(err)
		if err == nil && len(list.Sessions) > 0 {
			s := list.Sessions[rand.IntN(len(list.Sessions))]
			ref := protocol.SessionRef{Session: s.ID}
			_, err = c.Output(ctx, protocol.OutputParams{SessionRef: ref, Offset: -4096})
			r.count(err)
			if s.State.Live() {
				_, err = c.Diff(ctx, protocol.DiffParams{SessionRef: ref, Stat: true})
				r.count(err)
			}
			_, err = c.Conflicts(ctx, protocol.ConflictsParams{Repo: r.repo})
			r.count(err)
		}
		_, err = c.Status(ctx, protocol.Empty{})
		r.count(err)
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
}

// chaos kills the daemon and shims at random times.
func (r *run) chaos(ctx context.Context) {
	next := func(mean time.Duration) <-chan time.Time {
		return time.After(mean/2 + time.Duration(rand.Int64N(int64(mean))))
	}
	daemonT, shimT := next(*daemonGap), next(*shimGap)
	for {
		select {
		case <-ctx.Done():
			return
		case <-daemonT:
			r.mu.Lock()
			d, exited := r.daemon, r.exited
			r.mu.Unlock()
			d.Process.Kill()
			<-exited
			r.daemonKills.Add(1)
			time.Sleep(time.Duration(rand.IntN(500)) * time.Millisecond)
			if err := r.startDaemon(); err != nil {
				fmt.Println("soak: restart:", err)
			}
			r.restarts.Add(1)
			daemonT = next(*daemonGap)
		case <-shimT:
			r.mu.Lock()
			var live []*sess
			for _, s := range r.sessions {
				if !s.shimKilled {
					live = append(live, s)
				}
			}
			r.mu.Unlock()
			if len(live) > 0 {
				s := live[rand.IntN(len(live))]
				if pid := r.shimPID(s.id); pid > 0 {
					syscall.Kill(pid, syscall.SIGKILL)
					r.mu.Lock()
					s.shimKilled = true
					r.mu.Unlock()
					r.shimKills.Add(1)
					r.spawn(ctx, "r")
				}
			}
			shimT = next(*shimGap)
		}
	}
}

func (r *run) shimPID(id string) int {
	for _, p := range procs() {
		if len(p.args) > 3 && p.args[1] == "shim" && strings.Contains(p.args[3], id) {
			return p.pid
		}
	}
	return 0
}

type proc struct {
	pid  int
	args []string
	env  []string
}

func procs() []proc {
	ents, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		stat, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		environ, _ := os.ReadFile("/proc/" + e.Name() + "/environ")
		out = append(out, proc{pid: pid, args: strings.Split(string(cmdline), "\x00"), env: strings.Split(string(environ), "\x00")})
	}
	return out
}

var lineRE = regexp.MustCompile(`(?m)^(\S+) line (\d+)\r?$`)

// finish stops everything and checks what is left.
func (r *run) finish() error {
	ctx := context.Background()
	fmt.Println("soak: stopping")
	c, err := r.dial(ctx)
	if err != nil {
		if err := r.startDaemon(); err != nil {
			return err
		}
		if c, err = r.dial(ctx); err != nil {
			return err
		}
	}
	defer c.Close()
	list, err := c.Sessions(ctx, protocol.SessionsParams{All: true})
	if err != nil {
		return err
	}
	for _, s := range list.Sessions {
		if s.State.Live() {
			if _, err := c.Stop(ctx, protocol.StopParams{SessionRef: protocol.SessionRef{Session: s.ID}, Force: true}); err != nil {
				fmt.Printf("soak: stop %s: %v\n", s.Name, err)
			}
		}
	}
	list, _ = c.Sessions(ctx, protocol.SessionsParams{All: true})
	problems := 0
	report := func(format string, args ...any) {
		problems++
		fmt.Printf("PROBLEM: "+format+"\n", args...)
	}
	var written, found, lostClean, lostKilled int
	states := map[protocol.State]int{}
	for _, s := range list.Sessions {
		states[s.State]++
		r.mu.Lock()
		meta := r.sessions[s.Name]
		r.mu.Unlock()
		if meta == nil {
			report("session %s is not one the soak spawned", s.Name)
			continue
		}
		truth, _ := os.ReadFile(filepath.Join(r.truth, s.Name))
		var want []int
		for _, l := range strings.Fields(string(truth)) {
			n, _ := strconv.Atoi(l)
			want = append(want, n)
		}
		log, start, err := r.readLog(ctx, c, s.ID)
		if err != nil {
			report("read the log of %s: %v", s.Name, err)
			continue
		}
		if start > 0 {
			fmt.Printf("soak: %s: the first %d bytes were rotated out\n", s.Name, start)
		}
		have := map[int]bool{}
		for _, m := range lineRE.FindAllStringSubmatch(log, -1) {
			if m[1] == s.Name {
				n, _ := strconv.Atoi(m[2])
				have[n] = true
			}
		}
		written += len(want)
		var missing []int
		for _, n := range want {
			if have[n] {
				found++
			} else {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			if meta.shimKilled && missing[0] >= want[len(want)-len(missing)] && len(missing) <= 64 {
				// The last lines before the shim was killed, still in the
				// terminal's buffer: they never reached the shim.
				lostKilled += len(missing)
			} else {
				lostClean += len(missing)
				report("%s lost %d of %d lines (first %d; shim killed: %v)", s.Name, len(missing), len(want), missing[0], meta.shimKilled)
			}
		}
		if s.State.Live() {
			report("%s is still %s after stop", s.Name, s.State)
		}
	}
	// Every other session is removed: its work is kept as a salvage, and
	// restoring that as a branch brings its last file back.
	removed := 0
	for i, s := range list.Sessions {
		if i%2 == 1 || s.State == protocol.StateRemoved || s.State == protocol.StateFailed {
			continue
		}
		res, err := c.Remove(ctx, protocol.RemoveParams{SessionRef: protocol.SessionRef{Session: s.ID}, Force: true})
		if err != nil {
			report("remove %s: %v", s.Name, err)
			continue
		}
		removed++
		own := "own-" + s.Name + ".txt"
		truth, _ := os.ReadFile(filepath.Join(r.truth, s.Name))
		if len(strings.Fields(string(truth))) < 10 {
			continue // it never wrote its own file
		}
		if res.Salvage == nil {
			report("%s removed without a salvage", s.Name)
			continue
		}
		branch := "rescued-" + s.Name
		if _, err := c.Restore(ctx, protocol.RestoreParams{Repo: r.repo, Name: res.Salvage.Name, Branch: branch}); err != nil {
			report("restore %s: %v", res.Salvage.Name, err)
			continue
		}
		if err := exec.Command("git", "-C", r.repo, "cat-file", "-e", branch+":"+own).Run(); err != nil {
			report("the salvage of %s lacks %s", s.Name, own)
		}
		exec.Command("git", "-C", r.repo, "branch", "-q", "-D", branch).Run()
	}
	fmt.Printf("soak: removed %d sessions, each leaving a salvage\n", removed)
	list, _ = c.Sessions(ctx, protocol.SessionsParams{All: true})
	// Branches and worktrees match the sessions.
	branches, _ := exec.Command("git", "-C", r.repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/studio/").Output()
	wtOut, _ := exec.Command("git", "-C", r.repo, "worktree", "list", "--porcelain").Output()
	for _, s := range list.Sessions {
		hasBranch := slices.Contains(strings.Fields(string(branches)), s.Branch)
		_, statErr := os.Stat(s.Worktree)
		registered := strings.Contains(string(wtOut), "worktree "+s.Worktree+"\n")
		switch s.State {
		case protocol.StateRemoved:
			if statErr == nil || registered {
				report("%s is removed but its worktree %s is still there", s.Name, s.Worktree)
			}
		case protocol.StateFailed:
			// A failed spawn was rolled back; an agent lost (its shim
			// killed) keeps its worktree and branch for the person.
			if statErr == nil != registered {
				report("%s (failed): worktree on disk %v but registered %v", s.Name, statErr == nil, registered)
			}
		default:
			if !hasBranch || statErr != nil || !registered {
				report("%s (%s): branch %v, worktree on disk %v, registered %v", s.Name, s.State, hasBranch, statErr == nil, registered)
			}
		}
	}
	for _, b := range strings.Fields(string(branches)) {
		if !slices.ContainsFunc(list.Sessions, func(s protocol.Session) bool { return s.Branch == b }) {
			report("branch %s belongs to no session", b)
		}
	}
	// Nothing of the run is left once the daemon is shut down.
	c.Shutdown(ctx, protocol.Empty{})
	time.Sleep(2 * time.Second)
	var leaked []string
	for _, p := range procs() {
		if slices.Contains(p.env, "STUDIOD_HOME="+r.home) {
			leaked = append(leaked, fmt.Sprintf("%d %s", p.pid, strings.Join(p.args, " ")))
		}
	}
	for _, l := range leaked {
		report("process left: %s", l)
	}
	var errLines []string
	r.errs.Range(func(k, v any) bool {
		errLines = append(errLines, fmt.Sprintf("  %5d × %s", v.(*atomic.Int64).Load(), k))
		return true
	})
	slices.Sort(errLines)
	fmt.Printf(`soak: %s, %d agents at a time, %d clients
  sessions spawned %d; daemon killed %d times (restarted %d); shims killed %d
  client requests: %d ok, %d while the daemon was down, %d failed
  lines written %d, found in logs %d, lost %d, in a killed shim's terminal buffer %d
  final states %v; processes left %d; problems %d
`, *duration, *agents, *clients, r.spawned.Load(), r.daemonKills.Load(), r.restarts.Load(), r.shimKills.Load(),
		r.ok.Load(), r.unavailable.Load(), r.failed.Load(), written, found, lostClean, lostKilled, states, len(leaked), problems)
	if len(errLines) > 0 {
		fmt.Println("  failed requests:\n" + strings.Join(errLines, "\n"))
	}
	if problems > 0 {
		return fmt.Errorf("%d problems (run with -keep to look: %s)", problems, r.dir)
	}
	return nil
}

// readLog reads a session's whole log through the daemon.
func (r *run) readLog(ctx context.Context, c *protocol.Client, id string) (string, int64, error) {
	var b strings.Builder
	var start int64 = -1
	for off := int64(0); ; {
		out, err := c.Output(ctx, protocol.OutputParams{SessionRef: protocol.SessionRef{Session: id}, Offset: off, Limit: 4 << 20})
		if err != nil {
			return "", 0, err
		}
		if start < 0 {
			start = out.Offset
		}
		b.Write(out.Data)
		if out.Next >= out.Size {
			return b.String(), start, nil
		}
		off = out.Next
	}
}
