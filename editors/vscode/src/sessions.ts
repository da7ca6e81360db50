// The client's copy of the sessions, kept current by studio/sessionChanged.
// Pure.

import { Session, State } from "./protocol";

export class SessionStore {
    private readonly byId = new Map<string, Session>();

    reset(all: readonly Session[]): void {
        this.byId.clear();
        for (const s of all) if (s.state !== State.Removed) this.byId.set(s.id, s);
    }

    /** Stores s (or forgets it once removed) and returns the previous record. */
    upsert(s: Session): Session | undefined {
        const prev = this.byId.get(s.id);
        if (s.state === State.Removed) this.byId.delete(s.id);
        else this.byId.set(s.id, s);
        return prev;
    }

    /** Looks a session up by ID, then by name. */
    get(key: string): Session | undefined {
        const s = this.byId.get(key);
        if (s) return s;
        for (const s of this.byId.values()) if (s.name === key) return s;
        return undefined;
    }

    all(): Session[] {
        return [...this.byId.values()];
    }

    /** The session whose worktree contains the absolute path p, if any. */
    byPath(p: string): { session: Session; path: string } | undefined {
        for (const s of this.byId.values()) {
            const root = s.worktree.endsWith("/") ? s.worktree : s.worktree + "/";
            if (s.worktree && p.startsWith(root)) return { session: s, path: p.slice(root.length) };
        }
        return undefined;
    }
}
