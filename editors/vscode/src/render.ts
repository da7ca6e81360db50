// Pure rendering of sessions and conflicts for the tree view and the status
// bar. No vscode import: tree.ts turns these views into TreeItems.

import { behindText } from "./preview";
import { Conflict, live, Range, Session, Severity, State, Usage } from "./protocol";

/** What a session row shows, independent of the VS Code API. */
export interface SessionView {
    /** The session's name: short, so the row is not cut off. */
    label: string;
    /** What needs attention, its changes and conflicts: "waiting +12 −3 ⚠ 1". */
    description: string;
    /** Everything else, one item a line. */
    tooltip: string;
    /** For screen readers: the label, the state and the description in words. */
    accessibility: string;
    /** A codicon id, one per state. */
    icon: string;
    /** A theme color id for the icon, one per state. */
    color: string;
    /**
     * `session:<state>` plus `:live` while an agent may run, `:conflicts`
     * when it has any and `:behind` when its target has moved on, so
     * package.json menus can match with regexes.
     */
    contextValue: string;
}

/** Each state's icon and colour; the icon says the state, so the row need not. */
const icons: Record<string, { icon: string; color: string }> = {
    [State.Starting]: { icon: "loading~spin", color: "charts.foreground" },
    [State.Working]: { icon: "sync~spin", color: "charts.blue" },
    [State.Waiting]: { icon: "bell-dot", color: "charts.yellow" },
    [State.Idle]: { icon: "debug-pause", color: "charts.green" },
    [State.Exited]: { icon: "pass", color: "descriptionForeground" },
    [State.Failed]: { icon: "error", color: "charts.red" },
    [State.Stopped]: { icon: "debug-stop", color: "disabledForeground" },
    [State.Merged]: { icon: "git-merge", color: "charts.purple" },
    [State.Removed]: { icon: "trash", color: "charts.lines" },
    [State.Disconnected]: { icon: "debug-disconnect", color: "charts.orange" },
};

export function stateIcon(state: string): { icon: string; color: string } {
    return icons[state] ?? { icon: "question", color: "descriptionForeground" };
}

/** An agent that exited with an error looks like a warning, not like a finished one. */
function sessionIcon(s: Session): { icon: string; color: string } {
    if (s.state === State.Exited && s.exitCode !== undefined && s.exitCode !== null && s.exitCode !== 0) {
        return { icon: "warning", color: "charts.orange" };
    }
    return stateIcon(s.state);
}

/** "+12 −3 · 2 files", or "" when nothing changed. */
export function changesText(s: Pick<Session, "changes">): string {
    const c = s.changes ?? { files: 0, additions: 0, deletions: 0 };
    if (!c.files) return "";
    return `+${c.additions} −${c.deletions} · ${c.files} ${c.files === 1 ? "file" : "files"}`;
}

/** A token count as a person reads it: 950, 12.3k, 4.1M. */
function tokens(n: number): string {
    if (n < 1000) return String(n);
    if (n < 1_000_000) return `${(n / 1e3).toFixed(1)}k`;
    return `${(n / 1e6).toFixed(1)}M`;
}

/**
 * What a session's model used, in a few characters, as the terminal board
 * writes it: the tokens it was sent (cache reads and writes included) and
 * answered, the cost where the agent reports one, and how full the model's
 * context is where known; "" before it reported any.
 */
export function usageText(u: Usage | undefined): string {
    if (!u) return "";
    let t = `${tokens(u.input + u.cacheRead + u.cacheWrite)} in ${tokens(u.output)} out`;
    if (u.cost !== undefined && u.cost !== null) t += ` $${u.cost.toFixed(2)}`;
    if (u.context && u.contextWindow) t += ` ctx ${Math.floor((u.context * 100) / u.contextWindow)}%`;
    else if (u.context) t += ` ctx ${tokens(u.context)}`;
    return t;
}

/** The usage in words, for the tooltip and screen readers. */
function usageWords(u: Usage | undefined): string {
    if (!u) return "";
    let t = `model used ${u.input + u.cacheRead + u.cacheWrite} tokens in (${u.cacheRead} read from the cache), ${u.output} out`;
    if (u.cost !== undefined && u.cost !== null) t += `, $${u.cost.toFixed(4)}`;
    if (u.context && u.contextWindow) t += `; context ${u.context} of ${u.contextWindow} tokens`;
    else if (u.context) t += `; context ${u.context} tokens`;
    return t;
}

/** The state in words: "waiting for input", "exited with code 1". */
function stateWords(s: Session): string {
    switch (s.state) {
        case State.Waiting:
            return "waiting for input";
        case State.Idle:
            return "idle (its turn is done)";
        case State.Exited:
            return s.exitCode !== undefined && s.exitCode !== null ? `exited with code ${s.exitCode}` : "exited";
        default:
            return s.state;
    }
}

export function renderSession(s: Session): SessionView {
    const { icon, color } = sessionIcon(s);
    const c = s.changes ?? { files: 0, additions: 0, deletions: 0 };
    // The row: what needs the person (a question, a failure, an exit), the
    // line counts, the conflicts. The icon says the rest of the state.
    const parts: string[] = [];
    if (s.state === State.Waiting || s.state === State.Failed) parts.push(s.state);
    if (s.state === State.Exited) parts.push(s.exitCode ? `exited ${s.exitCode}` : "exited");
    if (c.files) parts.push(`+${c.additions} −${c.deletions}`);
    if (s.conflicts > 0) parts.push(`⚠ ${s.conflicts}`);
    const behind = behindText(s);
    if (behind) parts.push(behind);
    // The row has room for the cost only; the tooltip says the tokens.
    if (s.usage?.cost !== undefined && s.usage.cost !== null) parts.push(`$${s.usage.cost.toFixed(2)}`);

    const changes = changesText(s);
    const conflicts = s.conflicts > 0 ? `${s.conflicts} predicted ${s.conflicts === 1 ? "conflict or overlap" : "conflicts or overlaps"}` : "";
    const tip = [
        `${s.name} (${s.agent}): ${stateWords(s)}`,
        s.detail ? `${s.detail}` : "",
        `branch ${s.branch} → ${s.target}`,
        `worktree ${s.worktree}`,
        changes ? `changes ${changes}` : "no changes yet",
        conflicts,
        behind,
        usageText(s.usage) ? `usage ${usageText(s.usage)} (${usageWords(s.usage)})` : "",
        s.budget ? `budget ${s.budget.text}${s.budget.spent !== undefined ? `, ${Math.round(s.budget.spent * 100)}% used` : " (its agent reports no cost: not enforced)"}` : "",
        s.prompt ? `prompt: ${s.prompt}` : "",
    ].filter((l) => l !== "");

    let contextValue = `session:${s.state}`;
    if (live(s.state)) contextValue += ":live";
    if (s.conflicts > 0) contextValue += ":conflicts";
    if (s.behind) contextValue += ":behind";

    return {
        label: s.name,
        description: parts.join(" "),
        tooltip: tip.join("\n"),
        accessibility: [`session ${s.name}`, `${s.agent} ${stateWords(s)}`, changes ? `${c.files} ${c.files === 1 ? "file" : "files"}, ${c.additions} added, ${c.deletions} deleted` : "", conflicts, behind, usageWords(s.usage)]
            .filter((l) => l !== "")
            .join(", "),
        icon,
        color,
        contextValue,
    };
}

/** The other side of a conflict, seen from session name `me`. */
export function otherSide(c: Conflict, me: string) {
    return c.a.session === me ? c.b : c.a;
}

export function mySide(c: Conflict, me: string) {
    return c.a.session === me ? c.a : c.b;
}

/**
 * Line ranges for a person, as every studiod face writes them (Go:
 * protocol.FormatRanges): "line 4", "lines 12–14, 20", "deletion before
 * line 7", "the whole file".
 */
export function formatRanges(ranges: readonly Range[]): string {
    if (ranges.length === 0) return "the whole file";
    const deletion = (r: Range) => r.end < r.start;
    if (ranges.length === 1 && deletion(ranges[0]!)) return `deletion before line ${ranges[0]!.start}`;
    const parts = ranges.map((r) => (deletion(r) ? `deletion before ${r.start}` : r.start === r.end ? `${r.start}` : `${r.start}–${r.end}`));
    const one = ranges.length === 1 && ranges[0]!.start === ranges[0]!.end;
    return (one ? "line " : "lines ") + parts.join(", ");
}

export function renderConflict(c: Conflict, me?: string): { label: string; description: string } {
    const other = me ? otherSide(c, me).session : `${c.a.session} ↔ ${c.b.session}`;
    const side = me ? mySide(c, me) : c.a;
    return {
        label: c.path,
        description: `${c.severity === Severity.Overlap ? "overlap" : c.kind} with ${other}${side.ranges.length ? ` · ${formatRanges(side.ranges)}` : ""}`,
    };
}

/** The status bar text: session count and how many wait for input. */
export function statusText(sessions: readonly Session[]): { text: string; tooltip: string } {
    const active = sessions.filter((s) => s.state !== State.Removed);
    const waiting = active.filter((s) => s.state === State.Waiting).length;
    const text = `$(hubot) ${active.length}` + (waiting ? ` $(bell-dot) ${waiting}` : "");
    const tooltip =
        `${active.length} agent ${active.length === 1 ? "session" : "sessions"}` +
        (waiting ? `, ${waiting} waiting for input` : "");
    return { text, tooltip };
}

/** Sessions sorted for display: waiting first, then live, then by creation. */
export function sortSessions(sessions: Iterable<Session>): Session[] {
    const rank = (s: Session) => (s.state === State.Waiting ? 0 : live(s.state) ? 1 : 2);
    return [...sessions].sort((a, b) => rank(a) - rank(b) || a.created.localeCompare(b.created) || a.name.localeCompare(b.name));
}

/**
 * Whether a session belongs to one of the workspace folders: its repo is a
 * folder, contains one, or lies inside one.
 */
export function inWorkspace(s: Pick<Session, "repo" | "worktree">, folders: readonly string[]): boolean {
    if (folders.length === 0) return true;
    const within = (a: string, b: string) => a === b || a.startsWith(b.endsWith("/") ? b : b + "/");
    return folders.some((f) => within(f, s.repo) || within(s.repo, f) || within(f, s.worktree));
}
