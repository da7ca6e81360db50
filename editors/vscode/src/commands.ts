// One factory per command. Each returns the function registered under the id;
// the table at the bottom must name every id in ids.ts (the type checks it).

import * as vscode from "vscode";
import * as lc from "vscode-languageclient/node";
import { CommandFactory, Ctx } from "./ctx";
import { CommandId, sessionsViewId } from "./ids";
import { previewSummary } from "./preview";
import * as p from "./protocol";
import { otherSide, renderConflict, renderSession, mySide } from "./render";
import { openReview, ReviewComments } from "./review";
import { attach } from "./terminal";
import { ConflictNode, SessionNode } from "./tree";

/** Arguments the spawn command accepts when run programmatically. */
export interface SpawnArgs {
    prompt?: string;
    agent?: string;
    name?: string;
    base?: string;
    target?: string;
    repo?: string;
}

const knownAgents = ["claude", "codex", "gemini", "aider", "demo"];

/**
 * Resolves a command argument to a session: a tree node, a session record,
 * {session}, an ID or a name; with none, asks.
 */
async function pickSession(ctx: Ctx, arg: unknown, filter: (s: p.Session) => boolean = () => true): Promise<p.Session | undefined> {
    if (arg && typeof arg === "object") {
        const a = arg as { kind?: unknown; session?: unknown; id?: unknown; worktree?: unknown };
        if (a.kind === "session" || a.kind === "conflict") return (a as SessionNode | ConflictNode).session;
        if (typeof a.id === "string" && typeof a.worktree === "string") return ctx.sessions.get(a.id) ?? (arg as p.Session);
        if (typeof a.session === "string") return ctx.sessions.get(a.session) ?? ctx.request(p.session, { session: a.session });
    }
    if (typeof arg === "string") return ctx.sessions.get(arg) ?? ctx.request(p.session, { session: arg });
    const candidates = ctx.sessions.all().filter(filter);
    if (candidates.length === 0) {
        void vscode.window.showInformationMessage("No agent session to pick.");
        return undefined;
    }
    const picked = await vscode.window.showQuickPick(
        candidates.map((s) => {
            const v = renderSession(s);
            return { label: `$(${v.icon}) ${s.name}`, description: [s.agent, s.state, v.description].filter((x) => x).join(" · "), session: s };
        }),
        { placeHolder: "Agent session" },
    );
    return picked?.session;
}

function field<T>(arg: unknown, key: string): T | undefined {
    return arg && typeof arg === "object" && key in arg ? ((arg as Record<string, unknown>)[key] as T) : undefined;
}

async function pickRepo(ctx: Ctx, given?: string): Promise<string | undefined> {
    if (given) return given;
    const folders = ctx.workspaceFolders();
    if (folders.length === 0) throw new Error("open a folder inside a git repository to spawn an agent there");
    if (folders.length === 1) return folders[0];
    return (await vscode.window.showQuickPick(folders, { placeHolder: "Repository" })) ?? undefined;
}

export const spawn: CommandFactory = (ctx) => async (args?: SpawnArgs) => {
    const quick = args !== undefined; // programmatic: ask only for what is missing and required
    const repo = await pickRepo(ctx, args?.repo);
    if (!repo) return undefined;
    const prompt =
        args?.prompt ??
        (await vscode.window.showInputBox({
            title: "Spawn Agent",
            prompt: "What should the agent do?",
            placeHolder: "e.g. Add input validation to the signup form",
            ignoreFocusOut: true,
        }));
    if (prompt === undefined) return undefined;
    let agent = args?.agent;
    if (!agent) {
        const first = ctx.config.defaultAgent;
        const items = [first, ...knownAgents.filter((a) => a !== first)].map((label) => ({ label }));
        const picked = await vscode.window.showQuickPick([...items, { label: "Other…" }], { title: "Spawn Agent", placeHolder: "Agent profile" });
        if (!picked) return undefined;
        agent = picked.label === "Other…" ? await vscode.window.showInputBox({ prompt: "Agent profile name" }) : picked.label;
        if (!agent) return undefined;
    }
    const name = quick ? args?.name : await vscode.window.showInputBox({ title: "Spawn Agent", prompt: "Session name (optional)", placeHolder: "generated from the prompt" });
    if (name === undefined && !quick) return undefined;
    const base = quick ? args?.base : await vscode.window.showInputBox({ title: "Spawn Agent", prompt: "Base ref (optional)", placeHolder: "the current HEAD" });
    if (base === undefined && !quick) return undefined;

    const params: p.SpawnParams = { repo, prompt, agent };
    if (name) params.name = name;
    if (base) params.base = base;
    if (args?.target) params.target = args.target;
    const s = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Spawning ${agent}…` },
        () => ctx.request(p.spawn, params),
    );
    ctx.applySession(s);
    return s;
};

export const review =
    (comments: ReviewComments): CommandFactory =>
    (ctx) =>
    async (arg?: unknown) => {
        const s = await pickSession(ctx, arg);
        if (!s) return undefined;
        return openReview(ctx, comments, s);
    };

export const addComment =
    (comments: ReviewComments): CommandFactory =>
    () =>
    (reply: vscode.CommentReply) =>
        comments.add(reply);

export const sendReview =
    (comments: ReviewComments): CommandFactory =>
    (ctx) =>
    async (arg?: unknown) => {
        // From a comment thread's title bar the argument is the thread.
        const thread = arg as vscode.CommentThread | undefined;
        let s: p.Session | undefined;
        if (thread && typeof thread === "object" && "uri" in thread && thread.uri instanceof vscode.Uri) {
            s = ctx.sessions.byPath(thread.uri.fsPath)?.session;
        }
        s ??= await pickSession(ctx, arg);
        if (!s) return undefined;
        const r = await ctx.request(p.feedback, { session: s.id });
        comments.markSent(s);
        void vscode.window.showInformationMessage(
            r.sent ? `Sent ${r.sent} review ${r.sent === 1 ? "comment" : "comments"} to ${s.name} (${r.delivery.confirmed ? "delivered" : r.delivery.via}).` : `No unsent comments for ${s.name}.`,
        );
        return r;
    };

const strategies: { label: p.Strategy; detail: string }[] = [
    { label: p.Strategy.Merge, detail: "A merge commit keeps the agent's commits" },
    { label: p.Strategy.Squash, detail: "One commit with all of the agent's work" },
    { label: p.Strategy.Rebase, detail: "Replay the agent's commits on the target" },
];

export const merge: CommandFactory = (ctx) => async (arg?: unknown) => {
    const s = await pickSession(ctx, arg, (s) => s.state !== p.State.Merged);
    if (!s) return undefined;
    const strategy =
        field<p.Strategy>(arg, "strategy") ??
        (await vscode.window.showQuickPick(strategies, { title: `Merge ${s.name} into ${s.target}`, placeHolder: "Strategy" }))?.label;
    if (!strategy) return undefined;
    const params: p.MergeParams = { session: s.id, strategy };
    for (;;) {
        try {
            const r = await ctx.request(p.merge, params);
            ctx.applySession(r.session);
            void vscode.window
                .showInformationMessage(`Merged ${s.name} into ${r.target} (${r.strategy}, ${r.files} files).`, "Undo Merge")
                .then((c) => c && vscode.commands.executeCommand("studiod.undo", r.session.id));
            return r;
        } catch (e) {
            if (!(e instanceof lc.ResponseError)) throw e;
            if (e.code === p.Code.MergeConflict) {
                const conflicts = (e.data as p.MergeConflictData | undefined)?.conflicts ?? [];
                // Not awaited: the command reports the refusal at once.
                void vscode.window
                    .showErrorMessage(
                        `Merging ${s.name} was refused: ${conflicts.length} ${conflicts.length === 1 ? "conflict" : "conflicts"} with ${s.target}.`,
                        "Show Conflicts",
                    )
                    .then((choice) => choice && showConflictList(conflicts, s.name));
                return { refused: true, conflicts };
            }
            if (e.code === p.Code.Busy && !params.force) {
                const choice = await vscode.window.showWarningMessage(`${s.name}: ${e.message}`, { modal: true }, "Merge Anyway");
                if (choice !== "Merge Anyway") return undefined;
                params.force = true;
                continue;
            }
            if (e.code === p.Code.TargetDirty) {
                void vscode.window.showErrorMessage(`Cannot merge ${s.name}: ${e.message}. Commit or stash the changes on ${s.target} first.`);
                return undefined;
            }
            throw e;
        }
    }
};

export const undo: CommandFactory = (ctx) => async (arg?: unknown) => {
    const s = await pickSession(ctx, arg, (s) => s.state === p.State.Merged);
    if (!s) return undefined;
    const r = await ctx.request(p.undo, { session: s.id, repo: s.repo });
    void vscode.window.showInformationMessage(`Undid the merge of ${s.name}: ${r.target} is back at ${r.restored.slice(0, 12)}.`);
    await ctx.refresh();
    return r;
};

export const stop: CommandFactory = (ctx) => async (arg?: unknown) => {
    const s = await pickSession(ctx, arg, (s) => p.live(s.state));
    if (!s) return undefined;
    const r = await ctx.request(p.stop, { session: s.id, force: field<boolean>(arg, "force") ?? false });
    ctx.applySession(r);
    return r;
};

/**
 * Raise, set or clear what a session's model may use. A session that used
 * its whole budget waits until then, and is idle again once the budget
 * covers what it used.
 */
export const setBudget: CommandFactory = (ctx) => async (arg?: unknown) => {
    const s = await pickSession(ctx, arg, (s) => p.live(s.state));
    if (!s) return undefined;
    let budget = field<string>(arg, "budget");
    let clear = field<boolean>(arg, "clear") ?? false;
    if (budget === undefined && !clear) {
        const used = s.budget ? ` (now ${s.budget.text}${s.budget.spent !== undefined ? `, ${Math.round(s.budget.spent * 100)}% used` : ""})` : "";
        const v = await vscode.window.showInputBox({
            title: `Budget of ${s.name}${used}`,
            prompt: "Tokens (200k, 1.5M) or US dollars ($5); leave empty for no limit",
            value: s.budget?.text.replace(/ tokens$/, "") ?? "",
        });
        if (v === undefined) return undefined;
        budget = v.trim();
        clear = budget === "";
    }
    const r = await ctx.request(p.budget, clear ? { session: s.id, clear: true } : { session: s.id, budget });
    ctx.applySession(r);
    return r;
};

export const remove: CommandFactory = (ctx) => async (arg?: unknown) => {
    const s = await pickSession(ctx, arg);
    if (!s) return undefined;
    if (!field<boolean>(arg, "confirmed")) {
        const ok = await vscode.window.showWarningMessage(
            `Remove session ${s.name}? Its worktree is deleted; branch ${s.branch} is kept unless it was merged.`,
            { modal: true },
            "Remove",
        );
        if (ok !== "Remove") return undefined;
    }
    const r = await ctx.request(p.remove, { session: s.id });
    ctx.applySession({ ...r.session, state: p.State.Removed });
    if (r.branchKept) void vscode.window.showInformationMessage(`Removed ${s.name}; kept branch ${s.branch}: ${r.branchKept}.`);
    return r;
};

export const attachTerminal: CommandFactory = (ctx) => async (arg?: unknown) => {
    const s = await pickSession(ctx, arg, (s) => p.live(s.state));
    if (!s) return undefined;
    attach(ctx, s);
    return s;
};

export const openWorktree: CommandFactory = (ctx) => async (arg?: unknown) => {
    const s = await pickSession(ctx, arg, (s) => s.state !== p.State.Merged);
    if (!s) return undefined;
    await vscode.commands.executeCommand("vscode.openFolder", vscode.Uri.file(s.worktree), { forceNewWindow: true });
    return s;
};

/** Opens one conflict: both sides side by side, at the conflicting lines. */
async function openConflict(c: p.Conflict, me?: string): Promise<void> {
    const mine = me ? mySide(c, me) : c.a;
    const theirs = me ? otherSide(c, me) : c.b;
    const line = Math.max((mine.ranges[0]?.start ?? 1) - 1, 0);
    const selection = new vscode.Range(line, 0, line, 0);
    if (mine.file && theirs.file) {
        await vscode.commands.executeCommand(
            "vscode.diff",
            vscode.Uri.file(theirs.file),
            vscode.Uri.file(mine.file),
            `${c.path}: ${theirs.session} ↔ ${mine.session}`,
            { selection },
        );
    } else if (mine.file) {
        await vscode.window.showTextDocument(vscode.Uri.file(mine.file), { selection });
    }
}

export async function showConflictList(conflicts: readonly p.Conflict[], me?: string): Promise<void> {
    if (conflicts.length === 0) {
        void vscode.window.showInformationMessage(me ? `No predicted conflicts for ${me}.` : "No predicted conflicts.");
        return;
    }
    const picked = await vscode.window.showQuickPick(
        conflicts.map((c) => {
            const v = renderConflict(c, me);
            return { label: `$(${c.severity === "overlap" ? "info" : "warning"}) ${v.label}`, description: v.description, conflict: c };
        }),
        { title: me ? `Conflicts of ${me}` : "Predicted conflicts", matchOnDescription: true },
    );
    if (picked) await openConflict(picked.conflict, me);
}

export const showConflicts: CommandFactory = (ctx) => async (arg?: unknown) => {
    const node = arg as Partial<ConflictNode> | undefined;
    if (node?.kind === "conflict" && node.conflict && node.session) {
        await openConflict(node.conflict, node.session.name);
        return [node.conflict];
    }
    const s = arg === undefined ? undefined : await pickSession(ctx, arg);
    const list = s ? ctx.conflicts.forSession(s.name, s.repo) : ctx.conflicts.all();
    await showConflictList(list, s?.name);
    return list;
};

/** The repository of a command's argument (a session node or {repo}), else the workspace's. */
async function repoOf(ctx: Ctx, arg: unknown): Promise<string | undefined> {
    const node = arg as Partial<SessionNode> | undefined;
    if (node?.kind === "session" && node.session) return node.session.repo;
    return pickRepo(ctx, field<string>(arg, "repo"));
}

/** Shows the preview of the repository: the landing order and why the others wait. */
export const preview: CommandFactory = (ctx) => async (arg?: unknown) => {
    const repo = await repoOf(ctx, arg);
    if (!repo) return undefined;
    const check = field<boolean>(arg, "check") ?? false;
    const pv = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: check ? "Previewing and checking the integration…" : "Previewing the integration…" },
        () => ctx.request(p.preview, { repo, check }),
    );
    ctx.applyPreview(pv);
    if (field<boolean>(arg, "quiet")) return pv;
    const lines = previewSummary(pv);
    const actions = [...(pv.order.length ? ["Land"] : []), ...(check ? [] : ["Check"])];
    void vscode.window.showInformationMessage(lines.join(" "), ...actions).then((choice) => {
        if (choice === "Land") void vscode.commands.executeCommand("studiod.land", { repo });
        if (choice === "Check") void vscode.commands.executeCommand("studiod.preview", { repo, check: true });
    });
    return pv;
};

/** Lands the landing order as a merge queue; the failure goes to its agent. */
export const land: CommandFactory = (ctx) => async (arg?: unknown) => {
    const repo = await repoOf(ctx, arg);
    if (!repo) return undefined;
    let check = field<boolean>(arg, "check");
    if (!field<boolean>(arg, "confirmed")) {
        const order = ctx.previews.get(repo)?.order ?? [];
        const choice = await vscode.window.showWarningMessage(
            order.length ? `Land ${order.join(", ")} in this order? Each merge can be undone.` : "Land the sessions of this repository?",
            { modal: true },
            "Land",
            "Check and Land",
        );
        if (!choice) return undefined;
        check ??= choice === "Check and Land";
    }
    const params: p.LandParams = { repo, sendFailures: field<boolean>(arg, "sendFailures") ?? true };
    if (check) params.check = true;
    const sessions = field<string[]>(arg, "sessions");
    if (sessions) params.sessions = sessions;
    const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: "Landing…" }, () => ctx.request(p.land, params));
    const landed = r.landed.map((d) => d.session);
    let msg = landed.length ? `Landed ${landed.join(", ")} on ${r.target}.` : `Landed nothing on ${r.target}.`;
    if (r.stopped) msg += ` Stopped at ${r.stopped.session}: ${r.stopped.message}${r.stopped.sent ? ` (sent to its agent)` : ""}.`;
    const show = r.stopped ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    void show(msg, ...(landed.length ? ["Undo Land"] : [])).then(async (choice) => {
        if (choice !== "Undo Land") return;
        const u = await ctx.request(p.undoLand, { repo, land: r.id });
        void vscode.window.showInformationMessage(`Undid the land: ${u.target} is back at ${u.restored.slice(0, 12)}.`);
        await ctx.refresh();
    });
    await ctx.refresh();
    return r;
};

const syncStrategies: { label: p.Strategy; detail: string }[] = [
    { label: p.Strategy.Merge, detail: "Merge the target into the session's branch" },
    { label: p.Strategy.Rebase, detail: "Replay the session's commits on the target" },
];

/** Brings the target into a session; a refusal can go to its agent. */
export const sync: CommandFactory = (ctx) => async (arg?: unknown) => {
    const s = await pickSession(ctx, arg, (s) => s.state !== p.State.Merged);
    if (!s) return undefined;
    const strategy =
        field<p.Strategy>(arg, "strategy") ??
        (await vscode.window.showQuickPick(syncStrategies, { title: `Sync ${s.name} with ${s.target}`, placeHolder: "Strategy" }))?.label;
    if (!strategy) return undefined;
    const params: p.SyncParams = { session: s.id, strategy };
    if (field<boolean>(arg, "send")) params.send = true;
    try {
        const r = await ctx.request(p.sync, params);
        ctx.applySession(r.session);
        void vscode.window.showInformationMessage(
            r.upToDate ? `${s.name} already has ${r.target}.` : `Synced ${s.name} with ${r.target} (${r.strategy}).`,
        );
        return r;
    } catch (e) {
        if (!(e instanceof lc.ResponseError) || e.code !== p.Code.MergeConflict) throw e;
        const data = e.data as p.MergeConflictData | undefined;
        const paths = data?.paths ?? [];
        if (data?.sent) {
            void vscode.window.showWarningMessage(`Syncing ${s.name} would conflict in ${paths.join(", ")}; the list went to its agent.`);
            return { refused: true, data };
        }
        void vscode.window
            .showErrorMessage(`Syncing ${s.name} with ${s.target} would conflict in ${paths.join(", ")}. Nothing was changed.`, "Send to Agent", "Show Conflicts")
            .then((choice) => {
                if (choice === "Send to Agent") void vscode.commands.executeCommand("studiod.sync", { session: s.id, strategy, send: true });
                if (choice === "Show Conflicts") void showConflictList(data?.conflicts ?? [], s.name);
            });
        return { refused: true, data };
    }
};

export const refresh: CommandFactory = (ctx) => () => ctx.refresh();
export const restart: CommandFactory = (ctx) => () => ctx.restart();
export const focus: CommandFactory = () => () => vscode.commands.executeCommand(`${sessionsViewId}.focus`);

/** Every command of the extension with its factory. */
export function factories(comments: ReviewComments): Record<CommandId, CommandFactory> {
    return {
        "studiod.spawn": spawn,
        "studiod.review": review(comments),
        "studiod.addComment": addComment(comments),
        "studiod.sendReview": sendReview(comments),
        "studiod.merge": merge,
        "studiod.undo": undo,
        "studiod.stop": stop,
        "studiod.setBudget": setBudget,
        "studiod.remove": remove,
        "studiod.attach": attachTerminal,
        "studiod.openWorktree": openWorktree,
        "studiod.showConflicts": showConflicts,
        "studiod.preview": preview,
        "studiod.land": land,
        "studiod.sync": sync,
        "studiod.refresh": refresh,
        "studiod.restart": restart,
        "studiod.focus": focus,
    };
}
