// The standard packaging command works as it is: `npx vsce package` builds
// out/ itself (vscode:prepublish) and has nothing to ask about (repository,
// LICENSE): in a terminal each of its questions follows a warning.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { extRoot } from "./util";

describe("packaging", () => {
    const pkg = JSON.parse(readFileSync(path.join(extRoot(), "package.json"), "utf8"));

    test("the manifest has what vsce would otherwise ask about", () => {
        assert.match(pkg.scripts["vscode:prepublish"] ?? "", /bundle/);
        assert.equal(pkg.repository?.url, "https://github.com/studiod/studiod.git");
        assert.equal(pkg.license, "UNLICENSED");
        assert.match(readFileSync(path.join(extRoot(), "LICENSE"), "utf8"), /All rights reserved/);
        assert.ok(readFileSync(path.join(extRoot(), ".vscodeignore"), "utf8").split("\n").includes("!LICENSE"));
    });

    test("npx vsce package builds out/main.js and packages without a prompt", { timeout: 180_000 }, () => {
        const main = path.join(extRoot(), "out", "main.js");
        rmSync(main, { force: true });
        rmSync(main + ".map", { force: true });
        const tmp = mkdtempSync(path.join(tmpdir(), "studiod-vsix-"));
        try {
            const vsix = path.join(tmp, "studiod.vsix");
            // Without a terminal vsce answers its own questions "y"; each
            // question follows a warning, so warnings are what to look for.
            const r = spawnSync("npx", ["vsce", "package", "--out", vsix], {
                cwd: extRoot(),
                stdio: ["ignore", "pipe", "pipe"],
                encoding: "utf8",
            });
            const out = `${r.stdout}\n${r.stderr}`;
            assert.equal(r.status, 0, out);
            const warnings = out.split("\n").filter((l) => /WARNING|Do you want to continue/.test(l) && !/latest version of @vscode\/vsce/.test(l));
            assert.deepEqual(warnings, [], out);
            assert.ok(existsSync(main), "vscode:prepublish did not build out/main.js");
            assert.ok(statSync(vsix).size > 10_000, "the .vsix is too small");
        } finally {
            rmSync(tmp, { recursive: true, force: true });
        }
    });
});
