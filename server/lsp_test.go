package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sourcegraph/jsonrpc2"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/protocol"
)

// lspClient is an editor on the other end of a pipe: it records what the
// server sends and answers the server's requests.
type lspClient struct {
	t   *testing.T
	rpc *jsonrpc2.Conn

	// mu guards the fields below.
	mu       sync.Mutex
	received []received
	answer   map[string]any // method → result for server requests
}

type received struct {
	method string
	call   bool
	params json.RawMessage
}

func (l *lspClient) Handle(ctx context.Context, conn *jsonrpc2.Conn, req *jsonrpc2.Request) {
	var p json.RawMessage
	if req.Params != nil {
		p = append(p, *req.Params...)
	}
	l.mu.Lock()
	l.received = append(l.received, received{req.Method, !req.Notif, p})
	res, ok := l.answer[req.Method]
	l.mu.Unlock()
	if req.Notif {
		return
	}
	if !ok {
		conn.ReplyWithError(ctx, req.ID, &jsonrpc2.Error{Code: jsonrpc2.CodeMethodNotFound, Message: req.Method})
		return
	}
	conn.Reply(ctx, req.ID, res)
}

// seen returns what arrived with method so far.
func (l *lspClient) seen(method string) []received {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []received
	for _, r := range l.received {
		if r.method == method {
			out = append(out, r)
		}
	}
	return out
}

func (l *lspClient) call(method string, params any) (json.RawMessage, error) {
	var res json.RawMessage
	err := l.rpc.Call(l.t.Context(), method, params, &res)
	return res, err
}

func (l *lspClient) mustCall(method string, params any) json.RawMessage {
	l.t.Helper()
	res, err := l.call(method, params)
	if err != nil {
		l.t.Fatalf("%s: %v", method, err)
	}
	return res
}

// newLSPTest serves a Server over a pipe to a fresh client.
func newLSPTest(t *testing.T) (*Server, *lspClient) {
	t.Helper()
	run, err := os.MkdirTemp("", "sdl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	dir := t.TempDir()
	m, err := agents.New(t.Context(), agents.Options{
		StateDir: filepath.Join(dir, "state"), RuntimeDir: run, WorktreeDir: filepath.Join(dir, "wt"),
		UserConfig: filepath.Join(dir, "config.toml"),
	})
	if err != nil {
		t.Fatal(err)
	}
	s := New(m, slog.New(slog.DiscardHandler), "test", Info{}, func() {})
	a, b := net.Pipe()
	s.ServeConn(context.Background(), a)
	cl := &lspClient{t: t, answer: map[string]any{}}
	cl.rpc = jsonrpc2.NewConn(context.Background(), protocol.NewStream(b), cl)
	t.Cleanup(func() {
		cl.rpc.Close()
		s.Close()
		m.Close()
	})
	return s, cl
}

func (l *lspClient) initialize(caps map[string]any) map[string]any {
	l.t.Helper()
	res := l.mustCall("initialize", map[string]any{"processId": nil, "rootUri": nil, "capabilities": caps})
	if err := l.rpc.Notify(l.t.Context(), "initialized", map[string]any{}); err != nil {
		l.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(res, &m); err != nil {
		l.t.Fatal(err)
	}
	return m
}

func rpcCode(err error) int64 {
	var e *jsonrpc2.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLSPLifecycle(t *testing.T) {
	_, cl := newLSPTest(t)
	doc := map[string]any{"textDocument": map[string]any{"uri": "file:///tmp/x.go"}}
	if _, err := cl.call("textDocument/codeLens", doc); rpcCode(err) != lspCodeServerNotInitialized {
		t.Errorf("codeLens before initialize: got %v, want code %d", err, lspCodeServerNotInitialized)
	}
	// studio/* requests work on the same connection throughout.
	if _, err := cl.call(protocol.MethodHello, protocol.HelloParams{}); err != nil {
		t.Fatalf("hello: %v", err)
	}
	res := cl.initialize(map[string]any{})
	caps := res["capabilities"].(map[string]any)
	cmds := caps["executeCommandProvider"].(map[string]any)["commands"].([]any)
	for _, want := range append(slices.Clone(protocol.Commands), protocol.CommandOpen) {
		if !slices.Contains(cmds, any(want)) {
			t.Errorf("executeCommandProvider lacks %s: %v", want, cmds)
		}
	}
	for _, k := range []string{"codeLensProvider", "codeActionProvider", "textDocumentSync"} {
		if caps[k] == nil {
			t.Errorf("capabilities lack %s: %v", k, caps)
		}
	}
	if sync := caps["textDocumentSync"].(map[string]any); sync["openClose"] != true {
		t.Errorf("textDocumentSync: %v", sync)
	}
	if info := res["serverInfo"].(map[string]any); info["name"] != "studiod" {
		t.Errorf("serverInfo: %v", info)
	}
	if _, err := cl.call("initialize", map[string]any{"capabilities": map[string]any{}}); rpcCode(err) != lspCodeInvalidRequest {
		t.Errorf("second initialize: got %v", err)
	}
	lenses := cl.mustCall("textDocument/codeLens", doc)
	if string(lenses) != "[]" {
		t.Errorf("lenses of an unknown file: %s", lenses)
	}
	if res := cl.mustCall("textDocument/codeAction", map[string]any{"textDocument": doc["textDocument"],
		"range":   map[string]any{"start": map[string]any{"line": 0, "character": 0}, "end": map[string]any{"line": 0, "character": 0}},
		"context": map[string]any{"diagnostics": []any{}}}); string(res) != "[]" {
		t.Errorf("code actions of an unknown file: %s", res)
	}
	if res := cl.mustCall("shutdown", nil); string(res) != "null" {
		t.Errorf("shutdown: %s", res)
	}
	if _, err := cl.call("textDocument/codeLens", doc); rpcCode(err) != lspCodeInvalidRequest {
		t.Errorf("codeLens after shutdown: got %v, want code %d", err, lspCodeInvalidRequest)
	}
	cl.rpc.Notify(t.Context(), "exit", nil)
	select {
	case <-cl.rpc.DisconnectNotify():
	case <-time.After(10 * time.Second):
		t.Fatal("exit did not close the connection")
	}
}

func TestLSPCommandCancel(t *testing.T) {
	s, cl := newLSPTest(t)
	started := make(chan struct{})
	s.routes[protocol.MethodDiff] = func(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	cl.initialize(map[string]any{})
	done := make(chan error, 1)
	id := jsonrpc2.ID{Num: 777}
	go func() {
		var res json.RawMessage
		done <- cl.rpc.Call(t.Context(), "workspace/executeCommand",
			map[string]any{"command": protocol.CommandReview, "arguments": []any{map[string]any{"session": "x"}}}, &res,
			jsonrpc2.PickID(id))
	}()
	<-started
	if err := cl.rpc.Notify(t.Context(), "$/cancelRequest", map[string]any{"id": 777}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if rpcCode(err) != -32800 {
			t.Errorf("cancelled command: got %v, want code -32800", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancel did not end the command")
	}
}

func TestLSPCommandErrors(t *testing.T) {
	s, cl := newLSPTest(t)
	delete(s.routes, protocol.MethodUndo)
	cl.initialize(map[string]any{})
	if _, err := cl.call("workspace/executeCommand", map[string]any{"command": protocol.CommandUndo, "arguments": []any{map[string]any{}}}); rpcCode(err) != protocol.CodeMethodNotFound {
		t.Errorf("command without a route: got %v", err)
	}
	if _, err := cl.call("workspace/executeCommand", map[string]any{"command": "studio.nope"}); rpcCode(err) != protocol.CodeInvalidParams {
		t.Errorf("unknown command: got %v", err)
	}
	if _, err := cl.call("workspace/executeCommand", map[string]any{"command": protocol.CommandStop, "arguments": []any{"not an object"}}); rpcCode(err) != protocol.CodeInvalidParams {
		t.Errorf("bad argument: got %v", err)
	}
	if _, err := cl.call("workspace/executeCommand", map[string]any{"command": protocol.CommandStop, "arguments": []any{map[string]any{"session": "ghost"}}}); rpcCode(err) != protocol.CodeNotFound {
		t.Errorf("stop of an unknown session: got %v", err)
	}
}

// TestLSPProgress runs a merge command whose route reports a step, once
// with a token the server creates and once with the client's own.
func TestLSPProgress(t *testing.T) {
	s, cl := newLSPTest(t)
	var gotArg json.RawMessage
	s.routes[protocol.MethodMerge] = func(ctx context.Context, c *conn, params json.RawMessage) (any, error) {
		gotArg = params
		if p := progressFrom(ctx); p != nil {
			p("checkpointing")
		}
		return protocol.MergeResult{Strategy: "merge"}, nil
	}
	cl.answer["window/workDoneProgress/create"] = nil
	cl.mustCall("initialize", map[string]any{"capabilities": map[string]any{"window": map[string]any{"workDoneProgress": true}},
		"workspaceFolders": []any{map[string]any{"uri": "file:///work/app", "name": "app"}}})
	cl.rpc.Notify(t.Context(), "initialized", map[string]any{})
	res := cl.mustCall("workspace/executeCommand", map[string]any{"command": protocol.CommandMerge, "arguments": []any{map[string]any{"session": "auth"}}})
	var mr protocol.MergeResult
	if json.Unmarshal(res, &mr); mr.Strategy != "merge" {
		t.Errorf("merge result: %s", res)
	}
	var arg map[string]any
	json.Unmarshal(gotArg, &arg)
	if arg["repo"] != "/work/app" || arg["session"] != "auth" {
		t.Errorf("argument passed to studio/merge: %s", gotArg)
	}
	creates := cl.seen("window/workDoneProgress/create")
	if len(creates) != 1 {
		t.Fatalf("progress create requests: %d", len(creates))
	}
	var cp struct{ Token string }
	json.Unmarshal(creates[0].params, &cp)
	kinds := func(token string) []string {
		var ks []string
		for _, r := range cl.seen("$/progress") {
			var p struct {
				Token any
				Value struct{ Kind, Title, Message string }
			}
			json.Unmarshal(r.params, &p)
			if p.Token == token || p.Token == any(float64(42)) && token == "42" {
				ks = append(ks, p.Value.Kind+":"+p.Value.Title+p.Value.Message)
			}
		}
		return ks
	}
	want := []string{"begin:Merging a session auth", "report:checkpointing", "end:done"}
	await(t, "progress", func() bool { return len(kinds(cp.Token)) == 3 })
	if got := kinds(cp.Token); !slices.Equal(got, want) {
		t.Errorf("progress: got %q, want %q", got, want)
	}
	// The client's own token: no create request.
	cl.mustCall("workspace/executeCommand", map[string]any{"command": protocol.CommandMerge, "workDoneToken": 42, "arguments": []any{map[string]any{"session": "auth"}}})
	await(t, "progress on the client's token", func() bool { return len(kinds("42")) == 3 })
	if n := len(cl.seen("window/workDoneProgress/create")); n != 1 {
		t.Errorf("create requests: %d, want 1", n)
	}
}

func TestLSPOpenCommand(t *testing.T) {
	_, cl := newLSPTest(t)
	file := filepath.Join(t.TempDir(), "a.go")
	os.WriteFile(file, []byte("one\ntwo\nthree héllo\n"), 0o644)
	cl.answer["window/showDocument"] = map[string]any{"success": true}
	cl.initialize(map[string]any{"window": map[string]any{"showDocument": map[string]any{"support": true}}})
	res := cl.mustCall("workspace/executeCommand", map[string]any{"command": protocol.CommandOpen, "arguments": []any{map[string]any{"file": file, "line": 2, "endLine": 3}}})
	if !strings.Contains(string(res), `"success":true`) {
		t.Errorf("studio.open: %s", res)
	}
	docs := cl.seen("window/showDocument")
	if len(docs) != 1 {
		t.Fatalf("showDocument requests: %d", len(docs))
	}
	var p struct {
		URI       string
		Selection struct{ Start, End struct{ Line, Character int } }
	}
	json.Unmarshal(docs[0].params, &p)
	if p.URI != "file://"+file || p.Selection.Start.Line != 1 || p.Selection.End.Line != 2 || p.Selection.End.Character != 11 {
		t.Errorf("showDocument: %s", docs[0].params)
	}
	if _, err := cl.call("workspace/executeCommand", map[string]any{"command": protocol.CommandOpen, "arguments": []any{map[string]any{"file": "rel.go"}}}); rpcCode(err) != protocol.CodeInvalidParams {
		t.Errorf("relative file: %v", err)
	}
}

func TestLinesText(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ranges []protocol.Range
		want   string
	}{
		{"one line", []protocol.Range{{Start: 4, End: 4}}, "line 4"},
		{"span", []protocol.Range{{Start: 12, End: 14}}, "lines 12–14"},
		{"several", []protocol.Range{{Start: 12, End: 14}, {Start: 20, End: 20}}, "lines 12–14, 20"},
		{"deletion", []protocol.Range{{Start: 7, End: 6}}, "line 7"},
		{"none", nil, "the whole file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := linesText(tc.ranges); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLSPRange(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f.txt")
	os.WriteFile(file, []byte("a\nbb\n𝄞x\n"), 0o644)
	for _, tc := range []struct {
		name              string
		r                 protocol.Range
		sl, el, character uint32
	}{
		{"first line", protocol.Range{Start: 1, End: 1}, 0, 0, 1},
		{"two lines", protocol.Range{Start: 1, End: 2}, 0, 1, 2},
		{"utf-16 width", protocol.Range{Start: 3, End: 3}, 2, 2, 3},
		{"deletion marks its line", protocol.Range{Start: 2, End: 1}, 1, 1, 2},
		{"past the end is clamped", protocol.Range{Start: 9, End: 12}, 2, 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fileLines{}.lspRange(file, tc.r)
			if got.Start.Line != tc.sl || got.End.Line != tc.el || got.End.Character != tc.character || got.Start.Character != 0 {
				t.Errorf("got %+v, want lines %d–%d ending at %d", got, tc.sl, tc.el, tc.character)
			}
		})
	}
	if got := (fileLines{}).lspRange(filepath.Join(t.TempDir(), "missing"), protocol.Range{Start: 5, End: 6}); got.Start.Line != 0 || got.End.Line != 0 {
		t.Errorf("missing file: %+v", got)
	}
}
