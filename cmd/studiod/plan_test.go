package main

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/studiod/studiod/internal/gittest"
	"github.com/studiod/studiod/protocol"
	"github.com/studiod/studiod/server"
	"github.com/studiod/studiod/workspace"
)

// TestPlanCheckOverDaemon: studio/planCheck answers what the CLI computes
// without a daemon, and refuses a structural error with the problems as
// data.
func TestPlanCheckOverDaemon(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, map[string]string{"a/x.go": "1", "b/y.go": "1"})
	for i := range 3 {
		gittest.Write(t, repo, map[string]string{"a/x.go": string(rune('2' + i)), "b/y.go": string(rune('2' + i))})
		gittest.Commit(t, repo, "both")
	}
	d := startDaemon(t, newHome(t))
	c := d.client(nil)
	text := "[[task]]\nname = \"a\"\nscope = [\"a/**\"]\n[[task]]\nname = \"b\"\nscope = [\"b/**\"]\n"
	got, err := c.PlanCheck(t.Context(), protocol.PlanCheckParams{Repo: repo, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	want, err := server.CheckPlan(t.Context(), &workspace.Git{}, protocol.PlanCheckParams{Repo: repo, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("daemon answered %+v, the CLI computes %+v", got, want)
	}
	if len(got.Pairs) != 1 || got.Pairs[0].Risk != protocol.PlanRiskCoupled || got.Order[1].Waits[0].Task != "a" {
		t.Errorf("report %+v, want a and b coupled, b waiting for a", got)
	}

	_, err = c.PlanCheck(t.Context(), protocol.PlanCheckParams{Repo: repo, Text: "[[task]]\nname = \"a\"\nreviews = \"a\"\n"})
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeInvalid {
		t.Fatalf("self-review: %v, want an invalid error", err)
	}
	var data struct{ Problems []string }
	if json.Unmarshal(pe.Data, &data) != nil || len(data.Problems) != 1 {
		t.Errorf("error data %s, want one problem", pe.Data)
	}
}
