package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// planEnv is a daemon (restartable) over a repository, for plans.
type planEnv struct {
	t    *testing.T
	repo string
	home string
	d    *daemon
	c    *protocol.Client
}

func newPlanEnv(t *testing.T) *planEnv {
	e := &planEnv{t: t, repo: gittest.NewRepo(t, map[string]string{"README.md": "plan\n", "x.txt": "x\n"}), home: newHome(t)}
	e.restart()
	return e
}

// restart kills the daemon with SIGKILL, if one runs, and starts another.
func (e *planEnv) restart() {
	if e.d != nil {
		e.d.kill9()
		e.c.Close()
	}
	e.d = startDaemon(e.t, e.home)
	e.c = e.d.client(nil)
}

func (e *planEnv) run(text string) *protocol.Plan {
	e.t.Helper()
	pl, err := e.c.PlanRun(e.t.Context(), protocol.PlanRunParams{Repo: e.repo, Path: "plan.toml", Text: text})
	if err != nil {
		e.t.Fatal(err)
	}
	return pl
}

// await polls the plan until cond holds for it.
func (e *planEnv) await(id, what string, cond func(pl protocol.Plan) bool) protocol.Plan {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last protocol.Plan
	for time.Now().Before(deadline) {
		res, err := e.c.Plans(e.t.Context(), protocol.PlansParams{Plan: id})
		if err != nil {
			e.t.Fatal(err)
		}
		last = res.Plans[0]
		if cond(last) {
			return last
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("plan never had %s: %s", what, jsonString(last))
	return last
}

func task(pl protocol.Plan, name string) protocol.PlanTask {
	for _, t := range pl.Tasks {
		if t.Name == name {
			return t
		}
	}
	return protocol.PlanTask{}
}

// awaitGit polls until git in dir succeeds with args.
func awaitGit(t *testing.T, what, dir string, args ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := gittest.Try(dir, args...); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("never %s (git %s)", what, strings.Join(args, " "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// commitsAndEchoes is a task's command: an agent that commits files, then
// echoes what it is sent.
func commitsAndEchoes(files ...string) string {
	var b strings.Builder
	for _, f := range files {
		fmt.Fprintf(&b, "echo %s by $STUDIO_SESSION > %s && git add %s && ", f, f, f)
	}
	if len(files) > 0 {
		b.WriteString("git commit -qm work && ")
	}
	return fmt.Sprintf("command = [\"sh\", \"-c\", %q]\n", b.String()+"exec fakeagent -echo")
}

// TestPlanAfter: a task after another starts once it has landed, from the
// target's new tip; the plan survives kill -9 of the daemon before and
// after.
func TestPlanAfter(t *testing.T) {
	t.Parallel()
	e := newPlanEnv(t)
	pl := e.run("[plan]\nbudget = \"2M\"\n[[task]]\nname = \"api\"\nbudget = \"$3\"\n" + commitsAndEchoes("api.txt") +
		"[[task]]\nname = \"client\"\nafter = [\"api\"]\n" + commitsAndEchoes("client.txt"))
	if task(*pl, "api").State != protocol.TaskStarted || task(*pl, "client").State != protocol.TaskWaiting {
		t.Fatalf("plan after run: %s", jsonString(pl))
	}
	e.await(pl.ID, "api idle", func(p protocol.Plan) bool { return task(p, "api").SessionState == protocol.StateIdle })

	e.restart()
	p := e.await(pl.ID, "client waiting for api to land", func(p protocol.Plan) bool {
		return task(p, "client").Detail == "waits for api to land" && task(p, "client").Session == ""
	})
	if p.State != protocol.PlanRunning {
		t.Fatalf("plan after restart: %s", jsonString(p))
	}
	if _, err := e.c.Merge(t.Context(), protocol.MergeParams{SessionRef: protocol.SessionRef{Session: "api", Repo: e.repo}}); err != nil {
		t.Fatal(err)
	}
	p = e.await(pl.ID, "client started after api landed", func(p protocol.Plan) bool {
		return task(p, "api").State == protocol.TaskLanded && task(p, "client").State == protocol.TaskStarted
	})
	tip := gittest.Git(t, e.repo, "rev-parse", "main")
	s, err := e.c.Session(t.Context(), protocol.SessionRef{Session: task(p, "client").Session})
	if err != nil {
		t.Fatal(err)
	}
	if s.Base != tip {
		t.Errorf("client's base %s, want the target's new tip %s", s.Base, tip)
	}
	// Each task's budget: its own, else the plan's.
	if s.Budget == nil || s.Budget.Tokens != 2_000_000 {
		t.Errorf("client's budget %+v, want the plan's 2M tokens", s.Budget)
	}
	if api, err := e.c.Session(t.Context(), protocol.SessionRef{Session: task(p, "api").Session}); err != nil || api.Budget == nil || api.Budget.Cost != 3 {
		t.Errorf("api's budget %+v (%v), want its own $3", api.Budget, err)
	}
	if _, err := os.Stat(filepath.Join(s.Worktree, "api.txt")); err != nil {
		t.Errorf("client's worktree lacks api's work: %v", err)
	}

	e.restart()
	e.await(pl.ID, "client's work committed", func(p protocol.Plan) bool { return task(p, "client").SessionState == protocol.StateIdle })
	if _, err := e.c.Merge(t.Context(), protocol.MergeParams{SessionRef: protocol.SessionRef{Session: "client", Repo: e.repo}}); err != nil {
		t.Fatal(err)
	}
	e.await(pl.ID, "the plan done", func(p protocol.Plan) bool { return p.State == protocol.PlanDone })
}

// TestPlanStack: a stacked task starts on its parent's branch and follows
// it as it moves; a conflict goes to its agent; preview puts the parent
// first; kill -9 of the daemon loses none of it.
func TestPlanStack(t *testing.T) {
	t.Parallel()
	e := newPlanEnv(t)
	pl := e.run("[[task]]\nname = \"base\"\n" + commitsAndEchoes("base.txt") +
		"[[task]]\nname = \"tests\"\nstack = \"base\"\n" + commitsAndEchoes("tests.txt", "x.txt"))
	p := e.await(pl.ID, "tests started", func(p protocol.Plan) bool { return task(p, "tests").State == protocol.TaskStarted })
	base, err := e.c.Session(t.Context(), protocol.SessionRef{Session: task(p, "base").Session})
	if err != nil {
		t.Fatal(err)
	}
	tests, err := e.c.Session(t.Context(), protocol.SessionRef{Session: task(p, "tests").Session})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(tests.Worktree, "base.txt")); err != nil {
		t.Errorf("the stacked task did not start on its parent's branch: %v", err)
	}
	e.await(pl.ID, "both idle", func(p protocol.Plan) bool {
		return task(p, "base").SessionState == protocol.StateIdle && task(p, "tests").SessionState == protocol.StateIdle
	})

	// Preview folds the parent first, whatever order it is asked for.
	pv, err := e.c.Preview(t.Context(), protocol.PreviewParams{Repo: e.repo, Sessions: []string{"tests", "base"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(pv.Sessions) != 2 || pv.Sessions[0].Session != "base" {
		t.Errorf("preview order %s, want base first", jsonString(pv.Sessions))
	}

	// The parent moves while the daemon is down: the child follows after
	// the restart.
	e.d.kill9()
	gittest.Write(t, base.Worktree, map[string]string{"more.txt": "more\n"})
	gittest.Commit(t, base.Worktree, "more")
	e.restart()
	awaitGit(t, "the stacked branch got its parent's new commit", e.repo, "cat-file", "-e", tests.Branch+":more.txt")

	// A move that conflicts goes to the child's agent.
	gittest.Write(t, base.Worktree, map[string]string{"x.txt": "changed by base\n"})
	gittest.Commit(t, base.Worktree, "x")
	p = e.await(pl.ID, "the conflict sent to tests' agent", func(p protocol.Plan) bool {
		return strings.HasPrefix(task(p, "tests").Detail, "conflicts with base in x.txt: sent to its agent")
	})
	// The task is typed into the agent's terminal as the detail is
	// recorded; its echo comes once the agent has read it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := e.c.Output(t.Context(), protocol.OutputParams{SessionRef: protocol.SessionRef{Session: tests.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out.Data), "got: "+base.Branch+", the branch this work is stacked on, has moved on") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tests' agent was not told: %q", out.Data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPlanRefused: a plan with problems is refused whole, nothing started.
func TestPlanRefused(t *testing.T) {
	t.Parallel()
	e := newPlanEnv(t)
	if _, err := e.c.Spawn(t.Context(), protocol.SpawnParams{Repo: e.repo, Name: "taken", Command: []string{"fakeagent", "-hang"}}); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ plan, want string }{
		"cycle":       {"[[task]]\nname = \"a\"\nafter = [\"b\"]\n[[task]]\nname = \"b\"\nafter = [\"a\"]\n", "cycle: a → b → a"},
		"self review": {"[[task]]\nname = \"a\"\nreviews = \"a\"\n", "a reviewer cannot review itself"},
		"name taken":  {"[[task]]\nname = \"ok\"\n" + commitsAndEchoes() + "[[task]]\nname = \"taken\"\n", `task "taken": a session of that name exists`},
		"agent":       {"[[task]]\nname = \"ok\"\n" + commitsAndEchoes() + "[[task]]\nname = \"b\"\nagent = \"nosuch\"\n", `no agent profile "nosuch"`},
		"commands":    {"[[task]]\nname = \"ok\"\n" + commitsAndEchoes(), "command tasks run only from the CLI"},
		"budget":      {"[plan]\nbudget = \"lots\"\n[[task]]\nname = \"ok\"\n" + commitsAndEchoes(), `task "ok": budget "lots": give tokens`},
	} {
		p := protocol.PlanRunParams{Repo: e.repo, Text: tc.plan, NoCommands: name == "commands"}
		_, err := e.c.PlanRun(t.Context(), p)
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeInvalid || !strings.Contains(pe.Message, tc.want) {
			t.Errorf("%s: %v, want an invalid error saying %q", name, err, tc.want)
		}
	}
	res, err := e.c.Sessions(t.Context(), protocol.SessionsParams{Repo: e.repo, All: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sessions) != 1 {
		t.Errorf("sessions %s, want only the one spawned by hand", jsonString(res.Sessions))
	}
	if plans, _ := e.c.Plans(t.Context(), protocol.PlansParams{Repo: e.repo}); len(plans.Plans) != 0 {
		t.Errorf("plans %s, want none", jsonString(plans))
	}
	if out := gittest.Git(t, e.repo, "branch", "--list", "--format=%(refname:short)", "studio/*"); strings.TrimSpace(out) != "studio/taken" {
		t.Errorf("branches %q, want only studio/taken", out)
	}
}

// TestPlanReview: a plan's reviewer starts on the reviewed work once its
// turn ends; under require_review merge is refused, naming the reviewer,
// until the reviewer's turn ends; its comments carry it as author and
// reach the reviewed agent; kill -9 in between loses nothing.
func TestPlanReview(t *testing.T) {
	t.Parallel()
	e := newPlanEnv(t)
	pl := e.run("[plan]\nrequire_review = true\n[[task]]\nname = \"api\"\n" + commitsAndEchoes("api.txt") +
		"[[task]]\nname = \"api-review\"\nreviews = \"api\"\n" +
		`command = ["sh", "-c", "fakeagent -ask ready && studiod comment api api.txt:1 needs a test && exec fakeagent -echo"]` + "\n")
	p := e.await(pl.ID, "the reviewer asking", func(p protocol.Plan) bool {
		return task(p, "api-review").SessionState == protocol.StateWaiting
	})
	api := task(p, "api").Session
	_, err := e.c.Merge(t.Context(), protocol.MergeParams{SessionRef: protocol.SessionRef{Session: api}})
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeUnreviewed || !strings.Contains(pe.Message, "wait for its reviewer api-review") {
		t.Fatalf("merge before the review: %v, want unreviewed naming api-review", err)
	}
	_, err = e.c.Land(t.Context(), protocol.LandParams{Repo: e.repo})
	if !errors.As(err, &pe) || pe.Code != protocol.CodeUnreviewed {
		t.Fatalf("land before the review: %v, want unreviewed", err)
	}
	s, err := e.c.Session(t.Context(), protocol.SessionRef{Session: api})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.ReviewedBy) != 1 || s.ReviewedBy[0].Reviewer != "api-review" || s.ReviewedBy[0].Done {
		t.Fatalf("reviewedBy %s, want api-review, not done", jsonString(s.ReviewedBy))
	}
	tip := gittest.Git(t, e.repo, "rev-parse", s.Branch)

	e.restart()
	if _, err := e.c.Send(t.Context(), protocol.SendParams{SessionRef: protocol.SessionRef{Session: task(p, "api-review").Session}, Text: "go"}); err != nil {
		t.Fatal(err)
	}
	// The review is done once the reviewer's turn ends; its comment then
	// goes to api's agent, and is marked sent.
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, err = e.c.Session(t.Context(), protocol.SessionRef{Session: api})
		if err != nil {
			t.Fatal(err)
		}
		cs, err := e.c.Comments(t.Context(), protocol.SessionRef{Session: api})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.ReviewedBy) == 1 && s.ReviewedBy[0].Done && s.ReviewedBy[0].Comments == 1 && len(cs.Comments) == 1 && cs.Comments[0].Sent != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("review never done and forwarded: %s", jsonString(s))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Sent is when the text went in; the agent's own answer comes after.
	for {
		out, err := e.c.Output(t.Context(), protocol.OutputParams{SessionRef: protocol.SessionRef{Session: api}})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out.Data), "got: Review feedback on your changes: (1) api.txt:1: needs a test") {
			break
		}
		if time.Now().After(deadline.Add(time.Minute)) {
			t.Fatalf("api's agent did not get the review: %q", out.Data)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Sending marks api working after the delivery, which can come after
	// the echo agent's own idle report: report its turn over again, as
	// an agent does at the end of its next turn.
	apiSession, err := e.c.Session(t.Context(), protocol.SessionRef{Session: api, Repo: e.repo})
	if err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile(filepath.Join(e.home, "state", "sessions", apiSession.ID, "token"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Hook(t.Context(), protocol.HookParams{SessionRef: protocol.SessionRef{Session: api}, Event: "idle", Token: strings.TrimSpace(string(token))}); err != nil {
		t.Fatal(err)
	}
	cs, err := e.c.Comments(t.Context(), protocol.SessionRef{Session: api})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.Comments) != 1 || cs.Comments[0].By != "api-review" || cs.Comments[0].Sent == nil {
		t.Errorf("comments %s, want one by api-review, sent", jsonString(cs))
	}
	if got := gittest.Git(t, e.repo, "rev-parse", s.Branch); got != tip {
		t.Errorf("the review moved api's branch: %s → %s", tip, got)
	}
	// A reviewer's branch holds api's work: a preview of the repository
	// leaves it out unless it is named.
	pv, err := e.c.Preview(t.Context(), protocol.PreviewParams{Repo: e.repo})
	if err != nil {
		t.Fatal(err)
	}
	for _, ps := range pv.Sessions {
		if ps.Session == "api-review" {
			t.Errorf("the preview of the repository integrates the reviewer: %s", jsonString(pv))
		}
	}
	if _, err := e.c.Merge(t.Context(), protocol.MergeParams{SessionRef: protocol.SessionRef{Session: api}}); err != nil {
		t.Fatalf("merge once reviewed: %v", err)
	}
	e.await(pl.ID, "api landed, reviewed by api-review", func(p protocol.Plan) bool {
		a := task(p, "api")
		return a.State == protocol.TaskLanded && a.Reviewed && len(a.ReviewedBy) == 1 && a.ReviewedBy[0] == "api-review"
	})
}

// TestPlanFailedPrerequisite: a task whose spawn fails fails, and so do
// the tasks after it, saying why; the plan is then done.
func TestPlanFailedPrerequisite(t *testing.T) {
	t.Parallel()
	e := newPlanEnv(t)
	pl := e.run("[[task]]\nname = \"broken\"\ncommand = [\"sh\", \"-c\", \"exit 3\"]\n" +
		"[[task]]\nname = \"later\"\nafter = [\"broken\"]\n" + commitsAndEchoes())
	p := e.await(pl.ID, "the plan done", func(p protocol.Plan) bool { return p.State == protocol.PlanDone })
	if b := task(p, "broken"); b.State != protocol.TaskFailed {
		t.Errorf("broken: %s, want failed", jsonString(b))
	}
	if l := task(p, "later"); l.State != protocol.TaskFailed || l.Detail != "after broken failed" || l.Session != "" {
		t.Errorf("later: %s, want failed because broken failed, never started", jsonString(l))
	}
}

// TestPlanCrashDuringSpawn: a daemon killed while a plan's task is being
// spawned rolls the spawn back at restart, and the plan starts the task
// again.
func TestPlanCrashDuringSpawn(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	fifo := filepath.Join(t.TempDir(), "setup-started")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	e := &planEnv{t: t, home: home, repo: gittest.NewRepo(t, map[string]string{
		".studio.toml": "[setup]\ncommands = [\"if [ -p " + fifo + " ]; then echo started > " + fifo + "; sleep 30; fi\"]\n",
	})}
	e.restart()
	if _, err := e.c.Trust(t.Context(), protocol.TrustParams{Repo: e.repo}); err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() {
		_, err := e.c.PlanRun(context.Background(), protocol.PlanRunParams{Repo: e.repo, Text: "[[task]]\nname = \"cut\"\n" + commitsAndEchoes("cut.txt")})
		ran <- err
	}()
	read := make(chan []byte, 1)
	go func() {
		b, _ := os.ReadFile(fifo)
		read <- b
	}()
	select {
	case <-read:
	case err := <-ran:
		t.Fatalf("the plan's spawn ended before its setup started: %v", err)
	}
	os.Remove(fifo) // the next spawn's setup does nothing
	e.restart()
	<-ran
	res, err := e.c.Plans(t.Context(), protocol.PlansParams{Repo: e.repo})
	if err != nil || len(res.Plans) != 1 {
		t.Fatalf("plans after restart: %+v, %v", res, err)
	}
	p := e.await(res.Plans[0].ID, "cut started again", func(p protocol.Plan) bool {
		return task(p, "cut").State == protocol.TaskStarted && task(p, "cut").SessionState == protocol.StateIdle
	})
	s, err := e.c.Session(t.Context(), protocol.SessionRef{Session: task(p, "cut").Session})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Worktree, "cut.txt")); err != nil {
		t.Errorf("the task's agent did not run: %v", err)
	}
}
