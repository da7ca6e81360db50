package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/studiod/studiod/protocol"
)

// TestMCPPlan: an assistant checks a plan, runs it, reads its status and
// the studio://plan resource, and starts a reviewer; a plan with a command
// is refused, nothing started.
func TestMCPPlan(t *testing.T) {
	t.Parallel()
	e := newMCPEnv(t, "repo", false)
	const plan = "[[task]]\nname = \"api\"\nagent = \"demo\"\nprompt = \"Add rate limiting\"\nscope = [\"server/**\"]\n" +
		"[[task]]\nname = \"client\"\nagent = \"demo\"\nafter = [\"api\"]\nscope = [\"server/client/**\"]\n"

	var rep protocol.PlanReport
	wantOK(t, "plan_check", e.call("plan_check", map[string]any{"plan": plan}), &rep)
	if len(rep.Pairs) != 1 || rep.Pairs[0].Ordered != "client is after api" {
		t.Errorf("plan_check: %s", jsonString(rep))
	}
	r := e.call("plan_check", map[string]any{"plan": "[[task]]\nname = \"a\"\nreviews = \"a\"\n"})
	if !r.IsError || !strings.Contains(resultText(r), "a reviewer cannot review itself") {
		t.Errorf("plan_check of a self-review: %q", resultText(r))
	}

	r = e.call("plan_run", map[string]any{"plan": "[[task]]\nname = \"x\"\ncommand = [\"sh\"]\n"})
	if !r.IsError || !strings.Contains(resultText(r), "command tasks run only from the CLI") {
		t.Errorf("plan_run with a command: %q", resultText(r))
	}

	var pl protocol.Plan
	wantOK(t, "plan_run", e.call("plan_run", map[string]any{"plan": plan}), &pl)
	if len(pl.Tasks) != 2 || pl.Tasks[0].State != protocol.TaskStarted || pl.Tasks[1].State != protocol.TaskWaiting {
		t.Fatalf("plan_run: %s", jsonString(pl))
	}
	var st protocol.PlansResult
	r = e.call("plan_status", map[string]any{})
	wantOK(t, "plan_status", r, &st)
	if len(st.Plans) != 1 || !strings.Contains(resultText(r), "client waiting (waits for api to land)") {
		t.Errorf("plan_status: %q %s", resultText(r), jsonString(st))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rr, err := e.client.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: "studio://plan"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Contents) != 1 || !strings.Contains(rr.Contents[0].(mcp.TextResourceContents).Text, `"name": "client"`) {
		t.Errorf("studio://plan: %+v", rr.Contents)
	}

	var rv protocol.Session
	wantOK(t, "review_by", e.call("review_by", map[string]any{"session": "api", "agent": "demo"}), &rv)
	if rv.Name != "api-review" || rv.Reviews != "api" {
		t.Errorf("review_by: %s", jsonString(rv))
	}
	r = e.call("review_by", map[string]any{"session": "api", "agent": "command"})
	if !r.IsError {
		t.Errorf("review_by with the command profile succeeded")
	}
}
