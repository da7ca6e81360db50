// Notifications about sessions. Two sources can announce the same event: the
// client sees a session turn "waiting" in studio/sessionChanged, and the
// server may say so with window/showMessage or window/showMessageRequest. The
// rule: one notification per waiting episode of a session. Whichever comes
// first is shown (a server message naming the session gets Attach / Review
// actions); a later window/showMessage about it is only logged. A
// window/showMessageRequest is always shown, since the server waits for the
// answer — except with studiod.notifications = off, when it is answered with
// no choice.

import * as vscode from "vscode";
import * as lc from "vscode-languageclient/node";
import { Ctx } from "./ctx";
import * as p from "./protocol";

export class Notifier implements vscode.Disposable {
    /** IDs of sessions already announced in their current waiting episode. */
    private readonly announced = new Set<string>();
    private readonly disposables: vscode.Disposable[] = [];

    constructor(private readonly ctx: Ctx) {
        this.disposables.push(ctx.onDidChangeSession(({ prev, session }) => this.onSession(prev, session)));
    }

    /** Installs the window/showMessage handlers on a client before it starts. */
    install(client: lc.LanguageClient): vscode.Disposable[] {
        return [
            client.onNotification(lc.ShowMessageNotification.type, (m) => void this.serverMessage(m)),
            client.onRequest(lc.ShowMessageRequest.type, (m) => this.serverRequest(m)),
        ];
    }

    private onSession(prev: p.Session | undefined, s: p.Session): void {
        if (s.state !== p.State.Waiting) this.announced.delete(s.id);
        const level = this.ctx.config.notifications;
        if (level === "off" || prev?.state === s.state) return;
        if (s.state === p.State.Waiting && !this.announced.has(s.id)) {
            this.announced.add(s.id);
            void this.show("info", `Agent session ${s.name} is waiting for input${s.detail ? `: ${s.detail}` : "."}`, s);
        } else if (level === "all" && prev && (s.state === p.State.Exited || s.state === p.State.Failed)) {
            const kind = s.state === p.State.Failed ? "error" : "info";
            void this.show(kind, `Agent session ${s.name} ${s.state}${s.detail ? `: ${s.detail}` : "."}`, s);
        }
    }

    /** The waiting session a server message is about, if it names one. */
    private subject(text: string): p.Session | undefined {
        return this.ctx.sessions
            .all()
            .filter((s) => s.state === p.State.Waiting)
            .sort((a, b) => b.name.length - a.name.length)
            .find((s) => new RegExp(`\\b${escape(s.name)}\\b`).test(text));
    }

    private async serverMessage(m: lc.ShowMessageParams): Promise<void> {
        this.ctx.log.info(`server: ${m.message}`);
        if (this.ctx.config.notifications === "off") return;
        const s = this.subject(m.message);
        if (s) {
            if (this.announced.has(s.id)) return;
            this.announced.add(s.id);
        }
        await this.show(kindOf(m.type), m.message, s);
    }

    private async serverRequest(m: lc.ShowMessageRequestParams): Promise<lc.MessageActionItem | null> {
        this.ctx.log.info(`server asks: ${m.message}`);
        if (this.ctx.config.notifications === "off") return null;
        const s = this.subject(m.message);
        if (s) this.announced.add(s.id);
        const actions = m.actions ?? [];
        const fn = m.type === lc.MessageType.Error ? vscode.window.showErrorMessage : m.type === lc.MessageType.Warning ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
        return (await fn(m.message, ...actions)) ?? null;
    }

    private async show(kind: "info" | "warning" | "error", message: string, s?: p.Session): Promise<void> {
        const fn = kind === "error" ? vscode.window.showErrorMessage : kind === "warning" ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
        const actions = s && p.live(s.state) ? ["Attach", "Review"] : s ? ["Review"] : [];
        const choice = await fn(message, ...actions);
        if (s && choice === "Attach") await vscode.commands.executeCommand("studiod.attach", s.id);
        if (s && choice === "Review") await vscode.commands.executeCommand("studiod.review", s.id);
    }

    dispose(): void {
        for (const d of this.disposables) d.dispose();
    }
}

function kindOf(t: lc.MessageType): "info" | "warning" | "error" {
    return t === lc.MessageType.Error ? "error" : t === lc.MessageType.Warning ? "warning" : "info";
}

function escape(s: string): string {
    return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
