package plan

import (
	"fmt"
	"slices"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/workspace"
)

// coupledRepo has a history in which server/api.go and client/http.go
// change together, and the docs on their own.
func coupledRepo(t *testing.T) string {
	t.Helper()
	dir := gittest.NewRepo(t, map[string]string{"go.mod": "1"})
	for _, f := range []string{"server/api.go", "server/handlers/h.go", "client/http.go", "docs/a.md"} {
		gittest.Write(t, dir, map[string]string{f: "1"})
		gittest.Commit(t, dir, "add "+f)
	}
	for i := range 4 {
		gittest.Write(t, dir, map[string]string{"server/api.go": fmt.Sprint(i), "client/http.go": fmt.Sprint(i)})
		gittest.Commit(t, dir, "api and client")
	}
	for i := range 3 {
		gittest.Write(t, dir, map[string]string{"docs/a.md": fmt.Sprint(i)})
		gittest.Commit(t, dir, "docs")
	}
	// A mass edit says nothing about coupling.
	files := map[string]string{"docs/a.md": "x", "server/api.go": "x"}
	for i := range DefaultMaxCommitFiles {
		files[fmt.Sprintf("gen/f%d", i)] = "x"
	}
	gittest.Write(t, dir, files)
	gittest.Commit(t, dir, "mass edit")
	return dir
}

func TestCheck(t *testing.T) {
	dir := coupledRepo(t)
	p, err := Parse([]byte(`
[[task]]
name = "api"
scope = ["server/**"]
[[task]]
name = "client"
scope = ["client/**"]
[[task]]
name = "docs"
scope = ["docs/**"]
[[task]]
name = "handlers"
scope = ["server/handlers/**"]
[[task]]
name = "later"
scope = ["client/**"]
after = ["client"]
[[task]]
name = "misc"
`))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Check(t.Context(), &workspace.Git{Env: gittest.Env}, dir, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Commits != 13 || rep.Skipped != 1 {
		t.Errorf("read %d commits, %d skipped; want 13, 1", rep.Commits, rep.Skipped)
	}
	pair := func(a, b string) *Pair {
		for i := range rep.Pairs {
			if rep.Pairs[i].A == a && rep.Pairs[i].B == b {
				return &rep.Pairs[i]
			}
		}
		return nil
	}
	// The scopes do not overlap; the history couples them.
	ac := pair("api", "client")
	if ac == nil || ac.Risk != RiskCoupled || ac.CoChange != 4 || ac.Overlaps != 0 {
		t.Fatalf("api/client = %+v, want coupled by 5 commits ", ac)
	}
	if want := (PathPair{A: "server/api.go", B: "client/http.go", Commits: 4}); len(ac.Evidence) == 0 || ac.Evidence[0] != want {
		t.Errorf("evidence %+v, want first %+v", ac.Evidence, want)
	}
	if ah := pair("api", "handlers"); ah == nil || ah.Risk != RiskOverlap || !slices.Equal(ah.Overlap, []string{"server/handlers/h.go"}) {
		t.Errorf("api/handlers = %+v, want overlap on server/handlers/h.go", ah)
	}
	if cl := pair("client", "later"); cl == nil || cl.Risk != RiskOverlap || cl.Ordered != "later is after client" {
		t.Errorf("client/later = %+v, want an overlap the plan orders", cl)
	}
	if pair("api", "docs") != nil || pair("docs", "client") != nil {
		t.Errorf("docs paired with something: %+v", rep.Pairs)
	}
	if !rep.Tasks[5].Unscoped || rep.Tasks[0].Files != 2 || rep.Tasks[0].Commits != 6 {
		t.Errorf("tasks %+v", rep.Tasks)
	}
	steps := map[string]Step{}
	for _, s := range rep.Order {
		steps[s.Task] = s
	}
	for name, want := range map[string]int{"api": 1, "docs": 1, "misc": 1, "client": 2, "handlers": 2, "later": 3} {
		if steps[name].Wave != want {
			t.Errorf("%s in wave %d, want %d (order %+v)", name, steps[name].Wave, want, rep.Order)
		}
	}
	if w := steps["client"].Waits; len(w) != 1 || w[0].Task != "api" || w[0].Declared {
		t.Errorf("client waits %+v, want a proposed wait for api", w)
	}
	if w := steps["later"].Waits; len(w) != 1 || w[0].Task != "client" || !w[0].Declared {
		t.Errorf("later waits %+v, want its declared after", w)
	}
}

func TestCheckNoHistory(t *testing.T) {
	dir := t.TempDir()
	gittest.Git(t, dir, "init", "-q", "-b", "main")
	p, _ := Parse([]byte("[[task]]\nname = \"a\"\nscope = [\"x/**\"]\n[[task]]\nname = \"b\"\nscope = [\"x/y/**\"]\n"))
	rep, err := Check(t.Context(), &workspace.Git{Env: gittest.Env}, dir, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Commits != 0 || len(rep.Pairs) != 1 || rep.Pairs[0].Overlap[0] != "x/** covers x/y/**" {
		t.Errorf("report %+v, want no history and the scopes' nesting", rep)
	}
}

func TestCheckNotARepo(t *testing.T) {
	p, _ := Parse([]byte("[[task]]\nname = \"a\"\n"))
	if _, err := Check(t.Context(), &workspace.Git{Env: gittest.Env}, t.TempDir(), p, Options{}); err == nil {
		t.Error("Check outside a repository succeeded")
	}
}
