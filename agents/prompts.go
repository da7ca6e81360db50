package agents

import (
	"regexp"
	"slices"
	"strings"

	"github.com/studiod/studiod/vocab"
)

// Prompt kinds: what an agent waiting on its screen needs from the person
// (the kinds of Ask).
const (
	PromptPermission = WaitPermission // may it run a tool (write a file, run a command)
	PromptQuestion   = WaitQuestion   // it asks something only the person can answer
	PromptTrust      = WaitTrust      // may it work in this folder, with these hooks
	PromptLogin      = WaitLogin      // it needs an account or a provider
)

// Prompt is a question an agent shows on its screen and waits on, as read
// from the screen the runtime renders (host.Proc.Screen), by matchPrompt.
type Prompt struct {
	Agent string         // the profile's hook kind: claude, codex, gemini, opencode
	Name  string         // which of the built-in prompts, e.g. "claude-permission-bash"
	Kind  vocab.WaitKind // PromptPermission, PromptTrust, PromptLogin or PromptQuestion
	// Question is one line for the person, e.g. "Do you want to create
	// hello.py?" or "Trust this folder? (/src/app)".
	Question string
	// Subject is what the prompt is about when the screen shows it: a tool
	// and its file or command ("Write hello.py", "Run `npm test`"), or a
	// folder. Empty when it does not.
	Subject string
	// Keys maps each answer that applies (AnswerAllow, …) to what to type:
	// each element is one write, sent after the agent has read the previous
	// one (the screen changed), because agents take several characters that
	// arrive in one read for a paste. The keys assume the prompt as it first
	// shows, with its default choice selected.
	Keys map[string][]string
}

// promptDef is one built-in prompt, matched against the rendered screen.
//
// Rows are matched without their surrounding blanks and box borders. The
// row that matches ask places the prompt; every entry of options must then
// match a row below it, in order, within optionRows rows: that is what
// tells a live prompt from the same words in the transcript. When several
// definitions match, the one asked lowest on the screen wins: prompts are
// drawn at the bottom.
type promptDef struct {
	agent, name string
	kind        vocab.WaitKind
	ask         string
	options     []string
	// question expands the ask match ($0, $1, …); empty means "$0". With
	// withSubject, " (subject)" follows when the subject is known.
	question    string
	withSubject bool
	// subjects are tried in order on the rows from above rows above the
	// asking row down to the last option (joined with "\n", multi-line
	// mode); the last match of the first rule that matches is expanded.
	subjects []subjectRule
	above    int
	keys     map[string][]string
	// choices name options by meaning (answer → a regexp of the option's
	// label), with keys read from the screen as it is (pick), wherever
	// the agent's version put the option and the selection; an answer
	// whose option the screen does not show has no keys. Without options,
	// each choice must match a row below the asking row, in any order.
	choices map[string]string
	pick    pickStyle
}

// pickStyle is how an option of a menu is chosen.
type pickStyle int

const (
	// pickArrows moves the selection from where it is with Up or Down,
	// then confirms with Enter.
	pickArrows pickStyle = iota
	// pickDigit types the option's number, which picks it at once.
	pickDigit
	// pickDigitEnter types the option's number, which moves the
	// selection there, then Enter.
	pickDigitEnter
)

type subjectRule struct{ re, as string }

// optionRows is how far below the asking row its options may be.
const optionRows = 16

// Keys typed to answer; named for the table's sake.
const (
	keyEnter = "\r"
	keyEsc   = "\x1b"
	keyDown  = "\x1b[B"
	keyUp    = "\x1b[A"
	keyRight = "\x1b[C"
)

// builtinPrompts are the prompts of the agent CLIs studiod knows, at the
// versions in test/agents/package.json. Each was seen on a recorded screen
// (agents/testdata/screens), and each key was typed into the real CLI under
// the shim to check what it does (agents/testdata/screens/record):
//
//   - Claude Code 2.1.332: digits pick an option at once. Permission: 1 allows
//     once, 2 allows always (Write/Edit: switch to accept edits for the
//     session; Bash: always allow that access from this project), Esc
//     rejects ("Interrupted · What should Claude do instead?"; the last
//     option, No, does the same). Trust has no digits; its default is
//     "No, exit", Down wraps around: from the default, Down Enter trusts;
//     Enter or Esc exits (codes 1 and 0). 2.1.197 (npm's pick on Node 20)
//     numbers its trust options, "Yes" first and selected: Enter trusts.
//   - Codex 0.171.0: permission shortcuts y (once), p (don't ask again for
//     commands that start with this one), Esc (cancel; the turn ends).
//     In trust and hooks review a digit only moves the selection: digit,
//     Enter. Trust: 1 Enter trusts, Esc goes back to the Agent Command
//     Center. Hooks: 2 Enter trusts them all (they run), 3 Enter goes on
//     without them. Login: Enter starts "Sign in with ChatGPT" in the browser.
//   - Gemini CLI 0.61.0: digits pick at once. Permission: 1 once, 2 for this
//     session, Esc rejects ("Request cancelled."). Trust: 1 trusts the
//     folder, 3 goes on untrusted. Auth: 1 starts Sign in with Google.
//   - opencode 1.18.33: Enter takes the selected choice (Allow once);
//     Right Enter asks to confirm "Always allow" (the patterns, until
//     opencode restarts), Enter confirms; Esc rejects and ends the turn.
//     Without a provider its home screen tips "/connect", which opens the
//     provider list when typed, then Enter in a separate write.
var builtinPrompts = []promptDef{
	{
		// 2.1.332 lists "❯ No, exit" first and "Yes, I trust this folder"
		// below it, without numbers; 2.1.197 (what npm picks on Node 20)
		// numbers them the other way round: "❯ 1. Yes, I trust this
		// folder", "2. No, exit". The options are read from the screen
		// and picked by meaning.
		agent: "claude", name: "claude-trust", kind: PromptTrust,
		ask:         `Is this a project you created or one you trust\?`,
		choices:     map[string]string{AnswerAllow: `Yes, I trust this folder$`, AnswerReject: `No, exit$`},
		pick:        pickArrows,
		withSubject: true,
		subjects:    []subjectRule{{`^Accessing workspace:\n+(\S.*)$`, "$1"}},
		above:       6,
	},
	{
		agent: "claude", name: "claude-permission-write", kind: PromptPermission,
		ask:      `^Do you want to create (.+)\?$`,
		options:  []string{`^(❯ )?1\. Yes$`, `^(❯ )?\d\. No$`},
		subjects: []subjectRule{{`^Do you want to create (.+)\?$`, "Write $1"}},
		keys:     claudePermissionKeys,
	},
	{
		agent: "claude", name: "claude-permission-edit", kind: PromptPermission,
		ask:      `^Do you want to make this edit to (.+)\?$`,
		options:  []string{`^(❯ )?1\. Yes$`, `^(❯ )?\d\. No$`},
		subjects: []subjectRule{{`^Do you want to make this edit to (.+)\?$`, "Edit $1"}},
		keys:     claudePermissionKeys,
	},
	{
		// Bash, and other tools that ask "Do you want to proceed?" (their
		// subject is not recognised).
		agent: "claude", name: "claude-permission-bash", kind: PromptPermission,
		ask:         `^Do you want to proceed\?$`,
		options:     []string{`^(❯ )?1\. Yes$`, `^(❯ )?\d\. No$`},
		withSubject: true,
		subjects:    []subjectRule{{`^Bash command$(?:\n.*)*?\n╌+\n(.+)$`, "Run `$1`"}},
		above:       12,
		keys:        claudePermissionKeys,
	},
	{
		agent: "codex", name: "codex-login", kind: PromptLogin,
		ask:      `^Choose how you want to use Codex\.$`,
		options:  []string{`Sign in with ChatGPT$`, `^Press enter to continue$`},
		question: "Sign in to Codex (with ChatGPT, a device code, or another way)",
		keys:     map[string][]string{AnswerAllow: {keyEnter}},
	},
	{
		agent: "codex", name: "codex-trust", kind: PromptTrust,
		ask:         `^Trust this folder\?`,
		options:     []string{`1\. Trust and continue$`},
		question:    "Trust this folder?",
		withSubject: true,
		subjects:    []subjectRule{{`^Folder access\n+(\S.*)$`, "$1"}},
		above:       4,
		keys:        map[string][]string{AnswerAllow: {"1" + keyEnter}, AnswerReject: {keyEsc}},
	},
	{
		// Allow picks "Trust all and continue": Codex then records a
		// trusted_hash per hook in $CODEX_HOME/config.toml, which for a
		// session is studiod's Codex home for the repository (codexhome.go),
		// never the person's. The question says so before anyone answers.
		agent: "codex", name: "codex-hooks-review", kind: PromptTrust,
		ask:         `^Hooks need review$`,
		options:     []string{`1\. Review hooks$`, `2\. Trust all and continue$`},
		question:    "Hooks need review: allow trusts studiod's hooks for this repository (Codex records them in studiod's own Codex home for it, not in your ~/.codex); reject goes on without them",
		withSubject: true,
		subjects:    []subjectRule{{`^(\d+ hooks? (?:is|are) new or changed)\.?$`, "$1"}},
		keys:        map[string][]string{AnswerAllow: {"2" + keyEnter}, AnswerReject: {"3" + keyEnter}},
	},
	{
		agent: "codex", name: "codex-permission", kind: PromptPermission,
		ask:         `^Would you like to run the following command\?$`,
		options:     []string{`1\. Yes, proceed \(y\)$`},
		withSubject: true,
		subjects:    []subjectRule{{`^\$ (.+)$`, "Run `$1`"}},
		keys:        map[string][]string{AnswerAllow: {"y"}, AnswerAlways: {"p"}, AnswerReject: {keyEsc}},
	},
	{
		agent: "gemini", name: "gemini-trust", kind: PromptTrust,
		ask:         `^Do you trust the files in this folder\?$`,
		choices:     map[string]string{AnswerAllow: `\d\. Trust folder\b`, AnswerReject: `\d\. Don't trust$`},
		pick:        pickDigit,
		withSubject: true,
		subjects:    []subjectRule{{`\d\. Trust folder \((.+)\)$`, "$1"}},
	},
	{
		agent: "gemini", name: "gemini-auth", kind: PromptLogin,
		ask:     `How would you like to authenticate for this project\?$`,
		options: []string{`1\. Sign in with Google$`},
		keys:    map[string][]string{AnswerAllow: {"1"}},
	},
	{
		agent: "gemini", name: "gemini-permission", kind: PromptPermission,
		ask:         `^Apply this change\?$`,
		options:     []string{`1\. Allow once$`},
		choices:     geminiPermissionChoices,
		pick:        pickDigit,
		withSubject: true,
		subjects:    []subjectRule{{`^\? (\S+)\s+(.+)$`, "$1: $2"}},
		above:       optionRows * 2,
		keys:        map[string][]string{AnswerReject: {keyEsc}},
	},
	{
		agent: "gemini", name: "gemini-permission-shell", kind: PromptPermission,
		ask:         `^Allow execution of (.+)\?$`,
		options:     []string{`1\. Allow once$`},
		choices:     geminiPermissionChoices,
		pick:        pickDigit,
		withSubject: true,
		subjects:    []subjectRule{{`^\? Shell\s+(.+)$`, "Run `$1`"}, {`^\? (\S+)\s+(.+)$`, "$1: $2"}},
		above:       optionRows,
		keys:        map[string][]string{AnswerReject: {keyEsc}},
	},
	{
		agent: "opencode", name: "opencode-permission", kind: PromptPermission,
		ask:         `^△ Permission required$`,
		options:     []string{`^Allow once\s+Allow always\s+Reject\b`},
		question:    "Permission required",
		withSubject: true,
		subjects:    []subjectRule{{`^\$ (.+)$`, "Run `$1`"}, {`^→ (.+)$`, "$1"}},
		keys:        map[string][]string{AnswerAllow: {keyEnter}, AnswerAlways: {keyRight + keyEnter + keyEnter}, AnswerReject: {keyEsc}},
	},
	{
		agent: "opencode", name: "opencode-login", kind: PromptLogin,
		ask:      `Run /connect to add an AI provider`,
		question: "opencode has no AI provider: run /connect to add one",
		keys:     map[string][]string{AnswerAllow: {"/connect", keyEnter}},
	},
}

// takenMarks are rows an agent's screen shows once it has taken a prompt
// and begun a turn, by the agent's screen kind. opencode heads each answer
// with "▣  Build · <model>" as its turn starts; until then a prompt given
// on its command line sits in its input box, while it starts (which can
// take a minute, silently), and no such row shows.
var takenMarks = map[string]*regexp.Regexp{
	"opencode": regexp.MustCompile(`^▣\s+\S`),
}

// showsTaken reports whether the screen of an agent of kind agent shows
// that it has taken a prompt; ok is false when its kind has no such mark.
func showsTaken(agent string, screen []string) (taken, ok bool) {
	re := takenMarks[agent]
	if re == nil {
		return false, false
	}
	return slices.ContainsFunc(screen, func(r string) bool { return re.MatchString(cleanRow(r)) }), true
}

var (
	claudePermissionKeys = map[string][]string{AnswerAllow: {"1"}, AnswerAlways: {"2"}, AnswerReject: {keyEsc}}
	// Gemini CLI offers "Allow for this session" only in some folders
	// (not right after it was trusted): always is offered when it does.
	geminiPermissionChoices = map[string]string{AnswerAllow: `\d\. Allow once$`, AnswerAlways: `\d\. Allow for this session$`}
)

// compiledPrompt is a promptDef with its expressions compiled.
type compiledPrompt struct {
	*promptDef
	ask      *regexp.Regexp
	options  []*regexp.Regexp
	subjects []*regexp.Regexp
	choices  map[string]*regexp.Regexp
}

var compiledPrompts = compilePrompts(builtinPrompts)

func compilePrompts(defs []promptDef) []compiledPrompt {
	out := make([]compiledPrompt, len(defs))
	for i := range defs {
		d := &defs[i]
		c := compiledPrompt{promptDef: d, ask: regexp.MustCompile(d.ask)}
		for _, o := range d.options {
			c.options = append(c.options, regexp.MustCompile(o))
		}
		for _, s := range d.subjects {
			c.subjects = append(c.subjects, regexp.MustCompile("(?m)"+s.re))
		}
		if len(d.choices) > 0 {
			c.choices = map[string]*regexp.Regexp{}
			for a, re := range d.choices {
				c.choices[a] = regexp.MustCompile(re)
			}
		}
		out[i] = c
	}
	return out
}

// matchPrompt finds the built-in prompt that agent (a profile's hook kind)
// shows on screen, the rows of its rendered terminal.
func matchPrompt(agent string, screen []string) (Prompt, bool) {
	rows := make([]string, len(screen))
	for i, r := range screen {
		rows[i] = cleanRow(r)
	}
	var best *compiledPrompt
	bestRow, bestEnd := -1, 0
	var bestAsk []int
	for i := range compiledPrompts {
		c := &compiledPrompts[i]
		if c.agent != agent {
			continue
		}
		row, end, ask := c.find(rows)
		if row > bestRow {
			best, bestRow, bestEnd, bestAsk = c, row, end, ask
		}
	}
	if best == nil {
		return Prompt{}, false
	}
	subject := best.subject(rows[max(0, bestRow-best.above) : bestEnd+1])
	q := best.question
	if q == "" {
		q = "$0"
	}
	question := string(best.ask.ExpandString(nil, q, rows[bestRow], bestAsk))
	if best.withSubject && subject != "" {
		question += " (" + subject + ")"
	}
	keys := make(map[string][]string, len(best.keys))
	for k, v := range best.keys {
		keys[k] = slices.Clone(v)
	}
	menu := rows[bestRow+1 : min(len(rows), bestRow+1+optionRows)]
	for a, re := range best.choices {
		if k := pickKeys(menu, re, best.pick); k != nil {
			keys[a] = k
		}
	}
	return Prompt{Agent: best.agent, Name: best.name, Kind: best.kind, Question: question, Subject: subject, Keys: keys}, true
}

// find returns the lowest row where the prompt is asked with its options
// below it, the row of its last option, and the ask match; row is -1 when
// the screen does not show it.
func (c *compiledPrompt) find(rows []string) (row, end int, ask []int) {
	for i := len(rows) - 1; i >= 0; i-- {
		m := c.ask.FindStringSubmatchIndex(rows[i])
		if m == nil {
			continue
		}
		if end, ok := c.optionsBelow(rows, i); ok {
			return i, end, m
		}
	}
	return -1, 0, nil
}

func (c *compiledPrompt) optionsBelow(rows []string, at int) (end int, ok bool) {
	end = at
	limit := min(len(rows), at+1+optionRows)
	if len(c.options) == 0 {
		for _, re := range c.choices {
			j := at + 1
			for ; j < limit && !re.MatchString(rows[j]); j++ {
			}
			if j >= limit {
				return 0, false
			}
			end = max(end, j)
		}
		return end, true
	}
	for _, o := range c.options {
		j := end + 1
		for ; j < limit && !o.MatchString(rows[j]); j++ {
		}
		if j >= limit {
			return 0, false
		}
		end = j
	}
	return end, true
}

func (c *compiledPrompt) subject(window []string) string {
	text := strings.Join(window, "\n")
	for i, re := range c.subjects {
		ms := re.FindAllStringSubmatchIndex(text, -1)
		if len(ms) == 0 {
			continue
		}
		m := ms[len(ms)-1]
		return strings.TrimSpace(string(re.ExpandString(nil, c.promptDef.subjects[i].as, text, m)))
	}
	return ""
}

// cleanRow removes a row's surrounding blanks and the borders of the boxes
// agents draw their prompts in (Gemini CLI nests them).
func cleanRow(r string) string {
	return strings.TrimFunc(r, func(c rune) bool {
		return c == ' ' || c == '\u00a0' || strings.ContainsRune("│┃║▌▐", c)
	})
}

// menuItem is one option of a menu as drawn: "❯ 2. No, exit".
var menuItem = regexp.MustCompile(`^([❯›>●])?\s*(?:(\d+)\.\s+)?(\S.*)$`)

// pickKeys returns what to type, write by write, to choose the option
// whose label matches label in a menu drawn on rows (cleaned), as style
// says; nil when the menu does not show it. The menu is the run of non-blank rows around
// the option; its selection is the row marked with a cursor (❯, › or
// Gemini CLI's ●), else its first row.
func pickKeys(rows []string, label *regexp.Regexp, style pickStyle) []string {
	at := slices.IndexFunc(rows, label.MatchString)
	if at < 0 {
		return nil
	}
	first, last := at, at
	for first > 0 && strings.TrimSpace(rows[first-1]) != "" {
		first--
	}
	for last+1 < len(rows) && strings.TrimSpace(rows[last+1]) != "" {
		last++
	}
	cursor := first
	for i := first; i <= last; i++ {
		if m := menuItem.FindStringSubmatch(rows[i]); m != nil && m[1] != "" {
			cursor = i
		}
	}
	num := ""
	if m := menuItem.FindStringSubmatch(rows[at]); m != nil {
		num = m[2]
	}
	// The moves and Enter go in separate writes: an agent may take keys
	// that arrive together in an order of its own (Claude Code 2.1.197
	// confirms the selection before moving it).
	switch {
	case style == pickDigit && num != "":
		return []string{num}
	case style == pickDigitEnter && num != "":
		return []string{num, keyEnter}
	case at > cursor:
		return []string{strings.Repeat(keyDown, at-cursor), keyEnter}
	case at < cursor:
		return []string{strings.Repeat(keyUp, cursor-at), keyEnter}
	default:
		return []string{keyEnter}
	}
}
