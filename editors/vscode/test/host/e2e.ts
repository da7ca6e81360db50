// End-to-end tests against a real `studiod lsp`: STUDIOD_BIN names the binary,
// and run-host.mjs gives the extension host an isolated STUDIOD_HOME and a
// temp git repository as the workspace.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as vscode from "vscode";
import type { Api } from "../../src/main";
import * as p from "../../src/protocol";
import { stateIcon } from "../../src/render";
import type { Node, SessionNode } from "../../src/tree";
import { api, HostTest, setSetting, sleep, waitFor } from "./harness";

const bin = process.env["STUDIOD_BIN"];
const skip = bin ? undefined : "STUDIOD_BIN is not set (point it at a studiod binary with `studiod lsp` to run the end-to-end tests)";

function sessionNodes(a: Api): SessionNode[] {
    return a.tree.getChildren().filter((n): n is SessionNode => n.kind === "session");
}

function node(a: Api, name: string): SessionNode | undefined {
    return sessionNodes(a).find((n) => a.tree.getTreeItem(n).label === name);
}

function describeSessions(a: Api): string {
    return JSON.stringify(a.ctx.sessions.all().map((s) => ({ name: s.name, state: s.state, changes: s.changes, detail: s.detail })));
}

async function spawnDemo(a: Api, name: string): Promise<p.Session> {
    const s = (await vscode.commands.executeCommand("studiod.spawn", {
        prompt: `demo edit for ${name}`,
        agent: "demo",
        name,
    })) as p.Session | undefined;
    assert.ok(s, `spawn ${name} failed: ${a.ctx.lastError}`);
    assert.equal(s.name, name);
    assert.equal(s.agent, "demo");
    return s;
}

/** Waits until the session has changes (its demo agent has edited files). */
async function changed(a: Api, name: string): Promise<p.Session> {
    return waitFor(
        () => {
            const s = a.ctx.sessions.get(name);
            return s && s.changes?.files > 0 ? s : undefined;
        },
        () => `${name} to have changes; sessions: ${describeSessions(a)}`,
        60_000,
    );
}

let state: { a: Api; alpha?: p.Session; files?: p.FileDiff[] } | undefined;

export const e2e: HostTest[] = [
    {
        name: "e2e: connects to studiod lsp",
        skip,
        timeoutMs: 60_000,
        fn: async () => {
            const a = await api();
            // The basic tests changed studiod.path; set it back.
            await setSetting("path", bin);
            await a.ctx.restart();
            await waitFor(() => a.ctx.state === "running", () => `state running (is ${a.ctx.state}: ${a.ctx.lastError})`, 30_000);
            assert.equal(a.ctx.server?.protocolVersion.split(".")[0], p.ProtocolVersion);
            state = { a };
        },
    },
    {
        name: "e2e: a spawned demo session appears in the view",
        skip,
        timeoutMs: 90_000,
        fn: async () => {
            const { a } = state!;
            await spawnDemo(a, "alpha");
            const n = await waitFor(() => node(a, "alpha"), () => `alpha in the tree: ${describeSessions(a)}`);
            assert.equal(a.tree.getTreeItem(n).label, "alpha");
            state!.alpha = await changed(a, "alpha");
            // The row follows the session's notifications.
            await waitFor(
                () => /\+\d+ −\d+/.test(String(a.tree.getTreeItem(node(a, "alpha")!).description)),
                () => `change counts on the alpha row: ${String(a.tree.getTreeItem(node(a, "alpha")!).description)}`,
            );
        },
    },
    {
        name: "e2e: session rows are short, with the details in the tooltip and an icon and colour per state",
        skip,
        timeoutMs: 60_000,
        fn: async () => {
            const { a } = state!;
            const seen = new Set<string>();
            // The demo agent goes working → waiting → idle: each row shows
            // its state's icon and colour, and no more than fits.
            await waitFor(
                () => {
                    const s = a.ctx.sessions.get("alpha")!;
                    const item = a.tree.getTreeItem(node(a, "alpha")!);
                    const icon = item.iconPath as vscode.ThemeIcon;
                    const want = stateIcon(s.state);
                    assert.ok(icon instanceof vscode.ThemeIcon, `icon ${JSON.stringify(item.iconPath)}`);
                    assert.equal(icon.id, want.icon, `${s.state}: icon`);
                    // ThemeColor.id is newer than the @types/vscode this builds with.
                    assert.equal((icon.color as unknown as { id?: string } | undefined)?.id, want.color, `${s.state}: colour`);
                    assert.equal(item.label, "alpha");
                    const description = String(item.description ?? "");
                    assert.ok(!description.includes("demo") && description.length <= 24, `description ${description}`);
                    const tooltip = String(item.tooltip);
                    assert.ok(tooltip.includes("alpha (demo):") && tooltip.includes("studio/alpha → main"), tooltip);
                    seen.add(s.state);
                    return seen.has("idle") && seen.size >= 2;
                },
                () => `alpha through two states to idle; seen ${[...seen].join(", ")}: ${describeSessions(a)}`,
                45_000,
            );
        },
    },
    {
        name: "e2e: Review Session opens the multi-file diff",
        skip,
        timeoutMs: 60_000,
        fn: async () => {
            const { a, alpha } = state!;
            const files = (await vscode.commands.executeCommand("studiod.review", alpha!.id)) as p.FileDiff[] | undefined;
            assert.ok(files && files.length > 0, `review returned ${JSON.stringify(files)}: ${a.ctx.lastError}`);
            state!.files = files;
            await waitFor(
                () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.label.includes("Review: alpha")),
                () => `a "Review: alpha" tab; tabs: ${vscode.window.tabGroups.all.flatMap((g) => g.tabs.map((t) => t.label)).join(", ")}`,
            );
            // Base and worktree of each file are one resource to VS Code:
            // the same path (no "R" renamed badge); added files have no
            // original at all.
            const tab = vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.label.includes("Review: alpha"))!;
            // A TabInputTextMultiDiff (newer than the @types/vscode this builds with).
            const diffs = (tab.input as { textDiffs?: { original: vscode.Uri; modified: vscode.Uri }[] }).textDiffs;
            assert.ok(diffs, `review tab input ${JSON.stringify(tab.input)}`);
            assert.equal(diffs.length, files.filter((f) => f.status === "modified").length, JSON.stringify({ diffs, files }));
            for (const d of diffs) {
                assert.equal(d.original.path, d.modified.path, `${d.original.toString()} vs ${d.modified.toString()}`);
                assert.equal(d.original.scheme, "studio");
                // The session's side is read-only: studio/file's worktree
                // version, not the agent's file on disk.
                assert.equal(d.modified.scheme, "studio", d.modified.toString());
                assert.equal(new URLSearchParams(d.modified.query).get("version"), "worktree", d.modified.toString());
            }
            // Its text is the agent's file as it is now.
            const right = diffs[0]!.modified;
            const served = await vscode.workspace.openTextDocument(right);
            assert.equal(served.getText(), readFileSync(right.path, "utf8"), right.toString());
            // The base side comes from studio/file through the studio: scheme.
            const f = files.find((f) => f.status === "modified") ?? files[0]!;
            const q = new URLSearchParams({ session: alpha!.id, version: "base" }).toString();
            const doc = await vscode.workspace.openTextDocument(vscode.Uri.from({ scheme: "studio", path: "/" + f.path, query: q }));
            assert.equal(typeof doc.getText(), "string");
        },
    },
    {
        name: "e2e: two demo sessions editing the same lines get a studiod diagnostic",
        skip,
        timeoutMs: 120_000,
        fn: async () => {
            const { a } = state!;
            await spawnDemo(a, "beta");
            const beta = await changed(a, "beta");
            // Open the changed files so the server can publish for them.
            for (const s of [state!.alpha!, beta]) {
                for (const f of state!.files ?? []) {
                    await vscode.workspace.openTextDocument(vscode.Uri.file(`${s.worktree}/${f.path}`)).then(
                        () => undefined,
                        () => undefined,
                    );
                }
            }
            const found = await waitFor(
                () => vscode.languages.getDiagnostics().find(([, ds]) => ds.some((d) => d.source === "studiod")),
                () =>
                    `a diagnostic with source studiod; conflicts: ${JSON.stringify(a.ctx.conflicts.all())}; diagnostics: ${JSON.stringify(
                        vscode.languages.getDiagnostics().map(([u, ds]) => [u.toString(), ds.map((d) => d.source)]),
                    )}`,
                60_000,
            );
            assert.ok(found[0].fsPath);
            // The user's own checkout: the lines both rewrite, with both
            // sides as related information.
            const mine = vscode.Uri.file(`${vscode.workspace.workspaceFolders![0]!.uri.fsPath}/app/config.txt`);
            await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(mine), { preview: false });
            const d = await waitFor(
                () => vscode.languages.getDiagnostics(mine).find((d) => d.source === "studiod"),
                () => `a studiod diagnostic on the user's ${mine.fsPath}: ${JSON.stringify(vscode.languages.getDiagnostics(mine))}`,
                30_000,
            );
            assert.equal(d.message, "sessions alpha and beta both change lines 3–5: a conflict when both land");
            assert.equal(d.severity, vscode.DiagnosticSeverity.Warning);
            assert.deepEqual([d.range.start.line, d.range.end.line], [2, 4]);
            const related = (d.relatedInformation ?? []).map((r) => r.location.uri.fsPath).sort();
            assert.deepEqual(related, [`${state!.alpha!.worktree}/app/config.txt`, `${beta.worktree}/app/config.txt`].sort());
            await waitFor(() => a.ctx.conflicts.size > 0, () => "the conflict set to fill from studio/conflictsChanged");
            await waitFor(
                () => a.tree.getChildren(node(a, "alpha")).length > 0,
                () => "conflicts under alpha in the tree",
            );
        },
    },
    {
        name: "e2e: the sessions view shows the preview: alpha lands, beta is held back",
        skip,
        timeoutMs: 60_000,
        fn: async () => {
            const { a } = state!;
            const pv = (await vscode.commands.executeCommand("studiod.preview", { quiet: true })) as p.Preview | undefined;
            assert.ok(pv, `preview returned nothing: ${a.ctx.lastError}`);
            assert.deepEqual(pv.order, ["alpha"]);
            const row = (name: string) => String(a.tree.getTreeItem(node(a, name)!).description);
            await waitFor(
                () => row("alpha").includes("lands #1") && row("beta").includes("held back: conflicts with alpha"),
                () => `preview badges: alpha "${row("alpha")}", beta "${row("beta")}"`,
            );
            assert.match(String(a.tree.getTreeItem(node(a, "beta")!).tooltip), /app\/config\.txt/);
        },
    },
    {
        name: "e2e: Merge Session merges alpha",
        skip,
        timeoutMs: 60_000,
        fn: async () => {
            const { a, alpha } = state!;
            const r = (await vscode.commands.executeCommand("studiod.merge", { session: alpha!.id, strategy: "merge" })) as
                | p.MergeResult
                | undefined;
            assert.ok(r && "new" in r, `merge returned ${JSON.stringify(r)}: ${a.ctx.lastError}`);
            assert.notEqual(r.new, r.old);
            await waitFor(
                () => a.tree.getTreeItem(node(a, "alpha")!).contextValue?.startsWith("session:merged"),
                () => `alpha merged in the tree: ${describeSessions(a)}`,
            );
        },
    },
    {
        name: "e2e: merging beta after alpha is refused with the conflicts (p.Code.MergeConflict)",
        skip,
        timeoutMs: 60_000,
        fn: async () => {
            const { a } = state!;
            // A working agent is refused for another reason (busy): wait
            // until beta has settled.
            await waitFor(
                () => a.ctx.sessions.get("beta")?.state === "idle",
                () => `beta idle: ${describeSessions(a)}`,
            );
            const r = (await vscode.commands.executeCommand("studiod.merge", { session: "beta", strategy: "squash" })) as
                | { refused?: boolean; conflicts?: p.Conflict[] }
                | undefined;
            assert.ok(r?.refused, `merge returned ${JSON.stringify(r)}: ${a.ctx.lastError}`);
            assert.ok((r.conflicts ?? []).some((c) => c.path === "app/config.txt"), JSON.stringify(r.conflicts));
            assert.notEqual(a.ctx.sessions.get("beta")?.state, "merged");
        },
    },
    {
        name: "e2e: beta shows it is behind main and Sync refuses it with the conflicts",
        skip,
        timeoutMs: 60_000,
        fn: async () => {
            const { a } = state!;
            await waitFor(
                () => String(a.tree.getTreeItem(node(a, "beta")!).description).includes("behind main, would conflict"),
                () => `beta behind main: ${String(a.tree.getTreeItem(node(a, "beta")!).description)}`,
            );
            assert.match(String(a.tree.getTreeItem(node(a, "beta")!).contextValue), /:behind/);
            const r = (await vscode.commands.executeCommand("studiod.sync", { session: "beta", strategy: "merge" })) as
                | { refused?: boolean; data?: p.MergeConflictData }
                | undefined;
            assert.ok(r?.refused, `sync returned ${JSON.stringify(r)}: ${a.ctx.lastError}`);
            assert.deepEqual(r.data?.paths, ["app/config.txt"]);
        },
    },
    {
        name: "e2e: Set Session Budget gives beta a budget and clears it",
        skip,
        timeoutMs: 30_000,
        fn: async () => {
            const { a } = state!;
            const set = (await vscode.commands.executeCommand("studiod.setBudget", { session: "beta", budget: "250k" })) as p.Session | undefined;
            assert.equal(set?.budget?.tokens, 250_000, `${JSON.stringify(set?.budget)}: ${a.ctx.lastError}`);
            await waitFor(
                () => (a.tree.getTreeItem(node(a, "beta")!).tooltip as string | undefined)?.includes("budget 250k tokens, 0% used"),
                () => `beta's tooltip: ${String(a.tree.getTreeItem(node(a, "beta")!).tooltip)}`,
            );
            const cleared = (await vscode.commands.executeCommand("studiod.setBudget", { session: "beta", clear: true })) as p.Session | undefined;
            assert.equal(cleared?.budget, undefined);
        },
    },
    {
        name: "e2e: Attach Terminal opens the agent's terminal",
        skip,
        timeoutMs: 30_000,
        fn: async () => {
            const { a } = state!;
            await vscode.commands.executeCommand("studiod.attach", "beta");
            const t = await waitFor(
                () => vscode.window.terminals.find((t) => t.name === "agent: beta"),
                () => `an "agent: beta" terminal: ${vscode.window.terminals.map((t) => t.name).join(", ")} ${a.ctx.lastError ?? ""}`,
            );
            // Typing goes to studio/send; it must not fail.
            t.sendText("y", false);
            await sleep(300);
            assert.equal(a.ctx.state, "running");
            t.dispose();
            await vscode.commands.executeCommand("workbench.action.closePanel");
        },
    },
    {
        name: "e2e: beta's file shows its conflict with the target inline and in Problems",
        skip,
        timeoutMs: 60_000,
        fn: async () => {
            const { a } = state!;
            const beta = a.ctx.sessions.get("beta")!;
            const uri = vscode.Uri.file(`${beta.worktree}/app/config.txt`);
            await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri), { preview: false });
            const ds = await waitFor(
                () => {
                    const found = vscode.languages.getDiagnostics(uri).filter((d) => d.source === "studiod");
                    return found.length > 0 ? found : undefined;
                },
                () => `a studiod diagnostic on ${uri.fsPath}: ${JSON.stringify(vscode.languages.getDiagnostics(uri))}`,
            );
            assert.match(ds[0].message, /target/, ds[0].message);
            // Leave the workbench showing it, for the screenshot.
            await vscode.commands.executeCommand("workbench.actions.view.problems");
            await sleep(500);
        },
    },
    {
        name: "e2e: merging a session that waits for an answer asks first, and declining changes nothing",
        skip,
        timeoutMs: 60_000,
        fn: async () => {
            const { a } = state!;
            const repo = a.ctx.workspaceFolders()[0]!;
            // An agent with half its work done, asking a question.
            const script = 'echo half > half.txt && $STUDIO_HOOK waiting "Deploy to staging?" && exec sleep 600';
            const s = await a.ctx.request(p.spawn, { repo, name: "asker", command: ["sh", "-c", script] });
            await waitFor(
                () => a.ctx.sessions.get("asker")?.state === "waiting",
                () => `asker waiting: ${describeSessions(a)}`,
            );
            // The person is asked, modally, and declines.
            const w = vscode.window as unknown as Record<string, (...args: unknown[]) => unknown>;
            const saved = w.showWarningMessage!;
            const asked: string[] = [];
            w.showWarningMessage = (...args: unknown[]) => {
                asked.push(String(args[0]));
                return Promise.resolve(undefined);
            };
            let r: unknown;
            try {
                r = await vscode.commands.executeCommand("studiod.merge", { session: s.id, strategy: "merge" });
            } finally {
                w.showWarningMessage = saved;
            }
            assert.equal(r, undefined, JSON.stringify(r));
            assert.ok(asked.some((m) => m.startsWith("asker: ") && m.includes("waiting")), JSON.stringify(asked));
            const now = await a.ctx.request(p.session, { session: s.id });
            assert.equal(now.state, "waiting", JSON.stringify(now));
            await a.ctx.request(p.stop, { session: s.id, force: true });
        },
    },
    {
        name: "e2e: a plan is a group of the view: its task's session, and a task waiting for it saying so",
        skip,
        timeoutMs: 60_000,
        fn: async () => {
            const { a } = state!;
            const repo = a.ctx.workspaceFolders()[0]!;
            const text = `[[task]]\nname = "first"\nagent = "demo"\nprompt = "demo edit for first"\n\n[[task]]\nname = "second"\nagent = "demo"\nprompt = "demo edit for second"\nafter = ["first"]\n`;
            const pl = await a.ctx.request(p.planRun, { repo, text, path: `${repo}/plan.toml` });
            const group = await waitFor(
                () => a.tree.getChildren().find((n) => n.kind === "plan" && n.plan.id === pl.id && n.plan.tasks.some((t) => t.session)),
                () => `plan ${pl.id} with a started task in the view: ${JSON.stringify(a.ctx.plans.all())}`,
            );
            assert.equal(a.tree.getTreeItem(group).label, "plan plan.toml");
            const rows = a.tree.getChildren(group);
            const label = (n: Node) => String(a.tree.getTreeItem(n).label);
            assert.deepEqual(rows.map(label), ["first", "second"]);
            // first runs: its row is its session's, so the session commands apply.
            assert.equal(rows[0]!.kind, "session");
            assert.match(String(a.tree.getTreeItem(rows[0]!).contextValue), /^session:/);
            // second has no session yet, and says what it waits for.
            assert.equal(rows[1]!.kind, "task");
            assert.equal(a.tree.getTreeItem(rows[1]!).description, "after first");
            assert.match(String(a.tree.getTreeItem(rows[1]!).tooltip), /waits for first to land/);
            // A plan's session is not also a row of its own.
            assert.ok(!sessionNodes(a).some((n) => n.session.name === "first"));
            await a.ctx.request(p.planCancel, { repo, plan: pl.id });
        },
    },
];
