import assert from "node:assert/strict";
import { test } from "node:test";
import { Buffer } from "node:buffer";
import { locate, findOnPath, BootstrapError, expandHome } from "../../src/bootstrap";
import { ConflictSet } from "../../src/conflicts";
import { OutputCursor } from "../../src/cursor";
import { Conflict } from "../../src/protocol";
import { SessionStore } from "../../src/sessions";
import { fromQuery, toQuery } from "../../src/uris";
import { session } from "./util";

function conflict(id: string, path: string, a = "auth", b = "api"): Conflict {
    return {
        id,
        repo: "/src/app",
        path,
        kind: "content",
        severity: "conflict",
        a: { session: a, path, file: `/wt/${a}/${path}`, ranges: [{ start: 1, end: 2 }] },
        b: { session: b, path, file: `/wt/${b}/${path}`, ranges: [{ start: 2, end: 3 }] },
    };
}

test("ConflictSet applies conflictsChanged deltas", () => {
    const set = new ConflictSet();
    set.reset([conflict("1", "a.go"), conflict("2", "b.go")]);

    let touched = set.apply({ added: [conflict("3", "c.go", "auth", "target")] });
    assert.deepEqual([...touched], ["c.go"]);
    assert.equal(set.size, 3);

    // An update that moves the conflict touches both paths.
    touched = set.apply({ updated: [conflict("1", "a2.go")] });
    assert.deepEqual([...touched].sort(), ["a.go", "a2.go"]);
    assert.deepEqual(set.all().map((c) => c.path), ["a2.go", "b.go", "c.go"]);

    touched = set.apply({ resolved: ["2", "unknown"] });
    assert.deepEqual([...touched], ["b.go"]);
    assert.deepEqual(set.all().map((c) => c.id), ["1", "3"]);

    // An update of an unknown conflict adds it (heals a missed notification).
    set.apply({ updated: [conflict("9", "z.go", "web", "api")] });
    assert.equal(set.size, 3);

    assert.deepEqual(set.forSession("auth").map((c) => c.id), ["1", "3"]);
    assert.deepEqual(set.forSession("api").map((c) => c.id), ["1", "9"]);
    assert.deepEqual(set.forSession("auth", "/other/repo"), []);
    assert.deepEqual(Object.fromEntries(set.counts()), { auth: 2, api: 2, target: 1, web: 1 });

    // Added and resolved in one delta: resolve first, then add.
    set.apply({ resolved: ["1"], added: [conflict("1", "again.go")] });
    assert.deepEqual(set.forSession("auth").map((c) => c.path), ["again.go", "c.go"]);
});

test("SessionStore tracks previous records and forgets removed sessions", () => {
    const st = new SessionStore();
    st.reset([session(), session({ id: "gone", state: "removed" })]);
    assert.equal(st.all().length, 1);
    const prev = st.upsert(session({ state: "waiting" }));
    assert.equal(prev?.state, "working");
    assert.equal(st.get("auth")?.state, "waiting");
    assert.equal(st.get("s1")?.state, "waiting");
    assert.deepEqual(st.byPath("/home/u/.local/state/studiod/worktrees/app/auth/src/x.go")?.path, "src/x.go");
    assert.equal(st.byPath("/home/u/.local/state/studiod/worktrees/app/authx/y"), undefined);
    st.upsert(session({ state: "removed" }));
    assert.equal(st.all().length, 0);
});

test("studio: URI query round-trips", () => {
    const ref = { session: "s 1&x", path: "dir/a b.go", version: "base" as const };
    const q = toQuery(ref, "/wt/auth");
    // The path is the worktree file's, as the file: URI of the other side
    // of a diff has it: VS Code takes the pair for one resource.
    assert.equal(q.path, "/wt/auth/dir/a b.go");
    assert.deepEqual(fromQuery(q.path, q.query), ref);
    // Older URIs carried the relative path as the URI's path.
    assert.deepEqual(fromQuery("/dir/a b.go", "session=s+1%26x&version=base"), ref);
    assert.equal(fromQuery("/x", "session=s&version=bogus"), undefined);
    assert.equal(fromQuery("/x", "version=base"), undefined);
});

test("OutputCursor drops repeated bytes and reports gaps", () => {
    const c = new OutputCursor(10);
    const b = (s: string) => Buffer.from(s);
    assert.equal(Buffer.from(c.take(10, b("abc")).bytes).toString(), "abc");
    assert.equal(c.next, 13);
    assert.equal(Buffer.from(c.take(11, b("bcde")).bytes).toString(), "de"); // overlap
    assert.equal(c.take(12, b("cd")).bytes.length, 0); // all seen
    const gap = c.take(20, b("z"));
    assert.ok(gap.gap);
    assert.equal(c.next, 21);
});

test("locate: setting, then PATH, with actionable errors", () => {
    const exe = (p: string) => p === "/opt/bin/studiod" || p === "/usr/local/bin/studiod";
    assert.equal(locate("/opt/bin/studiod", "/usr/bin", exe), "/opt/bin/studiod");
    assert.equal(locate(undefined, "/usr/bin:/usr/local/bin", exe), "/usr/local/bin/studiod");
    assert.equal(findOnPath("studiod", "", exe), undefined);
    assert.throws(
        () => locate(undefined, "/usr/bin", exe),
        (e: unknown) => e instanceof BootstrapError && /studiod\.path/.test(e.message) && /install/i.test(e.fix),
    );
    assert.throws(
        () => locate("/nope/studiod", "/usr/local/bin", exe),
        (e: unknown) => e instanceof BootstrapError && /\/nope\/studiod/.test(e.message) && /studiod\.path/.test(e.fix),
    );
    assert.equal(expandHome("~/bin/studiod", "/home/u"), "/home/u/bin/studiod");
});
