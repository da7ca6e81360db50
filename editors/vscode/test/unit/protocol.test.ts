// Keeps package.json, the extension's command table and the generated
// src/protocol.ts in step.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { commandIds, configKeys, configSection, sessionsViewId, viewContainerId } from "../../src/ids";
import * as proto from "../../src/protocol";
import { extRoot } from "./util";

// src/protocol.ts itself is generated from the Go package protocol, and a
// Go test fails when it is out of date; these tests check what uses it.
describe("protocol.ts", () => {
    test("typed requests and notifications use declared names", () => {
        const methods = new Set<string>(Object.values(proto.Method));
        const notifies = new Set<string>(Object.values(proto.Notify));
        let n = 0;
        for (const [name, v] of Object.entries(proto)) {
            if (v instanceof proto.Request) (n++, assert.ok(methods.has(v.method), `${name}: ${v.method}`));
            if (v instanceof proto.Notification) (n++, assert.ok(notifies.has(v.method), `${name}: ${v.method}`));
        }
        assert.equal(n, Object.keys(proto.Method).length + Object.keys(proto.Notify).length);
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
