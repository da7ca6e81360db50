package agents

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/studiod/studiod/agents/host"
	"github.com/studiod/studiod/vocab"
)

// States of a session (docs/architecture.md draws the machine): the
// vocabulary's, under the short names the package uses.
const (
	Starting = vocab.StateStarting
	Working  = vocab.StateWorking
	Waiting  = vocab.StateWaiting
	Idle     = vocab.StateIdle
	Exited   = vocab.StateExited
	Failed   = vocab.StateFailed
	Stopped  = vocab.StateStopped
	Merged   = vocab.StateMerged
	Removed  = vocab.StateRemoved
)

// live reports whether an agent process may run in state s.
func live(s vocab.State) bool { return s.Live() }

// active reports whether a session in state s holds its name, worktree and
// branch.
func active(s vocab.State) bool { return s.Active() }

// Session is a session record. Values handed out are copies.
type Session struct {
	ID       string
	Name     string
	Repo     string
	Branch   string
	Base     string
	Target   string
	Worktree string
	Agent    string
	Command  []string
	Prompt   string
	State    vocab.State
	Detail   string
	// Ask says what a waiting session needs from the person; nil in
	// every other state.
	Ask *Ask
	// Conversation is the agent's own id for the session's conversation.
	Conversation string
	// Usage is what the agent reports its model used; nil: nothing yet.
	Usage *Usage
	// Budget is how much the model may use; nil: no limit. A live
	// session that used it all waits on it (WaitBudget).
	Budget *Budget
	// Scope are path globs of the area the session works in (none: anywhere);
	// OutOfScope the paths it changed outside them.
	Scope      []string
	OutOfScope []string
	// Note says what the session is doing.
	Note string
	// Gate is the session's gate mode ("" follows the repository's).
	Gate     string
	PID      int
	ExitCode *int
	Port     int
	Dir      string // studiod's directory for this session: log, exit file, index
	Changes  Changes
	// Conflicts counts the predicted conflicts and overlaps the session is
	// in. It is derived from the prediction, not stored.
	Conflicts int
	// Behind counts the target's commits the branch lacks; WouldConflict
	// says a merge (or sync) now would conflict with the target. Both are
	// derived, not stored (see refreshDerived).
	Behind        int
	WouldConflict bool
	Created       time.Time
	Updated       time.Time
	// Endpoints are where local tools reach the agent's process
	// directly (the runtime says; not stored).
	Endpoints host.Endpoints
	// Host is the configured host the session runs on, "" for this
	// machine (kept in the session's directory, hosts.go).
	Host string
	// Protocol is ProtocolACP for an agent driven over ACP, "" for a
	// terminal agent.
	Protocol string
	// LogLimit caps the output log of an agent being started (not stored:
	// a running shim has it in its spec).
	LogLimit int64
}

// Kinds of waiting.
const (
	WaitPermission = vocab.WaitPermission
	WaitQuestion   = vocab.WaitQuestion
	WaitTrust      = vocab.WaitTrust
	WaitLogin      = vocab.WaitLogin
	WaitBudget     = vocab.WaitBudget
)

// Answers, as the words a person (or a profile's table) gives them.
const (
	AnswerAllow  = string(vocab.AnswerAllow)
	AnswerAlways = string(vocab.AnswerAlways)
	AnswerReject = string(vocab.AnswerReject)
	AnswerNever  = string(vocab.AnswerNever)
)

// Ask is what a waiting session needs from the person.
type Ask struct {
	Kind     vocab.WaitKind
	Question string
	Tool     string
	Subject  string
	Options  []Option
	Source   string // hook, screen, acp
	// Then are the questions asked after this one in the same call (Claude
	// Code's AskUserQuestion with several), each waited on in its turn.
	Then []Ask `json:",omitempty"`
	// Last marks the last question of a call that asked several: its
	// answer is followed by the agent's confirmation of them all.
	Last bool `json:",omitempty"`
}

// Option is one answer a waiting session offers.
type Option struct {
	ID, Kind, Label string
}

// Changes summarizes a session's work against its base.
type Changes struct {
	Files, Additions, Deletions int
}

func (s *Session) indexFile() string { return s.Dir + "/index" }

func (s *Session) clone() Session {
	c := *s
	c.Command = append([]string(nil), s.Command...)
	c.Scope = append([]string(nil), s.Scope...)
	c.OutOfScope = append([]string(nil), s.OutOfScope...)
	if s.Ask != nil {
		a := *s.Ask
		a.Options = append([]Option(nil), s.Ask.Options...)
		a.Then = append([]Ask(nil), s.Ask.Then...)
		c.Ask = &a
	}
	if s.ExitCode != nil {
		v := *s.ExitCode
		c.ExitCode = &v
	}
	if s.Usage != nil {
		u := *s.Usage
		if u.Cost != nil {
			v := *u.Cost
			u.Cost = &v
		}
		c.Usage = &u
	}
	if s.Budget != nil {
		b := *s.Budget
		c.Budget = &b
	}
	return c
}

// Errors the server maps to wire codes.
var (
	ErrNotFound    = errors.New("not found")
	ErrInvalid     = errors.New("invalid argument")
	ErrUntrusted   = errors.New("untrusted repo config")
	ErrBusy        = errors.New("busy")
	ErrUncommitted = errors.New("uncommitted work")
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// ValidateName checks a session name.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return invalidf("session name %q: use 1 to 40 lower-case letters, digits and dashes, starting with a letter or digit", name)
	}
	return nil
}

var stopWords = map[string]bool{"a": true, "an": true, "the": true, "to": true, "and": true, "of": true, "in": true, "for": true, "on": true, "with": true, "please": true}

// NameFromPrompt derives a session name from the first words of a prompt.
func NameFromPrompt(prompt string) string {
	var words []string
	for _, w := range strings.FieldsFunc(strings.ToLower(prompt), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		if stopWords[w] {
			continue
		}
		words = append(words, w)
		if len(words) == 3 {
			break
		}
	}
	name := strings.Join(words, "-")
	if len(name) > 30 {
		name = strings.TrimRight(name[:30], "-")
	}
	if name == "" {
		name = "session"
	}
	return name
}
