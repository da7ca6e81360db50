package plan

import (
	"strings"
	"testing"
)

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name, plan string
		want       []string // each must appear in the error
	}{
		{"empty", ``, []string{"no tasks"}},
		{"toml", "[[task]]\nname = \n", []string{"line 2"}},
		{"unknown key", "[[task]]\nname = \"a\"\nafterr = [\"b\"]\n", []string{`unknown key "task.afterr"`}},
		{"no name", "[[task]]\nprompt = \"x\"\n", []string{"task 1 has no name"}},
		{"invalid name", "[[task]]\nname = \"Api Work\"\n", []string{`task name "Api Work" is invalid`}},
		{"duplicate", "[[task]]\nname = \"a\"\n[[task]]\nname = \"a\"\n", []string{`two tasks are named "a"`}},
		{"unknown after", "[[task]]\nname = \"a\"\nafter = [\"b\"]\n", []string{`task "a": after names "b", which is no task`}},
		{"unknown stack", "[[task]]\nname = \"a\"\nstack = \"b\"\n", []string{`stack names "b"`}},
		{"unknown reviews", "[[task]]\nname = \"a\"\nreviews = \"b\"\n", []string{`reviews names "b"`}},
		{"reviews itself", "[[task]]\nname = \"a\"\nreviews = \"a\"\n", []string{"a reviewer cannot review itself"}},
		{"after itself", "[[task]]\nname = \"a\"\nafter = [\"a\"]\n", []string{`task "a" is after itself`}},
		{"after and stack", "[[task]]\nname = \"a\"\n[[task]]\nname = \"b\"\n[[task]]\nname = \"c\"\nafter = [\"a\"]\nstack = \"b\"\n", []string{`task "c" is both after a and stacked on "b"`}},
		{"two runners", "[[task]]\nname = \"a\"\nagent = \"claude\"\ncommand = [\"sh\"]\n", []string{"more than one of agent, role and command"}},
		{"scope outside", "[[task]]\nname = \"a\"\nscope = [\"../other/**\"]\n", []string{`scope "../other/**" leaves the repository`}},
		{"scope absolute", "[[task]]\nname = \"a\"\nscope = [\"/etc/**\"]\n", []string{`scope "/etc/**": give a glob relative`}},
		{"scope glob", "[[task]]\nname = \"a\"\nscope = [\"web/[\"]\n", []string{"not a valid glob"}},
		{"cycle", "[[task]]\nname = \"a\"\nafter = [\"c\"]\n[[task]]\nname = \"b\"\nstack = \"a\"\n[[task]]\nname = \"c\"\nreviews = \"b\"\n", []string{"cycle: a → c → b → a"}},
		{"all problems", "[[task]]\nname = \"a\"\nafter = [\"x\"]\n[[task]]\nname = \"B\"\n", []string{"2 problems", `"x"`, `"B"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.plan))
			if err == nil {
				t.Fatalf("Parse accepted the plan: %+v", p)
			}
			if _, ok := err.(*Error); !ok {
				t.Errorf("error is %T, want *plan.Error", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestParse(t *testing.T) {
	p, err := Parse([]byte(`
[plan]
require_review = true

[[task]]
name = "api"
prompt = "Add rate limiting to the API"
agent = "claude"
scope = ["server/**"]

[[task]]
name = "client"
prompt = "Use the headers"
scope = ["client/**"]
after = ["api"]

[[task]]
name = "api-tests"
role = "tester"
stack = "api"

[[task]]
name = "api-review"
role = "reviewer"
reviews = "api"
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tasks) != 4 || p.Tasks[1].After[0] != "api" || p.Tasks[2].Stack != "api" || p.Tasks[3].Reviews != "api" || !p.NeedsReview(&p.Tasks[0]) {
		t.Fatalf("parsed %+v", p)
	}
	if got, want := strings.Join(p.Topo(), " "), "api client api-tests api-review"; got != want {
		t.Errorf("Topo = %q, want %q", got, want)
	}
}
