// Serves studio: URIs (one version of one file of a session) from studio/file.

import * as vscode from "vscode";
import { Ctx } from "./ctx";
import { scheme } from "./ids";
import * as p from "./protocol";
import { FileRef, fromQuery, toQuery } from "./uris";

/** The URI of one version of a session's file; root is the session's worktree. */
export function studioUri(ref: FileRef, root: string): vscode.Uri {
    const { path, query } = toQuery(ref, root);
    return vscode.Uri.from({ scheme, path, query });
}

export function parseStudioUri(uri: vscode.Uri): FileRef | undefined {
    return uri.scheme === scheme ? fromQuery(uri.path, uri.query) : undefined;
}

export class FileContentProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
    private readonly changed = new vscode.EventEmitter<vscode.Uri>();
    readonly onDidChange = this.changed.event;
    private readonly sub: vscode.Disposable;

    constructor(private readonly ctx: Ctx) {
        // Worktree and snapshot versions move while the agent works.
        this.sub = ctx.onDidChangeSession(({ session }) => {
            for (const doc of vscode.workspace.textDocuments) {
                const ref = parseStudioUri(doc.uri);
                if (ref && ref.session === session.id && (ref.version === "worktree" || ref.version === "snapshot")) {
                    this.changed.fire(doc.uri);
                }
            }
        });
    }

    async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
        const ref = parseStudioUri(uri);
        if (!ref) throw new Error(`not a studio file: ${uri.toString()}`);
        const r = await this.ctx.request(p.file, { session: ref.session, path: ref.path, version: ref.version });
        if (r.missing) return "";
        if (r.binary) return `(binary file ${ref.path})`;
        return r.content;
    }

    dispose(): void {
        this.sub.dispose();
        this.changed.dispose();
    }
}
