// Tests that need no daemon: activation, contributions, bootstrap errors.

import assert from "node:assert/strict";
import * as vscode from "vscode";
import { api, captureMessages, extensionId, HostTest, setSetting, waitFor } from "./harness";

export const basic: HostTest[] = [
    {
        name: "the extension activates and returns its API",
        fn: async () => {
            const a = await api();
            assert.ok(vscode.extensions.getExtension(extensionId)?.isActive);
            assert.ok(a.ctx, "no ctx in the API");
            assert.ok(a.tree, "no tree in the API");
        },
    },
    {
        name: "every contributed command is registered",
        fn: async () => {
            await api();
            const pkg = vscode.extensions.getExtension(extensionId)!.packageJSON;
            const all = new Set(await vscode.commands.getCommands(true));
            const missing = (pkg.contributes.commands as { command: string }[]).map((c) => c.command).filter((c) => !all.has(c));
            assert.deepEqual(missing, [], "contributed but not registered");
        },
    },
    {
        name: "the Agent Sessions view has its own activity-bar container",
        fn: async () => {
            await api();
            const pkg = vscode.extensions.getExtension(extensionId)!.packageJSON;
            assert.ok(pkg.contributes.viewsContainers.activitybar.some((c: { id: string }) => c.id === "studiod"));
            const all = new Set(await vscode.commands.getCommands(true));
            assert.ok(all.has("workbench.view.extension.studiod"), "no command to open the container");
            assert.ok(all.has("studiod.sessions.focus"), "no focus command for the view");
            await vscode.commands.executeCommand("studiod.focus");
        },
    },
    {
        name: "a studiod.path that does not exist gives an actionable error",
        fn: async () => {
            const { ctx } = await api();
            const { messages } = await captureMessages(async () => {
                await setSetting("path", "/nonexistent/studiod");
                await ctx.restart();
            });
            assert.equal(ctx.state, "error");
            assert.match(ctx.lastError ?? "", /studiod\.path is set to "\/nonexistent\/studiod"/);
            assert.ok(
                messages.some((m) => /studiod failed to start/.test(m) && /studiod\.path/.test(m)),
                `no error shown; messages: ${JSON.stringify(messages)}`,
            );
        },
    },
    {
        name: "no studiod on PATH gives an actionable error",
        fn: async () => {
            const { ctx, tree } = await api();
            const savedPath = process.env["PATH"];
            process.env["PATH"] = "/nonexistent";
            try {
                const { messages } = await captureMessages(async () => {
                    await setSetting("path", "");
                    await ctx.restart();
                });
                assert.equal(ctx.state, "error");
                assert.match(ctx.lastError ?? "", /not found/);
                assert.match(ctx.lastError ?? "", /Install studiod/);
                assert.ok(messages.some((m) => /studiod failed to start/.test(m)), JSON.stringify(messages));
            } finally {
                process.env["PATH"] = savedPath;
            }
            assert.deepEqual(tree.getChildren(), []);
            // Commands fail gracefully while the server is down.
            await vscode.commands.executeCommand("studiod.refresh");
            await waitFor(() => ctx.state === "error", () => "state to stay error");
        },
    },
];
