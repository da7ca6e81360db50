import { existsSync } from "node:fs";
import * as path from "node:path";
import { Session } from "../../src/protocol";

/** The repository root: the nearest directory above with a go.mod. */
export function repoRoot(): string {
    let d = __dirname;
    while (!existsSync(path.join(d, "go.mod"))) {
        const up = path.dirname(d);
        if (up === d) throw new Error(`no go.mod above ${__dirname}`);
        d = up;
    }
    return d;
}

/** The extension's directory (holding package.json). */
export function extRoot(): string {
    return path.join(repoRoot(), "editors", "vscode");
}

export function session(over: Partial<Session> = {}): Session {
    return {
        id: "s1",
        name: "auth",
        repo: "/src/app",
        branch: "studio/auth",
        base: "abc",
        target: "main",
        worktree: "/home/u/.local/state/studiod/worktrees/app/auth",
        agent: "claude",
        state: "working",
        created: "2026-01-01T00:00:00Z",
        updated: "2026-01-01T00:00:00Z",
        changes: { files: 0, additions: 0, deletions: 0 },
        conflicts: 0,
        ...over,
    };
}
