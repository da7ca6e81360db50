package main

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/internal/fakemodel"
	"github.com/studiod/studiod/internal/sshtest"
	"github.com/studiod/studiod/protocol"
)

// hostPackages makes the node packages matching globs (in the agents'
// node_modules, beside bin) runnable by the host's user from a directory
// of the host user's: hard links of their files (copies across file
// systems) in DIR/node_modules, and each of commands a link in DIR to its
// script there. It returns DIR, for the host's PATH.
func hostPackages(t *testing.T, bin string, globs, commands []string) string {
	t.Helper()
	modules, err := filepath.EvalSymlinks(filepath.Dir(bin))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(sshtest.UserHome(t), "agents-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	for _, g := range globs {
		pkgs, _ := filepath.Glob(filepath.Join(modules, g))
		if len(pkgs) == 0 {
			t.Fatalf("no package %s in %s", g, modules)
		}
		for _, pkg := range pkgs {
			rel, _ := filepath.Rel(modules, pkg)
			dst := filepath.Join(dir, "node_modules", rel)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("cp", "-al", pkg, dst).CombinedOutput(); err != nil {
				os.RemoveAll(dst)
				if out, err := exec.Command("cp", "-a", pkg, dst).CombinedOutput(); err != nil {
					t.Fatalf("cp %s: %v: %s", pkg, err, out)
				}
			} else if len(out) > 0 {
				t.Logf("cp -al %s: %s", pkg, out)
			}
		}
	}
	for _, c := range commands {
		real, err := filepath.EvalSymlinks(filepath.Join(bin, c))
		if err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(modules, real)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Fatalf("%s is not in %s", real, modules)
		}
		if err := os.Symlink(filepath.Join(dir, "node_modules", rel), filepath.Join(dir, c)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// treeOf lists the files below dir with their contents (a link as "->
// TARGET", a directory as "/"): what a test compares before and after.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "-> " + target
		case d.IsDir():
			out[rel] = "/"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// hostUserHome makes a home of the host user's for one test, holding
// files: the profile's HOME there, standing in for the user's own.
func (e *hostEnv) hostUserHome(files map[string]string) string {
	e.t.Helper()
	home := filepath.Join(e.ssh.Dir, "home")
	for p, c := range files {
		full := filepath.Join(home, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			e.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o600); err != nil {
			e.t.Fatal(err)
		}
	}
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", e.ssh.UID, e.ssh.GID), home).CombinedOutput(); err != nil {
		e.t.Fatalf("chown: %v: %s", err, out)
	}
	return home
}

// addConfig adds conf to the user's config.toml.
func (e *hostEnv) addConfig(conf string) {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.home, "config", "config.toml"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.writeConfig(string(b) + conf)
}

// awaitPermission waits for session id to wait on a permission, answering
// allow to the trust questions on the way (the folder, Codex's review of
// its hooks).
func (e *hostEnv) awaitPermission(id string) protocol.Session {
	e.t.Helper()
	for {
		var got protocol.Session
		e.w.Await(e.t, "a question", func() bool {
			got, _ = e.w.Session(id)
			return got.State == protocol.StateWaiting && got.Waiting != nil || !got.State.Live()
		}, func() string { return jsonString(got) })
		if got.State != protocol.StateWaiting {
			e.t.Fatalf("session is %s (%s), want waiting on a permission", got.State, got.Detail)
		}
		if got.Waiting.Kind != protocol.WaitTrust {
			return got
		}
		e.t.Logf("trust: %s", got.Waiting.Question)
		if _, err := e.c.Answer(e.t.Context(), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: id}, Answer: protocol.AnswerAllow}); err != nil {
			e.t.Fatal(err)
		}
		e.w.Await(e.t, "the trust answered", func() bool {
			s, _ := e.w.Session(id)
			return s.Waiting == nil || s.Waiting.Kind != protocol.WaitTrust
		})
	}
}

// allowAndCheck answers allow to session s's permission, waits for the
// turn to end, and checks that file (of the worktree wt on the host) has
// content there and in the session's mirror at home.
func (e *hostEnv) allowAndCheck(s *protocol.Session, wt, file, content string) {
	e.t.Helper()
	if _, err := e.c.Answer(e.t.Context(), protocol.AnswerParams{SessionRef: protocol.SessionRef{Session: s.ID}, Answer: protocol.AnswerAllow}); err != nil {
		e.t.Fatalf("answer: %v", err)
	}
	e.w.AwaitState(e.t, s.ID, protocol.StateIdle)
	if out := e.onHost("cat " + wt + "/" + file); out != strings.TrimSpace(content) {
		e.t.Errorf("%s on the host: %q", file, out)
	}
	e.w.Await(e.t, file+" at home", func() bool {
		b, err := os.ReadFile(filepath.Join(s.Worktree, file))
		return err == nil && string(b) == content
	}, func() string {
		got, _ := e.w.Session(s.ID)
		return fmt.Sprintf("%s; on the host: %s", jsonString(got), e.onHost("cd "+wt+" && git status --short"))
	})
}

// TestHostCodex runs the real Codex on a host: its Codex home is made
// there from the host user's own ~/.codex (their config and sign-in), its
// hooks report home over the connection, so the command it asks to run
// waits with the tool and the command; allowed from home, it writes its
// file on the host, the file comes home and the session is idle. The hooks
// are reviewed once per repository on the host; the host user's ~/.codex
// is not written.
func TestHostCodex(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "codex")
	hostBin := hostPackages(t, bin, []string{"@openai/codex", "@openai/codex-linux-*"}, []string{"codex"})
	e := newHostEnv(t, sshtest.Options{Path: hostBin + ":/usr/local/bin:/usr/bin:/bin"}, map[string]string{"README.md": "hello\n"})
	const name = "cx"
	key := host.RepoKey(e.repo)
	wt := e.ssh.Dir + "/worktrees/" + key + "/" + name
	fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
		{AfterToolResult: true, Repeat: true, Text: "Done: wrote it."},
		{UserContains: "hello.txt", Repeat: true, Text: "I'll write it.", Tool: fakemodel.Call("exec_command", map[string]string{
			"cmd": "echo hi > hello.txt", "sandbox_permissions": "require_escalated", "justification": "Write hello.txt?"})},
	}})
	defer fm.Close()

	// The host user's own Codex home: the scripted model as a provider
	// taking OpenAI's sign-in, an API key in auth.json, the worktree
	// trusted.
	wt2 := e.ssh.Dir + "/worktrees/" + key + "/cx2"
	conf := codexConfig(fm.URL(), wt, wt2, e.ssh.Dir+"/repos/"+key+".git", e.ssh.Dir+"/repos")
	userHome := e.hostUserHome(map[string]string{
		".codex/config.toml": conf,
		".codex/auth.json":   `{"auth_mode": "apikey", "OPENAI_API_KEY": "sk-from-auth-json"}`,
	})
	userCodex := filepath.Join(userHome, ".codex")
	before := treeOf(t, userCodex)
	e.addConfig(fmt.Sprintf(`
[agents.codex]
command = ["codex", "--no-daemon", "{prompt}"]
env = { HOME = %q }
`, userHome))

	s, err := e.c.Spawn(t.Context(), protocol.SpawnParams{Repo: e.repo, Name: name, Agent: "codex", Host: "box", Prompt: "Write hello.txt"})
	if err != nil {
		t.Fatal(err)
	}
	e.follow(s.ID)
	got := e.awaitPermission(s.ID)
	if w := got.Waiting; w.Kind != protocol.WaitPermission || w.Source != "hook" || w.Tool == "" ||
		w.Question != "Write hello.txt?" || !strings.Contains(w.Subject, "echo hi > hello.txt") {
		t.Fatalf("waiting: %+v (detail %q), want the command's permission from Codex's hook", w, got.Detail)
	}
	e.allowAndCheck(s, wt, "hello.txt", "hi\n")

	// Codex ran with the home made on the host, signed in with the host
	// user's auth.json; the host user's own Codex home is as it was.
	if out := e.onHost("cat " + e.ssh.Dir + "/codex-home/*/config.toml"); !strings.Contains(out, "gpt-fake") {
		t.Errorf("the Codex home on the host has config.toml %q, want the host user's", out)
	}
	if !slices.ContainsFunc(fm.Requests(), func(r fakemodel.Request) bool { return r.Header.Get("Authorization") == "Bearer sk-from-auth-json" }) {
		t.Error("no model request carried the key of the host user's auth.json")
	}

	// The hooks were trusted once for the repository on the host: its
	// next Codex session there goes straight to its command's permission.
	s2, err := e.c.Spawn(t.Context(), protocol.SpawnParams{Repo: e.repo, Name: "cx2", Agent: "codex", Host: "box", Prompt: "Write hello.txt"})
	if err != nil {
		t.Fatal(err)
	}
	got = e.w.AwaitState(t, s2.ID, protocol.StateWaiting)
	if got.Waiting == nil || got.Waiting.Kind != protocol.WaitPermission || got.Waiting.Source != "hook" {
		t.Errorf("second session waiting: %+v, want its command's permission from the hook, not the hook review again", got.Waiting)
	}
	if _, err := e.c.Stop(t.Context(), protocol.StopParams{SessionRef: protocol.SessionRef{Session: s2.ID}}); err != nil {
		t.Fatal(err)
	}
	e.w.AwaitState(t, s2.ID, protocol.StateStopped, protocol.StateExited)

	if after := treeOf(t, userCodex); !maps.Equal(after, before) {
		t.Errorf("the host user's ~/.codex changed:\n%q\nwas:\n%q", after, before)
	}
}

// TestHostGemini runs the real Gemini CLI on a host: its home is made in
// the session's directory there from the host user's own ~/.gemini (their
// settings, with studiod's hooks added), its hooks report home over the
// connection, so the write it asks for waits with the tool and the file;
// allowed from home, the file is written on the host, comes home, and the
// session is idle. The host user's ~/.gemini is not written.
func TestHostGemini(t *testing.T) {
	t.Parallel()
	bin := fakemodel.AgentsBin(t, "gemini")
	hostBin := hostPackages(t, bin, []string{"@google/gemini-cli"}, []string{"gemini"})
	e := newHostEnv(t, sshtest.Options{Path: hostBin + ":/usr/local/bin:/usr/bin:/bin"}, map[string]string{"README.md": "hello\n"})
	const name = "gm"
	wt := e.ssh.Dir + "/worktrees/" + host.RepoKey(e.repo) + "/" + name
	fm := fakemodel.New(fakemodel.Script{Turns: []fakemodel.Turn{
		{UserContains: "hello.txt", Text: "Writing it.", Tool: fakemodel.Call("write_file", map[string]string{"file_path": wt + "/hello.txt", "content": "hi\n"})},
		{AfterToolResult: true, Text: "Done."},
	}})
	defer fm.Close()
	userHome := e.hostUserHome(map[string]string{
		".gemini/settings.json": `{"security": {"auth": {"selectedType": "gemini-api-key"}}}`,
	})
	userGemini := filepath.Join(userHome, ".gemini")
	before := treeOf(t, userGemini)
	e.addConfig(fmt.Sprintf(`
[agents.gemini]
command = ["gemini", "-i", "{prompt}"]
env = { HOME = %q, GEMINI_API_KEY = "fake-key", GOOGLE_GEMINI_BASE_URL = %q, GEMINI_CLI_TRUST_WORKSPACE = "true" }
`, userHome, fm.URL()))

	s, err := e.c.Spawn(t.Context(), protocol.SpawnParams{Repo: e.repo, Name: name, Agent: "gemini", Host: "box", Prompt: "Create hello.txt"})
	if err != nil {
		t.Fatal(err)
	}
	e.follow(s.ID)
	got := e.awaitPermission(s.ID)
	if w := got.Waiting; w.Kind != protocol.WaitPermission || w.Source != "hook" || w.Tool == "" || !strings.Contains(w.Subject, "hello.txt") {
		t.Fatalf("waiting: %+v (detail %q), want the write's permission from Gemini CLI's hook", w, got.Detail)
	}
	e.allowAndCheck(s, wt, "hello.txt", "hi\n")

	if out := e.onHost("cat " + e.ssh.Dir + "/state/sessions/" + s.ID + "/gemini-home/.gemini/settings.json"); !strings.Contains(out, "gemini-api-key") || !strings.Contains(out, "studiod") {
		t.Errorf("the Gemini CLI home on the host has settings %s, want the host user's with studiod's hooks", out)
	}
	if after := treeOf(t, userGemini); !maps.Equal(after, before) {
		t.Errorf("the host user's ~/.gemini changed:\n%q\nwas:\n%q", after, before)
	}
}
