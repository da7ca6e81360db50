// The studiod wire surface, generated from the Go package protocol by
// `go test ./protocol -run TestGenerated -update`. Do not edit: change
// the Go declarations and regenerate. It imports nothing, so the unit tests
// can load it outside VS Code.

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

/** Clients refuse a daemon with a different major version. */
export const ProtocolVersion = "2";

/** The Side.session of a conflict's target-branch side. */
export const TargetSide = "target";

/** Requests served by the daemon. */
export const Method = {
    Hello: "studio/hello",
    Spawn: "studio/spawn",
    Sessions: "studio/sessions",
    Session: "studio/session",
    Send: "studio/send",
    Answer: "studio/answer",
    Cancel: "studio/cancel",
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
    Who: "studio/who",
    Note: "studio/note",
    Budget: "studio/budget",
    Merge: "studio/merge",
    Undo: "studio/undo",
    Preview: "studio/preview",
    Land: "studio/land",
    UndoLand: "studio/undoLand",
    Sync: "studio/sync",
    Subscribe: "studio/subscribe",
    Status: "studio/status",
    Trust: "studio/trust",
    Pool: "studio/pool",
    Fsmonitor: "studio/fsmonitor",
    Salvage: "studio/salvage",
    Restore: "studio/restore",
    PlanCheck: "studio/planCheck",
    PlanRun: "studio/planRun",
    Plans: "studio/plans",
    PlanCancel: "studio/planCancel",
    ReviewBy: "studio/reviewBy",
    Shutdown: "studio/shutdown",
    Profiles: "studio/profiles",
    Hosts: "studio/hosts",
} as const;

/** Notifications from the daemon. */
export const Notify = {
    SessionChanged: "studio/sessionChanged",
    ConflictsChanged: "studio/conflictsChanged",
    Output: "studio/output",
    PreviewChanged: "studio/previewChanged",
    SessionActivity: "studio/sessionActivity",
    Progress: "$/progress",
} as const;

/** Editor commands (workspace/executeCommand). */
export const Command = {
    Spawn: "studio.spawn",
    Review: "studio.review",
    Merge: "studio.merge",
    Stop: "studio.stop",
    Remove: "studio.remove",
    Send: "studio.send",
    Feedback: "studio.feedback",
    Undo: "studio.undo",
    Preview: "studio.preview",
    Land: "studio.land",
    Sync: "studio.sync",
    Open: "studio.open",
} as const;

/** Error codes. */
export const Code = {
    ParseError: -32700,
    InvalidRequest: -32600,
    MethodNotFound: -32601,
    InvalidParams: -32602,
    Internal: -32603,
    RequestCancelled: -32800,
    NotFound: -31001, // no such session, file or ref
    Invalid: -31002, // an argument failed validation
    MergeConflict: -31003, // data: MergeConflictData
    TargetDirty: -31004, // the target's worktree has local changes in the way; data: TargetDirtyData
    Untrusted: -31005, // the repo's config defines commands and is not trusted
    Busy: -31006, // the agent is working or waiting for an answer; retry or force
    Git: -31007, // git missing or too old
    Forbidden: -31012, // a session acting for another, or a hook without its session's secret
    Unreviewed: -31008, // require_review: the session's review is missing
} as const;

/** Session states. */
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
    Disconnected: "disconnected",
} as const;
export type State = (typeof State)[keyof typeof State];

/** Conflict kinds. */
export const Kind = {
    Content: "content",
    ModifyDelete: "modify/delete",
    AddAdd: "add/add",
    Rename: "rename",
    Binary: "binary",
    Mode: "mode",
    Overlap: "overlap", // both sides change the file; it merges cleanly
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** Conflict severities. */
export const Severity = {
    Conflict: "conflict", // the merge would fail
    Overlap: "overlap", // both sides change the file; it merges cleanly
} as const;
export type Severity = (typeof Severity)[keyof typeof Severity];

/** Merge strategies. */
export const Strategy = {
    Merge: "merge", // a merge commit (no fast-forward)
    Squash: "squash", // one commit with the session's changes
    Rebase: "rebase", // the session's commits replayed on the target
} as const;
export type Strategy = (typeof Strategy)[keyof typeof Strategy];

/** File versions (studio/file). */
export const File = {
    Base: "base", // at the commit the session started from
    Target: "target", // at the target branch's tip
    Worktree: "worktree", // in the session's worktree now
    Snapshot: "snapshot", // in the newest snapshot of the worktree
} as const;
export type FileVersion = (typeof File)[keyof typeof File];

/** Where a session stands in a preview. */
export const Preview = {
    Clean: "clean", // in the landing order: folds with no conflict
    Conflict: "conflict", // left out: conflicts with the target or a session in the order
    Breaks: "breaks", // left out: the check fails with it
    Empty: "empty", // nothing to merge: the target has it all
    Error: "error", // cannot be merged at all (see reason)
} as const;
export type PreviewStatus = (typeof Preview)[keyof typeof Preview];

/** Check statuses. */
export const Check = {
    Running: "running",
    Passed: "passed",
    Failed: "failed",
    Timeout: "timeout", // killed after the configured timeout
    Cancelled: "cancelled", // a newer preview replaced it
    Error: "error", // it could not run (see reason)
} as const;
export type CheckStatus = (typeof Check)[keyof typeof Check];

/** Land queue statuses. */
export const Land = {
    Running: "running",
    Done: "done", // every session in the queue landed
    Stopped: "stopped", // it stopped at a conflict or failed check (see stopped)
    Interrupted: "interrupted", // the daemon died mid-queue; resume with resume: ID
    Undone: "undone", // studio/undoLand put the target back
} as const;
export type LandStatus = (typeof Land)[keyof typeof Land];

/** What to do about an error (ErrorData.fix). */
export const Fix = {
    ListSessions: "listSessions", // no such session: see which there are
    OtherName: "otherName", // the name is taken: pick another, or remove that session
    StopFirst: "stopFirst", // the agent is working: stop it first, or force
    WaitIdle: "waitIdle", // the agent is working: wait until it is idle or waiting, or stop it
    Trust: "trust", // the person reviews the repository's config (Path) and trusts it
    Resolve: "resolve", // the merge conflicts: resolve them on the session branch, then merge again
    SyncSend: "syncSend", // the session conflicts with its target: sync it, giving the conflict to its agent
    CommitTarget: "commitTarget", // local changes in the target's worktree (Path): commit or stash them, then merge again
    Retry: "retry", // nothing was changed: run it again
    AddComments: "addComments", // no unsent review comments: add some first
    CleanUp: "cleanUp", // the session's worktree is gone: remove the session, forcing
    AnswerInTerminal: "answerInTerminal", // the agent takes no keys for this answer: answer in its terminal
    CheckCommand: "checkCommand", // no check command: configure one (Path) or pass one
    LandID: "landID", // no land named: give the ID the land reported, or "last"
    RestartDaemon: "restartDaemon", // the daemon must be restarted (upgrade, state lost)
    RecordStop: "recordStop", // the stop was not recorded: stop the session again
    InstallGit: "installGit", // git is missing or too old
    AnswerFirst: "answerFirst", // the agent waits for an answer: answer it and let it finish its turn, or force
    ResolveSync: "resolveSync", // the sync conflicts: resolve them on the session branch, then sync again
    AskPerson: "askPerson", // only the person may do this, from their own shell
    RaiseBudget: "raiseBudget", // the session used its budget: raise or clear it first
    Review: "review", // require_review: run a reviewer on the session (or let the plan's finish its turn), or force
} as const;
export type Fix = (typeof Fix)[keyof typeof Fix];

/** Reports whether an agent process may still be running in state s. */
export function live(s: string): boolean {
    return s === State.Starting || s === State.Working || s === State.Waiting || s === State.Idle || s === State.Disconnected;
}

// ---- types ----

export interface SessionRef {
    session: string;
    repo?: string;
}

export interface AnswerParams extends SessionRef {
    answer?: string;
    text?: string;
}

export interface Option {
    id: string;
    kind?: string;
    label: string;
}

export interface Waiting {
    kind: string;
    question: string;
    tool?: string;
    subject?: string;
    options?: Option[];
    source?: string;
}

export interface Usage {
    input: number;
    output: number;
    cacheRead: number;
    cacheWrite: number;
    cost?: number;
    context?: number;
    contextWindow?: number;
}

export interface Budget {
    tokens?: number;
    cost?: number;
    text: string;
    spent?: number;
}

export interface Review {
    reviewer: string;
    id: string;
    done: boolean;
    comments: number;
}

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
    permissionMode?: string;
    prompt?: string;
    state: State;
    detail?: string;
    waiting?: Waiting;
    conversation?: string;
    usage?: Usage;
    budget?: Budget;
    scope?: string[];
    outOfScope?: string[];
    note?: string;
    reviewedBy?: Review[];
    reviews?: string;
    gate?: string;
    pid?: number;
    exitCode?: number;
    port?: number;
    created: string;
    updated: string;
    changes: Changes;
    conflicts: number;
    behind?: number;
    wouldConflict?: boolean;
    socket?: string;
    log?: string;
    protocol?: string;
    host?: string;
}

export interface Delivery {
    via: string;
    confirmed: boolean;
    note?: string;
    queued?: boolean;
}

export interface AnswerResult {
    session: Session;
    delivery: Delivery;
}

export interface BudgetParams extends SessionRef {
    budget?: string;
    clear?: boolean;
}

export interface CommentParams extends SessionRef {
    path: string;
    startLine: number;
    endLine?: number;
    body: string;
    by?: string;
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
    by?: string;
}

export interface CommentsResult {
    comments: Comment[];
}

export interface ConflictsParams {
    repo?: string;
    session?: string;
    path?: string;
}

export interface Range {
    start: number;
    end: number;
}

export interface Side {
    session: string;
    path: string;
    file: string;
    ranges: Range[];
}

export interface Conflict {
    id: string;
    repo: string;
    path: string;
    kind: Kind;
    severity: Severity;
    a: Side;
    b: Side;
}

export interface ConflictsResult {
    conflicts: Conflict[];
}

export interface DiffParams extends SessionRef {
    against?: string;
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
    status: string;
    oldMode?: string;
    newMode?: string;
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

export interface FeedbackResult {
    sent: number;
    message: string;
    delivery: Delivery;
}

export interface FileParams extends SessionRef {
    path: string;
    version: FileVersion;
    maxSize?: number;
}

export interface FileResult {
    content: string;
    missing?: boolean;
    binary?: boolean;
    tooLarge?: boolean;
}

export interface FsmonitorParams {
    worktree: string;
    token: string;
}

export interface FsmonitorResult {
    token: string;
    paths: string[];
    full?: boolean;
}

export interface HelloParams {
    client: string;
    version: string;
    token?: string;
}

export interface HelloResult {
    version: string;
    protocolVersion: string;
    pid: number;
}

export interface HookParams extends SessionRef {
    event?: string;
    message?: string;
    agent?: string;
    payload?: unknown;
    token?: string;
}

export interface HookResult {
    session: Session;
    output?: unknown;
}

export interface HostsParams {
    host?: string;
}

export interface Host {
    name: string;
    ssh: string;
    dir: string;
    reachable: boolean;
    error?: string;
    version?: string;
    build?: string;
    git?: string;
    load?: string;
    sessions: number;
    here: number;
}

export interface HostsResult {
    hosts: Host[];
}

export interface LandParams {
    repo?: string;
    sessions?: string[];
    strategy?: Strategy;
    check?: boolean;
    checkCommand?: string;
    sendFailures?: boolean;
    force?: boolean;
    resume?: string;
    workDoneToken?: unknown;
}

export interface CheckTry {
    sessions: string[];
    commit: string;
    status: CheckStatus;
    exitCode: number;
    log: string;
    tail?: string;
    durationMs: number;
}

export interface LandedSession {
    session: string;
    id: string;
    strategy: Strategy;
    old: string;
    new: string;
    backup: string;
    check?: CheckTry;
}

export interface LandStop {
    session: string;
    id: string;
    reason: string;
    message: string;
    conflicts?: Conflict[];
    paths?: string[];
    check?: CheckTry;
    sent?: boolean;
    via?: string;
}

export interface LandResult {
    id: string;
    repo: string;
    target: string;
    status: LandStatus;
    old: string;
    new: string;
    landed: LandedSession[];
    stopped?: LandStop;
    remaining?: string[];
    started: string;
}

export interface MergeParams extends SessionRef {
    strategy?: Strategy;
    message?: string;
    cleanup?: boolean;
    dryRun?: boolean;
    force?: boolean;
    workDoneToken?: unknown;
}

export interface MergeResult {
    session: Session;
    strategy: Strategy;
    target: string;
    old: string;
    new: string;
    backup: string;
    dryRun?: boolean;
    files: number;
}

export interface NoteParams extends SessionRef {
    note: string;
}

export interface OutputParams extends SessionRef {
    offset: number;
    limit?: number;
}

export interface OutputResult {
    data: string;
    offset: number;
    next: number;
    size: number;
    done: boolean;
    start?: number;
}

export interface PlanCancelParams {
    repo: string;
    plan?: string;
}

export interface PlanTask {
    name: string;
    state: string;
    session?: string;
    sessionState?: State;
    after?: string[];
    stack?: string;
    reviews?: string;
    reviewedBy?: string[];
    reviewed?: boolean;
    detail?: string;
    usage?: Usage;
}

export interface Plan {
    id: string;
    repo: string;
    file?: string;
    target: string;
    state: string;
    tasks: PlanTask[];
    created: string;
    usage?: Usage;
}

export interface PlanCheckParams {
    repo: string;
    path?: string;
    text: string;
}

export interface PlanTaskReport {
    name: string;
    scope?: string[];
    unscoped?: boolean;
    files: number;
    commits: number;
}

export interface PlanPathPair {
    a: string;
    b: string;
    commits: number;
}

export interface PlanPair {
    a: string;
    b: string;
    risk: string;
    ordered?: string;
    overlap?: string[];
    overlaps?: number;
    coChange?: number;
    strength?: number;
    evidence?: PlanPathPair[];
}

export interface PlanWait {
    task: string;
    declared?: boolean;
    why: string;
}

export interface PlanOrderStep {
    task: string;
    wave: number;
    waits?: PlanWait[];
}

export interface PlanReport {
    repo: string;
    commits: number;
    skipped: number;
    tasks: PlanTaskReport[];
    pairs: PlanPair[];
    order: PlanOrderStep[];
}

export interface PlanRunParams {
    repo: string;
    path?: string;
    text: string;
    target?: string;
    noCommands?: boolean;
}

export interface PlansParams {
    repo?: string;
    plan?: string;
}

export interface PlansResult {
    plans: Plan[];
}

export interface PoolParams {
    repo?: string;
    prune?: boolean;
    wait?: boolean;
}

export interface PoolTree {
    id: string;
    path: string;
    state: string;
    commit: string;
    bytes: number;
}

export interface PoolRepo {
    repo: string;
    target: string;
    tip: string;
    size: number;
    bytes: number;
    maxBytes: number;
    note?: string;
    trees: PoolTree[];
}

export interface PoolResult {
    repos: PoolRepo[];
}

export interface PreviewParams {
    repo?: string;
    sessions?: string[];
    target?: string;
    check?: boolean;
    checkCommand?: string;
}

export interface PreviewSession {
    session: string;
    id: string;
    state: State;
    commit: string;
    status: PreviewStatus;
    position?: number;
    reason?: string;
    fix?: Fix;
    with?: string[];
    paths?: string[];
    check?: CheckStatus;
}

export interface CheckRun {
    command: string;
    status: CheckStatus;
    started: string;
    finished?: string;
    tries: CheckTry[];
    culprit?: string[];
    reason?: string;
    log?: string;
    tail?: string;
}

export interface Preview {
    repo: string;
    target: string;
    tip: string;
    generation: number;
    computed: string;
    durationMs: number;
    sessions: PreviewSession[];
    order: string[];
    commit: string;
    tree: string;
    conflicts: Conflict[];
    check?: CheckRun;
}

export interface ProfilesParams {
    repo: string;
}

export interface Profile {
    name: string;
    protocol?: string;
}

export interface ProfilesResult {
    repo: string;
    profiles: Profile[];
    default: string;
    acp: string;
}

export interface RemoveParams extends SessionRef {
    keepBranch?: boolean;
    force?: boolean;
}

export interface Salvage {
    name: string;
    ref: string;
    commit: string;
    session: string;
    sessionId: string;
    agent?: string;
    branch: string;
    target: string;
    base: string;
    when: string;
    uncommitted: boolean;
    changes: Changes;
}

export interface RemoveResult {
    session: Session;
    branchDeleted: boolean;
    branchKept?: string;
    salvage?: Salvage;
}

export interface ResizeParams extends SessionRef {
    rows: number;
    cols: number;
}

export interface RestoreParams {
    repo: string;
    name: string;
    as?: string;
    branch?: string;
    agent?: string;
    command?: string[];
}

export interface RestoreResult {
    salvage: Salvage;
    session?: Session;
    branch?: string;
}

export interface ReviewByParams extends SessionRef {
    name?: string;
    role?: string;
    agent?: string;
    prompt?: string;
    command?: string[];
    forward?: boolean;
    by?: string;
}

export interface SalvageParams {
    repo: string;
}

export interface SalvageResult {
    salvages: Salvage[];
}

export interface SendParams extends SessionRef {
    text: string;
    submit?: boolean;
}

export interface SendResult {
    session: Session;
    delivery: Delivery;
}

export interface SessionsParams {
    repo?: string;
    all?: boolean;
}

export interface SessionsResult {
    sessions: Session[];
}

export interface Empty {}

export interface SpawnParams {
    repo: string;
    name?: string;
    agent?: string;
    base?: string;
    target?: string;
    prompt?: string;
    command?: string[];
    rows?: number;
    cols?: number;
    scopes?: string[];
    note?: string;
    gate?: string;
    host?: string;
    budget?: string;
    workDoneToken?: unknown;
}

export interface WatchStatus {
    watches: number;
    degraded?: string[];
    reason?: string;
    unwatched?: number;
}

export interface StatusResult {
    version: string;
    pid: number;
    socket: string;
    log: string;
    state: string;
    started: string;
    sessions: Record<string, number>;
    watch: WatchStatus;
}

export interface StopParams extends SessionRef {
    force?: boolean;
}

export interface OutputSubscription {
    session: string;
    offset: number;
}

export interface SubscribeParams {
    sessions?: boolean;
    conflicts?: boolean;
    preview?: boolean;
    output?: OutputSubscription[];
    activity?: boolean;
    snapshot?: boolean;
}

export interface SubscribeResult {
    seq: number;
    sessions?: Session[];
    conflicts?: Conflict[];
    previews?: Preview[];
}

export interface SyncParams extends SessionRef {
    strategy?: Strategy;
    send?: boolean;
    force?: boolean;
}

export interface SyncResult {
    session: Session;
    strategy: Strategy;
    target: string;
    targetTip: string;
    old: string;
    new: string;
    backup?: string;
    checkpoint?: string;
    upToDate?: boolean;
}

export interface TrustParams {
    repo: string;
    revoke?: boolean;
    check?: boolean;
}

export interface TrustResult {
    path: string;
    hash: string;
    trusted: boolean;
    commands: string[];
}

export interface UndoResult {
    target: string;
    restored: string;
    undone: string;
}

export interface UndoLandParams {
    repo?: string;
    land: string;
}

export interface UndoLandResult {
    id: string;
    target: string;
    restored: string;
    undone: string;
    sessions: string[];
}

export interface WhoParams {
    repo?: string;
    path: string;
    start?: number;
    end?: number;
}

export interface Presence {
    session: string;
    id: string;
    agent: string;
    state: State;
    status: string;
    additions: number;
    deletions: number;
    ranges: Range[];
    scope?: string[];
    inScope: boolean;
    note?: string;
}

export interface WhoResult {
    repo: string;
    path: string;
    sessions: Presence[];
}

export interface SessionChanged {
    session: Session;
    seq?: number;
}

export interface ConflictsChanged {
    added?: Conflict[];
    updated?: Conflict[];
    resolved?: string[];
    seq?: number;
}

export interface OutputNotification {
    session: string;
    offset: number;
    data: string;
    done?: boolean;
}

export interface PreviewChanged {
    preview: Preview;
    seq?: number;
}

export interface ToolCall {
    id: string;
    title: string;
    kind?: string;
    status: string;
    files?: string[];
}

export interface PlanStep {
    content: string;
    status: string;
    priority?: string;
}

export interface SessionActivity {
    session: string;
    tool?: ToolCall;
    plan?: PlanStep[];
}

export interface WorkDone {
    kind: string;
    title?: string;
    message?: string;
}

export interface ProgressParams {
    token: unknown;
    value: WorkDone;
}

export interface ErrorData {
    what?: string;
    session?: string;
    repo?: string;
    path?: string;
    fix?: Fix;
}

export interface MergeConflictData extends ErrorData {
    conflicts: Conflict[];
    paths: string[];
    sent?: boolean;
    via?: string;
}

export interface TargetDirtyData extends ErrorData {
    worktree: string;
    paths: string[];
}

// ---- typed requests and notifications ----

export const answer = new Request<AnswerParams, AnswerResult>(Method.Answer);
export const budget = new Request<BudgetParams, Session>(Method.Budget);
export const cancel = new Request<SessionRef, Session>(Method.Cancel);
export const comment = new Request<CommentParams, Comment>(Method.Comment);
export const comments = new Request<SessionRef, CommentsResult>(Method.Comments);
export const conflicts = new Request<ConflictsParams, ConflictsResult>(Method.Conflicts);
export const diff = new Request<DiffParams, DiffResult>(Method.Diff);
export const feedback = new Request<SessionRef, FeedbackResult>(Method.Feedback);
export const file = new Request<FileParams, FileResult>(Method.File);
export const fsmonitor = new Request<FsmonitorParams, FsmonitorResult>(Method.Fsmonitor);
export const hello = new Request<HelloParams, HelloResult>(Method.Hello);
export const hook = new Request<HookParams, HookResult>(Method.Hook);
export const hosts = new Request<HostsParams, HostsResult>(Method.Hosts);
export const land = new Request<LandParams, LandResult>(Method.Land);
export const merge = new Request<MergeParams, MergeResult>(Method.Merge);
export const note = new Request<NoteParams, Session>(Method.Note);
export const output = new Request<OutputParams, OutputResult>(Method.Output);
export const planCancel = new Request<PlanCancelParams, Plan>(Method.PlanCancel);
export const planCheck = new Request<PlanCheckParams, PlanReport>(Method.PlanCheck);
export const planRun = new Request<PlanRunParams, Plan>(Method.PlanRun);
export const plans = new Request<PlansParams, PlansResult>(Method.Plans);
export const pool = new Request<PoolParams, PoolResult>(Method.Pool);
export const preview = new Request<PreviewParams, Preview>(Method.Preview);
export const profiles = new Request<ProfilesParams, ProfilesResult>(Method.Profiles);
export const remove = new Request<RemoveParams, RemoveResult>(Method.Remove);
export const resize = new Request<ResizeParams, Session>(Method.Resize);
export const restore = new Request<RestoreParams, RestoreResult>(Method.Restore);
export const reviewBy = new Request<ReviewByParams, Session>(Method.ReviewBy);
export const salvage = new Request<SalvageParams, SalvageResult>(Method.Salvage);
export const send = new Request<SendParams, SendResult>(Method.Send);
export const session = new Request<SessionRef, Session>(Method.Session);
export const sessions = new Request<SessionsParams, SessionsResult>(Method.Sessions);
export const shutdown = new Request<Empty, Empty>(Method.Shutdown);
export const spawn = new Request<SpawnParams, Session>(Method.Spawn);
export const status = new Request<Empty, StatusResult>(Method.Status);
export const stop = new Request<StopParams, Session>(Method.Stop);
export const subscribe = new Request<SubscribeParams, SubscribeResult>(Method.Subscribe);
export const sync = new Request<SyncParams, SyncResult>(Method.Sync);
export const trust = new Request<TrustParams, TrustResult>(Method.Trust);
export const undo = new Request<SessionRef, UndoResult>(Method.Undo);
export const undoLand = new Request<UndoLandParams, UndoLandResult>(Method.UndoLand);
export const who = new Request<WhoParams, WhoResult>(Method.Who);

export const sessionChanged = new Notification<SessionChanged>(Notify.SessionChanged);
export const conflictsChanged = new Notification<ConflictsChanged>(Notify.ConflictsChanged);
export const outputNotification = new Notification<OutputNotification>(Notify.Output);
export const previewChanged = new Notification<PreviewChanged>(Notify.PreviewChanged);
export const sessionActivity = new Notification<SessionActivity>(Notify.SessionActivity);
export const progress = new Notification<ProgressParams>(Notify.Progress);
