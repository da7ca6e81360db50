// studiod.path is a per-machine path a person sets in their user settings;
// VS Code ignores machine-scoped settings from there in remote windows
// (code-server, SSH), so it has window scope. run-host.mjs puts it in the
// user settings file only: this runs first, before any test changes it.

import assert from "node:assert/strict";
import * as vscode from "vscode";
import { api, HostTest, waitFor } from "./harness";

const bin = process.env["STUDIOD_BIN"];

export const settings: HostTest[] = [
    {
        name: "studiod.path from the user settings starts studiod",
        skip: bin ? undefined : "STUDIOD_BIN is not set (run-host.mjs writes it into the user settings when it is)",
        timeoutMs: 60_000,
        fn: async () => {
            const a = await api();
            const inspected = vscode.workspace.getConfiguration("studiod").inspect<string>("path");
            assert.equal(inspected?.globalValue, bin, `studiod.path as VS Code sees it: ${JSON.stringify(inspected)}`);
            assert.equal(inspected?.workspaceValue, undefined);
            await waitFor(() => a.ctx.state === "running", () => `studiod running (is ${a.ctx.state}: ${a.ctx.lastError})`, 30_000);
            assert.equal(a.ctx.binary?.path, bin);
        },
    },
];
