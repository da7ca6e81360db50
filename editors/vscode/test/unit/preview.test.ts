import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Preview, PreviewSession } from "../../src/protocol";
import { behindText, PreviewStore, previewSummary, renderPreview } from "../../src/preview";
import { renderSession } from "../../src/render";
import { session } from "./util";

function ps(over: Partial<PreviewSession> = {}): PreviewSession {
    return { session: "auth", id: "s1", state: "idle", commit: "c1", status: "clean", position: 1, ...over };
}

function preview(over: Partial<Preview> = {}): Preview {
    return {
        repo: "/src/app",
        target: "main",
        tip: "t",
        generation: 1,
        computed: "2026-01-01T00:00:00Z",
        durationMs: 3,
        sessions: [
            ps(),
            ps({ session: "api", id: "s2", status: "conflict", position: 0, with: ["auth"], reason: "conflicts with auth in a.go (lines 3–5): once they have landed, `studiod sync api --send` gives the conflict to its agent" }),
        ],
        order: ["auth"],
        commit: "f",
        tree: "t",
        conflicts: [],
        ...over,
    };
}

describe("renderPreview", () => {
    const cases: { name: string; in: PreviewSession; check?: Preview["check"]; badge: string; tooltip: RegExp }[] = [
        { name: "first to land", in: ps(), badge: "lands #1", tooltip: /#1 in the landing order onto main/ },
        { name: "passed the check", in: ps({ position: 2, check: "passed" }), badge: "lands #2 ✓", tooltip: /check passed/ },
        {
            name: "while the check runs",
            in: ps(),
            check: { command: "make test", status: "running", started: "", tries: [] },
            badge: "lands #1 (checking…)",
            tooltip: /landing order/,
        },
        { name: "conflict", in: ps({ status: "conflict", position: 0, with: ["api"], reason: "conflicts with api in x.go (line 4)" }), badge: "held back: conflicts with api", tooltip: /x\.go \(line 4\)/ },
        { name: "conflict with the target", in: ps({ status: "conflict", position: 0, with: ["target"] }), badge: "held back: conflicts with target", tooltip: /^$/ },
        { name: "breaks the check with a partner", in: ps({ status: "breaks", position: 0, with: ["rename"], check: "failed" }), badge: "held back: breaks the check with rename", tooltip: /^$/ },
        { name: "nothing to land", in: ps({ status: "empty", position: 0, reason: "nothing to merge: main has all of it" }), badge: "nothing to land", tooltip: /nothing to merge/ },
    ];
    for (const c of cases) {
        test(c.name, () => {
            const v = renderPreview(c.in, { target: "main", ...(c.check ? { check: c.check } : {}) });
            assert.ok(v);
            assert.equal(v.badge, c.badge);
            assert.match(v.tooltip, c.tooltip);
        });
    }
    test("no entry, no badge", () => assert.equal(renderPreview(undefined), undefined));
});

test("behindText", () => {
    assert.equal(behindText({ target: "main" }), "");
    assert.equal(behindText({ target: "main", behind: 3 }), "3 behind main");
    assert.equal(behindText({ target: "main", behind: 3, wouldConflict: true }), "3 behind main, would conflict");
});

test("a session behind its target says so, and offers Sync", () => {
    const v = renderSession(session({ state: "idle", behind: 2, wouldConflict: true }));
    assert.equal(v.description, "2 behind main, would conflict");
    assert.match(v.contextValue, /:behind/);
    assert.match(v.tooltip, /2 behind main, would conflict/);
    assert.doesNotMatch(renderSession(session({ state: "idle" })).contextValue, /:behind/);
});

describe("PreviewStore", () => {
    test("keeps the newest generation per repository", () => {
        const store = new PreviewStore();
        assert.ok(store.set(preview({ generation: 2 })));
        assert.ok(!store.set(preview({ generation: 1, order: [] })));
        assert.deepEqual(store.get("/src/app")?.order, ["auth"]);
        assert.equal(store.forSession({ id: "s2", repo: "/src/app" })?.status, "conflict");
        assert.equal(store.forSession({ id: "s2", repo: "/elsewhere" }), undefined);
    });
});

test("previewSummary", () => {
    assert.deepEqual(previewSummary(preview()), [
        "Landing order onto main: auth.",
        "api: conflicts with auth in a.go (lines 3–5): once they have landed, `studiod sync api --send` gives the conflict to its agent",
    ]);
    const checked = preview({ check: { command: "make test", status: "failed", started: "", tries: [], reason: "api breaks it" } });
    assert.equal(previewSummary(checked).at(-1), "Check `make test`: failed — api breaks it");
    assert.deepEqual(previewSummary(preview({ sessions: [], order: [] })), ["No session has work to land on main."]);
});
