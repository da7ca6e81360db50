// Attach Terminal: a Pseudoterminal showing the agent's PTY. Output arrives as
// studio/output notifications after studio/subscribe; keystrokes go back with
// studio/send (submit: false) and size changes with studio/resize.

import * as vscode from "vscode";
import { Ctx, describe } from "./ctx";
import { OutputCursor } from "./cursor";
import * as p from "./protocol";

/** How much earlier output to replay on attach. */
const backlog = 64 * 1024;

export class AgentTerminal implements vscode.Pseudoterminal {
    private readonly write = new vscode.EventEmitter<string>();
    private readonly closed = new vscode.EventEmitter<number | void>();
    readonly onDidWrite = this.write.event;
    readonly onDidClose = this.closed.event;
    private readonly decoder = new TextDecoder("utf-8");
    private cursor: OutputCursor | undefined;
    private input: Promise<unknown> = Promise.resolve();

    constructor(
        private readonly ctx: Ctx,
        readonly session: p.Session,
    ) {}

    async open(dims: vscode.TerminalDimensions | undefined): Promise<void> {
        try {
            const r = await this.ctx.request(p.output, { session: this.session.id, offset: -backlog });
            this.cursor = new OutputCursor(r.offset);
            this.emit(r.offset, Buffer.from(r.data ?? "", "base64"));
            if (r.done) {
                this.write.fire("\r\n\x1b[2m[the agent has exited]\x1b[0m\r\n");
                return;
            }
            await this.ctx.watchOutput(this.session.id, this.cursor.next, (n) => this.onOutput(n));
            if (dims) await this.setDimensions(dims);
        } catch (e) {
            this.write.fire(`\r\n\x1b[31mstudiod: ${describe(e)}\x1b[0m\r\n`);
        }
    }

    private onOutput(n: p.OutputNotification): void {
        this.emit(n.offset, Buffer.from(n.data ?? "", "base64"));
        if (n.done) {
            this.write.fire("\r\n\x1b[2m[the agent has exited]\x1b[0m\r\n");
            void this.ctx.unwatchOutput(this.session.id);
        }
    }

    private emit(offset: number, data: Uint8Array): void {
        if (!this.cursor) return;
        const { bytes, gap } = this.cursor.take(offset, data);
        if (gap) this.write.fire("\r\n\x1b[2m[…]\x1b[0m\r\n");
        if (bytes.length) this.write.fire(this.decoder.decode(bytes, { stream: true }));
    }

    handleInput(data: string): void {
        // Keep keystrokes in order: one request at a time.
        this.input = this.input
            .then(() => this.ctx.request(p.send, { session: this.session.id, text: data, submit: false }))
            .catch((e) => this.write.fire(`\r\n\x1b[31mstudiod: ${describe(e)}\x1b[0m\r\n`));
    }

    async setDimensions(d: vscode.TerminalDimensions): Promise<void> {
        await this.ctx
            .request(p.resize, { session: this.session.id, rows: d.rows, cols: d.columns })
            .catch((e) => this.ctx.log.warn(`resize ${this.session.name}: ${describe(e)}`));
    }

    close(): void {
        void this.ctx.unwatchOutput(this.session.id);
        this.write.dispose();
        this.closed.dispose();
    }
}

const terminals = new Map<string, vscode.Terminal>();

export function attach(ctx: Ctx, s: p.Session): vscode.Terminal {
    const existing = terminals.get(s.id);
    if (existing && existing.exitStatus === undefined) {
        existing.show();
        return existing;
    }
    const t = vscode.window.createTerminal({
        name: `agent: ${s.name}`,
        pty: new AgentTerminal(ctx, s),
        iconPath: new vscode.ThemeIcon("hubot"),
    });
    terminals.set(s.id, t);
    ctx.pushExtCleanup(
        vscode.window.onDidCloseTerminal((closed) => {
            if (closed === t) terminals.delete(s.id);
        }),
    );
    t.show();
    return t;
}
