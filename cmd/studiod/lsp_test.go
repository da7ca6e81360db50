package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sourcegraph/jsonrpc2"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/internal/studiotest"
	"github.com/studiod/studiod/protocol"
)

// editor is an LSP client driving a real `studiod lsp` process, as an
// editor would: it records notifications and answers the server's requests.
type editor struct {
	t                 *testing.T
	rpc               *jsonrpc2.Conn
	cmd               *exec.Cmd
	studiotest.Signal // a message arrived

	// mu guards the fields below.
	mu    sync.Mutex
	diags map[string][]lspDiagnostic // latest per URI
	got   []editorMsg
}

type editorMsg struct {
	method string
	params json.RawMessage
}

type lspDiagnostic struct {
	Range struct {
		Start struct{ Line, Character int }
		End   struct{ Line, Character int }
	}
	Severity           int
	Source             string
	Message            string
	RelatedInformation []struct {
		Location struct{ URI string }
		Message  string
	}
}

func (e *editor) Handle(ctx context.Context, conn *jsonrpc2.Conn, req *jsonrpc2.Request) {
	var p json.RawMessage
	if req.Params != nil {
		p = append(p, *req.Params...)
	}
	e.mu.Lock()
	e.got = append(e.got, editorMsg{req.Method, p})
	if req.Method == "textDocument/publishDiagnostics" {
		var d struct {
			URI         string
			Diagnostics []lspDiagnostic
		}
		json.Unmarshal(p, &d)
		e.diags[d.URI] = d.Diagnostics
	}
	e.mu.Unlock()
	e.Notify()
	if req.Notif {
		return
	}
	var res any
	switch req.Method {
	case "window/showMessageRequest":
		res = map[string]string{"title": "Attach"}
	case "window/showDocument":
		res = map[string]bool{"success": true}
	}
	conn.Reply(ctx, req.ID, res)
}

func (e *editor) diagnostics(file string) ([]lspDiagnostic, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d, ok := e.diags["file://"+file]
	return d, ok
}

func (e *editor) seen(method string) []json.RawMessage {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []json.RawMessage
	for _, m := range e.got {
		if m.method == method {
			out = append(out, m.params)
		}
	}
	return out
}

func (e *editor) call(method string, params, result any) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 60*time.Second)
	defer cancel()
	if err := e.rpc.Call(ctx, method, params, result); err != nil {
		e.t.Fatalf("%s: %v", method, err)
	}
}

// startEditor runs `studiod lsp` against the daemon under home.
func startEditor(t *testing.T, home string) *editor {
	t.Helper()
	cmd := exec.Command("studiod", "lsp")
	cmd.Env = append(os.Environ(), "STUDIOD_HOME="+home)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &editor{t: t, cmd: cmd, diags: map[string][]lspDiagnostic{}}
	e.rpc = jsonrpc2.NewConn(context.Background(), protocol.NewStreamPair(out, in, multiCloser{in, out}), e)
	t.Cleanup(func() {
		e.rpc.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return e
}

type multiCloser []io.Closer

func (m multiCloser) Close() error {
	for _, c := range m {
		c.Close()
	}
	return nil
}

// TestLSPEditor drives `studiod lsp` like an editor: two sessions spawned
// through executeCommand edit the same lines, the conflict shows up as
// diagnostics on both worktree copies and on the contested lines of the
// user's own checkout, with code lenses and code actions,
// a waiting agent prompts, and removing a session clears the diagnostics.
func TestLSPEditor(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"shared.txt": gittest.Lines(10)})
	startDaemon(t, home)
	e := startEditor(t, home)

	var init struct {
		Capabilities struct {
			ExecuteCommandProvider struct{ Commands []string }
		}
	}
	e.call("initialize", map[string]any{
		"processId": os.Getpid(), "rootUri": "file://" + repo,
		"capabilities": map[string]any{
			"window":    map[string]any{"workDoneProgress": true, "showDocument": map[string]any{"support": true}},
			"workspace": map[string]any{"codeLens": map[string]any{"refreshSupport": true}},
		},
	}, &init)
	if len(init.Capabilities.ExecuteCommandProvider.Commands) == 0 {
		t.Fatalf("no commands in initialize result: %+v", init)
	}
	e.rpc.Notify(t.Context(), "initialized", map[string]any{})

	var spawned protocol.Session
	for _, name := range []string{"one", "two"} {
		e.call("workspace/executeCommand", map[string]any{"command": protocol.CommandSpawn, "arguments": []any{
			map[string]any{"name": name, "command": []string{"fakeagent", "-edit", "shared.txt", "-hang"}},
		}}, &spawned)
		if spawned.Name != name || spawned.Repo != repo {
			t.Fatalf("spawned %+v", spawned)
		}
	}
	kinds := map[string]int{}
	for _, p := range e.seen("$/progress") {
		var v struct{ Value struct{ Kind string } }
		json.Unmarshal(p, &v)
		kinds[v.Value.Kind]++
	}
	if kinds["begin"] != 2 || kinds["end"] != 2 || len(e.seen("window/workDoneProgress/create")) != 2 {
		t.Errorf("spawn progress: %v", kinds)
	}

	one := filepath.Join(filepath.Dir(spawned.Worktree), "one", "shared.txt")
	two := filepath.Join(spawned.Worktree, "shared.txt")
	e.Await(t, "diagnostics on both sides", func() bool {
		a, _ := e.diagnostics(one)
		b, _ := e.diagnostics(two)
		return len(a) > 0 && len(b) > 0
	})
	d, _ := e.diagnostics(one)
	if d[0].Source != "studiod" || d[0].Severity != 2 || !strings.Contains(d[0].Message, "conflicts with session two (command): line") ||
		!strings.Contains(d[0].Message, "of shared.txt") {
		t.Errorf("diagnostic: %+v", d[0])
	}
	if len(d[0].RelatedInformation) == 0 || d[0].RelatedInformation[0].Location.URI != "file://"+two {
		t.Errorf("related information: %+v", d[0].RelatedInformation)
	}

	// The user's own checkout gets the contested lines too, with related
	// information to both sides, and code actions to open either.
	user := filepath.Join(repo, "shared.txt")
	e.Await(t, "diagnostics on the user's own copy", func() bool {
		u, _ := e.diagnostics(user)
		return len(u) > 0
	})
	u, _ := e.diagnostics(user)
	if len(u) != 1 || u[0].Message != "sessions one and two both change lines 1–10: a conflict when both land" ||
		u[0].Severity != 2 || u[0].Range.Start.Line != 0 || u[0].Range.End.Line != 9 {
		t.Errorf("user's copy diagnostics: %+v", u)
	} else if r := u[0].RelatedInformation; len(r) != 2 || r[0].Location.URI != "file://"+one || r[1].Location.URI != "file://"+two {
		t.Errorf("user's copy related information: %+v", r)
	}
	var userActions []struct{ Title string }
	e.call("textDocument/codeAction", map[string]any{
		"textDocument": map[string]any{"uri": "file://" + user},
		"range":        map[string]any{"start": map[string]any{"line": 4, "character": 0}, "end": map[string]any{"line": 4, "character": 0}},
		"context":      map[string]any{"diagnostics": []any{}},
	}, &userActions)
	if len(userActions) != 4 || userActions[0].Title != "Open session one's version of shared.txt" || userActions[1].Title != "Open session two's version of shared.txt" {
		t.Errorf("code actions in the user's copy: %+v", userActions)
	}

	var lenses []struct {
		Command struct {
			Title, Command string
		}
	}
	e.call("textDocument/codeLens", map[string]any{"textDocument": map[string]any{"uri": "file://" + filepath.Join(repo, "shared.txt")}}, &lenses)
	if len(lenses) != 3 || lenses[0].Command.Title != "2 sessions edit this file: one +1 −10 · two +1 −10" ||
		lenses[1].Command.Command != protocol.CommandReview {
		t.Errorf("code lenses: %+v", lenses)
	}

	var actions []struct {
		Title   string
		Command struct {
			Command   string
			Arguments []json.RawMessage
		}
	}
	e.call("textDocument/codeAction", map[string]any{
		"textDocument": map[string]any{"uri": "file://" + one},
		"range":        d[0].Range,
		"context":      map[string]any{"diagnostics": []any{}},
	}, &actions)
	var titles []string
	var open json.RawMessage
	for _, a := range actions {
		titles = append(titles, a.Title)
		if a.Command.Command == protocol.CommandOpen {
			open = a.Command.Arguments[0]
		}
	}
	all := strings.Join(titles, "\n")
	for _, want := range []string{"Open session two's version of shared.txt", "Review session two's changes", "Send session one a note about line"} {
		if !strings.Contains(all, want) {
			t.Errorf("code actions lack %q: %q", want, titles)
		}
	}
	var opened map[string]bool
	e.call("workspace/executeCommand", map[string]any{"command": protocol.CommandOpen, "arguments": []any{open}}, &opened)
	if !opened["success"] || len(e.seen("window/showDocument")) != 1 || !strings.Contains(string(e.seen("window/showDocument")[0]), two) {
		t.Errorf("open the other side: %v, %s", opened, e.seen("window/showDocument"))
	}

	// A session that asks a question prompts the editor.
	e.call("workspace/executeCommand", map[string]any{"command": protocol.CommandSpawn, "arguments": []any{
		map[string]any{"name": "three", "command": []string{"fakeagent", "-ask", "Proceed with the migration?"}},
	}}, &spawned)
	e.Await(t, "prompt for the waiting session", func() bool {
		for _, p := range e.seen("window/showMessageRequest") {
			if strings.Contains(string(p), "three") && strings.Contains(string(p), "Proceed with the migration?") {
				return true
			}
		}
		return false
	})
	// "Attach" opens the agent's output.
	e.Await(t, "attach shows the output log", func() bool {
		return len(e.seen("window/showDocument")) == 2 && strings.Contains(string(e.seen("window/showDocument")[1]), "output.log")
	})

	// Removing one side clears the diagnostics.
	var removed protocol.RemoveResult
	e.call("workspace/executeCommand", map[string]any{"command": protocol.CommandRemove, "arguments": []any{
		map[string]any{"session": "two", "force": true},
	}}, &removed)
	e.Await(t, "diagnostics cleared", func() bool {
		d, ok := e.diagnostics(one)
		u, uok := e.diagnostics(user)
		return ok && len(d) == 0 && uok && len(u) == 0
	})

	e.call("shutdown", nil, nil)
	e.rpc.Notify(t.Context(), "exit", nil)
	done := make(chan error, 1)
	go func() { done <- e.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("studiod lsp exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("studiod lsp did not exit after exit")
	}
}

// TestLSPOutOfScope: a session that changes a file outside its scope puts
// an information diagnostic on that file.
func TestLSPOutOfScope(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	repo := gittest.NewRepo(t, map[string]string{"web/app.txt": "a\n", "server/main.txt": "b\n"})
	startDaemon(t, home)
	e := startEditor(t, home)
	e.call("initialize", map[string]any{"processId": os.Getpid(), "rootUri": "file://" + repo, "capabilities": map[string]any{}}, nil)
	e.rpc.Notify(t.Context(), "initialized", map[string]any{})
	var s protocol.Session
	e.call("workspace/executeCommand", map[string]any{"command": protocol.CommandSpawn, "arguments": []any{
		map[string]any{"name": "ui", "scopes": []string{"web/**"}, "command": []string{"fakeagent", "-edit", "web/app.txt,server/main.txt", "-hang"}},
	}}, &s)
	file := filepath.Join(s.Worktree, "server", "main.txt")
	e.Await(t, "an out-of-scope diagnostic on server/main.txt", func() bool {
		d, _ := e.diagnostics(file)
		return len(d) == 1 && d[0].Severity == 3 && strings.Contains(d[0].Message, "session ui changed this file outside its scope (web/**)")
	})
	if d, ok := e.diagnostics(filepath.Join(s.Worktree, "web", "app.txt")); ok && len(d) > 0 {
		t.Errorf("a file inside the scope has diagnostics: %+v", d)
	}
}

// TestLSPWorkspaceFolders: an editor hears only of its workspace folders'
// repositories: conflicts in another repository the daemon follows send it
// no diagnostics.
func TestLSPWorkspaceFolders(t *testing.T) {
	t.Parallel()
	home := newHome(t)
	mine := gittest.NewRepo(t, map[string]string{"shared.txt": gittest.Lines(10)})
	other := gittest.NewRepo(t, map[string]string{"shared.txt": gittest.Lines(10)})
	d := startDaemon(t, home)
	c, w := d.watch()
	spawnPair := func(repo, prefix string) {
		for _, n := range []string{"a", "b"} {
			if _, err := c.Spawn(t.Context(), protocol.SpawnParams{Repo: repo, Name: prefix + n,
				Command: []string{"fakeagent", "-edit", "shared.txt", "-hang"}}); err != nil {
				t.Fatal(err)
			}
		}
		w.AwaitConflict(t, "a conflict in "+repo, func(cf protocol.Conflict) bool {
			return cf.Repo == repo && cf.Severity == protocol.SeverityConflict
		})
	}
	// The other repository's conflict exists before the editor starts: it
	// would be among the first diagnostics it gets.
	spawnPair(other, "other-")

	e := startEditor(t, home)
	e.call("initialize", map[string]any{"processId": os.Getpid(), "capabilities": map[string]any{},
		"workspaceFolders": []any{map[string]any{"uri": "file://" + mine, "name": "mine"}}}, nil)
	e.rpc.Notify(t.Context(), "initialized", map[string]any{})
	spawnPair(mine, "mine-")
	e.Await(t, "diagnostics on the user's own copy in the workspace", func() bool {
		d, _ := e.diagnostics(filepath.Join(mine, "shared.txt"))
		return len(d) > 0
	})
	// Diagnostics are published in order, so the other repository's would
	// have come before these.
	e.mu.Lock()
	defer e.mu.Unlock()
	for uri := range e.diags {
		file := strings.TrimPrefix(uri, "file://")
		if strings.HasPrefix(file, other) || strings.Contains(file, "other-") {
			t.Errorf("diagnostics for %s, outside the editor's workspace", file)
		}
	}
}
