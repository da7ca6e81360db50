package agents

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/studiod/studiod/vocab"
)

// Hook kinds: the lifecycle-hook formats studiod reads. A profile's Hooks
// names one; its agent then reports its own state through `studiod hook
// --agent KIND`, with the agent's hook payload on stdin.
const (
	HooksClaude      = "claude"
	HooksCodex       = "codex"
	HooksCodexNotify = "codex-notify" // Codex's notify program: the payload is an argument
	HooksGemini      = "gemini"
)

// hookEvent is an agent's hook payload in studiod's terms.
type hookEvent struct {
	name  string      // the agent's own event name, for logs
	state vocab.State // Working, Waiting or Idle; "" changes no state
	ask   *Ask        // with Waiting
	// detail goes with Idle when a turn failed.
	detail string
	// conversation is the agent's id for its conversation, when named.
	conversation string
	// prompt reports that the agent took a prompt (its text in promptText):
	// what confirms a delivery.
	prompt     bool
	promptText string
	// write is a tool about to run (the gate looks at writes); ran names
	// a tool call that just ran.
	write *toolWrite
	ran   string
	// ranTool says a tool ran (ran may be empty when the agent gives no id).
	ranTool bool
	// wrote is the file a tool that ran names (as the agent gave it,
	// relative to cwd): the watcher learns of the write from it.
	wrote, cwd string
	// shell says the tool that ran was a shell command, which may have
	// written any file.
	shell bool
	// transcript is the agent's session transcript, read for the
	// session's usage when set.
	transcript string
	// refused is the line of the tool's response saying a write was
	// refused for a read-only file system (sandboxreport.go).
	refused string
}

// decodeHook reads one hook payload of kind.
func decodeHook(kind string, payload []byte) (hookEvent, error) {
	var p hookPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return hookEvent{}, invalidf("%s hook payload: %v", kind, err)
	}
	switch kind {
	case HooksClaude:
		return p.claude(), nil
	case HooksCodex:
		return p.codex(), nil
	case HooksCodexNotify:
		return p.codexNotify(), nil
	case HooksGemini:
		return p.gemini(), nil
	}
	return hookEvent{}, invalidf("hook kind %q: use %s, %s, %s or %s", kind, HooksClaude, HooksCodex, HooksCodexNotify, HooksGemini)
}

// hookPayload has the fields of every agent's hook payloads studiod reads.
type hookPayload struct {
	Event            string          `json:"hook_event_name"`
	SessionID        string          `json:"session_id"`
	Cwd              string          `json:"cwd"`
	Prompt           string          `json:"prompt"`
	ToolName         string          `json:"tool_name"`
	ToolInput        json.RawMessage `json:"tool_input"`
	ToolUseID        string          `json:"tool_use_id"`
	ToolResponse     json.RawMessage `json:"tool_response"`
	NotificationType string          `json:"notification_type"`
	Message          string          `json:"message"`
	Error            string          `json:"error"`
	LastMessage      string          `json:"last_assistant_message"`
	TranscriptPath   string          `json:"transcript_path"`
	Details          struct {
		Type     string `json:"type"`
		Title    string `json:"title"`
		FileName string `json:"fileName"`
		Command  string `json:"command"`
	} `json:"details"`
	// Codex's notify payload.
	Type     string `json:"type"`
	ThreadID string `json:"thread-id"`
}

func (p hookPayload) claude() hookEvent {
	e := hookEvent{name: p.Event}
	switch p.Event {
	case "SessionStart":
		e.conversation = p.SessionID
	case "UserPromptSubmit":
		e.state, e.prompt, e.promptText = Working, true, p.Prompt
	case "PreToolUse":
		e.state = Working
		e.write = &toolWrite{id: p.ToolUseID, tool: p.ToolName, input: p.ToolInput, cwd: p.Cwd}
	case "PostToolUse", "PostToolUseFailure":
		e.state, e.ran, e.ranTool = Working, p.ToolUseID, true
		e.refused = sandboxRefusal(p.ToolResponse)
		e.wrote, e.cwd, e.shell = p.toolFile(), p.Cwd, shellTools[p.ToolName]
		e.transcript = p.TranscriptPath
	case "PostToolBatch", "PermissionDenied", "SubagentStart":
		e.state = Working
	case "PermissionRequest":
		e.state, e.ask = Waiting, p.permission()
	case "Notification":
		switch p.NotificationType {
		case "permission_prompt":
			e.state = Waiting
			e.ask = &Ask{Kind: WaitPermission, Question: p.Message, Source: "hook"}
		case "elicitation_dialog":
			e.state = Waiting
			e.ask = &Ask{Kind: WaitQuestion, Question: p.Message, Source: "hook"}
		case "idle_prompt":
			e.state = Idle
		}
	case "Stop":
		e.state, e.transcript = Idle, p.TranscriptPath
	case "StopFailure":
		e.state, e.transcript = Idle, p.TranscriptPath
		e.detail = "the turn failed: " + firstNonEmpty(oneLine(p.LastMessage), p.Error)
	}
	return e
}

func (p hookPayload) codex() hookEvent {
	e := hookEvent{name: p.Event}
	switch p.Event {
	case "SessionStart":
		e.conversation = p.SessionID
	case "UserPromptSubmit":
		e.state, e.prompt, e.promptText = Working, true, p.Prompt
		e.conversation = p.SessionID
	case "PreToolUse":
		e.state = Working
		e.write = &toolWrite{id: p.ToolUseID, tool: p.ToolName, input: p.ToolInput, cwd: p.Cwd}
	case "PostToolUse":
		e.state, e.ran, e.ranTool = Working, p.ToolUseID, true
		e.refused = sandboxRefusal(p.ToolResponse)
		e.wrote, e.cwd, e.shell = p.toolFile(), p.Cwd, shellTools[p.ToolName]
		e.transcript = p.TranscriptPath // its rollout: the usage so far
	case "SubagentStart":
		e.state = Working
	case "PermissionRequest":
		e.state, e.ask = Waiting, p.permission()
	case "Stop":
		e.state, e.transcript = Idle, p.TranscriptPath
	}
	return e
}

// codexNotify reads Codex's notify payload: a turn completed. It also
// fires for Codex's own side threads (titles): only the session's own
// conversation counts, which the manager checks.
func (p hookPayload) codexNotify() hookEvent {
	e := hookEvent{name: "notify " + p.Type}
	if p.Type == "agent-turn-complete" {
		e.state, e.conversation = Idle, p.ThreadID
	}
	return e
}

func (p hookPayload) gemini() hookEvent {
	e := hookEvent{name: p.Event}
	switch p.Event {
	case "SessionStart":
		e.conversation = p.SessionID
	case "BeforeAgent":
		e.state, e.prompt, e.promptText = Working, true, p.Prompt
	case "BeforeTool":
		e.state = Working
		e.write = &toolWrite{tool: p.ToolName, input: p.ToolInput, cwd: p.Cwd}
	case "AfterTool":
		e.state, e.ranTool = Working, true
		e.refused = sandboxRefusal(p.ToolResponse)
		e.wrote, e.cwd, e.shell = p.toolFile(), p.Cwd, shellTools[p.ToolName]
		e.transcript = p.TranscriptPath // its chat: the usage so far
	case "BeforeModel", "AfterModel", "BeforeToolSelection":
		e.state = Working
	case "Notification":
		if p.NotificationType == "ToolPermission" {
			e.state = Waiting
			a := &Ask{Kind: WaitPermission, Question: firstNonEmpty(p.Details.Title, p.Message), Source: "hook"}
			switch {
			case p.Details.FileName != "":
				a.Tool, a.Subject = p.Details.Type, p.Details.FileName
			case p.Details.Command != "":
				a.Tool, a.Subject = p.Details.Type, "`"+clip(p.Details.Command, 80)+"`"
			}
			e.ask = a
		}
	case "AfterAgent":
		e.state, e.transcript = Idle, p.TranscriptPath
	}
	return e
}

// shellTools are the agents' tools that run a shell command: Claude Code's,
// Codex's and Gemini CLI's.
var shellTools = map[string]bool{"Bash": true, "shell": true, "local_shell": true, "exec_command": true, "run_shell_command": true}

// toolFile is the file a tool's input names, "" for none.
func (p hookPayload) toolFile() string {
	var in struct {
		FilePath     string `json:"file_path"`
		Path         string `json:"path"`
		NotebookPath string `json:"notebook_path"`
	}
	json.Unmarshal(p.ToolInput, &in)
	return firstNonEmpty(in.FilePath, in.NotebookPath, in.Path)
}

// permission describes a tool's permission request for a person: "Write
// hello.py", "Run `npm test`".
func (p hookPayload) permission() *Ask {
	var in struct {
		FilePath     string `json:"file_path"`
		Path         string `json:"path"`
		NotebookPath string `json:"notebook_path"`
		Command      string `json:"command"`
		Description  string `json:"description"`
		URL          string `json:"url"`
		Pattern      string `json:"pattern"`
	}
	json.Unmarshal(p.ToolInput, &in)
	if q := p.question(); q != nil {
		return q
	}
	a := &Ask{Kind: WaitPermission, Tool: p.ToolName, Source: "hook"}
	file := firstNonEmpty(in.FilePath, in.NotebookPath, in.Path)
	if file != "" && p.Cwd != "" {
		if rel, err := filepath.Rel(p.Cwd, file); err == nil && !strings.HasPrefix(rel, "..") {
			file = rel
		}
	}
	switch {
	case in.Command != "":
		a.Subject = "`" + clip(oneLine(in.Command), 80) + "`"
		a.Question = "Run " + a.Subject + "?"
		if in.Description != "" && strings.HasSuffix(in.Description, "?") {
			a.Question = oneLine(in.Description)
		}
	case file != "":
		a.Subject = file
		a.Question = fmt.Sprintf("%s %s?", p.ToolName, file)
	case in.URL != "":
		a.Subject = in.URL
		a.Question = fmt.Sprintf("%s %s?", p.ToolName, in.URL)
	default:
		a.Subject = clip(oneLine(string(p.ToolInput)), 80)
		a.Question = fmt.Sprintf("Allow %s?", p.ToolName)
	}
	return a
}

// question reads Claude Code's AskUserQuestion: the model asks the person
// to choose. Its questions are asked one after the other, as Claude Code's
// menu asks them (the first, with the others to follow); the options are
// offered by number (the digit Claude Code's menu picks them with) and
// label. nil for other tools.
func (p hookPayload) question() *Ask {
	if p.ToolName != "AskUserQuestion" {
		return nil
	}
	var in struct {
		Questions []struct {
			Question string `json:"question"`
			Header   string `json:"header"`
			Options  []struct {
				Label       string `json:"label"`
				Description string `json:"description"`
			} `json:"options"`
		} `json:"questions"`
	}
	if json.Unmarshal(p.ToolInput, &in) != nil || len(in.Questions) == 0 {
		return nil
	}
	var asks []Ask
	for i, q := range in.Questions {
		if q.Question == "" {
			return nil
		}
		a := Ask{Kind: WaitQuestion, Tool: p.ToolName, Question: oneLine(q.Question), Subject: oneLine(q.Header), Source: "hook"}
		if n := len(in.Questions); n > 1 {
			a.Subject = strings.TrimSpace(fmt.Sprintf("%s (%d of %d)", a.Subject, i+1, n))
			a.Last = i == n-1
		}
		for j, o := range q.Options {
			label := oneLine(o.Label)
			if d := oneLine(o.Description); d != "" {
				label += " — " + d
			}
			a.Options = append(a.Options, Option{ID: strconv.Itoa(j + 1), Label: label})
		}
		asks = append(asks, a)
	}
	first := asks[0]
	first.Then = asks[1:]
	if len(first.Then) == 0 {
		first.Then = nil
	}
	return &first
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// oneLine folds whitespace runs, newlines included, into single spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// clip shortens s to at most n runes, marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
