// Ctx owns the language client's lifecycle, the client-side state it feeds
// (sessions, conflicts, previews, plans) and every disposable of the extension.

import * as vscode from "vscode";
import * as lc from "vscode-languageclient/node";
import { Binary, bootstrap, BootstrapError } from "./bootstrap";
import { Config } from "./config";
import { ConflictSet } from "./conflicts";
import { Feed } from "./feed";
import { CommandId, runningContext } from "./ids";
import { PlanStore } from "./plans";
import * as p from "./protocol";
import { PreviewStore } from "./preview";
import { inWorkspace } from "./render";
import { SessionStore } from "./sessions";

export type ClientState = "stopped" | "starting" | "running" | "error";

export type Cmd = (...args: any[]) => unknown;
export type CommandFactory = (ctx: Ctx) => Cmd;

export type OutputHandler = (n: p.OutputNotification) => void;

export class Ctx {
    readonly config = new Config();
    readonly sessions = new SessionStore();
    readonly conflicts = new ConflictSet();
    /** Each repository's integration preview (studio/preview, kept live). */
    readonly previews = new PreviewStore();
    /** The workspace's plans (studio/plans, asked again as sessions change). */
    readonly plans = new PlanStore();
    readonly log: vscode.LogOutputChannel;

    /** Fires when sessions, conflicts, previews or plans change. */
    readonly onDidChange: vscode.Event<void>;
    /** Fires with (previous, current) for every session update. */
    readonly onDidChangeSession: vscode.Event<{ prev: p.Session | undefined; session: p.Session }>;
    readonly onDidChangeState: vscode.Event<ClientState>;

    private _state: ClientState = "stopped";
    private _lastError: string | undefined;
    private _client: lc.LanguageClient | undefined;
    private _binary: Binary | undefined;
    private _server: p.HelloResult | undefined;
    private readonly clientDisposables: vscode.Disposable[] = [];
    private readonly outputs = new Map<string, { offset: number; handler: OutputHandler }>();
    /** Joins studio/subscribe's snapshot with the notifications after it. */
    private readonly feed = new Feed();
    private readonly changed = new vscode.EventEmitter<void>();
    private readonly sessionChanged = new vscode.EventEmitter<{ prev: p.Session | undefined; session: p.Session }>();
    private readonly stateChanged = new vscode.EventEmitter<ClientState>();
    private starting: Promise<void> | undefined;
    private plansLoading: Promise<void> | undefined;
    private plansAgain = false;

    constructor(readonly extCtx: vscode.ExtensionContext) {
        this.log = vscode.window.createOutputChannel("studiod", { log: true });
        this.onDidChange = this.changed.event;
        this.onDidChangeSession = this.sessionChanged.event;
        this.onDidChangeState = this.stateChanged.event;
        this.pushExtCleanup(this.log, this.changed, this.sessionChanged, this.stateChanged);
        this.pushExtCleanup(
            vscode.workspace.onDidChangeConfiguration((e) => {
                if (this.config.affectsServer(e)) void this.restart();
            }),
            vscode.workspace.onDidChangeWorkspaceFolders(() => void this.refresh()),
        );
    }

    get state(): ClientState {
        return this._state;
    }
    /** The last failure shown to the user, for the status bar and tests. */
    get lastError(): string | undefined {
        return this._lastError;
    }
    get binary(): Binary | undefined {
        return this._binary;
    }
    get server(): p.HelloResult | undefined {
        return this._server;
    }
    get client(): lc.LanguageClient | undefined {
        return this._client;
    }

    pushExtCleanup(...ds: vscode.Disposable[]): void {
        this.extCtx.subscriptions.push(...ds);
    }

    registerCommand(id: CommandId, factory: CommandFactory): void {
        const cmd = factory(this);
        this.pushExtCleanup(
            vscode.commands.registerCommand(id, async (...args: unknown[]) => {
                try {
                    return await cmd(...args);
                } catch (e) {
                    this.reportError(`${id}: ${describe(e)}`, e);
                    return undefined;
                }
            }),
        );
    }

    /** Shows err to the user and remembers it. */
    reportError(message: string, err?: unknown): void {
        this._lastError = message;
        this.log.error(message, ...(err instanceof Error && err.stack ? [err.stack] : []));
        void vscode.window.showErrorMessage(message);
    }

    workspaceFolders(): string[] {
        return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === "file").map((f) => f.uri.fsPath);
    }

    // ---- lifecycle ----------------------------------------------------------

    /** Starts the client; failures are reported, never thrown. */
    start(): Promise<void> {
        this.starting ??= this.doStart().finally(() => (this.starting = undefined));
        return this.starting;
    }

    async restart(): Promise<void> {
        await this.starting?.catch(() => undefined);
        await this.stop();
        await this.start();
    }

    async stop(): Promise<void> {
        const client = this._client;
        this._client = undefined;
        this._server = undefined;
        while (this.clientDisposables.length) this.clientDisposables.pop()?.dispose();
        if (client) {
            try {
                await client.dispose(2000);
            } catch (e) {
                this.log.warn(`stopping studiod lsp: ${describe(e)}`);
            }
        }
        this.setState("stopped");
    }

    private async doStart(): Promise<void> {
        this.setState("starting");
        try {
            this._binary = await bootstrap(this.config.path);
            this.log.info(`using ${this._binary.path} (${this._binary.version})`);
            const client = this.createClient(this._binary.path);
            this._client = client;
            await client.start();
            const hello = await client.sendRequest(p.hello.method, {
                client: "vscode",
                version: p.ProtocolVersion,
            } satisfies p.HelloParams) as p.HelloResult;
            if (hello.protocolVersion.split(".")[0] !== p.ProtocolVersion) {
                throw new BootstrapError(
                    `studiod speaks protocol ${hello.protocolVersion}; this extension speaks ${p.ProtocolVersion}.`,
                    "Update the extension or studiod so that both match.",
                );
            }
            this._server = hello;
            this._lastError = undefined;
            await this.refresh();
            this.setState("running");
        } catch (e) {
            this.setState("error");
            // Not awaited: the message stays until the user answers it.
            this.showStartError(e);
        }
    }

    private showStartError(e: unknown): void {
        const fix = e instanceof BootstrapError ? ` ${e.fix}` : "";
        const message = `studiod failed to start: ${describe(e)}${fix}`;
        this._lastError = message;
        this.log.error(message);
        void vscode.window.showErrorMessage(message, "Open Settings", "Show Log", "Retry").then(async (choice) => {
            if (choice === "Open Settings") await vscode.commands.executeCommand("workbench.action.openSettings", "studiod.path");
            else if (choice === "Show Log") this.log.show();
            else if (choice === "Retry") await this.restart();
        });
    }

    private setState(s: ClientState): void {
        this._state = s;
        void vscode.commands.executeCommand("setContext", runningContext, s === "running");
        this.stateChanged.fire(s);
    }

    private createClient(bin: string): lc.LanguageClient {
        const server: lc.Executable = {
            command: bin,
            args: ["lsp"],
            transport: lc.TransportKind.stdio,
            options: { env: { ...process.env } },
        };
        const client = new lc.LanguageClient(
            "studiod",
            "studiod",
            { run: server, debug: server },
            {
                documentSelector: [{ scheme: "file" }],
                outputChannel: this.log,
                // The extension tells the person about waiting sessions itself
                // (notify.ts), so the server must not also ask.
                initializationOptions: { client: "vscode", showsWaiting: true },
                initializationFailedHandler: () => false,
            },
        );
        this.clientDisposables.push(
            client.onNotification(p.sessionChanged.method, (n: p.SessionChanged) =>
                this.feed.event(n.seq, () => this.applySession(n.session)),
            ),
            client.onNotification(p.conflictsChanged.method, (d: p.ConflictsChanged) =>
                this.feed.event(d.seq, () => {
                    this.conflicts.apply(d);
                    this.changed.fire();
                }),
            ),
            client.onNotification(p.previewChanged.method, (n: p.PreviewChanged) =>
                this.feed.event(n.seq, () => this.applyPreview(n.preview)),
            ),
            client.onNotification(p.outputNotification.method, (n: p.OutputNotification) => {
                this.outputs.get(n.session)?.handler(n);
            }),
            client.onDidChangeState((e) => {
                if (e.newState === lc.State.Stopped && this._client === client && this._state === "running") {
                    this.setState("error");
                    this._lastError = "studiod lsp stopped; see the studiod output.";
                }
            }),
        );
        return client;
    }

    // ---- requests and state -------------------------------------------------

    async request<P, R>(req: p.Request<P, R>, params: P): Promise<R> {
        const client = this._client;
        if (!client || !client.isRunning()) {
            throw new Error(`studiod is not running${this._lastError ? `: ${this._lastError}` : ""}`);
        }
        return (await client.sendRequest(req.method, params)) as R;
    }

    /**
     * Resubscribes with a snapshot: the sessions, conflicts and previews of
     * the workspace folders, and every change after them.
     */
    async refresh(): Promise<void> {
        if (!this._client) return;
        await this.subscribe(true);
        // Asking for a repository's preview keeps it live; studio/previewChanged
        // brings the next ones.
        const sessions = this.sessions.all();
        for (const repo of this.workspaceFolders()) {
            if (!sessions.some((s) => inWorkspace(s, [repo]))) continue;
            try {
                this.applyPreview(await this.request(p.preview, { repo }));
            } catch (e) {
                // A folder that is not a git repository has no preview.
                this.log.info(`preview of ${repo}: ${describe(e)}`);
            }
        }
        await this.loadPlans();
        this.changed.fire();
    }

    /**
     * Asks for the plans again. A plan moves only with its sessions (a task
     * starts a session, lands with its merge, is reviewed when its reviewer's
     * turn ends), so a session's change is when to ask; one request at a
     * time, and one more after it when something changed meanwhile.
     */
    refreshPlans(): void {
        if (this.plansLoading) {
            this.plansAgain = true;
            return;
        }
        this.plansLoading = this.loadPlans().finally(() => {
            this.plansLoading = undefined;
            if (this.plansAgain) {
                this.plansAgain = false;
                this.refreshPlans();
            }
        });
    }

    private async loadPlans(): Promise<void> {
        if (!this._client) return;
        try {
            const r = await this.request(p.plans, {});
            const folders = this.workspaceFolders();
            const here = (r.plans ?? []).filter((pl) => inWorkspace({ repo: pl.repo, worktree: pl.repo }, folders));
            if (this.plans.reset(here)) this.changed.fire();
        } catch (e) {
            // A daemon without plans: the view shows sessions only.
            this.log.info(`plans: ${describe(e)}`);
        }
    }

    /** Applies one session record (from a notification or a response). */
    applySession(s: p.Session): void {
        if (!inWorkspace(s, this.workspaceFolders()) && !this.sessions.get(s.id)) return;
        const prev = this.sessions.upsert(s);
        this.sessionChanged.fire({ prev, session: s });
        this.changed.fire();
        if (!prev || prev.state !== s.state || this.plans.all().some((pl) => pl.state === "running")) this.refreshPlans();
    }

    /** Applies a repository's preview (from a notification or a response). */
    applyPreview(pv: p.Preview): void {
        if (this.previews.set(pv)) this.changed.fire();
    }

    /** Streams session output to handler from offset until unwatchOutput. */
    async watchOutput(session: string, offset: number, handler: OutputHandler): Promise<void> {
        this.outputs.set(session, { offset, handler });
        await this.subscribe();
    }

    async unwatchOutput(session: string): Promise<void> {
        if (this.outputs.delete(session)) await this.subscribe().catch((e) => this.log.warn(describe(e)));
    }

    /**
     * studio/subscribe replaces the previous choice, so send the whole set;
     * with snapshot, the state it answers replaces what the extension knew.
     */
    private async subscribe(snapshot = false): Promise<void> {
        if (!this._client) return;
        const output = [...this.outputs].map(([session, o]) => ({ session, offset: o.offset }));
        const params = { sessions: true, conflicts: true, preview: true, output, snapshot };
        if (!snapshot) {
            await this.request(p.subscribe, params);
            return;
        }
        await this.feed.snapshot(
            () => this.request(p.subscribe, params),
            (r) => {
                const folders = this.workspaceFolders();
                const here = (repo: string) => inWorkspace({ repo, worktree: repo }, folders);
                // Ended sessions come back as they change, as before a refresh.
                const ended = new Set<string>([p.State.Failed, p.State.Merged]);
                this.sessions.reset((r.sessions ?? []).filter((s) => !ended.has(s.state) && inWorkspace(s, folders)));
                this.conflicts.reset((r.conflicts ?? []).filter((c) => here(c.repo)));
                this.previews.clear();
                for (const pv of r.previews ?? []) if (here(pv.repo)) this.previews.set(pv);
            },
        );
    }

    dispose(): void {
        void this.stop();
    }
}

/** A one-line description of an error, including a JSON-RPC code. */
export function describe(e: unknown): string {
    if (e instanceof lc.ResponseError) return `${e.message} (code ${e.code})`;
    if (e instanceof Error) return e.message;
    return String(e);
}
