package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/studiod/studiod/internal/fsmonitor"
	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/internal/hook"
	"github.com/studiod/studiod/internal/studiotest"
	"github.com/studiod/studiod/protocol"
)

// TestMain makes the test binary double as studiod and as a fake agent, so
// scripts and integration tests run the real daemon as a separate process.
func TestMain(m *testing.M) {
	// Every git the tests and the daemons they start run sees the fixed
	// identities and no machine config; set once, as tests run in parallel.
	for _, kv := range gittest.Env {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	testscript.Main(m, map[string]func(){
		"studiod":   func() { os.Exit(run(os.Args[1:])) },
		"fakeagent": fakeAgent,
		"fakeacp":   fakeACP,
		// Next to studiod, as `go install ./cmd/...` puts it: the daemon
		// names it in core.fsmonitor.
		"studiod-fsmonitor": func() { os.Exit(fsmonitor.Main(os.Args[1:])) },
		// Next to studiod too: the daemon names it in the agents' hooks.
		"studiod-hook": func() { os.Exit(hook.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// fakeAgent is an agent with failure modes chosen by flags.
func fakeAgent() {
	fs := flag.NewFlagSet("fakeagent", flag.ExitOnError)
	exit := fs.Int("exit", 0, "exit with this code when done")
	hang := fs.Bool("hang", false, "run until killed")
	lines := fs.Int("lines", 0, "print this many numbered lines")
	every := fs.Duration("every", 0, "pause between lines")
	ask := fs.String("ask", "", "print this question, report waiting, and wait for a line")
	edit := fs.String("edit", "", "comma-separated files to write")
	remove := fs.String("rm", "", "comma-separated files to delete")
	echo := fs.Bool("echo", false, "echo every input line as 'got: LINE'")
	nohook := fs.Bool("nohook", false, "never report state through STUDIO_HOOK")
	silentAfter := fs.Bool("silentafter", false, "report nothing through STUDIO_HOOK once the question is answered (as an agent back at its input after a refusal)")
	detach := fs.Bool("detach", false, "start a detached helper (its own session, SIGHUP and SIGTERM ignored, the terminal kept open) that runs until killed")
	helper := fs.Bool("helper", false, "be that helper")
	trapTerm := fs.Bool("trapterm", false, "on SIGTERM, say how to resume and exit 143 (as Claude Code does)")
	styled := fs.Bool("styled", false, "write a line in colour, a progress line that redraws itself, a title and a hyperlink")
	flood := fs.Int("flood", 0, "write this many bytes of output at once (in 32 KiB writes)")
	spin := fs.Bool("spin", false, "while the question waits, redraw a spinner in the top row (output that never settles)")
	fs.Parse(os.Args[1:])
	if *helper {
		signal.Ignore(syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
		select {}
	}
	if *trapTerm {
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		go func() {
			<-term
			fmt.Println("Resume this session with: fakeagent --resume 0123")
			os.Exit(143)
		}()
	}
	if *detach {
		h := exec.Command("fakeagent", "-helper")
		h.Stdout, h.Stderr = os.Stdout, os.Stderr
		h.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := h.Start(); err != nil {
			fmt.Println("fakeagent: helper:", err)
			os.Exit(1)
		}
		fmt.Println("helper started", h.Process.Pid)
	}
	hook := func(args ...string) {
		if h := os.Getenv("STUDIO_HOOK"); h != "" && !*nohook {
			f := strings.Fields(h)
			exec.Command(f[0], append(f[1:], args...)...).Run()
		}
	}
	fmt.Println("fakeagent started in", filepath.Base(os.Getenv("STUDIO_WORKTREE")), "port", os.Getenv("STUDIO_PORT"))
	for _, f := range strings.Split(*edit, ",") {
		if f != "" {
			os.MkdirAll(filepath.Dir(f), 0o755)
			os.WriteFile(f, []byte("edited by "+os.Getenv("STUDIO_SESSION")+"\n"), 0o644)
		}
	}
	for _, f := range strings.Split(*remove, ",") {
		if f != "" {
			os.Remove(f)
		}
	}
	if *styled {
		fmt.Print("\x1b]0;✳ fake title\x07\x1b[1;31mred\x1b[0m and \x1b]8;;https://example.com\x1b\\plain\x1b]8;;\x1b\\\r\n")
		fmt.Print("progress 10%\rprogress 50%\rprogress 100%\x1b[K\r\n")
		fmt.Print("\x1b[5;1Hé à 書\x1b[6;1Hnext row\r\n")
	}
	for left := *flood; left > 0; left -= 32 << 10 {
		os.Stdout.Write(bytes.Repeat([]byte("x"), min(left, 32<<10)))
	}
	for i := 1; i <= *lines; i++ {
		fmt.Printf("line %d\n", i)
		time.Sleep(*every)
	}
	in := bufio.NewScanner(os.Stdin)
	if *ask != "" {
		hook("waiting", *ask)
		fmt.Print(*ask + " ")
		answered := make(chan struct{})
		if *spin {
			go func() {
				for i := 0; ; i++ {
					select {
					case <-answered:
						return
					case <-time.After(50 * time.Millisecond):
					}
					// Save the cursor, draw in the top row, restore it.
					fmt.Printf("\x1b7\x1b[1;1H%c\x1b8", `|/-\`[i%4])
				}
			}()
		}
		if in.Scan() {
			close(answered)
			fmt.Println("answer:", in.Text())
		}
		if *silentAfter {
			*nohook = true
			fmt.Print("> ")
		}
		hook("working")
	}
	if *echo {
		hook("idle")
		for in.Scan() {
			fmt.Println("got:", in.Text())
			hook("idle")
		}
	}
	if *hang {
		select {}
	}
	fmt.Println("fakeagent done")
	os.Exit(*exit)
}

func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("STUDIOD_HOME", filepath.Join(e.WorkDir, ".studiod"))
			e.Setenv("HOME", e.WorkDir)
			for _, kv := range gittest.Env {
				k, v, _ := strings.Cut(kv, "=")
				e.Setenv(k, v)
			}
			// Every script's agents and daemon go away with the script.
			home := filepath.Join(e.WorkDir, ".studiod")
			e.Defer(func() { cleanupHome(home) })
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitstate":      waitStateCmd,
			"waitconflict":   waitConflictCmd,
			"waitoutofscope": waitOutOfScopeCmd,
			"waitwork":       waitWorkCmd,
			"exitcode":       exitCodeCmd,
			"waitfile":       waitFileCmd,
			"waitoutput":     waitOutputCmd,
		},
	})
}

// cleanupHome stops every live agent of the daemon under home, then the
// daemon itself.
func cleanupHome(home string) {
	env := append(os.Environ(), "STUDIOD_HOME="+home)
	socket := filepath.Join(home, "run", "studiod.sock")
	if _, err := os.Stat(socket); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if c, err := protocol.Dial(ctx, socket, nil); err == nil {
		if res, err := c.Sessions(ctx, protocol.SessionsParams{All: true}); err == nil {
			for _, s := range res.Sessions {
				if s.State.Live() {
					c.Stop(ctx, protocol.StopParams{SessionRef: protocol.SessionRef{Session: s.ID}, Force: true})
				}
			}
		}
		c.Close()
	}
	// Its own time: stopping may have used all of ctx's.
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	cmd := exec.CommandContext(sctx, "studiod", "shutdown")
	cmd.Env = env
	cmd.Run()
}

// scriptWatch follows the script's daemon through its notifications.
func scriptWatch(ts *testscript.TestScript) *studiotest.Watch {
	w := studiotest.NewWatch()
	c, err := protocol.Dial(context.Background(), filepath.Join(ts.Getenv("STUDIOD_HOME"), "run", "studiod.sock"), w.Receive)
	if err != nil {
		ts.Fatalf("dial: %v", err)
	}
	ts.Defer(func() { c.Close() })
	w.Follow(scriptT{ts}, c)
	return w
}

// scriptT lets the studiotest helpers fail a script.
type scriptT struct{ ts *testscript.TestScript }

func (s scriptT) Helper()                           {}
func (s scriptT) Fatal(args ...any)                 { s.ts.Fatalf("%s", fmt.Sprint(args...)) }
func (s scriptT) Fatalf(format string, args ...any) { s.ts.Fatalf(format, args...) }
func (s scriptT) Context() context.Context          { return context.Background() }

// waitconflict PATH waits until a conflict on PATH is predicted.
func waitConflictCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitconflict PATH")
	}
	w := scriptWatch(ts)
	repo := ts.MkAbs(".")
	w.AwaitConflict(scriptT{ts}, "a conflict on "+args[0], func(cf protocol.Conflict) bool {
		return cf.Repo == repo && cf.Path == args[0] && cf.Severity == protocol.SeverityConflict
	})
}

// waitoutofscope NAME PATH waits until the session is seen changing PATH
// outside its scope.
func waitOutOfScopeCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: waitoutofscope NAME PATH")
	}
	w := scriptWatch(ts)
	w.Await(scriptT{ts}, fmt.Sprintf("session %s to change %s outside its scope", args[0], args[1]), func() bool {
		s, ok := w.Session(args[0])
		return ok && slices.Contains(s.OutOfScope, args[1])
	})
}

// waitstate NAME STATE [DETAIL-SUBSTRING] waits until the session is in
// STATE.
func waitStateCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: waitstate NAME STATE [DETAIL]")
	}
	w := scriptWatch(ts)
	repo := ts.MkAbs(".")
	w.Await(scriptT{ts}, fmt.Sprintf("session %s to be %v", args[0], args[1:]), func() bool {
		s, ok := w.Session(args[0])
		return ok && s.Repo == repo && string(s.State) == args[1] && (len(args) < 3 || strings.Contains(s.Detail, args[2]))
	}, func() string {
		s, _ := w.Session(args[0])
		return fmt.Sprintf("last seen: %+v", s)
	})
}

// exitcode N PROG ARGS... runs PROG in the script's directory and
// environment, with stdin from /dev/null, and fails unless it exits with
// status N. Its output is the command's stdout and stderr for the
// assertions that follow.
func exitCodeCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROG ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	cmd := exec.Command(args[1], args[2:]...)
	cmd.Dir = ts.MkAbs(".")
	env := os.Environ()
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "STUDIOD_HOME"} {
		env = append(env, k+"="+ts.Getenv(k))
	}
	cmd.Env = append(env, gittest.Env...)
	cmd.Stdout, cmd.Stderr = ts.Stdout(), ts.Stderr()
	err = cmd.Run()
	got := 0
	if ee, ok := err.(*exec.ExitError); ok {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}

// waitwork NAME waits until the session is idle and its changes are seen
// (its change stats come from the snapshots a preview folds).
func waitWorkCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitwork NAME")
	}
	w := scriptWatch(ts)
	repo := ts.MkAbs(".")
	w.Await(scriptT{ts}, "session "+args[0]+" idle with its changes seen", func() bool {
		s, ok := w.Session(args[0])
		return ok && s.Repo == repo && s.State == protocol.StateIdle && s.Changes.Files > 0
	}, func() string {
		s, _ := w.Session(args[0])
		return fmt.Sprintf("last seen: %+v", s)
	})
}

// waitfile FILE REGEXP waits until some line of FILE matches REGEXP
// (written by a process the script does not own, such as a command the
// daemon runs).
// waitoutput NAME REGEXP waits until the session's output (its raw log)
// matches REGEXP: what the agent printed, however its state moved.
func waitOutputCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: waitoutput NAME REGEXP")
	}
	re, err := regexp.Compile(args[1])
	if err != nil {
		ts.Fatalf("waitoutput: %v", err)
	}
	c, err := protocol.Dial(context.Background(), filepath.Join(ts.Getenv("STUDIOD_HOME"), "run", "studiod.sock"), nil)
	if err != nil {
		ts.Fatalf("dial: %v", err)
	}
	defer c.Close()
	ref := protocol.SessionRef{Session: args[0], Repo: ts.MkAbs(".")}
	var out []byte
	deadline := time.Now().Add(3 * time.Minute)
	for next := int64(0); ; {
		r, err := c.Output(context.Background(), protocol.OutputParams{SessionRef: ref, Offset: next})
		if err != nil {
			ts.Fatalf("waitoutput: %v", err)
		}
		out, next = append(out, r.Data...), r.Next
		if re.Match(out) {
			return
		}
		if r.Done || time.Now().After(deadline) {
			ts.Fatalf("the output of %s does not match %s; it holds:\n%q", args[0], args[1], out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitFileCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: waitfile FILE REGEXP")
	}
	re, err := regexp.Compile(args[1])
	if err != nil {
		ts.Fatalf("waitfile: %v", err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(ts.MkAbs(args[0]))
		for _, line := range strings.Split(string(b), "\n") {
			if re.MatchString(line) {
				return
			}
		}
		if time.Now().After(deadline) {
			ts.Fatalf("no line of %s matches %s; it holds:\n%s", args[0], args[1], b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
