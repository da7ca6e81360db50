// The client's copy of each repository's integration preview, kept current
// by studio/previewChanged, and how a session's place in it reads. Pure.

import { Check, Preview, PreviewSession, Session } from "./protocol";

export class PreviewStore {
    private readonly byRepo = new Map<string, Preview>();

    /** Stores pv unless a newer generation of its repository is known; reports whether it did. */
    set(pv: Preview): boolean {
        const old = this.byRepo.get(pv.repo);
        if (old && old.generation > pv.generation) return false;
        this.byRepo.set(pv.repo, pv);
        return true;
    }

    get(repo: string): Preview | undefined {
        return this.byRepo.get(repo);
    }

    /** A session's entry in its repository's preview, by ID. */
    forSession(s: Pick<Session, "id" | "repo">): PreviewSession | undefined {
        return this.byRepo.get(s.repo)?.sessions.find((ps) => ps.id === s.id);
    }

    clear(): void {
        this.byRepo.clear();
    }
}

/** What a session row shows of the preview. */
export interface PreviewView {
    /** Short text for the row's description. */
    badge: string;
    /** The reason it is left out, or its place, for the tooltip. */
    tooltip: string;
}

function checkMark(ps: PreviewSession): string {
    if (ps.check === Check.Passed) return " ✓";
    if (ps.check === Check.Failed) return " ✗";
    return "";
}

export function renderPreview(ps: PreviewSession | undefined, pv?: Pick<Preview, "target" | "check">): PreviewView | undefined {
    if (!ps) return undefined;
    const target = pv?.target ?? "the target";
    const running = pv?.check?.status === Check.Running ? " (checking…)" : "";
    const withText = ps.with?.length ? ps.with.join(", ") : "";
    switch (ps.status) {
        case "clean":
            return { badge: `lands #${ps.position}${checkMark(ps)}${running}`, tooltip: `#${ps.position} in the landing order onto ${target}${ps.check ? ` · check ${ps.check}` : ""}` };
        case "conflict":
            return { badge: `held back: conflicts with ${withText || target}`, tooltip: ps.reason ?? "" };
        case "breaks":
            return { badge: `held back: breaks the check${withText ? ` with ${withText}` : ""}`, tooltip: ps.reason ?? "" };
        case "empty":
            return { badge: "nothing to land", tooltip: ps.reason ?? "" };
        default:
            return { badge: "cannot land", tooltip: ps.reason ?? "" };
    }
}

/** "3 behind main, would conflict", or "" when up to date. */
export function behindText(s: Pick<Session, "behind" | "wouldConflict" | "target">): string {
    if (!s.behind && !s.wouldConflict) return "";
    const parts: string[] = [];
    if (s.behind) parts.push(`${s.behind} behind ${s.target}`);
    if (s.wouldConflict) parts.push("would conflict");
    return parts.join(", ");
}

/** A preview for people, one line per session, as the Preview command shows it. */
export function previewSummary(pv: Preview): string[] {
    if (pv.sessions.length === 0) return [`No session has work to land on ${pv.target}.`];
    const lines = [pv.order.length ? `Landing order onto ${pv.target}: ${pv.order.join(", ")}.` : `No session lands on ${pv.target} without a conflict.`];
    for (const ps of pv.sessions) {
        if (!ps.position) lines.push(`${ps.session}: ${ps.reason ?? ps.status}`);
    }
    if (pv.check) lines.push(`Check \`${pv.check.command}\`: ${pv.check.status}${pv.check.reason ? ` — ${pv.check.reason}` : ""}`);
    return lines;
}
