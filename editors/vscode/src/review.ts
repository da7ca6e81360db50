// Review: a session's changes in VS Code's multi-file diff editor, and review
// comments on them through the Comments API, stored by studio/comment and sent
// to the agent by studio/feedback.

import { existsSync } from "node:fs";
import * as vscode from "vscode";
import { parseStudioUri, studioUri } from "./content";
import { Ctx } from "./ctx";
import { commentControllerId } from "./ids";
import * as p from "./protocol";

/** The resources vscode.changes shows: [label, original, modified]. */
export type ChangeResource = [vscode.Uri, vscode.Uri | undefined, vscode.Uri | undefined];

/**
 * The session's version of a file as the review shows it: read-only, served
 * by studio/file (the live worktree file while the worktree exists, else
 * the snapshot), never the worktree file itself, so keystrokes that miss
 * the comment box cannot reach the agent's file on disk.
 */
export function reviewUri(s: p.Session, file: string, worktreeExists: boolean): vscode.Uri {
    return studioUri({ session: s.id, path: file, version: worktreeExists ? "worktree" : "snapshot" }, s.worktree);
}

/**
 * Every URI of a file has the file's path in the worktree, so VS Code pairs
 * a base with the session's version as one resource (a rename shows as
 * one, by its old path). An added file has no original, as in VS Code's
 * own Git changes view.
 */
export function changeResources(s: p.Session, files: readonly p.FileDiff[], worktreeExists: boolean): ChangeResource[] {
    return files.map((f) => {
        const current = reviewUri(s, f.path, worktreeExists);
        const base = studioUri({ session: s.id, path: f.oldPath ?? f.path, version: "base" }, s.worktree);
        if (f.status === "added") return [current, undefined, current];
        if (f.status === "deleted") return [base, base, undefined];
        return [current, base, current];
    });
}

export function reviewTitle(s: p.Session): string {
    return `Review: ${s.name} (${s.agent})`;
}

/** Opens the multi-file diff of s against its base; returns the files shown. */
export async function openReview(ctx: Ctx, comments: ReviewComments, s: p.Session): Promise<p.FileDiff[]> {
    const d = await ctx.request(p.diff, { session: s.id, against: "base", stat: true });
    const files = d.files ?? [];
    if (files.length === 0) {
        void vscode.window.showInformationMessage(`Session ${s.name} has no changes yet.`);
        return files;
    }
    await vscode.commands.executeCommand("vscode.changes", reviewTitle(s), changeResources(s, files, existsSync(s.worktree)));
    await comments.load(s).catch((e) => ctx.log.warn(`comments of ${s.name}: ${String(e)}`));
    return files;
}

/** Which session and repo-relative path a document belongs to. */
export function locate(ctx: Ctx, uri: vscode.Uri): { session: p.Session; path: string } | undefined {
    const ref = parseStudioUri(uri);
    if (ref) {
        const session = ctx.sessions.get(ref.session);
        return session && { session, path: ref.path };
    }
    if (uri.scheme !== "file") return undefined;
    return ctx.sessions.byPath(uri.fsPath);
}

export class ReviewComments implements vscode.Disposable {
    readonly controller: vscode.CommentController;
    private readonly threads = new Map<string, vscode.CommentThread[]>(); // by session ID
    private readonly loaded = new Set<string>(); // comment IDs shown

    constructor(private readonly ctx: Ctx) {
        this.controller = vscode.comments.createCommentController(commentControllerId, "studiod review");
        this.controller.options = {
            prompt: "Comment for the agent…",
            placeHolder: "What should the agent change here?",
        };
        this.controller.commentingRangeProvider = {
            provideCommentingRanges: (doc) =>
                locate(ctx, doc.uri) && doc.lineCount > 0 ? [new vscode.Range(0, 0, doc.lineCount - 1, 0)] : [],
        };
    }

    /** Handles the comment widget's "Add Review Comment" button. */
    async add(reply: vscode.CommentReply): Promise<p.Comment | undefined> {
        const thread = reply.thread;
        const where = locate(this.ctx, thread.uri);
        if (!where) throw new Error("this file is not part of an agent session");
        const range = thread.range ?? new vscode.Range(0, 0, 0, 0);
        const c = await this.ctx.request(p.comment, {
            session: where.session.id,
            path: where.path,
            startLine: range.start.line + 1,
            endLine: range.end.line + 1,
            body: reply.text,
        });
        this.loaded.add(String(c.id));
        thread.comments = [...thread.comments, this.toComment(c)];
        thread.label = `Review of ${where.session.name}`;
        thread.contextValue = "studiod.unsent";
        this.track(where.session.id, thread);
        return c;
    }

    /** Shows the stored comments of s on its worktree files. */
    async load(s: p.Session): Promise<void> {
        const r = await this.ctx.request(p.comments, { session: s.id });
        for (const c of r.comments ?? []) {
            if (this.loaded.has(String(c.id))) continue;
            this.loaded.add(String(c.id));
            const uri = reviewUri(s, c.path, existsSync(s.worktree));
            const t = this.controller.createCommentThread(
                uri,
                new vscode.Range(c.startLine - 1, 0, Math.max(c.endLine, c.startLine) - 1, 0),
                [this.toComment(c)],
            );
            t.label = c.sent ? `Sent to ${s.name}` : `Review of ${s.name}`;
            t.contextValue = c.sent ? "studiod.sent" : "studiod.unsent";
            t.collapsibleState = vscode.CommentThreadCollapsibleState.Collapsed;
            this.track(s.id, t);
        }
    }

    /** Marks the threads of a session as delivered. */
    markSent(s: p.Session): void {
        for (const t of this.threads.get(s.id) ?? []) {
            t.label = `Sent to ${s.name}`;
            t.contextValue = "studiod.sent";
        }
    }

    private track(session: string, t: vscode.CommentThread): void {
        const list = this.threads.get(session) ?? [];
        if (!list.includes(t)) list.push(t);
        this.threads.set(session, list);
    }

    private toComment(c: p.Comment): vscode.Comment {
        return {
            body: new vscode.MarkdownString(c.body),
            mode: vscode.CommentMode.Preview,
            author: { name: "You" },
            timestamp: new Date(c.created),
        };
    }

    dispose(): void {
        this.controller.dispose();
    }
}
