// Pure rendering of sessions and conflicts for the tree view and the status
// bar. No vscode import: tree.ts turns these views into TreeItems.

import { behindText } from "./preview";
import { Conflict, live, Range, Session, Severity, State } from "./protocol";

/** What a session row shows, independent of the VS Code API. */
export interface SessionView {
    label: string;
    description: string;
    tooltip: string;
    /** A codicon id. */
    icon: string;
    /** A theme color id for the icon, if any. */
    color?: string;
    /**
     * `session:<state>` plus `:live` while an agent may run, `:conflicts`
     * when it has any and `:behind` when its target has moved on, so
     * package.json menus can match with regexes.
     */
    contextValue: string;
}

const icons: Record<string, { icon: string; color?: string }> = {
    [State.Starting]: { icon: "loading~spin" },
    [State.Working]: { icon: "sync~spin", color: "charts.blue" },
    [State.Waiting]: { icon: "bell-dot", color: "charts.yellow" },
    [State.Idle]: { icon: "circle-outline" },
    [State.Exited]: { icon: "pass", color: "charts.green" },
    [State.Failed]: { icon: "error", color: "errorForeground" },
    [State.Stopped]: { icon: "debug-stop" },
    [State.Merged]: { icon: "git-merge", color: "charts.purple" },
    [State.Removed]: { icon: "trash" },
};

export function stateIcon(state: string): { icon: string; color?: string } {
    return icons[state] ?? { icon: "question" };
}

/** "+12 −3 · 2 files", or "" when nothing changed. */
export function changesText(s: Pick<Session, "changes">): string {
    const c = s.changes ?? { files: 0, additions: 0, deletions: 0 };
    if (!c.files) return "";
    return `+${c.additions} −${c.deletions} · ${c.files} ${c.files === 1 ? "file" : "files"}`;
}

export function renderSession(s: Session): SessionView {
    const { icon, color } = stateIcon(s.state);
    const parts = [s.agent, s.state];
    const changes = changesText(s);
    if (changes) parts.push(changes);
    if (s.conflicts > 0) parts.push(`⚠ ${s.conflicts} ${s.conflicts === 1 ? "conflict" : "conflicts"}`);
    const behind = behindText(s);
    if (behind) parts.push(behind);

    const tip = [
        `${s.name} (${s.agent}) — ${s.state}`,
        s.detail ? `${s.detail}` : "",
        `branch ${s.branch} → ${s.target}`,
        `worktree ${s.worktree}`,
        changes ? `changes ${changes}` : "no changes yet",
        s.conflicts > 0 ? `${s.conflicts} predicted conflicts or overlaps` : "",
        behind,
        s.prompt ? `prompt: ${s.prompt}` : "",
    ].filter((l) => l !== "");

    let contextValue = `session:${s.state}`;
    if (live(s.state)) contextValue += ":live";
    if (s.conflicts > 0) contextValue += ":conflicts";
    if (s.behind) contextValue += ":behind";

    const view: SessionView = {
        label: s.name,
        description: parts.join(" · "),
        tooltip: tip.join("\n"),
        icon,
        contextValue,
    };
    if (color) view.color = color;
    return view;
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
