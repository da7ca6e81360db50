package shim

import (
	"bytes"
	"os"
	ossignal "os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A session's processes are the agent and everything it starts. They must
// all end with the session: an agent's helpers often detach (setsid, double
// fork, SIGHUP ignored — `codex app-server`, language servers, dev
// servers), and a process left behind keeps writing into a worktree nobody
// watches. Three mechanisms make sure of it:
//
//   - The shim is the child subreaper of the agent's tree
//     (PR_SET_CHILD_SUBREAPER): whatever the agent detaches is re-parented to
//     the shim, not to init, so the shim can find it (its descendants) and end
//     it when the agent exits or is stopped: the agent's process group gets
//     the signal first, then every remaining descendant.
//   - The agent is started with a parent-death signal (SIGKILL): a shim
//     killed with SIGKILL takes the agent with it.
//   - Every process of a session carries its mark in its environment
//     (STUDIO_SESSION_ID=<id>, inherited unless a process clears it).
//     Processes a killed shim could not end (its adopted descendants, which
//     go to init) are found by that mark and killed by the daemon (Sweep).

// becomeSubreaper makes the calling process the child subreaper of its
// descendants.
func becomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// proc is one entry of /proc.
type proc struct {
	pid, ppid int
	state     byte // R, S, D, Z, T, …
}

// readProc reads /proc/<pid>/stat.
func readProc(pid int) (proc, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, false
	}
	// "pid (comm) state ppid …": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return proc{}, false
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 2 || len(f[0]) == 0 {
		return proc{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return proc{pid: pid, ppid: ppid, state: f[0][0]}, true
}

// allProcs lists every process.
func allProcs() []proc {
	ents, _ := os.ReadDir("/proc")
	var list []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			list = append(list, p)
		}
	}
	return list
}

// descendants returns pid's living descendants, parents before children.
// /proc/<pid>/task/*/children needs CONFIG_PROC_CHILDREN, which not every
// kernel has: the parent links of all processes say the same.
func descendants(pid int) []int {
	kids := map[int][]int{}
	for _, p := range allProcs() {
		if p.state != 'Z' && p.state != 'X' {
			kids[p.ppid] = append(kids[p.ppid], p.pid)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range kids[p] {
			if !slices.Contains(out, c) && c != pid {
				out = append(out, c)
				queue = append(queue, c)
			}
		}
	}
	return out
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	p, ok := readProc(pid)
	return ok && p.state != 'Z' && p.state != 'X'
}

// reapZombies collects the exit status of this process's dead children,
// except keep (the agent, which exec.Cmd.Wait reaps). As a subreaper the
// shim inherits orphans, and nobody else would reap them.
func reapZombies(keep int) {
	self := os.Getpid()
	for _, p := range allProcs() {
		if p.ppid == self && p.state == 'Z' && p.pid != keep {
			var ws syscall.WaitStatus
			syscall.Wait4(p.pid, &ws, syscall.WNOHANG, nil)
		}
	}
}

// endTree ends every descendant of this process but keep: SIGTERM, then
// SIGKILL to those still there after grace (SIGKILL at once without grace),
// including any that appear meanwhile. It returns once none is left,
// having reaped them (the shim is their subreaper), or gives up on
// unkillable ones (uninterruptible sleep) a few seconds later.
func endTree(keep int, grace time.Duration) {
	self := os.Getpid()
	sig := syscall.SIGTERM
	if grace <= 0 {
		sig = syscall.SIGKILL
	}
	now := time.Now()
	killAt, giveUp := now.Add(grace), now.Add(grace+5*time.Second)
	sent := map[int]syscall.Signal{}
	for {
		reapZombies(keep)
		var left []int
		for _, p := range descendants(self) {
			if p != keep {
				left = append(left, p)
			}
		}
		if len(left) == 0 || time.Now().After(giveUp) {
			return
		}
		if time.Now().After(killAt) {
			sig = syscall.SIGKILL
		}
		for _, p := range left {
			if sent[p] != sig {
				syscall.Kill(p, sig)
				sent[p] = sig
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Running lists the living processes whose environment holds the entry
// mark ("STUDIO_SESSION_ID=<id>"), this process aside.
func Running(mark string) []int {
	want := []byte(mark)
	self := os.Getpid()
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || len(env) == 0 || !alive(pid) {
			continue
		}
		if slices.ContainsFunc(bytes.Split(env, []byte{0}), func(kv []byte) bool { return bytes.Equal(kv, want) }) {
			out = append(out, pid)
		}
	}
	return out
}

// Sweep kills every process Running(mark) lists and waits (a few seconds
// at most) until they are gone. It is how the daemon ends what is left of
// a session whose shim was killed: the agent died with the shim (its
// parent-death signal), but the shim's adopted descendants went to init.
// It returns how many processes it killed.
func Sweep(mark string) int {
	var killed []int
	for _, pid := range Running(mark) {
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed = append(killed, pid)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range killed {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	return len(killed)
}

// watchAgent starts, on wg, what a shim does while its agent (pid) runs,
// until done is closed: as subreaper it reaps the orphans it adopted as
// they exit (never the agent, which its Wait reaps); asked to go away
// (sigterm), it ends the agent's tree with SIGTERM, then SIGKILL after
// treeGrace, through signal.
func watchAgent(wg *sync.WaitGroup, pid int, subreaper bool, sigterm <-chan os.Signal, signal func(syscall.Signal) error, done <-chan struct{}) {
	if subreaper {
		chld := make(chan os.Signal, 1)
		ossignal.Notify(chld, syscall.SIGCHLD)
		wg.Go(func() {
			defer ossignal.Stop(chld)
			for {
				select {
				case <-chld:
					reapZombies(pid)
				case <-done:
					return
				}
			}
		})
	}
	if sigterm != nil {
		wg.Go(func() {
			select {
			case <-sigterm:
				signal(syscall.SIGTERM)
				select {
				case <-time.After(treeGrace):
					signal(syscall.SIGKILL)
				case <-done:
				}
			case <-done:
			}
		})
	}
}
