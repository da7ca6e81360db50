// Entry point: activates the extension and reports activation failures.
// Everything else lives in Ctx and the modules it wires together.

import * as vscode from "vscode";
import { factories } from "./commands";
import { FileContentProvider } from "./content";
import { Ctx } from "./ctx";
import { commandIds, scheme, sessionsViewId } from "./ids";
import { Notifier } from "./notify";
import { ReviewComments } from "./review";
import { createStatusBar } from "./status";
import { SessionsTree } from "./tree";

let ctx: Ctx | undefined;

/** The extension's API: the Ctx, for tests and other extensions. */
export interface Api {
    ctx: Ctx;
    tree: SessionsTree;
}

export async function activate(context: vscode.ExtensionContext): Promise<Api> {
    try {
        ctx = new Ctx(context);
        const tree = new SessionsTree(ctx);
        const comments = new ReviewComments(ctx);
        const content = new FileContentProvider(ctx);
        ctx.pushExtCleanup(
            tree,
            comments,
            content,
            vscode.window.createTreeView(sessionsViewId, { treeDataProvider: tree, showCollapseAll: true }),
            vscode.workspace.registerTextDocumentContentProvider(scheme, content),
            createStatusBar(ctx),
            new Notifier(ctx),
            ctx,
        );
        const table = factories(comments);
        for (const id of commandIds) ctx.registerCommand(id, table[id]);
        // Server failures are shown by Ctx and do not fail activation.
        void ctx.start();
        return { ctx, tree };
    } catch (e) {
        const message = `Activating studiod failed: ${e instanceof Error ? e.message : String(e)}`;
        void vscode.window.showErrorMessage(message);
        throw e;
    }
}

export async function deactivate(): Promise<void> {
    await ctx?.stop();
    ctx = undefined;
}
