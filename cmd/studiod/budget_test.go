package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/studiod/studiod/internal/fakemodel"
	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
)

// transcriptLine is one answer of the model in a Claude Code transcript,
// with its usage (and a cost, as older versions write one).
func transcriptLine(id string, in, out, cacheRead, cacheWrite int, cost float64) string {
	b, _ := json.Marshal(map[string]any{"type": "assistant", "costUSD": cost, "message": map[string]any{"id": id,
		"usage": map[string]any{"input_tokens": in, "output_tokens": out, "cache_read_input_tokens": cacheRead, "cache_creation_input_tokens": cacheWrite}}})
	return string(b) + "\n"
}

// reportUsage appends line to the session's transcript and runs its
// PostToolUse hook naming the transcript, as Claude Code does after a
// tool.
func reportUsage(t *testing.T, s protocol.Session, env []string, transcript, line string) {
	t.Helper()
	f, err := os.OpenFile(transcript, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(line)
	f.Close()
	payload, _ := json.Marshal(map[string]any{"session_id": "conv", "hook_event_name": "PostToolUse", "cwd": s.Worktree,
		"tool_name": "Read", "tool_use_id": fmt.Sprint(len(line)), "tool_input": map[string]any{"file_path": "README.md"},
		"transcript_path": transcript})
	cmd := exec.Command("studiod", "hook", "--agent", "claude")
	cmd.Env, cmd.Dir = env, s.Worktree
	cmd.Stdin = strings.NewReader(string(payload))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hook: %v: %s", err, out)
	}
}

// waitFileMatch waits until a line of the file at path matches re.
func waitFileMatch(t *testing.T, path, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(path)
		for _, line := range strings.Split(string(b), "\n") {
			if rx.MatchString(line) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line of %s matches %s; it holds:\n%s", path, re, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBudget: a session with a budget in tokens is announced near it (the
// notify command's budget event at 80%), and at 100% its turn is
// interrupted (Escape typed into its terminal) and it waits, kind budget:
// sends, answers and feedback are refused saying how to go on; a session
// cannot raise its own budget; the person raises it (the session is idle
// again and takes work) or clears it. The budget survives a daemon
// restart, a budget in dollars follows the cost, and bad budgets change
// nothing.
func TestBudget(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	events := filepath.Join(t.TempDir(), "events")
	conf := fmt.Sprintf("[notify]\ncommand = [\"sh\", \"-c\", \"cat >> %s\"]\n", events)
	writeConfig(t, home, conf)
	repo := gittest.NewRepo(t, map[string]string{"README.md": "hi\n"})
	d := startDaemon(t, home)
	c, w := d.watch()
	// The person's shell: this daemon's home, no session secret.
	person := append(withoutSecret(os.Environ()), "STUDIOD_HOME="+home)
	studiod := func(env []string, args ...string) (int, string) {
		return runIn(t, env, repo, append([]string{"studiod"}, args...)...)
	}

	// Bad budgets are refused, and nothing is made.
	for _, bad := range []string{"0", "abc", "-5", "$0", "12q", "$"} {
		if code, out := studiod(person, "spawn", "--name", "nope", "--budget", bad, "--", "fakeagent", "-echo"); code != 4 || !strings.Contains(out, "give tokens") {
			t.Errorf("spawn --budget %q: exit %d: %s", bad, code, out)
		}
	}
	if code, out := studiod(person, "ls", "--all", "--json"); code != 0 || strings.Contains(out, "nope") {
		t.Fatalf("a refused spawn left a session: %s", out)
	}

	if code, out := studiod(person, "spawn", "--name", "spender", "--budget", "10k", "--", "fakeagent", "-echo"); code != 0 {
		t.Fatalf("spawn: %s", out)
	}
	s := w.AwaitState(t, "spender", protocol.StateIdle)
	if s.Budget == nil || s.Budget.Tokens != 10000 || s.Budget.Text != "10k tokens" || s.Budget.Spent == nil || *s.Budget.Spent != 0 {
		t.Fatalf("budget %+v", s.Budget)
	}
	env := sessionEnv(t, s)
	transcript := filepath.Join(t.TempDir(), "conv.jsonl")

	// 8,500 of 10,000 tokens: a notice, the session goes on.
	reportUsage(t, s, env, transcript, transcriptLine("m1", 500, 500, 7000, 500, 0.01))
	waitFileMatch(t, events, `"event":"budget".*"name":"spender".*"spent":0.85`)
	if s, _ = w.Session(s.ID); s.State == protocol.StateWaiting {
		t.Fatalf("waiting at 85%%: %s", s.Detail)
	}

	// 10,500: the turn is interrupted and the session waits on its budget.
	reportUsage(t, s, env, transcript, transcriptLine("m2", 1000, 500, 500, 0, 0.01))
	w.Await(t, "waiting on the budget", func() bool {
		s, _ = w.Session(s.ID)
		return s.State == protocol.StateWaiting && s.Waiting != nil && s.Waiting.Kind == protocol.WaitBudget
	})
	if !strings.Contains(s.Waiting.Question, "10.5k of 10k tokens") {
		t.Errorf("question %q", s.Waiting.Question)
	}
	waitFileMatch(t, events, `"event":"budget".*"name":"spender".*"kind":"budget"`)
	// Escape reached its terminal (echoed as ^[).
	w.Await(t, "Escape typed", func() bool {
		out, err := c.Output(t.Context(), protocol.OutputParams{SessionRef: protocol.SessionRef{Session: s.ID}, Offset: 0, Limit: 1 << 16})
		return err == nil && strings.Contains(string(out.Data), "^[")
	})
	// Its hooks saying it is idle do not end the wait.
	claudeHook(t, s, env, "Stop", "", "", nil)
	if got, _ := w.Session(s.ID); got.State != protocol.StateWaiting {
		t.Fatalf("a Stop hook ended the budget wait: %s", got.State)
	}
	for _, args := range [][]string{
		{"send", "spender", "go on"},
		{"answer", "spender", "allow"},
	} {
		code, out := studiod(person, args...)
		if code != 8 || !strings.Contains(out, "studiod budget spender") {
			t.Errorf("%v: exit %d: %s", args, code, out)
		}
	}
	// What the repository's sessions used, summed.
	if code, out := studiod(person, "ls"); code != 0 || !strings.Contains(out, "model usage of 1 session: 9.5k in 1.0k out $0.02") {
		t.Errorf("ls: %s", out)
	}
	code, out := studiod(person, "show", "spender")
	if code != 0 || !strings.Contains(out, "budget: spender has used 10.5k of 10k tokens") || !strings.Contains(out, "10k tokens, 105% used") {
		t.Errorf("show: %s", out)
	}

	// The session cannot raise its own budget; the person can.
	if code, out := studiod(env, "budget", "spender", "1M"); code != 12 {
		t.Errorf("budget from inside the session: exit %d: %s", code, out)
	}
	if code, out := studiod(person, "budget", "spender", "5k"); code != 0 || !strings.Contains(out, "waiting") {
		t.Errorf("a budget still below what was used: exit %d: %s", code, out)
	}
	if code, out := studiod(person, "budget", "spender", "20k"); code != 0 || !strings.Contains(out, "20k tokens, 52% used (idle)") {
		t.Errorf("raise: exit %d: %s", code, out)
	}
	w.AwaitState(t, s.ID, protocol.StateIdle)
	if code, out := studiod(person, "send", "spender", "more"); code != 0 {
		t.Errorf("send after raising: exit %d: %s", code, out)
	}
	w.Await(t, "the message after raising", func() bool {
		out, err := c.Output(t.Context(), protocol.OutputParams{SessionRef: protocol.SessionRef{Session: s.ID}, Offset: 0, Limit: 1 << 16})
		return err == nil && strings.Contains(string(out.Data), "got: ")
	})

	// Bad input changes nothing.
	for _, args := range [][]string{{"budget", "spender", "lots"}, {"budget", "spender", "5k", "--clear"}, {"budget", "ghost", "5k"}} {
		if code, out := studiod(person, args...); code == 0 {
			t.Errorf("%v: accepted: %s", args, out)
		}
	}
	// The budget survives a restart of the daemon.
	d.kill9()
	d = startDaemon(t, home)
	if code, out := studiod(person, "budget", "spender", "--json"); code != 0 || !strings.Contains(out, `"text": "20k tokens"`) {
		t.Errorf("after a restart: exit %d: %s", code, out)
	}
	if code, out := studiod(person, "budget", "spender", "--clear"); code != 0 || !strings.Contains(out, "no budget") {
		t.Errorf("clear: exit %d: %s", code, out)
	}

	// A budget in dollars follows the cost the agent reports.
	c, w = d.watch()
	if code, out := studiod(person, "spawn", "--name", "payer", "--budget", "$0.05", "--", "fakeagent", "-echo"); code != 0 {
		t.Fatalf("spawn: %s", out)
	}
	p := w.AwaitState(t, "payer", protocol.StateIdle)
	penv := sessionEnv(t, p)
	ptranscript := filepath.Join(t.TempDir(), "pay.jsonl")
	reportUsage(t, p, penv, ptranscript, transcriptLine("m1", 10, 10, 0, 0, 0.03))
	if got, _ := w.Session(p.ID); got.State == protocol.StateWaiting {
		t.Fatalf("waiting at $0.03 of $0.05")
	}
	reportUsage(t, p, penv, ptranscript, transcriptLine("m2", 10, 10, 0, 0, 0.03))
	w.Await(t, "waiting on a budget in dollars", func() bool {
		s, _ := w.Session(p.ID)
		return s.State == protocol.StateWaiting && s.Waiting != nil && s.Waiting.Kind == protocol.WaitBudget &&
			strings.Contains(s.Waiting.Question, "$0.06 of $0.05")
	})
}

// TestClaudeCodeBudget: the real Claude Code (the pinned version and the
// one npm installs on Node 20), against the scripted model, with a budget
// of 5k tokens: its first answer (a Write, 6,167 tokens) is over it, so
// once the tool ran, studiod interrupts the turn (the scripted model holds
// the next answer, so the turn cannot end first) and Claude Code says it
// was interrupted; the session waits on its budget until the person
// raises it, then is idle.
func TestClaudeCodeBudget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ version, bin string }{
		{"pinned", fakemodel.AgentsBin(t, "claude")},
		{"node20", fakemodel.Node20Bin(t, "claude")},
	} {
		t.Run(tc.version, func(t *testing.T) {
			home := newHome(t)
			repo := gittest.NewRepo(t, map[string]string{"README.md": "hello\n"})
			const name = "capped"
			wt := filepath.Join(home, "data", "worktrees", filepath.Base(repo)+"-"+sha256Hex(repo)[:8], name)
			hold := make(chan struct{})
			fm := fakemodel.New(costlyScript(wt, hold))
			defer fm.Close()
			defer close(hold) // before the server closes: it waits for held answers
			const key = "sk-ant-fake-0123456789abcdefghijklmnop"
			writeConfig(t, home, costlyConfig+"budget = \"5k\"\n")
			env := claudeEnv(t, tc.bin, key, repo, fm.URL())
			d := startDaemonEnv(t, home, env...)
			c, w := d.watch()
			s, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: name, Agent: "claude", Prompt: "Create hello.py that prints hello"})
			if err != nil {
				t.Fatal(err)
			}
			if s.Budget == nil || s.Budget.Tokens != 5000 {
				t.Fatalf("the profile's budget: %+v", s.Budget)
			}
			w.Await(t, "waiting on the budget", func() bool {
				got, _ := w.Session(s.ID)
				return got.State == protocol.StateWaiting && got.Waiting != nil && got.Waiting.Kind == protocol.WaitBudget
			}, func() string {
				got, _ := w.Session(s.ID)
				return fmt.Sprintf("%s %q, usage %+v", got.State, got.Detail, got.Usage)
			})
			got, _ := w.Session(s.ID)
			if !strings.Contains(got.Waiting.Question, "6.2k of 5k tokens") {
				t.Errorf("question %q", got.Waiting.Question)
			}
			// The context, from this version's transcript as from the
			// other's: the first answer's prompt and its answer.
			if got.Usage == nil || got.Usage.Context != 1203+4096+811+57 {
				t.Errorf("usage %+v, want the context of the first answer, 6167", got.Usage)
			}
			// The interrupt reached Claude Code: it says the turn was
			// interrupted, or, when the Escape came while its tool was
			// still finishing, that the tool's result was refused.
			deadline := time.Now().Add(time.Minute)
			for {
				code, out := runIn(t, append(os.Environ(), "STUDIOD_HOME="+home), repo, "studiod", "logs", name)
				if code == 0 && (strings.Contains(out, "Interrupted") || strings.Contains(out, "ejected write to hello.py")) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("Claude Code's screen does not say it was interrupted:\n%s", out)
				}
				time.Sleep(200 * time.Millisecond)
			}
			if _, err := c.Budget(t.Context(), protocol.BudgetParams{SessionRef: protocol.SessionRef{Session: s.ID}, Budget: "1M"}); err != nil {
				t.Fatal(err)
			}
			w.AwaitState(t, s.ID, protocol.StateIdle)
		})
	}
}
