package lsp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sourcegraph/jsonrpc2"

	"github.com/studiod/studiod/agents"
	"github.com/studiod/studiod/internal/studiotest"
	"github.com/studiod/studiod/protocol"
	daemon "github.com/studiod/studiod/server"
)

// editor is the client end of the face: it records what the face sends
// and answers its requests.
type editor struct {
	t   *testing.T
	rpc *jsonrpc2.Conn
	studiotest.Signal

	// mu guards the fields below.
	mu       sync.Mutex
	received []received
	answer   map[string]any // method → result for the face's requests
}

type received struct {
	method string
	call   bool
	params json.RawMessage
}

func (e *editor) Handle(ctx context.Context, conn *jsonrpc2.Conn, req *jsonrpc2.Request) {
	var p json.RawMessage
	if req.Params != nil {
		p = append(p, *req.Params...)
	}
	e.mu.Lock()
	e.received = append(e.received, received{req.Method, !req.Notif, p})
	res, ok := e.answer[req.Method]
	e.mu.Unlock()
	e.Notify()
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
func (e *editor) seen(method string) []received {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []received
	for _, r := range e.received {
		if r.method == method {
			out = append(out, r)
		}
	}
	return out
}

func (e *editor) call(method string, params any) (json.RawMessage, error) {
	var res json.RawMessage
	err := e.rpc.Call(e.t.Context(), method, params, &res)
	return res, err
}

func (e *editor) mustCall(method string, params any) json.RawMessage {
	e.t.Helper()
	res, err := e.call(method, params)
	if err != nil {
		e.t.Fatalf("%s: %v", method, err)
	}
	return res
}

func (e *editor) initialize(params map[string]any) map[string]any {
	e.t.Helper()
	if params["capabilities"] == nil {
		params["capabilities"] = map[string]any{}
	}
	res := e.mustCall("initialize", params)
	if err := e.rpc.Notify(e.t.Context(), "initialized", map[string]any{}); err != nil {
		e.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(res, &m); err != nil {
		e.t.Fatal(err)
	}
	return m
}

// stub is a daemon connection some of whose requests a test answers.
type stub struct {
	Daemon
	notify protocol.NotifyFunc
	merge  func(ctx context.Context, p protocol.MergeParams) (*protocol.MergeResult, error)
	diff   func(ctx context.Context, p protocol.DiffParams) (*protocol.DiffResult, error)

	// changed, if set, hears of each subscription.
	changed *studiotest.Signal

	// mu guards subs.
	mu   sync.Mutex
	subs []protocol.SubscribeParams
}

func (s *stub) subscribed(p protocol.SubscribeParams) {
	s.mu.Lock()
	s.subs = append(s.subs, p)
	s.mu.Unlock()
	if s.changed != nil {
		s.changed.Notify()
	}
}

func (s *stub) Subscribe(ctx context.Context, p protocol.SubscribeParams) (*protocol.SubscribeResult, error) {
	res, err := s.Daemon.Subscribe(ctx, p)
	s.subscribed(p)
	return res, err
}

func (s *stub) Call(ctx context.Context, method string, params, result any) error {
	err := s.Daemon.Call(ctx, method, params, result)
	if method == protocol.MethodSubscribe {
		var p protocol.SubscribeParams
		json.Unmarshal(params.(json.RawMessage), &p)
		s.subscribed(p)
	}
	return err
}

func (s *stub) subscriptions() []protocol.SubscribeParams {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.subs)
}

func (s *stub) Merge(ctx context.Context, p protocol.MergeParams) (*protocol.MergeResult, error) {
	if s.merge != nil {
		return s.merge(ctx, p)
	}
	return s.Daemon.Merge(ctx, p)
}

func (s *stub) Diff(ctx context.Context, p protocol.DiffParams) (*protocol.DiffResult, error) {
	if s.diff != nil {
		return s.diff(ctx, p)
	}
	return s.Daemon.Diff(ctx, p)
}

// newTest serves the face over a pipe to a fresh editor, with a real
// daemon core (agents and server) behind it, in process. stub, if set,
// wraps each daemon connection the face dials.
func newTest(t *testing.T, wrap func(*stub)) *editor {
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
	srv := daemon.New(m, slog.New(slog.DiscardHandler), "test", daemon.Info{}, func() {})
	cfg := Config{Version: "test", Dial: func(ctx context.Context, notify protocol.NotifyFunc) (Daemon, error) {
		a, b := net.Pipe()
		srv.ServeConn(context.Background(), a)
		s := &stub{Daemon: protocol.NewClient(b, notify), notify: notify}
		if wrap != nil {
			wrap(s)
		}
		return s, nil
	}}
	edA, edB := net.Pipe()
	served := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { served <- Serve(ctx, cfg, edA) }()
	e := &editor{t: t, answer: map[string]any{}}
	e.rpc = jsonrpc2.NewConn(context.Background(), protocol.NewStream(edB), e)
	t.Cleanup(func() {
		e.rpc.Close()
		cancel()
		<-served
		srv.Close()
		m.Close()
	})
	return e
}

func rpcCode(err error) int64 {
	var e *jsonrpc2.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func TestLifecycle(t *testing.T) {
	e := newTest(t, nil)
	doc := map[string]any{"textDocument": map[string]any{"uri": "file:///tmp/x.go"}}
	if _, err := e.call("textDocument/codeLens", doc); rpcCode(err) != codeServerNotInitialized {
		t.Errorf("codeLens before initialize: got %v, want code %d", err, codeServerNotInitialized)
	}
	// studio/* requests are relayed to the daemon throughout.
	var hello protocol.HelloResult
	if res, err := e.call(protocol.MethodHello, protocol.HelloParams{}); err != nil || json.Unmarshal(res, &hello) != nil || hello.ProtocolVersion != protocol.Version {
		t.Fatalf("hello: %s, %v", res, err)
	}
	res := e.initialize(map[string]any{})
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
	if _, err := e.call("initialize", map[string]any{"capabilities": map[string]any{}}); rpcCode(err) != codeInvalidRequest {
		t.Errorf("second initialize: got %v", err)
	}
	if lenses := e.mustCall("textDocument/codeLens", doc); string(lenses) != "[]" {
		t.Errorf("lenses of an unknown file: %s", lenses)
	}
	if res := e.mustCall("textDocument/codeAction", map[string]any{"textDocument": doc["textDocument"],
		"range":   map[string]any{"start": map[string]any{"line": 0, "character": 0}, "end": map[string]any{"line": 0, "character": 0}},
		"context": map[string]any{"diagnostics": []any{}}}); string(res) != "[]" {
		t.Errorf("code actions of an unknown file: %s", res)
	}
	if _, err := e.call("textDocument/hover", doc); rpcCode(err) != protocol.CodeMethodNotFound {
		t.Errorf("an LSP method the face does not serve: got %v", err)
	}
	if _, err := e.call("studio/nosuch", nil); rpcCode(err) != protocol.CodeMethodNotFound {
		t.Errorf("an unknown studio/* method, relayed: got %v", err)
	}
	if res := e.mustCall("shutdown", nil); string(res) != "null" {
		t.Errorf("shutdown: %s", res)
	}
	if _, err := e.call("textDocument/codeLens", doc); rpcCode(err) != codeInvalidRequest {
		t.Errorf("codeLens after shutdown: got %v, want code %d", err, codeInvalidRequest)
	}
	e.rpc.Notify(t.Context(), "exit", nil)
	<-e.rpc.DisconnectNotify()
}

func TestCommandCancel(t *testing.T) {
	started := make(chan struct{})
	e := newTest(t, func(s *stub) {
		s.diff = func(ctx context.Context, p protocol.DiffParams) (*protocol.DiffResult, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		}
	})
	e.initialize(map[string]any{})
	done := make(chan error, 1)
	go func() {
		var res json.RawMessage
		done <- e.rpc.Call(t.Context(), "workspace/executeCommand",
			map[string]any{"command": protocol.CommandReview, "arguments": []any{map[string]any{"session": "x"}}}, &res,
			jsonrpc2.PickID(jsonrpc2.ID{Num: 777}))
	}()
	<-started
	if err := e.rpc.Notify(t.Context(), "$/cancelRequest", map[string]any{"id": 777}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; rpcCode(err) != protocol.CodeRequestCancelled {
		t.Errorf("cancelled command: got %v, want code %d", err, protocol.CodeRequestCancelled)
	}
}

func TestCommandErrors(t *testing.T) {
	e := newTest(t, nil)
	e.initialize(map[string]any{})
	for _, tc := range []struct {
		name   string
		params map[string]any
		code   int64
	}{
		{"unknown command", map[string]any{"command": "studio.nope"}, protocol.CodeInvalidParams},
		{"argument not an object", map[string]any{"command": protocol.CommandStop, "arguments": []any{"not an object"}}, protocol.CodeInvalidParams},
		{"argument of the wrong shape", map[string]any{"command": protocol.CommandStop, "arguments": []any{map[string]any{"session": 5}}}, protocol.CodeInvalidParams},
		{"unknown session", map[string]any{"command": protocol.CommandStop, "arguments": []any{map[string]any{"session": "ghost"}}}, protocol.CodeNotFound},
		{"undo of an unknown session", map[string]any{"command": protocol.CommandUndo, "arguments": []any{map[string]any{"session": "ghost"}}}, protocol.CodeNotFound},
		{"relative file to open", map[string]any{"command": protocol.CommandOpen, "arguments": []any{map[string]any{"file": "rel.go"}}}, protocol.CodeInvalidParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.call("workspace/executeCommand", tc.params); rpcCode(err) != tc.code {
				t.Errorf("got %v, want code %d", err, tc.code)
			}
		})
	}
}

// TestProgress runs a merge command whose daemon reports a step, once with
// a token the face creates and once with the editor's own.
func TestProgress(t *testing.T) {
	var got []protocol.MergeParams
	var mu sync.Mutex
	e := newTest(t, func(s *stub) {
		s.merge = func(ctx context.Context, p protocol.MergeParams) (*protocol.MergeResult, error) {
			mu.Lock()
			got = append(got, p)
			mu.Unlock()
			// The daemon reports on the token the face gave it.
			raw, _ := json.Marshal(protocol.ProgressParams{Token: p.WorkDoneToken, Value: protocol.WorkDone{Kind: "report", Message: "checkpointing"}})
			s.notify(protocol.NotifyProgress, raw)
			return &protocol.MergeResult{Strategy: protocol.StrategyMerge}, nil
		}
	})
	e.answer["window/workDoneProgress/create"] = nil
	e.initialize(map[string]any{"capabilities": map[string]any{"window": map[string]any{"workDoneProgress": true}},
		"workspaceFolders": []any{map[string]any{"uri": "file:///work/app", "name": "app"}}})
	res := e.mustCall("workspace/executeCommand", map[string]any{"command": protocol.CommandMerge, "arguments": []any{map[string]any{"session": "auth"}}})
	var mr protocol.MergeResult
	if json.Unmarshal(res, &mr); mr.Strategy != protocol.StrategyMerge {
		t.Errorf("merge result: %s", res)
	}
	if len(got) != 1 || got[0].Repo != "/work/app" || got[0].Session != "auth" || got[0].WorkDoneToken == nil {
		t.Errorf("params the daemon got: %+v", got)
	}
	creates := e.seen("window/workDoneProgress/create")
	if len(creates) != 1 {
		t.Fatalf("progress create requests: %d", len(creates))
	}
	var cp struct{ Token string }
	json.Unmarshal(creates[0].params, &cp)
	kinds := func(token string) []string {
		var ks []string
		for _, r := range e.seen("$/progress") {
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
	want := []string{"begin:Merging session auth", "report:checkpointing", "end:done"}
	// The end is written before the reply: no waiting needed.
	if got := kinds(cp.Token); !slices.Equal(got, want) {
		t.Errorf("progress: got %q, want %q", got, want)
	}
	// The editor's own token: no create request.
	e.mustCall("workspace/executeCommand", map[string]any{"command": protocol.CommandMerge, "workDoneToken": 42, "arguments": []any{map[string]any{"session": "auth"}}})
	if got := kinds("42"); !slices.Equal(got, want) {
		t.Errorf("progress on the editor's token: got %q, want %q", got, want)
	}
	if n := len(e.seen("window/workDoneProgress/create")); n != 1 {
		t.Errorf("create requests: %d, want 1", n)
	}
}

func TestOpenCommand(t *testing.T) {
	e := newTest(t, nil)
	file := filepath.Join(t.TempDir(), "a.go")
	os.WriteFile(file, []byte("one\ntwo\nthree héllo\n"), 0o644)
	e.answer["window/showDocument"] = map[string]any{"success": true}
	e.initialize(map[string]any{"capabilities": map[string]any{"window": map[string]any{"showDocument": map[string]any{"support": true}}}})
	res := e.mustCall("workspace/executeCommand", map[string]any{"command": protocol.CommandOpen, "arguments": []any{map[string]any{"file": file, "line": 2, "endLine": 3}}})
	if !strings.Contains(string(res), `"success":true`) {
		t.Errorf("studio.open: %s", res)
	}
	docs := e.seen("window/showDocument")
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
			got := (&fileLines{}).lspRange(file, tc.r)
			if got.Start.Line != tc.sl || got.End.Line != tc.el || got.End.Character != tc.character || got.Start.Character != 0 {
				t.Errorf("got %+v, want lines %d–%d ending at %d", got, tc.sl, tc.el, tc.character)
			}
		})
	}
	if got := (&fileLines{}).lspRange(filepath.Join(t.TempDir(), "missing"), protocol.Range{Start: 5, End: 6}); got.Start.Line != 0 || got.End.Line != 0 {
		t.Errorf("missing file: %+v", got)
	}
}

// TestReconnect drops the daemon connection under the face: the face
// dials again by itself, with its own subscription and the editor's
// studio/subscribe on the one connection.
func TestReconnect(t *testing.T) {
	var mu sync.Mutex
	var conns []*stub
	var dialled studiotest.Signal
	e := newTest(t, func(s *stub) {
		s.changed = &dialled
		mu.Lock()
		conns = append(conns, s)
		mu.Unlock()
		dialled.Notify()
	})
	all := func() []*stub {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(conns)
	}
	// editorToo: the face's needs and the editor's choice together.
	editorToo := func(c *stub) bool {
		subs := c.subscriptions()
		last := subs[len(subs)-1]
		return last.Sessions && last.Conflicts && last.Preview && last.Snapshot
	}
	e.initialize(map[string]any{})
	e.mustCall(protocol.MethodSubscribe, protocol.SubscribeParams{Preview: true})
	dialled.Await(t, "the editor's subscription on the face's connection", func() bool {
		c := all()
		return len(c) == 1 && editorToo(c[0])
	}, func() string {
		var d []string
		for _, c := range all() {
			d = append(d, fmt.Sprintf("%+v", c.subscriptions()))
		}
		return "subscriptions: " + strings.Join(d, "; ")
	})
	all()[0].Close()
	dialled.Await(t, "the face to dial again, with the editor's subscription", func() bool {
		c := all()
		return len(c) == 2 && len(c[1].subscriptions()) > 0 && editorToo(c[1])
	})
	var hello protocol.HelloResult
	if err := json.Unmarshal(e.mustCall(protocol.MethodHello, protocol.HelloParams{}), &hello); err != nil || hello.PID != os.Getpid() {
		t.Fatalf("hello after the daemon connection dropped: %+v, %v", hello, err)
	}
	if n := len(all()); n != 2 {
		t.Fatalf("daemon connections: %d, want 2 (one, then one after the drop)", n)
	}
}

// fileDaemon serves studio/file from memory, and nothing else.
type fileDaemon struct {
	Daemon
	files map[string]string // by path
	asked []protocol.FileParams
}

func (d *fileDaemon) File(ctx context.Context, p protocol.FileParams) (*protocol.FileResult, error) {
	d.asked = append(d.asked, p)
	c, ok := d.files[p.Path]
	if !ok {
		return &protocol.FileResult{Missing: true}, nil
	}
	if p.MaxSize > 0 && int64(len(c)) > p.MaxSize {
		return &protocol.FileResult{TooLarge: true}, nil
	}
	return &protocol.FileResult{Content: c}, nil
}

// TestSessionLinesThroughDaemon: a session's copy is read through the
// daemon, wherever its worktree is; the person's own files from disk.
func TestSessionLinesThroughDaemon(t *testing.T) {
	dir := t.TempDir()
	wt := filepath.Join(dir, "wt") // nothing on this machine's disk
	d := &fileDaemon{files: map[string]string{"app/f.txt": "one\ntwo\nthree 3\n", "big.txt": strings.Repeat("x\n", maxLinesFile)}}
	s := &server{state: newState(), ctx: t.Context(), daemon: d}
	s.state.sessions["s1"] = protocol.Session{ID: "s1", Name: "one", Repo: filepath.Join(dir, "repo"), Worktree: wt}

	got := s.lines().lspRange(filepath.Join(wt, "app", "f.txt"), protocol.Range{Start: 3, End: 9})
	if got.Start.Line != 2 || got.End.Line != 2 || got.End.Character != 7 {
		t.Errorf("range in a session's copy: %+v, want line 2 to character 7", got)
	}
	want := protocol.FileParams{SessionRef: protocol.SessionRef{Session: "s1", Repo: filepath.Join(dir, "repo")}, Path: "app/f.txt", Version: protocol.FileWorktree, MaxSize: maxLinesFile}
	if len(d.asked) != 1 || d.asked[0] != want {
		t.Errorf("asked the daemon %+v, want %+v", d.asked, want)
	}
	if got := s.lines().lspRange(filepath.Join(wt, "big.txt"), protocol.Range{Start: 3, End: 3}); got.End.Line != 0 {
		t.Errorf("a file over the cap: %+v, want no lines", got)
	}

	// The person's own file is read from disk.
	mine := filepath.Join(dir, "repo", "f.txt")
	os.MkdirAll(filepath.Dir(mine), 0o755)
	os.WriteFile(mine, []byte("a\nbb\n"), 0o644)
	if got := s.lines().lspRange(mine, protocol.Range{Start: 2, End: 2}); got.End.Line != 1 || got.End.Character != 2 {
		t.Errorf("range in the person's file: %+v", got)
	}

	// With the daemon out of reach, a session's copy is not read at all,
	// not even from a disk that has it.
	os.MkdirAll(filepath.Join(wt, "app"), 0o755)
	os.WriteFile(filepath.Join(wt, "app", "f.txt"), []byte("disk\ndisk\ndisk\n"), 0o644)
	s.daemon = nil
	if got := s.lines().lspRange(filepath.Join(wt, "app", "f.txt"), protocol.Range{Start: 3, End: 3}); got.End.Line != 0 || got.End.Character != 0 {
		t.Errorf("no daemon: %+v, want nothing read", got)
	}
}
