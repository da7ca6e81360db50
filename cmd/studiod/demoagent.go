package main

import (
	"bufio"
	"context"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/studiod/studiod/protocol"
)

// The demo agent is a scripted stand-in for an AI agent: it edits files on a
// schedule, commits some of its work, asks a question, and goes idle, calling
// studiod's hook like a real agent would. Started as a reviewer (its prompt
// is studiod's reviewer brief), it comments on the reviewed session's work
// instead. STUDIO_DEMO_SPEED (default 1) divides its delays; tests run it
// fast. STUDIO_DEMO_ANSWER_WAIT sets how long it waits for its question's
// answer.
func demoAgentCmd() *cobra.Command {
	var resume string
	cmd := &cobra.Command{
		Use:    "demo-agent [PROMPT]",
		Short:  "The scripted demo agent (run by the demo profile)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			d := newDemoAgent(cmd.Context(), strings.Join(args, " "))
			defer d.close()
			if resume != "" {
				return d.feedback(resume)
			}
			return d.run()
		},
	}
	cmd.Flags().StringVar(&resume, "resume", "", "resume with this message (review feedback)")
	return cmd
}

type demoAgent struct {
	ctx    context.Context
	name   string
	prompt string
	speed  float64
	client *protocol.Client
	lines  chan string
}

func newDemoAgent(ctx context.Context, prompt string) *demoAgent {
	d := &demoAgent{ctx: ctx, name: os.Getenv("STUDIO_SESSION"), prompt: prompt, speed: 1, lines: make(chan string)}
	if d.name == "" {
		d.name = "demo"
	}
	if v, err := strconv.ParseFloat(os.Getenv("STUDIO_DEMO_SPEED"), 64); err == nil && v > 0 {
		d.speed = v
	}
	if sock := os.Getenv("STUDIOD_SOCKET"); sock != "" {
		d.client, _ = protocol.Dial(ctx, sock, nil)
	}
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
		close(d.lines)
	}()
	return d
}

func (d *demoAgent) close() {
	if d.client != nil {
		d.client.Close()
	}
}

func (d *demoAgent) hook(event, msg string) {
	if d.client == nil {
		return
	}
	d.client.Hook(d.ctx, protocol.HookParams{SessionRef: protocol.SessionRef{Session: os.Getenv("STUDIO_SESSION_ID")}, Event: event, Message: msg, Token: os.Getenv("STUDIO_SESSION_TOKEN")})
}

func (d *demoAgent) sleep(sec float64) {
	select {
	case <-time.After(time.Duration(sec / d.speed * float64(time.Second))):
	case <-d.ctx.Done():
	}
}

// answerWait is when the demo agent stops waiting for an answer and goes
// ahead: after 6 s (divided by the speed), or STUDIO_DEMO_ANSWER_WAIT
// seconds; 0 waits for the answer.
func (d *demoAgent) answerWait() <-chan time.Time {
	wait := 6 / d.speed
	if v, err := strconv.ParseFloat(os.Getenv("STUDIO_DEMO_ANSWER_WAIT"), 64); err == nil && v >= 0 {
		if v == 0 {
			return nil
		}
		wait = v
	}
	return time.After(time.Duration(wait * float64(time.Second)))
}

func (d *demoAgent) say(format string, args ...any) {
	fmt.Printf("\x1b[36m●\x1b[0m "+format+"\r\n", args...)
}

func (d *demoAgent) run() error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-sigs
		fmt.Print("demo agent: stopping\r\n")
		os.Exit(0)
	}()
	d.hook("working", "")
	if m := reviewBrief.FindStringSubmatch(d.prompt); m != nil {
		d.review(m[1])
		return d.idle()
	}
	d.say("demo agent %s: %s", d.name, d.prompt)
	d.sleep(1)

	d.say("reading the code base")
	d.sleep(3)
	mod := filepath.Join("src", d.name+".go")
	d.say("writing %s", mod)
	writeFile(mod, fmt.Sprintf("package src\n\n// %s is the %s module.\nfunc %s() string {\n\treturn %q\n}\n", exported(d.name), d.name, exported(d.name), d.name))
	d.sleep(4)

	// Every demo session edits the same lines here: the collision studiod
	// predicts.
	d.say("tuning app/config.txt")
	editLines("app/config.txt", 3, 5, []string{
		"timeout = " + strconv.Itoa(10+int(crc32.ChecksumIEEE([]byte(d.name))%50)),
		"owner = " + d.name,
		"retries = 3",
	})
	d.sleep(3)
	d.say("committing my work so far")
	git("add", "-A")
	git("commit", "-q", "-m", "demo("+d.name+"): add "+d.name+" module and tune config")
	d.sleep(1)

	q := "Also document the " + d.name + " module in README.md? (y/n)"
	d.hook("waiting", q)
	fmt.Print(q + " ")
	answer := "y"
	select {
	case l, ok := <-d.lines:
		if ok {
			answer = strings.TrimSpace(l)
		}
	case <-d.answerWait():
		fmt.Print("\r\n")
		d.say("no answer; going ahead")
	case <-d.ctx.Done():
	}
	d.hook("working", "")
	if !strings.HasPrefix(strings.ToLower(answer), "n") {
		d.say("documenting %s in README.md", d.name)
		// Sessions document themselves in different places of the same
		// file: an overlap that merges cleanly.
		if crc32.ChecksumIEEE([]byte(d.name))%2 == 0 {
			editLines("README.md", 1, 0, []string{"> " + d.name + ": see src/" + d.name + ".go"})
		} else {
			appendLine("README.md", "- "+d.name+": see src/"+d.name+".go")
		}
	}
	d.sleep(3)
	d.say("done; waiting for review feedback")
	return d.idle()
}

// idle ends the turn and takes feedback, a line at a time.
func (d *demoAgent) idle() error {
	d.hook("idle", "")
	for l := range d.lines {
		if err := d.feedback(l); err != nil {
			return err
		}
	}
	return nil
}

// reviewBrief is how studiod's brief for a reviewer starts (studio/reviewBy).
var reviewBrief = regexp.MustCompile(`^You review the work of session (\S+) `)

// demoReviewRemark is the demo reviewer's comment, on line 1 of the first
// file the reviewed session added.
const demoReviewRemark = "say how long a login session lasts"

// review comments on the reviewed session's work as this session (its
// comments are recorded as its own and reach the reviewed agent).
func (d *demoAgent) review(reviewed string) {
	d.say("demo reviewer %s: reading %s's work", d.name, reviewed)
	d.sleep(2)
	if d.client == nil {
		d.say("no studiod to comment through")
		return
	}
	ref := protocol.SessionRef{Session: reviewed}
	diff, err := d.client.Diff(d.ctx, protocol.DiffParams{SessionRef: ref, Stat: true})
	if err != nil {
		d.say("cannot read %s's diff: %v", reviewed, err)
		return
	}
	for _, f := range diff.Files {
		if f.Status != "added" || f.Binary {
			continue
		}
		_, err := d.client.Comment(d.ctx, protocol.CommentParams{SessionRef: ref, Path: f.Path, StartLine: 1, Body: demoReviewRemark,
			By: os.Getenv("STUDIO_SESSION_ID")})
		if err != nil {
			d.say("comment failed: %v", err)
			return
		}
		d.say("commented on %s:1: %s", f.Path, demoReviewRemark)
		break
	}
	d.sleep(1)
	d.say("review done")
}

func (d *demoAgent) feedback(msg string) error {
	d.hook("working", "")
	d.say("got feedback: %s", msg)
	appendLine("REVIEW-NOTES.md", "- "+d.name+": "+msg)
	d.sleep(1)
	d.say("addressed; waiting for review feedback")
	d.hook("idle", "")
	return nil
}

func exported(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		if r == '-' {
			up = true
			continue
		}
		if up && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		up = false
		b.WriteRune(r)
	}
	return b.String()
}

func writeFile(path, content string) {
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte(content), 0o644)
}

// editLines replaces lines [from, to] (1-based; to < from inserts before
// from) with repl.
func editLines(path string, from, to int, repl []string) {
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for len(lines) < to {
		lines = append(lines, "\n")
	}
	var out []string
	out = append(out, lines[:from-1]...)
	for _, r := range repl {
		out = append(out, r+"\n")
	}
	if to >= from {
		out = append(out, lines[to:]...)
	} else {
		out = append(out, lines[from-1:]...)
	}
	writeFile(path, strings.Join(out, ""))
}

func appendLine(path, line string) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintln(f, line)
	f.Close()
}

func git(args ...string) {
	cmd := exec.Command("git", append([]string{"-c", "user.name=studiod demo", "-c", "user.email=demo@studiod.invalid", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"}, args...)...)
	cmd.Run()
}
