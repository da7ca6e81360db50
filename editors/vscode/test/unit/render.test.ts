import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Conflict, Range, State } from "../../src/protocol";
import { changesText, formatRanges, inWorkspace, renderConflict, renderSession, sortSessions, stateIcon, statusText } from "../../src/render";
import { session } from "./util";

describe("renderSession", () => {
    // The row is the name and a short description that fits the default
    // sidebar width; the icon and its colour say the state.
    const cases = [
        {
            name: "working without changes",
            in: session(),
            description: "",
            icon: "sync~spin",
            color: "charts.blue",
            context: "session:working:live",
        },
        {
            name: "waiting with changes and conflicts",
            in: session({ state: "waiting", detail: "Proceed? [y/n]", changes: { files: 2, additions: 12, deletions: 3 }, conflicts: 1 }),
            description: "waiting +12 −3 ⚠ 1",
            icon: "bell-dot",
            color: "charts.yellow",
            context: "session:waiting:live:conflicts",
        },
        {
            name: "idle is not a plain circle",
            in: session({ state: "idle", changes: { files: 3, additions: 10, deletions: 3 } }),
            description: "+10 −3",
            icon: "debug-pause",
            color: "charts.green",
            context: "session:idle:live",
        },
        {
            name: "merged",
            in: session({ state: "merged", changes: { files: 1, additions: 1, deletions: 0 } }),
            description: "+1 −0",
            icon: "git-merge",
            color: "charts.purple",
            context: "session:merged",
        },
        {
            name: "failed with conflicts",
            in: session({ state: "failed", conflicts: 3 }),
            description: "failed ⚠ 3",
            icon: "error",
            color: "charts.red",
            context: "session:failed:conflicts",
        },
        {
            name: "exited with an error",
            in: session({ state: "exited", exitCode: 2 }),
            description: "exited 2",
            icon: "warning",
            color: "charts.orange",
            context: "session:exited",
        },
    ];
    for (const c of cases) {
        test(c.name, () => {
            const v = renderSession(c.in);
            assert.equal(v.label, "auth");
            assert.equal(v.description, c.description);
            assert.equal(v.icon, c.icon);
            assert.equal(v.color, c.color);
            assert.equal(v.contextValue, c.context);
        });
    }

    test("the row fits the default sidebar width; the tooltip has the rest", () => {
        const s = session({
            name: "rate-limit",
            state: "waiting",
            detail: "Proceed? [y/n]",
            changes: { files: 13, additions: 1240, deletions: 312 },
            conflicts: 12,
        });
        const v = renderSession(s);
        // About 35 characters fit next to the icon at the default width.
        assert.ok(v.label.length + 1 + v.description.length <= 35, `${v.label} ${v.description}`);
        for (const want of ["rate-limit (claude): waiting for input", "Proceed? [y/n]", "studio/auth → main", "13 files", "12 predicted conflicts"]) {
            assert.ok(v.tooltip.includes(want), `tooltip lacks ${want}: ${v.tooltip}`);
        }
        assert.match(v.accessibility, /session rate-limit, claude waiting for input, 13 files, 1240 added, 312 deleted/);
    });

    test("what the model used: the cost in the row, the tokens in the tooltip", () => {
        const none = renderSession(session({ state: "idle" }));
        assert.doesNotMatch(none.tooltip, /usage/);
        const v = renderSession(session({ state: "idle", usage: { input: 1245, output: 66, cacheRead: 9103, cacheWrite: 871, cost: 0.0213 } }));
        assert.equal(v.description, "$0.02");
        assert.ok(v.tooltip.includes("usage 11.2k in 66 out $0.02"), v.tooltip);
        assert.ok(v.tooltip.includes("model used 11219 tokens in (9103 read from the cache), 66 out, $0.0213"), v.tooltip);
        assert.match(v.accessibility, /model used 11219 tokens in/);
        const capped = renderSession(session({ state: "waiting", usage: { input: 900, output: 100, cacheRead: 0, cacheWrite: 0 }, budget: { tokens: 2000, text: "2k tokens", spent: 0.5 } }));
        assert.ok(capped.tooltip.includes("budget 2k tokens, 50% used"), capped.tooltip);
        // How full the model's context is, where the agent says.
        const full = renderSession(session({ state: "idle", usage: { input: 10, output: 1, cacheRead: 0, cacheWrite: 0, context: 150000, contextWindow: 200000 } }));
        assert.ok(full.tooltip.includes("usage 10 in 1 out ctx 75%"), full.tooltip);
        assert.ok(full.tooltip.includes("context 150000 of 200000 tokens"), full.tooltip);
        const unsized = renderSession(session({ state: "idle", usage: { input: 10, output: 1, cacheRead: 0, cacheWrite: 0, context: 5200 } }));
        assert.ok(unsized.tooltip.includes("usage 10 in 1 out ctx 5.2k"), unsized.tooltip);
        // No cost reported (Codex, Gemini CLI): the row stays as it was.
        const free = renderSession(session({ state: "idle", usage: { input: 950, output: 12, cacheRead: 0, cacheWrite: 0 } }));
        assert.equal(free.description, "");
        assert.ok(free.tooltip.includes("usage 950 in 12 out (model used 950 tokens in (0 read from the cache), 12 out)"), free.tooltip);
    });

    test("every state has its own icon and colour", () => {
        const looks = Object.values(State).map((s) => stateIcon(s));
        assert.equal(new Set(looks.map((l) => l.icon)).size, looks.length, JSON.stringify(looks));
        assert.equal(new Set(looks.map((l) => l.color)).size, looks.length, JSON.stringify(looks));
        assert.equal(stateIcon("bogus").icon, "question");
    });

    test("package.json menus match the context values", () => {
        // The regexes in package.json's view/item/context menus.
        assert.match(renderSession(session({ state: "idle" })).contextValue, /^session.*:live/);
        assert.doesNotMatch(renderSession(session({ state: "exited" })).contextValue, /^session.*:live/);
        assert.match(renderSession(session({ state: "merged" })).contextValue, /^session:merged/);
    });
});

test("changesText", () => {
    assert.equal(changesText(session()), "");
    assert.equal(changesText(session({ changes: { files: 1, additions: 0, deletions: 4 } })), "+0 −4 · 1 file");
});

test("statusText counts waiting sessions", () => {
    assert.deepEqual(statusText([]), { text: "$(hubot) 0", tooltip: "0 agent sessions" });
    const s = [session(), session({ id: "2", state: "waiting" }), session({ id: "3", state: "waiting" })];
    assert.deepEqual(statusText(s), { text: "$(hubot) 3 $(bell-dot) 2", tooltip: "3 agent sessions, 2 waiting for input" });
});

test("sortSessions puts waiting first, then live, then the rest", () => {
    const list = [
        session({ id: "a", name: "a", state: "merged", created: "1" }),
        session({ id: "b", name: "b", state: "working", created: "2" }),
        session({ id: "c", name: "c", state: "waiting", created: "3" }),
        session({ id: "d", name: "d", state: "idle", created: "0" }),
    ];
    assert.deepEqual(
        sortSessions(list).map((s) => s.name),
        ["c", "d", "b", "a"],
    );
});

test("inWorkspace", () => {
    const s = session({ repo: "/src/app", worktree: "/wt/app/auth" });
    assert.ok(inWorkspace(s, []));
    assert.ok(inWorkspace(s, ["/src/app"]));
    assert.ok(inWorkspace(s, ["/src/app/web"]));
    assert.ok(inWorkspace(s, ["/src"]));
    assert.ok(inWorkspace(s, ["/wt/app/auth"]));
    assert.ok(!inWorkspace(s, ["/src/application"]));
    assert.ok(!inWorkspace(s, ["/other"]));
});

test("formatRanges says lines as the Go faces do", () => {
    // The cases of protocol/ranges_test.go.
    const cases: [Range[], string][] = [
        [[], "the whole file"],
        [[{ start: 4, end: 4 }], "line 4"],
        [[{ start: 12, end: 14 }], "lines 12–14"],
        [[{ start: 12, end: 14 }, { start: 20, end: 20 }], "lines 12–14, 20"],
        [[{ start: 7, end: 6 }], "deletion before line 7"],
        [[{ start: 3, end: 3 }, { start: 7, end: 6 }], "lines 3, deletion before 7"],
    ];
    for (const [ranges, want] of cases) assert.equal(formatRanges(ranges), want);
});

test("renderConflict from one side", () => {
    const c: Conflict = {
        id: "x",
        repo: "/src/app",
        path: "auth.go",
        kind: "content",
        severity: "conflict",
        a: { session: "auth", path: "auth.go", file: "/wt/auth/auth.go", ranges: [{ start: 3, end: 7 }] },
        b: { session: "api", path: "auth.go", file: "/wt/api/auth.go", ranges: [{ start: 5, end: 5 }] },
    };
    assert.deepEqual(renderConflict(c, "auth"), { label: "auth.go", description: "content with api · lines 3–7" });
    assert.deepEqual(renderConflict(c, "api"), { label: "auth.go", description: "content with auth · line 5" });
    assert.deepEqual(renderConflict({ ...c, severity: "overlap", kind: "overlap" }), {
        label: "auth.go",
        description: "overlap with auth ↔ api · lines 3–7",
    });
});
