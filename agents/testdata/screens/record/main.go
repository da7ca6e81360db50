// Command record runs a real agent CLI under studiod's shim, the way studiod
// runs it (the shim is the only terminal: it answers the agent's queries),
// against internal/fakemodel on loopback, waits for a screen, and then, when
// asked, types the keys of an answer and reports what the agent did. It is
// how the prompt keys in agents/prompts.go were checked, and how the screens
// marked "(shim)" in ../README were recorded.
//
//	go run ./agents/testdata/screens/record -scenario claude-write -keys 2
//	go run ./agents/testdata/screens/record -scenario opencode-home -keys '/connect|\r'
//	go run ./agents/testdata/screens/record -scenario claude-bash -save claude-permission-bash
//
// -save NAME writes ../NAME.raw (the shim's log up to the screen) and
// ../NAME.txt (the shim's rendering of it): look at the .txt before keeping
// it. The CLIs come from test/agents (see .ci/agents.sh) or
// $STUDIOD_AGENTS_BIN. This directory is testdata: `go build ./...` and
// `go test ./...` skip it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/studiod/studiod/agents/shim"
	"github.com/studiod/studiod/internal/fakemodel"
)

// scenario is one agent set up to reach one screen.
type scenario struct {
	// wait is text that shows the screen has come.
	wait string
	// setup returns the agent's argv and environment and the model's
	// script, given the repository, the private home and the server URL.
	setup func(s *env) ([]string, []string, fakemodel.Script)
}

type env struct {
	repo, home, url string
}

func (e *env) file(name string) string { return filepath.Join(e.repo, name) }

func main() {
	name := flag.String("scenario", "", "scenario: "+strings.Join(names(), ", "))
	keys := flag.String("keys", "", `keys to type once the screen shows: \r Enter, \e Esc, | between writes`)
	save := flag.String("save", "", "save the screen as ../NAME.raw and ../NAME.txt")
	watch := flag.Duration("watch", 15*time.Second, "how long to watch after answering")
	flag.StringVar(&claudeMode, "claude-mode", "manual", `Claude Code's --permission-mode ("" for none: versions before "manual" was one)`)
	flag.Parse()
	sc, ok := scenarios[*name]
	if !ok {
		fmt.Fprintf(os.Stderr, "record: unknown scenario %q; have %s\n", *name, strings.Join(names(), ", "))
		os.Exit(2)
	}
	if err := run(*name, sc, *keys, *save, *watch); err != nil {
		fmt.Fprintf(os.Stderr, "record: %v\n", err)
		os.Exit(1)
	}
}

func names() []string {
	var n []string
	for k := range scenarios {
		n = append(n, k)
	}
	slices.Sort(n)
	return n
}

func bin() string {
	if d := os.Getenv("STUDIOD_AGENTS_BIN"); d != "" {
		return d
	}
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err == nil {
		d := filepath.Join(strings.TrimSpace(string(out)), "test/agents/node_modules/.bin")
		if _, err := os.Stat(d); err == nil {
			return d
		}
	}
	return "/work/main/test/agents/node_modules/.bin"
}

func run(name string, sc scenario, answer, save string, watch time.Duration) error {
	keys := unescape(answer)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tmp, err := os.MkdirTemp("", "record-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	e := &env{repo: filepath.Join(tmp, "repo"), home: filepath.Join(tmp, "home")}
	if err := gitRepo(e.repo); err != nil {
		return err
	}
	os.MkdirAll(e.home, 0o700)
	srv := fakemodel.New(fakemodel.Script{})
	defer srv.Close()
	e.url = srv.URL()
	argv, agentEnv, script := sc.setup(e)
	srv.SetScript(script)
	argv[0] = filepath.Join(bin(), argv[0])
	base := []string{"PATH=" + os.Getenv("PATH"), "TERM=xterm-256color", "LANG=C.UTF-8", "HOME=" + e.home, "TMPDIR=" + os.TempDir()}
	spec := shim.Spec{
		Argv: argv, Dir: e.repo, Env: append(base, agentEnv...), Rows: 40, Cols: 120,
		Log: filepath.Join(tmp, "out.log"), Socket: filepath.Join(tmp, "s.sock"), Exit: filepath.Join(tmp, "exit.json"),
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- shim.Run(spec, pw) }()
	ready, _ := io.ReadAll(pr)
	if !strings.HasPrefix(string(ready), "ok ") {
		return fmt.Errorf("shim: %s", ready)
	}
	defer func() {
		shim.Signal(context.Background(), spec.Socket, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			shim.Signal(context.Background(), spec.Socket, syscall.SIGKILL)
			<-done
		}
	}()

	screen, err := waitScreen(ctx, spec.Socket, done, sc.wait)
	if err != nil {
		if ex, xerr := shim.ReadExit(spec.Exit); xerr == nil {
			fmt.Printf("the agent exited: code %d, last words %q\n", ex.Code, ex.Last)
		}
		return err
	}
	fmt.Printf("=== %s: screen with %q (title %q, alt %v, paste %v)\n%s\n", name, sc.wait, screen.Title, screen.AltScreen, screen.BracketedPaste, show(screen))
	if save != "" {
		log, err := os.ReadFile(spec.Log)
		if err != nil {
			return err
		}
		dir := filepath.Join("agents", "testdata", "screens")
		if err := os.WriteFile(filepath.Join(dir, save+".raw"), log[:screen.Offset], 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, save+".txt"), []byte(strings.Join(screen.Rows, "\n")+"\n"), 0o644); err != nil {
			return err
		}
		fmt.Printf("saved %s.raw (%d bytes) and %s.txt\n", save, screen.Offset, save)
	}
	if answer == "" {
		return nil
	}
	before := len(srv.Requests())
	fmt.Printf("=== typing %q\n", keys)
	// "|" separates writes, a moment apart.
	for i, k := range strings.Split(keys, "|") {
		if i > 0 {
			time.Sleep(300 * time.Millisecond)
		}
		if err := shim.Input(ctx, spec.Socket, []byte(k)); err != nil {
			return err
		}
	}
	// Watch: does the screen leave, does it come back, what reaches the
	// model.
	gone, again := false, 0
	deadline := time.Now().Add(watch)
	var last shim.ScreenState
	exited := false
	for time.Now().Before(deadline) && !exited {
		select {
		case <-done:
			exited = true
			done <- nil
			continue
		case <-time.After(200 * time.Millisecond):
		}
		s, err := shim.Screen(ctx, spec.Socket)
		if err != nil {
			break
		}
		last = s
		on := strings.Contains(strings.Join(s.Rows, "\n"), sc.wait)
		if !on && !gone {
			gone = true
		}
		if on && gone {
			again++
			gone = false
			fmt.Printf("--- the screen came back:\n%s\n", show(s))
		}
	}
	fmt.Printf("=== after %q: screen left: %v, came back %d time(s), agent exited: %v\n", answer, gone || again > 0, again, exited)
	if exited {
		if ex, err := shim.ReadExit(spec.Exit); err == nil {
			fmt.Printf("exit code %d, last words %q\n", ex.Code, ex.Last)
		}
	} else {
		fmt.Printf("%s\n", show(last))
	}
	for _, r := range srv.Requests()[before:] {
		if r.API == fakemodel.Unknown {
			continue
		}
		fmt.Printf("model request (turn %d): user %q, tool results:", r.Turn, short(r.LastUserText()))
		for _, tr := range r.LastToolResults() {
			fmt.Printf(" [%s %q]", tr.Name, short(tr.Output))
		}
		fmt.Println()
	}
	for _, f := range []string{"one.txt", "two.txt", "hello.py"} {
		if _, err := os.Stat(e.file(f)); err == nil {
			fmt.Printf("file %s: written\n", f)
		}
	}
	if _, err := os.Stat(filepath.Join(e.home, "hook-ran")); err == nil {
		fmt.Println("the SessionStart hook ran")
	}
	return nil
}

func short(s string) string {
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}

func unescape(s string) string {
	r := strings.NewReplacer(`\r`, "\r", `\e`, "\x1b", `\t`, "\t", `\n`, "\n")
	return r.Replace(s)
}

func show(s shim.ScreenState) string {
	var b strings.Builder
	for _, r := range s.Rows {
		if strings.TrimSpace(r) != "" {
			b.WriteString("| " + r + "\n")
		}
	}
	return b.String()
}

func waitScreen(ctx context.Context, socket string, done chan error, want string) (shim.ScreenState, error) {
	var last shim.ScreenState
	for {
		select {
		case err := <-done:
			done <- err
			return last, fmt.Errorf("the agent exited before %q; screen:\n%s", want, show(last))
		case <-ctx.Done():
			return last, fmt.Errorf("no %q; screen:\n%s", want, show(last))
		case <-time.After(200 * time.Millisecond):
		}
		s, err := shim.Screen(ctx, socket)
		if errors.Is(err, shim.ErrGone) {
			continue
		}
		if err != nil {
			return last, err
		}
		last = s
		if strings.Contains(strings.Join(s.Rows, "\n"), want) {
			// Let it finish drawing.
			time.Sleep(700 * time.Millisecond)
			return shim.Screen(ctx, socket)
		}
	}
}

func gitRepo(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("hi\n"), 0o644); err != nil {
		return err
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "README"}, {"commit", "-qm", "init"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@studiod.invalid", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@studiod.invalid")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %v: %v\n%s", args, err, out)
		}
	}
	return nil
}

func writeJSON(path string, v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		panic(err)
	}
}

// twoCalls is a script in which the model calls a tool twice (a then b),
// then ends its turn: "always" shows as no second prompt.
func twoCalls(trigger string, a, b *fakemodel.ToolCall) fakemodel.Script {
	return fakemodel.Script{Turns: []fakemodel.Turn{
		{UserContains: trigger, Text: "I'll do it.", Tool: a},
		{AfterToolResult: true, Text: "Once more.", Tool: b},
		{AfterToolResult: true, Text: "Done: all done."},
	}}
}

var claudeMode string

const claudeKey = "sk-ant-fake-0123456789abcdefghijklmnop"

func claude(trusted bool, script func(e *env) fakemodel.Script) func(e *env) ([]string, []string, fakemodel.Script) {
	return func(e *env) ([]string, []string, fakemodel.Script) {
		cfg := map[string]any{
			"hasCompletedOnboarding": true,
			"customApiKeyResponses":  map[string]any{"approved": []string{claudeKey[len(claudeKey)-20:]}},
		}
		if trusted {
			cfg["projects"] = map[string]any{e.repo: map[string]any{"hasTrustDialogAccepted": true}}
		}
		writeJSON(filepath.Join(e.home, ".claude.json"), cfg)
		argv := []string{"claude", "Go: do the task"}
		if claudeMode != "" {
			argv = []string{"claude", "--permission-mode", claudeMode, "Go: do the task"}
		}
		return argv,
			[]string{"ANTHROPIC_BASE_URL=" + e.url, "ANTHROPIC_API_KEY=" + claudeKey, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_AUTOUPDATER=1"},
			script(e)
	}
}

func codex(trusted, provider, bypassHooks bool, script func(e *env) fakemodel.Script) func(e *env) ([]string, []string, fakemodel.Script) {
	return func(e *env) ([]string, []string, fakemodel.Script) {
		codexHome := filepath.Join(e.home, ".codex")
		os.MkdirAll(codexHome, 0o700)
		args := []string{"codex", "--no-daemon"}
		if bypassHooks {
			args = append(args, "--dangerously-bypass-hook-trust")
		} else {
			args = append(args, "-c", fmt.Sprintf(`hooks.SessionStart=[{hooks=[{type="command",command=%q}]}]`, "touch "+filepath.Join(e.home, "hook-ran")))
		}
		if provider {
			args = append(args, "-c", "model_provider=fake",
				"-c", fmt.Sprintf(`model_providers.fake={name="fake",base_url=%q,env_key="FAKE_API_KEY",wire_api="responses"}`, e.url+"/v1"),
				"-m", "gpt-fake")
		}
		if trusted {
			args = append(args, "-c", fmt.Sprintf(`projects={%q={trust_level="trusted"}}`, e.repo))
		}
		args = append(args, "Go: do the task")
		return args, []string{"CODEX_HOME=" + codexHome, "FAKE_API_KEY=sk-fake"}, script(e)
	}
}

func gemini(trusted, auth bool, script func(e *env) fakemodel.Script) func(e *env) ([]string, []string, fakemodel.Script) {
	return func(e *env) ([]string, []string, fakemodel.Script) {
		settings := map[string]any{}
		if auth {
			settings["security"] = map[string]any{"auth": map[string]any{"selectedType": "gemini-api-key"}}
		}
		writeJSON(filepath.Join(e.home, ".gemini", "settings.json"), settings)
		envv := []string{"GEMINI_API_KEY=fake-key", "GOOGLE_GEMINI_BASE_URL=" + e.url}
		if trusted {
			envv = append(envv, "GEMINI_CLI_TRUST_WORKSPACE=true")
		}
		return []string{"gemini", "-i", "Go: do the task"}, envv, script(e)
	}
}

func opencode(configured bool, script func(e *env) fakemodel.Script) func(e *env) ([]string, []string, fakemodel.Script) {
	return func(e *env) ([]string, []string, fakemodel.Script) {
		envv := []string{"OPENCODE_DISABLE_AUTOUPDATE=1", "OPENCODE_DISABLE_MODELS_FETCH=1", "OPENCODE_DISABLE_DEFAULT_PLUGINS=1"}
		args := []string{"opencode"}
		if configured {
			config := filepath.Join(e.home, "opencode.json")
			writeJSON(config, map[string]any{
				"autoupdate": false, "share": "disabled",
				"provider": map[string]any{"fake": map[string]any{
					"npm": "@ai-sdk/openai-compatible", "name": "Fake",
					"options": map[string]any{"baseURL": e.url + "/v1", "apiKey": "sk-fake"},
					"models":  map[string]any{"fake-model": map[string]any{"name": "Fake Model", "tool_call": true}},
				}},
				"model": "fake/fake-model", "small_model": "fake/fake-model",
				"permission": map[string]any{"edit": "ask", "bash": "ask"},
			})
			envv = append(envv, "OPENCODE_CONFIG="+config)
			if script != nil {
				args = append(args, "--prompt", "Go: do the task")
			}
		}
		if script == nil {
			return args, envv, fakemodel.Script{}
		}
		return args, envv, script(e)
	}
}

// askColour is an AskUserQuestion call with one question and three options.
var askColour = map[string]any{"questions": []map[string]any{{
	"question": "Which colour should the button be?", "header": "Colour", "multiSelect": false,
	"options": []map[string]string{
		{"label": "Red", "description": "Warm and loud"},
		{"label": "Green", "description": "Calm"},
		{"label": "Blue", "description": "The usual"},
	},
}}}

// askTwo is an AskUserQuestion call with two questions.
var askTwo = map[string]any{"questions": []map[string]any{
	askColour["questions"].([]map[string]any)[0],
	{
		"question": "Which size should it be?", "header": "Size", "multiSelect": false,
		"options": []map[string]string{
			{"label": "Small", "description": "Fits a toolbar"},
			{"label": "Large", "description": "Fills the card"},
		},
	},
}}

func noScript(*env) fakemodel.Script { return fakemodel.Script{} }

var scenarios = map[string]scenario{
	"claude-trust": {wait: "Yes, I trust this folder", setup: claude(false, noScript)},
	"claude-write": {wait: "Do you want to create", setup: claude(true, func(e *env) fakemodel.Script {
		return twoCalls("Go:", fakemodel.Call("Write", map[string]string{"file_path": e.file("one.txt"), "content": "1\n"}),
			fakemodel.Call("Write", map[string]string{"file_path": e.file("two.txt"), "content": "2\n"}))
	})},
	"claude-ask": {wait: "Enter to select", setup: claude(true, func(e *env) fakemodel.Script {
		return twoCalls("Go:", fakemodel.Call("AskUserQuestion", askColour), fakemodel.Call("AskUserQuestion", askColour))
	})},
	"claude-ask2": {wait: "Enter to select", setup: claude(true, func(e *env) fakemodel.Script {
		return twoCalls("Go:", fakemodel.Call("AskUserQuestion", askTwo), fakemodel.Call("AskUserQuestion", askTwo))
	})},
	"claude-bash": {wait: "Do you want to proceed?", setup: claude(true, func(e *env) fakemodel.Script {
		return twoCalls("Go:", fakemodel.Call("Bash", map[string]string{"command": "printf 1 > one.txt", "description": "Write one.txt"}),
			fakemodel.Call("Bash", map[string]string{"command": "printf 2 > two.txt", "description": "Write two.txt"}))
	})},
	"claude-edit": {wait: "Do you want to make this edit to", setup: claude(true, func(e *env) fakemodel.Script {
		return fakemodel.Script{Turns: []fakemodel.Turn{
			{UserContains: "Go:", Text: "Let me read it.", Tool: fakemodel.Call("Read", map[string]string{"file_path": e.file("README")})},
			{AfterToolResult: true, Text: "I'll edit it.", Tool: fakemodel.Call("Edit", map[string]string{"file_path": e.file("README"), "old_string": "hi", "new_string": "hello"})},
			{AfterToolResult: true, Text: "Done: all done."},
		}}
	})},
	"claude-offline": {wait: "Unable to connect", setup: func(e *env) ([]string, []string, fakemodel.Script) {
		return []string{"claude", "Go: do the task"}, []string{"ANTHROPIC_BASE_URL=http://127.0.0.1:9"}, fakemodel.Script{}
	}},
	"codex-login": {wait: "Press enter to continue", setup: codex(false, false, true, noScript)},
	"codex-trust": {wait: "Trust this folder?", setup: codex(false, true, true, noScript)},
	"codex-hooks": {wait: "Hooks need review", setup: codex(true, true, false, noScript)},
	"codex-exec": {wait: "Would you like to run the following command?", setup: codex(true, true, true, func(e *env) fakemodel.Script {
		call := fakemodel.Call("exec_command", map[string]string{"cmd": "printf 1 > " + e.file("one.txt"), "sandbox_permissions": "require_escalated", "justification": "Write one.txt?"})
		return twoCalls("Go:", call, call)
	})},
	"gemini-trust": {wait: "Do you trust the files in this folder?", setup: gemini(false, true, noScript)},
	"gemini-auth":  {wait: "How would you like to authenticate", setup: gemini(true, false, noScript)},
	"gemini-write": {wait: "Apply this change?", setup: gemini(true, true, func(e *env) fakemodel.Script {
		return twoCalls("Go:", fakemodel.Call("write_file", map[string]string{"file_path": e.file("one.txt"), "content": "1\n"}),
			fakemodel.Call("write_file", map[string]string{"file_path": e.file("two.txt"), "content": "2\n"}))
	})},
	"gemini-shell": {wait: "Allow execution", setup: gemini(true, true, func(e *env) fakemodel.Script {
		return twoCalls("Go:", fakemodel.Call("run_shell_command", map[string]string{"command": "printf 1 > one.txt", "description": "Write one.txt"}),
			fakemodel.Call("run_shell_command", map[string]string{"command": "printf 2 > two.txt", "description": "Write two.txt"}))
	})},
	"opencode-home":            {wait: "Run /connect", setup: opencode(false, noScript)},
	"opencode-home-configured": {wait: "Ask anything", setup: opencode(true, nil)},
	"opencode-write": {wait: "Permission required", setup: opencode(true, func(e *env) fakemodel.Script {
		return twoCalls("Go:", fakemodel.Call("write", map[string]string{"filePath": e.file("one.txt"), "content": "1\n"}),
			fakemodel.Call("write", map[string]string{"filePath": e.file("two.txt"), "content": "2\n"}))
	})},
	"opencode-bash": {wait: "Permission required", setup: opencode(true, func(e *env) fakemodel.Script {
		return twoCalls("Go:", fakemodel.Call("bash", map[string]string{"command": "printf 1 > one.txt", "description": "Write one.txt"}),
			fakemodel.Call("bash", map[string]string{"command": "printf 2 > two.txt", "description": "Write two.txt"}))
	})},
}
