package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	acp "github.com/coder/acp-go-sdk"
)

// fakeACP is a scripted ACP agent (the agent side of acp-go-sdk) for the
// tests. Each prompt's words choose what it does:
//
//	write NAME   a tool call "Write NAME" (kind edit, with its diff) asking
//	             permission with the four option kinds; allowed, it writes
//	             NAME in its cwd
//	plan         sends a plan of two steps, then completes the first
//	hold         runs until a file "release" appears in its cwd
//	wait         runs until the turn is cancelled
//	crash        prints to stderr and exits 3 mid-turn
//	chatter N    sends N messages of 200 bytes
//	garbage      writes a line that is not JSON
//	unknown      sends an unknown notification and an update of an unknown kind
//	fswrite P T  asks the client to write T to P (relative: to its cwd)
//	fsread P     asks the client to read P, and says what it got
//	term [cwd=D] [limit=N] [env=K=V] [args] LINE
//	             runs LINE in a client terminal (a shell line; after args,
//	             a program and its arguments), waits for its exit and says
//	             its exit status and output
//	termkill LINE  runs LINE, kills it once "ready" is in its output, and
//	             says how it ended, its output after the kill and what
//	             terminal/output says once it is released
//	termhold LINE  runs LINE, says "running" once "ready" is in its
//	             output, and waits for its exit
//	termoutput ID  asks for the output of terminal ID
//	anything     answers "you said: TEXT"
//
// Flags: --auth (sessions need authenticate with method "key" first),
// --noload (no session/load), --slowinit DUR (the first initialize is
// answered DUR late).
func fakeACP() {
	fs := flag.NewFlagSet("fakeacp", flag.ExitOnError)
	auth := fs.Bool("auth", false, "require authenticate before session/new")
	noload := fs.Bool("noload", false, "do not advertise session/load")
	slowInit := fs.Duration("slowinit", 0, "answer the first initialize this late")
	fs.Parse(os.Args[1:])
	a := &acpAgent{auth: *auth, load: !*noload, slowInit: *slowInit, cwd: map[string]string{}}
	a.conn = acp.NewAgentSideConnection(a, os.Stdout, os.Stdin)
	<-a.conn.Done()
}

type acpAgent struct {
	conn       *acp.AgentSideConnection
	auth, load bool
	slowInit   time.Duration

	mu     sync.Mutex
	authed bool
	cwd    map[string]string // session → cwd
	calls  int
	fs     acp.FileSystemCapabilities // the client's
	term   bool                       // the client's terminal capability
}

func (a *acpAgent) Initialize(ctx context.Context, p acp.InitializeRequest) (acp.InitializeResponse, error) {
	a.mu.Lock()
	slow := a.slowInit
	a.slowInit = 0
	a.mu.Unlock()
	time.Sleep(slow)
	r := acp.InitializeResponse{ProtocolVersion: acp.ProtocolVersionNumber,
		AgentCapabilities: acp.AgentCapabilities{LoadSession: a.load},
		AgentInfo:         &acp.Implementation{Name: "fakeacp", Version: "1.0"},
		AuthMethods:       []acp.AuthMethod{}}
	a.mu.Lock()
	a.fs = p.ClientCapabilities.Fs
	a.term = p.ClientCapabilities.Terminal
	a.mu.Unlock()
	if a.auth {
		r.AuthMethods = []acp.AuthMethod{{Agent: &acp.AuthMethodAgent{Id: "key", Name: "API key"}}}
	}
	return r, nil
}

func (a *acpAgent) Authenticate(ctx context.Context, p acp.AuthenticateRequest) (acp.AuthenticateResponse, error) {
	if p.MethodId != "key" {
		return acp.AuthenticateResponse{}, &acp.RequestError{Code: -32602, Message: "unknown method " + p.MethodId}
	}
	a.mu.Lock()
	a.authed = true
	a.mu.Unlock()
	return acp.AuthenticateResponse{}, nil
}

func (a *acpAgent) signedOut() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.auth && !a.authed
}

func (a *acpAgent) NewSession(ctx context.Context, p acp.NewSessionRequest) (acp.NewSessionResponse, error) {
	if a.signedOut() {
		return acp.NewSessionResponse{}, &acp.RequestError{Code: -32000, Message: "Authentication required: no key configured"}
	}
	var b [4]byte
	rand.Read(b[:])
	id := "fake-" + hex.EncodeToString(b[:])
	a.mu.Lock()
	a.cwd[id] = p.Cwd
	a.mu.Unlock()
	return acp.NewSessionResponse{SessionId: acp.SessionId(id)}, nil
}

func (a *acpAgent) LoadSession(ctx context.Context, p acp.LoadSessionRequest) (acp.LoadSessionResponse, error) {
	a.mu.Lock()
	a.cwd[string(p.SessionId)] = p.Cwd
	a.mu.Unlock()
	a.conn.SessionUpdate(ctx, acp.SessionNotification{SessionId: p.SessionId, Update: acp.UpdateUserMessageText("(loaded) the earlier conversation")})
	return acp.LoadSessionResponse{}, nil
}

// say sends text as one agent message (its own message id).
func (a *acpAgent) say(ctx context.Context, sid acp.SessionId, text string) {
	var b [4]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	u := acp.UpdateAgentMessageText(text)
	u.AgentMessageChunk.MessageId = &id
	a.conn.SessionUpdate(ctx, acp.SessionNotification{SessionId: sid, Update: u})
}

func (a *acpAgent) Prompt(ctx context.Context, p acp.PromptRequest) (acp.PromptResponse, error) {
	var words []string
	for _, b := range p.Prompt {
		if b.Text != nil {
			words = append(words, strings.Fields(b.Text.Text)...)
		}
	}
	text := strings.Join(words, " ")
	a.mu.Lock()
	cwd := a.cwd[string(p.SessionId)]
	a.calls++
	call := fmt.Sprintf("call_%d", a.calls)
	a.mu.Unlock()
	end := acp.PromptResponse{StopReason: acp.StopReasonEndTurn}
	for i, w := range words {
		switch w {
		case "write":
			if i+1 >= len(words) {
				continue
			}
			return a.write(ctx, p.SessionId, acp.ToolCallId(call), cwd, words[i+1])
		case "fswrite", "fsread":
			if i+1 >= len(words) {
				continue
			}
			a.mu.Lock()
			caps := a.fs
			a.mu.Unlock()
			path := words[i+1]
			if !filepath.IsAbs(path) {
				path = filepath.Join(cwd, path)
			}
			switch {
			case w == "fswrite" && !caps.WriteTextFile, w == "fsread" && !caps.ReadTextFile:
				a.say(ctx, p.SessionId, w+": the client did not advertise it")
			case w == "fswrite":
				_, err := a.conn.WriteTextFile(ctx, acp.WriteTextFileRequest{SessionId: p.SessionId, Path: path, Content: strings.Join(words[i+2:], " ") + "\n"})
				a.say(ctx, p.SessionId, fmt.Sprintf("fswrite %s: %v", words[i+1], errText(err)))
			default:
				r, err := a.conn.ReadTextFile(ctx, acp.ReadTextFileRequest{SessionId: p.SessionId, Path: path})
				a.say(ctx, p.SessionId, fmt.Sprintf("fsread %s: %q %v", words[i+1], r.Content, errText(err)))
			}
			return end, nil
		case "term", "termkill", "termhold", "termoutput":
			a.mu.Lock()
			can := a.term
			a.mu.Unlock()
			if !can {
				a.say(ctx, p.SessionId, w+": the client did not advertise it")
				return end, nil
			}
			a.say(ctx, p.SessionId, a.terminal(ctx, p.SessionId, cwd, w, words[i+1:]))
			return end, nil
		case "plan":
			steps := []acp.PlanEntry{{Content: "read the code", Status: "in_progress", Priority: "high"}, {Content: "write the fix", Status: "pending", Priority: "medium"}}
			a.conn.SessionUpdate(ctx, acp.SessionNotification{SessionId: p.SessionId, Update: acp.UpdatePlan(steps...)})
			steps[0].Status, steps[1].Status = "completed", "in_progress"
			a.conn.SessionUpdate(ctx, acp.SessionNotification{SessionId: p.SessionId, Update: acp.UpdatePlan(steps...)})
		case "hold":
			a.say(ctx, p.SessionId, "holding until released")
			for {
				if _, err := os.Stat(filepath.Join(cwd, "release")); err == nil {
					break
				}
				select {
				case <-ctx.Done():
					return acp.PromptResponse{StopReason: acp.StopReasonCancelled}, nil
				case <-time.After(20 * time.Millisecond):
				}
			}
			a.say(ctx, p.SessionId, "released")
			return end, nil
		case "wait":
			a.say(ctx, p.SessionId, "waiting to be cancelled")
			<-ctx.Done()
			return acp.PromptResponse{StopReason: acp.StopReasonCancelled}, nil
		case "crash":
			a.say(ctx, p.SessionId, "about to crash")
			fmt.Fprintln(os.Stderr, "fakeacp: crashing as asked")
			os.Exit(3)
		case "bench":
			// bench N: N permission requests in a row, each titled with
			// the time it is sent, for BenchmarkACPPermission.
			n := 50
			if i+1 < len(words) {
				fmt.Sscan(words[i+1], &n)
			}
			kind := acp.ToolKindEdit
			for k := range n {
				title := fmt.Sprintf("Bench %d @%d", k, time.Now().UnixNano())
				id := acp.ToolCallId(fmt.Sprintf("%s_%d", call, k))
				if _, err := a.conn.RequestPermission(ctx, acp.RequestPermissionRequest{SessionId: p.SessionId,
					ToolCall: acp.ToolCallUpdate{ToolCallId: id, Title: &title, Kind: &kind},
					Options:  []acp.PermissionOption{{OptionId: "allow-once", Name: "Allow", Kind: acp.PermissionOptionKindAllowOnce}}}); err != nil {
					return acp.PromptResponse{}, err
				}
			}
			return end, nil
		case "chatter":
			// chatter N: N agent messages of 200 bytes each.
			n := 100
			if i+1 < len(words) {
				fmt.Sscan(words[i+1], &n)
			}
			for k := range n {
				a.say(ctx, p.SessionId, fmt.Sprintf("chatter %d %s", k, strings.Repeat(".", 200)))
			}
		case "garbage":
			os.Stdout.Write([]byte("this line is not JSON\n"))
		case "unknown":
			os.Stdout.Write([]byte(`{"jsonrpc":"2.0","method":"_fake/unknown","params":{"x":1}}` + "\n"))
			os.Stdout.Write([]byte(`{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"` + string(p.SessionId) + `","update":{"sessionUpdate":"brand_new_kind","x":1}}}` + "\n"))
		}
	}
	a.say(ctx, p.SessionId, "you said: "+text)
	return end, nil
}

// write asks permission to write name, and writes it when allowed.
func (a *acpAgent) write(ctx context.Context, sid acp.SessionId, id acp.ToolCallId, cwd, name string) (acp.PromptResponse, error) {
	path := filepath.Join(cwd, name)
	title := "Write " + name
	a.say(ctx, sid, "I'll write "+name+".")
	a.conn.SessionUpdate(ctx, acp.SessionNotification{SessionId: sid, Update: acp.StartToolCall(id, title,
		acp.WithStartKind(acp.ToolKindEdit), acp.WithStartStatus(acp.ToolCallStatusPending),
		acp.WithStartLocations([]acp.ToolCallLocation{{Path: path}}))})
	kind := acp.ToolKindEdit
	const text = "hello from fakeacp\n"
	var old []string
	if b, err := os.ReadFile(path); err == nil {
		old = append(old, string(b))
	}
	resp, err := a.conn.RequestPermission(ctx, acp.RequestPermissionRequest{SessionId: sid,
		ToolCall: acp.ToolCallUpdate{ToolCallId: id, Title: &title, Kind: &kind,
			Locations: []acp.ToolCallLocation{{Path: path}}, Content: []acp.ToolCallContent{acp.ToolDiffContent(path, text, old...)}},
		Options: []acp.PermissionOption{
			{OptionId: "allow-once", Name: "Allow", Kind: acp.PermissionOptionKindAllowOnce},
			{OptionId: "allow-always", Name: "Always allow", Kind: acp.PermissionOptionKindAllowAlways},
			{OptionId: "reject-once", Name: "Reject", Kind: acp.PermissionOptionKindRejectOnce},
			{OptionId: "reject-always", Name: "Never", Kind: acp.PermissionOptionKindRejectAlways},
		}})
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return acp.PromptResponse{StopReason: acp.StopReasonCancelled}, nil
		}
		return acp.PromptResponse{}, err
	}
	if resp.Outcome.Cancelled != nil {
		a.conn.SessionUpdate(ctx, acp.SessionNotification{SessionId: sid, Update: acp.UpdateToolCall(id, acp.WithUpdateStatus(acp.ToolCallStatusFailed))})
		return acp.PromptResponse{StopReason: acp.StopReasonCancelled}, nil
	}
	if o := resp.Outcome.Selected; o != nil && strings.HasPrefix(string(o.OptionId), "allow") {
		a.conn.SessionUpdate(ctx, acp.SessionNotification{SessionId: sid, Update: acp.UpdateToolCall(id, acp.WithUpdateStatus(acp.ToolCallStatusInProgress))})
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return acp.PromptResponse{}, err
		}
		a.conn.SessionUpdate(ctx, acp.SessionNotification{SessionId: sid, Update: acp.UpdateToolCall(id, acp.WithUpdateStatus(acp.ToolCallStatusCompleted))})
		a.say(ctx, sid, "Done: "+name+" is written.")
	} else {
		a.conn.SessionUpdate(ctx, acp.SessionNotification{SessionId: sid, Update: acp.UpdateToolCall(id, acp.WithUpdateStatus(acp.ToolCallStatusFailed))})
		a.say(ctx, sid, "Not written: permission refused.")
	}
	return acp.PromptResponse{StopReason: acp.StopReasonEndTurn}, nil
}

func (a *acpAgent) Cancel(ctx context.Context, p acp.CancelNotification) error { return nil }

func (a *acpAgent) SetSessionMode(ctx context.Context, p acp.SetSessionModeRequest) (acp.SetSessionModeResponse, error) {
	return acp.SetSessionModeResponse{}, nil
}

func (a *acpAgent) ListSessions(ctx context.Context, p acp.ListSessionsRequest) (acp.ListSessionsResponse, error) {
	return acp.ListSessionsResponse{}, nil
}

func (a *acpAgent) ResumeSession(ctx context.Context, p acp.ResumeSessionRequest) (acp.ResumeSessionResponse, error) {
	return acp.ResumeSessionResponse{}, &acp.RequestError{Code: -32601, Message: "Method not found"}
}

func (a *acpAgent) CloseSession(ctx context.Context, p acp.CloseSessionRequest) (acp.CloseSessionResponse, error) {
	return acp.CloseSessionResponse{}, nil
}

func (a *acpAgent) SetSessionConfigOption(ctx context.Context, p acp.SetSessionConfigOptionRequest) (acp.SetSessionConfigOptionResponse, error) {
	return acp.SetSessionConfigOptionResponse{}, nil
}

// terminal runs what a term, termkill, termhold or termoutput prompt asks
// in a terminal of the client, and says what came of it.
func (a *acpAgent) terminal(ctx context.Context, sid acp.SessionId, cwd, verb string, words []string) string {
	if verb == "termoutput" {
		_, err := a.conn.TerminalOutput(ctx, acp.TerminalOutputRequest{SessionId: sid, TerminalId: strings.Join(words, " ")})
		return "termoutput: " + errText(err)
	}
	req := acp.CreateTerminalRequest{SessionId: sid}
	args := false
options:
	for len(words) > 0 {
		k, v, _ := strings.Cut(words[0], "=")
		switch k {
		case "args":
			args = true
		case "cwd":
			if !filepath.IsAbs(v) {
				v = filepath.Join(cwd, v)
			}
			req.Cwd = &v
		case "limit":
			n, _ := strconv.Atoi(v)
			req.OutputByteLimit = &n
		case "env":
			name, val, _ := strings.Cut(v, "=")
			req.Env = append(req.Env, acp.EnvVariable{Name: name, Value: val})
		default:
			break options
		}
		words = words[1:]
	}
	if len(words) == 0 {
		return verb + ": no command"
	}
	req.Command = strings.Join(words, " ")
	if args {
		req.Command, req.Args = words[0], words[1:]
	}
	t, err := a.conn.CreateTerminal(ctx, req)
	if err != nil {
		return verb + ": " + errText(err)
	}
	id := t.TerminalId
	release := func() error {
		_, err := a.conn.ReleaseTerminal(ctx, acp.ReleaseTerminalRequest{SessionId: sid, TerminalId: id})
		return err
	}
	ready := func() string {
		for {
			out, err := a.conn.TerminalOutput(ctx, acp.TerminalOutputRequest{SessionId: sid, TerminalId: id})
			if err != nil || out.ExitStatus != nil {
				return fmt.Sprintf("%s: never ready: %q %s", verb, out.Output, errText(err))
			}
			if strings.Contains(out.Output, "ready") {
				return ""
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	switch verb {
	case "termhold":
		if e := ready(); e != "" {
			return e
		}
		a.say(ctx, sid, "termhold: running")
		st, err := a.conn.WaitForTerminalExit(ctx, acp.WaitForTerminalExitRequest{SessionId: sid, TerminalId: id})
		return fmt.Sprintf("termhold: %s %s", exitText(st.ExitCode, st.Signal), errText(err))
	case "termkill":
		if e := ready(); e != "" {
			return e
		}
		_, kerr := a.conn.KillTerminal(ctx, acp.KillTerminalRequest{SessionId: sid, TerminalId: id})
		st, werr := a.conn.WaitForTerminalExit(ctx, acp.WaitForTerminalExitRequest{SessionId: sid, TerminalId: id})
		out, oerr := a.conn.TerminalOutput(ctx, acp.TerminalOutputRequest{SessionId: sid, TerminalId: id})
		rerr := release()
		_, after := a.conn.TerminalOutput(ctx, acp.TerminalOutputRequest{SessionId: sid, TerminalId: id})
		return fmt.Sprintf("termkill: kill %s, wait %s %s, output %q %s, release %s, then output: %s",
			errText(kerr), exitText(st.ExitCode, st.Signal), errText(werr), out.Output, errText(oerr), errText(rerr), errText(after))
	}
	st, err := a.conn.WaitForTerminalExit(ctx, acp.WaitForTerminalExitRequest{SessionId: sid, TerminalId: id})
	if err != nil {
		return "term: wait: " + errText(err)
	}
	out, err := a.conn.TerminalOutput(ctx, acp.TerminalOutputRequest{SessionId: sid, TerminalId: id})
	if err != nil {
		return "term: output: " + errText(err)
	}
	if out.ExitStatus == nil {
		return "term: output has no exit status after the exit"
	}
	output := fmt.Sprintf("%q", out.Output)
	if len(out.Output) > 1000 {
		output = fmt.Sprintf("of %d bytes", len(out.Output))
	}
	return fmt.Sprintf("term: %s, truncated %v, output %s, release %s", exitText(st.ExitCode, st.Signal), out.Truncated, output, errText(release()))
}

// exitText says how a terminal's command ended.
func exitText(code *int, sig *string) string {
	switch {
	case code != nil:
		return fmt.Sprintf("exit %d", *code)
	case sig != nil:
		return "signal " + *sig
	}
	return "no exit status"
}

// errText is "ok" or the error with its data.
func errText(err error) string {
	var re *acp.RequestError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &re):
		return fmt.Sprintf("error %d %s %v", re.Code, re.Message, re.Data)
	}
	return "error " + err.Error()
}
