// Keeps src/protocol.ts, the Go package protocol, package.json and the
// extension's command table in step.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { commandIds, configKeys, configSection, sessionsViewId, viewContainerId } from "../../src/ids";
import * as proto from "../../src/protocol";
import { extRoot, goConsts, repoRoot } from "./util";

const goDir = path.join(repoRoot(), "protocol");
const go = new Map([
    ...goConsts(path.join(goDir, "methods.go")),
    ...goConsts(path.join(goDir, "errors.go")),
    ...goConsts(path.join(goDir, "types.go")),
]);

/** Go constants named prefix+X, as {X: value}. */
function goGroup(prefix: string): Record<string, string | number> {
    const out: Record<string, string | number> = {};
    for (const [k, v] of go) if (k.startsWith(prefix) && k.length > prefix.length) out[k.slice(prefix.length)] = v;
    return out;
}

describe("protocol.ts mirrors the Go constants", () => {
    const groups: [string, Record<string, string | number>][] = [
        ["Method", proto.Method],
        ["Notify", proto.Notify],
        ["Command", proto.Command],
        ["Code", proto.Code],
        ["State", proto.State],
        ["Kind", proto.Kind],
        ["Strategy", proto.Strategy],
    ];
    for (const [prefix, ts] of groups) {
        test(prefix, () => {
            const want = goGroup(prefix);
            assert.ok(Object.keys(want).length > 0, `no Go constants named ${prefix}* found`);
            assert.deepEqual({ ...ts }, want, `protocol.ts ${prefix} differs from Go ${prefix}*`);
        });
    }

    test("Version", () => {
        assert.equal(proto.ProtocolVersion, go.get("Version"));
    });

    test("the Go Methods list has every method once", () => {
        const src = readFileSync(path.join(goDir, "methods.go"), "utf8");
        const list = /var Methods = \[\]string\{([\s\S]*?)\}/.exec(src)?.[1] ?? "";
        const names = list.split(",").map((s) => s.trim()).filter(Boolean);
        assert.deepEqual(new Set(names.map((n) => go.get(n))), new Set(Object.values(proto.Method)));
    });

    test("typed requests and notifications use declared names", () => {
        const methods = new Set<string>(Object.values(proto.Method));
        const notifies = new Set<string>(Object.values(proto.Notify));
        let n = 0;
        for (const [name, v] of Object.entries(proto)) {
            if (v instanceof proto.Request) (n++, assert.ok(methods.has(v.method), `${name}: ${v.method}`));
            if (v instanceof proto.Notification) (n++, assert.ok(notifies.has(v.method), `${name}: ${v.method}`));
        }
        assert.ok(n > 15);
    });

    test("live() agrees with Go's Live", () => {
        const src = readFileSync(path.join(goDir, "types.go"), "utf8");
        const body = /func Live\(s string\) bool \{[\s\S]*?case ([^:]+):/.exec(src)?.[1] ?? "";
        const liveStates = new Set(body.split(",").map((n) => go.get(n.trim())));
        for (const s of Object.values(proto.State)) assert.equal(proto.live(s), liveStates.has(s), s);
    });
});

describe("package.json", () => {
    const pkg = JSON.parse(readFileSync(path.join(extRoot(), "package.json"), "utf8"));
    const contributed: string[] = pkg.contributes.commands.map((c: { command: string }) => c.command);

    test("contributes exactly the commands the extension registers", () => {
        assert.deepEqual([...contributed].sort(), [...commandIds].sort());
    });

    test("the factory table in commands.ts names every command", () => {
        const src = readFileSync(path.join(extRoot(), "src", "commands.ts"), "utf8");
        const table = /export function factories[\s\S]*?return \{([\s\S]*?)\};/.exec(src)?.[1] ?? "";
        const keys = [...table.matchAll(/"([\w.]+)":/g)].map((m) => m[1]);
        assert.deepEqual([...keys].sort(), [...commandIds].sort());
    });

    test("extension commands never collide with the server's studio.* commands", () => {
        const server = new Set<string>(Object.values(proto.Command));
        for (const id of commandIds) assert.ok(!server.has(id), id);
    });

    test("menus only name contributed commands", () => {
        for (const [menu, items] of Object.entries(pkg.contributes.menus as Record<string, { command: string }[]>)) {
            for (const item of items) assert.ok(contributed.includes(item.command), `${menu}: ${item.command}`);
        }
    });

    test("every studiod.* command link in welcome views exists", () => {
        for (const w of pkg.contributes.viewsWelcome) {
            for (const m of (w.contents as string).matchAll(/command:(studiod\.[\w]+)/g)) assert.ok(contributed.includes(m[1]!), m[1]);
        }
    });

    test("settings match config.ts", () => {
        const keys = Object.keys(pkg.contributes.configuration.properties);
        assert.deepEqual(keys.sort(), configKeys.map((k) => `${configSection}.${k}`).sort());
    });

    test("the sessions view lives in its own activity-bar container", () => {
        assert.ok(pkg.contributes.viewsContainers.activitybar.some((c: { id: string }) => c.id === viewContainerId));
        assert.ok(pkg.contributes.views[viewContainerId].some((v: { id: string }) => v.id === sessionsViewId));
    });

    test("versions are pinned exactly", () => {
        for (const deps of [pkg.dependencies, pkg.devDependencies]) {
            for (const [name, v] of Object.entries(deps as Record<string, string>)) assert.match(v, /^\d+\.\d+\.\d+$/, name);
        }
    });
});
