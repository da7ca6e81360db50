import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { groupByPlan, PlanStore, renderPlan, renderTask, renderTaskRow, reviewers } from "../../src/plans";
import { Plan, PlanTask } from "../../src/protocol";
import { session } from "./util";

function plan(tasks: PlanTask[], over: Partial<Plan> = {}): Plan {
    return { id: "p1", repo: "/src/app", file: "/src/app/plan.toml", target: "main", state: "running", tasks, created: "2026-01-01T00:00:00Z", ...over };
}

// The plan of issue 21: two tasks in parallel, one after, one stacked, a reviewer.
const api: PlanTask = { name: "api", state: "started", session: "s-api", sessionState: "working" as PlanTask["sessionState"] };
const web: PlanTask = { name: "web", state: "started", session: "s-web" };
const client: PlanTask = { name: "client", state: "waiting", after: ["api"], detail: "waits for api to land" };
const tests: PlanTask = { name: "api-tests", state: "waiting", stack: "api" };
const review: PlanTask = { name: "api-review", state: "started", session: "s-rev", reviews: "api" };

describe("groupByPlan", () => {
    test("a plan's tasks keep its order, with their sessions; other sessions stay outside", () => {
        const sessions = [
            session({ id: "s-rev", name: "api-review" }),
            session({ id: "s-api", name: "api" }),
            session({ id: "s-solo", name: "solo" }),
            session({ id: "s-web", name: "web" }),
        ];
        const { groups, loose } = groupByPlan([plan([api, web, client, tests, review])], sessions);
        assert.equal(groups.length, 1);
        assert.deepEqual(
            groups[0]!.tasks.map((t) => [t.task.name, t.session?.name]),
            [["api", "api"], ["web", "web"], ["client", undefined], ["api-tests", undefined], ["api-review", "api-review"]],
        );
        assert.deepEqual(loose.map((s) => s.name), ["solo"]);
    });

    test("an ended plan is shown while one of its sessions is in the view", () => {
        const done = plan([{ ...api, state: "landed" }], { state: "done" });
        assert.equal(groupByPlan([done], [session({ id: "s-api", name: "api" })]).groups.length, 1);
        const r = groupByPlan([done], [session({ id: "other" })]);
        assert.equal(r.groups.length, 0);
        assert.equal(r.loose.length, 1);
    });

    test("a running plan whose tasks have not started is shown", () => {
        assert.equal(groupByPlan([plan([client])], []).groups.length, 1);
    });
});

describe("renderTask", () => {
    const pl = plan([api, web, client, tests, review]);
    test("what a task waits for, what it is stacked on, what it reviews", () => {
        assert.equal(renderTask(client, pl).description, "after api");
        assert.match(renderTask(client, pl).tooltip, /waits for api to land/);
        assert.equal(renderTask(tests, pl).description, "stacked on api");
        assert.equal(renderTask(review, pl).description, "reviews api");
        assert.equal(renderTask(web, pl).description, "");
    });

    test("who reviews a task and whether it is reviewed", () => {
        // The plan names the reviewer before it has started.
        assert.deepEqual(reviewers(api, pl), ["api-review"]);
        assert.equal(renderTask(api, pl).description, "unreviewed");
        assert.match(renderTask(api, pl).tooltip, /to be reviewed by api-review/);
        const inReview = { ...api, reviewedBy: ["api-review"] };
        assert.equal(renderTask(inReview, pl).description, "in review");
        const reviewed = { ...api, reviewedBy: ["api-review", "extra"], reviewed: true };
        assert.equal(renderTask(reviewed, pl).description, "reviewed ✓");
        assert.match(renderTask(reviewed, pl).tooltip, /^reviewed by api-review, extra$/m);
        assert.match(renderTask(reviewed, pl).accessibility, /reviewed by api-review, extra/);
    });
});

describe("renderTaskRow", () => {
    const pl = plan([api, client, { name: "gone", state: "failed", detail: "its spawn failed: no such profile" }]);
    test("a waiting task shows what it waits for", () => {
        const v = renderTaskRow(client, pl);
        assert.equal(v.label, "client");
        assert.equal(v.description, "after api");
        assert.equal(v.icon, "clock");
        assert.equal(v.contextValue, "task:waiting");
        assert.match(v.tooltip, /^client: waiting$/m);
    });
    test("an ended task says how it ended and why", () => {
        const v = renderTaskRow(pl.tasks[2]!, pl);
        assert.equal(v.description, "failed");
        assert.equal(v.icon, "error");
        assert.match(v.tooltip, /its spawn failed/);
    });
});

describe("renderPlan", () => {
    test("the plan's file, state and progress", () => {
        const v = renderPlan(plan([{ ...api, state: "landed" }, client, { ...web, state: "failed" }]));
        assert.equal(v.label, "plan plan.toml");
        assert.equal(v.description, "running · 1 of 3 landed · 1 failed");
        assert.equal(v.contextValue, "plan:running");
        assert.equal(renderPlan(plan([], { file: undefined })).label, "plan p1");
    });
});

describe("PlanStore", () => {
    test("reports a change only when the plans differ", () => {
        const s = new PlanStore();
        assert.equal(s.reset([plan([client])]), true);
        assert.equal(s.reset([plan([client])]), false);
        assert.equal(s.reset([plan([{ ...client, state: "started", session: "x" }])]), true);
        assert.equal(s.all().length, 1);
    });
});
