// Notifications about sessions: one per waiting episode of a session (with
// Allow and Reject when the session offers them, Attach and Review), and, with studiod.notifications = all, one when a
// session exits or fails. The language server does not also ask
// (initializationOptions.showsWaiting), so there is one source to show.

import * as vscode from "vscode";
import { NotificationLevel } from "./config";
import * as p from "./protocol";

/** What the notifier follows: Ctx provides it. */
export interface SessionSource {
    readonly onDidChangeSession: vscode.Event<{ prev: p.Session | undefined; session: p.Session }>;
    readonly config: { readonly notifications: NotificationLevel };
    request<P, R>(req: p.Request<P, R>, params: P): Promise<R>;
}

export class Notifier implements vscode.Disposable {
    private readonly disposables: vscode.Disposable[] = [];

    constructor(private readonly src: SessionSource) {
        this.disposables.push(src.onDidChangeSession(({ prev, session }) => this.onSession(prev, session)));
    }

    private onSession(prev: p.Session | undefined, s: p.Session): void {
        const level = this.src.config.notifications;
        if (level === "off") return;
        // A new waiting episode: the state turned waiting, or the question changed.
        if (s.state === p.State.Waiting && (prev?.state !== p.State.Waiting || prev.detail !== s.detail)) {
            void this.show("info", `Agent session ${s.name} is waiting for input${s.detail ? `: ${s.detail}` : "."}`, s);
        } else if (level === "all" && prev && prev.state !== s.state && (s.state === p.State.Exited || s.state === p.State.Failed)) {
            const kind = s.state === p.State.Failed ? "error" : "info";
            void this.show(kind, `Agent session ${s.name} ${s.state}${s.detail ? `: ${s.detail}` : "."}`, s);
        }
    }

    private async show(kind: "info" | "error", message: string, s: p.Session): Promise<void> {
        const fn = kind === "error" ? vscode.window.showErrorMessage : vscode.window.showInformationMessage;
        // A permission that offers allow and reject is answered from here
        // (studio/answer; the first answer from any client wins).
        const kinds = new Set((s.waiting?.options ?? []).map((o) => o.kind));
        const answers: string[] = [];
        if (s.state === p.State.Waiting && s.waiting?.kind === "permission") {
            if (kinds.has("allow")) answers.push("Allow");
            if (kinds.has("reject")) answers.push("Reject");
        }
        const actions = [...answers, ...(p.live(s.state) ? ["Attach", "Review"] : ["Review"])];
        const choice = await fn(message, ...actions);
        if (choice === "Allow" || choice === "Reject") {
            const answer = choice === "Allow" ? "allow" : "reject";
            try {
                await this.src.request(p.answer, { session: s.id, answer });
            } catch (e) {
                void vscode.window.showWarningMessage(`Could not answer ${s.name}: ${e instanceof Error ? e.message : String(e)}`);
            }
            return;
        }
        if (choice === "Attach") await vscode.commands.executeCommand("studiod.attach", s.id);
        if (choice === "Review") await vscode.commands.executeCommand("studiod.review", s.id);
    }

    dispose(): void {
        for (const d of this.disposables) d.dispose();
    }
}
