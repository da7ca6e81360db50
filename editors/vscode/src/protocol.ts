// The studiod wire surface, mirrored from the Go package `protocol`
// (methods.go, errors.go, types.go). This is the one place the extension names
// a method, notification, command or error code; test/unit/protocol.test.ts
// fails when this file and the Go constants disagree.
//
// This module imports nothing, so the unit tests can load it outside VS Code.

/** A request with its parameter and result types. */
export class Request<P, R> {
    declare readonly _params?: P;
    declare readonly _result?: R;
    constructor(readonly method: string) {}
}

/** A notification with its parameter type. */
export class Notification<P> {
    declare readonly _params?: P;
    constructor(readonly method: string) {}
}

// Requests (Go: Method*).
export const Method = {
    Hello: "studio/hello",
    Spawn: "studio/spawn",
    Sessions: "studio/sessions",
    Session: "studio/session",
    Send: "studio/send",
    Output: "studio/output",
    Resize: "studio/resize",
    Stop: "studio/stop",
    Remove: "studio/remove",
    Hook: "studio/hook",
    Diff: "studio/diff",
    File: "studio/file",
    Comment: "studio/comment",
    Comments: "studio/comments",
    Feedback: "studio/feedback",
    Conflicts: "studio/conflicts",
    Merge: "studio/merge",
    Undo: "studio/undo",
    Subscribe: "studio/subscribe",
    Status: "studio/status",
    Trust: "studio/trust",
    Shutdown: "studio/shutdown",
} as const;

// Notifications from the daemon (Go: Notify*).
export const Notify = {
    SessionChanged: "studio/sessionChanged",
    ConflictsChanged: "studio/conflictsChanged",
    Output: "studio/output",
    // LSP's work-done progress, for spawns that carry a workDoneToken.
    Progress: "$/progress",
} as const;

// Server-side workspace/executeCommand commands (Go: Command*). The extension's
// own commands are named `studiod.*` so they never collide with these, which
// vscode-languageclient registers on its own.
export const Command = {
    Spawn: "studio.spawn",
    Review: "studio.review",
    Merge: "studio.merge",
    Stop: "studio.stop",
    Remove: "studio.remove",
    Send: "studio.send",
    Feedback: "studio.feedback",
    Undo: "studio.undo",
    // Asks the editor to show a file at a line (code actions use it).
    Open: "studio.open",
} as const;

// Error codes (Go: Code*).
export const Code = {
    ParseError: -32700,
    InvalidRequest: -32600,
    MethodNotFound: -32601,
    InvalidParams: -32602,
    Internal: -32603,
    NotFound: -32001,
    Invalid: -32002,
    MergeConflict: -32003,
    TargetDirty: -32004,
    Untrusted: -32005,
    Busy: -32006,
    Git: -32007,
} as const;

// Session states (Go: State*).
export const State = {
    Starting: "starting",
    Working: "working",
    Waiting: "waiting",
    Idle: "idle",
    Exited: "exited",
    Failed: "failed",
    Stopped: "stopped",
    Merged: "merged",
    Removed: "removed",
} as const;
export type SessionState = (typeof State)[keyof typeof State];

/** Reports whether an agent process may still be running in state s (Go: Live). */
export function live(s: string): boolean {
    return s === State.Starting || s === State.Working || s === State.Waiting || s === State.Idle;
}

// Conflict kinds (Go: Kind*).
export const Kind = {
    Content: "content",
    ModifyDelete: "modify/delete",
    AddAdd: "add/add",
    Rename: "rename",
    Binary: "binary",
    Mode: "mode",
    Overlap: "overlap",
} as const;

// Merge strategies (Go: Strategy*).
export const Strategy = {
    Merge: "merge",
    Squash: "squash",
    Rebase: "rebase",
} as const;
export type MergeStrategy = (typeof Strategy)[keyof typeof Strategy];

/** Go: Version. Clients refuse a daemon with a different major version. */
export const ProtocolVersion = "1";

// ---- types (Go: types.go) ---------------------------------------------------

export interface Changes {
    files: number;
    additions: number;
    deletions: number;
}

export interface Session {
    id: string;
    name: string;
    repo: string;
    branch: string;
    base: string;
    target: string;
    worktree: string;
    agent: string;
    command?: string[];
    prompt?: string;
    state: SessionState | string;
    detail?: string;
    pid?: number;
    exitCode?: number;
    port?: number;
    created: string;
    updated: string;
    changes: Changes;
    conflicts: number;
    socket?: string;
    log?: string;
}

export interface SessionRef {
    session: string;
    repo?: string;
}

export interface HelloParams {
    client: string;
    version: string;
}
export interface HelloResult {
    version: string;
    protocolVersion: string;
    pid: number;
}

export interface SpawnParams {
    repo: string;
    name?: string;
    agent?: string;
    base?: string;
    target?: string;
    prompt?: string;
    rows?: number;
    cols?: number;
}

export interface SessionsParams {
    repo?: string;
    all?: boolean;
}
export interface SessionsResult {
    sessions: Session[];
}

export interface SendParams extends SessionRef {
    text: string;
    submit?: boolean;
}

export interface OutputParams extends SessionRef {
    offset: number;
    limit?: number;
}
export interface OutputResult {
    data: string; // base64
    offset: number;
    next: number;
    size: number;
    done: boolean;
}

export interface ResizeParams extends SessionRef {
    rows: number;
    cols: number;
}

export interface StopParams extends SessionRef {
    force?: boolean;
}

export interface RemoveParams extends SessionRef {
    keepBranch?: boolean;
    force?: boolean;
}
export interface RemoveResult {
    session: Session;
    branchDeleted: boolean;
    branchKept?: string;
}

export interface OutputSubscription {
    session: string;
    offset: number;
}
export interface SubscribeParams {
    sessions?: boolean;
    conflicts?: boolean;
    output?: OutputSubscription[];
}

export interface SessionChanged {
    session: Session;
}

export interface OutputNotification {
    session: string;
    offset: number;
    data: string; // base64
    done?: boolean;
}

export interface Range {
    start: number; // 1-based
    end: number; // inclusive; end < start: a pure deletion before start
}

export interface Side {
    session: string; // session name, or "target"
    path: string;
    file: string;
    ranges: Range[];
}

export interface Conflict {
    id: string;
    repo: string;
    path: string;
    kind: string;
    severity: "conflict" | "overlap" | string;
    a: Side;
    b: Side;
}

export interface ConflictsParams {
    repo?: string;
    session?: string;
    path?: string;
}
export interface ConflictsResult {
    conflicts: Conflict[];
}

export interface ConflictsChanged {
    added?: Conflict[];
    updated?: Conflict[];
    resolved?: string[];
}

export interface DiffParams extends SessionRef {
    against?: "base" | "target";
    paths?: string[];
    stat?: boolean;
}
export interface Hunk {
    oldStart: number;
    oldLines: number;
    newStart: number;
    newLines: number;
    header?: string;
    lines: string[];
}
export interface FileDiff {
    path: string;
    oldPath?: string;
    status: "added" | "modified" | "deleted" | "renamed" | string;
    binary?: boolean;
    additions: number;
    deletions: number;
    hunks?: Hunk[];
}
export interface DiffResult {
    from: string;
    to: string;
    files: FileDiff[];
    stats: Changes;
}

export type FileVersion = "base" | "target" | "worktree" | "snapshot";
export interface FileParams extends SessionRef {
    path: string;
    version: FileVersion;
}
export interface FileResult {
    content: string;
    missing?: boolean;
    binary?: boolean;
}

export interface CommentParams extends SessionRef {
    path: string;
    startLine: number;
    endLine?: number;
    body: string;
}
export interface Comment {
    id: number;
    session: string;
    path: string;
    startLine: number;
    endLine: number;
    body: string;
    created: string;
    sent?: string;
}
export interface CommentsResult {
    comments: Comment[];
}

export interface FeedbackResult {
    sent: number;
    message: string;
    via: "pty" | "resume" | string;
}

export interface MergeParams extends SessionRef {
    strategy?: MergeStrategy;
    message?: string;
    cleanup?: boolean;
    dryRun?: boolean;
    force?: boolean;
}
export interface MergeResult {
    session: Session;
    strategy: string;
    target: string;
    old: string;
    new: string;
    backup: string;
    dryRun?: boolean;
    files: number;
}
export interface MergeConflictData {
    conflicts: Conflict[];
}

export interface UndoResult {
    target: string;
    restored: string;
    undone: string;
}

// ---- typed requests and notifications ---------------------------------------

export const hello = new Request<HelloParams, HelloResult>(Method.Hello);
export const spawn = new Request<SpawnParams, Session>(Method.Spawn);
export const sessions = new Request<SessionsParams, SessionsResult>(Method.Sessions);
export const session = new Request<SessionRef, Session>(Method.Session);
export const send = new Request<SendParams, unknown>(Method.Send);
export const output = new Request<OutputParams, OutputResult>(Method.Output);
export const resize = new Request<ResizeParams, unknown>(Method.Resize);
export const stop = new Request<StopParams, Session>(Method.Stop);
export const remove = new Request<RemoveParams, RemoveResult>(Method.Remove);
export const diff = new Request<DiffParams, DiffResult>(Method.Diff);
export const file = new Request<FileParams, FileResult>(Method.File);
export const comment = new Request<CommentParams, Comment>(Method.Comment);
export const comments = new Request<SessionRef, CommentsResult>(Method.Comments);
export const feedback = new Request<SessionRef, FeedbackResult>(Method.Feedback);
export const conflicts = new Request<ConflictsParams, ConflictsResult>(Method.Conflicts);
export const merge = new Request<MergeParams, MergeResult>(Method.Merge);
export const undo = new Request<SessionRef, UndoResult>(Method.Undo);
export const subscribe = new Request<SubscribeParams, unknown>(Method.Subscribe);

export const sessionChanged = new Notification<SessionChanged>(Notify.SessionChanged);
export const conflictsChanged = new Notification<ConflictsChanged>(Notify.ConflictsChanged);
export const outputNotification = new Notification<OutputNotification>(Notify.Output);
