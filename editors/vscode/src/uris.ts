// studio: URIs name one version of one file of one session, served by
// studio/file. The URI's path is where the file is in the session's
// worktree (absolute), so that VS Code sees a base version and the worktree
// file as the same resource (its diff editors mark a pair whose paths
// differ as a rename); the query says which session, version and
// repository-relative path:
// studio:/abs/worktree/app/x.go?session=<id>&version=base&path=app/x.go.
// Pure (works on strings) so it is unit tested; content.ts wraps it in
// vscode.Uri.

import * as posix from "node:path/posix";
import { FileVersion } from "./protocol";

export interface FileRef {
    session: string;
    path: string; // relative to the repository root, '/'-separated
    version: FileVersion;
}

const versions: readonly FileVersion[] = ["base", "target", "worktree", "snapshot"];

/** The URI path and query of ref, with root (the session's worktree) as the path's prefix. */
export function toQuery(ref: FileRef, root: string): { path: string; query: string } {
    const rel = ref.path.replace(/^\/+/, "");
    const q = new URLSearchParams({ session: ref.session, version: ref.version, path: rel });
    return { path: posix.join("/", root, rel), query: q.toString() };
}

export function fromQuery(path: string, query: string): FileRef | undefined {
    const q = new URLSearchParams(query);
    const session = q.get("session");
    const version = q.get("version") as FileVersion | null;
    if (!session || !version || !versions.includes(version)) return undefined;
    // Without a path in the query (an older URI), the URI's path is it.
    return { session, version, path: q.get("path") ?? path.replace(/^\/+/, "") };
}
