// The client's copy of the predicted conflicts, kept current by applying the
// studio/conflictsChanged deltas. Pure.

import { Conflict, ConflictsChanged } from "./protocol";

export class ConflictSet {
    private readonly byId = new Map<string, Conflict>();

    /** Replaces the whole set (after studio/conflicts). */
    reset(all: readonly Conflict[]): void {
        this.byId.clear();
        for (const c of all) this.byId.set(c.id, c);
    }

    /**
     * Applies a delta and returns the paths it touched. Resolved IDs that are
     * unknown are ignored; an "updated" conflict that is unknown is added, so
     * a missed notification heals on the next change.
     */
    apply(d: ConflictsChanged): Set<string> {
        const touched = new Set<string>();
        for (const id of d.resolved ?? []) {
            const old = this.byId.get(id);
            if (old) {
                touched.add(old.path);
                this.byId.delete(id);
            }
        }
        for (const c of [...(d.added ?? []), ...(d.updated ?? [])]) {
            const old = this.byId.get(c.id);
            if (old) touched.add(old.path);
            this.byId.set(c.id, c);
            touched.add(c.path);
        }
        return touched;
    }

    get size(): number {
        return this.byId.size;
    }

    all(): Conflict[] {
        return [...this.byId.values()].sort((a, b) => a.path.localeCompare(b.path) || a.id.localeCompare(b.id));
    }

    /** Conflicts in which session `name` (of repo, when given) is a side. */
    forSession(name: string, repo?: string): Conflict[] {
        return this.all().filter((c) => (c.a.session === name || c.b.session === name) && (!repo || !c.repo || c.repo === repo));
    }

    /** Number of conflicts per session name. */
    counts(): Map<string, number> {
        const n = new Map<string, number>();
        for (const c of this.byId.values()) {
            for (const s of new Set([c.a.session, c.b.session])) n.set(s, (n.get(s) ?? 0) + 1);
        }
        return n;
    }
}
