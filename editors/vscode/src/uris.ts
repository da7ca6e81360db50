// studio: URIs name one version of one file of one session, served by
// studio/file: studio:/<path>?session=<id>&version=<version>. Pure (works on
// strings) so it is unit tested; content.ts wraps it in vscode.Uri.

import { FileVersion } from "./protocol";

export interface FileRef {
    session: string;
    path: string; // relative to the repository root, '/'-separated
    version: FileVersion;
}

const versions: readonly FileVersion[] = ["base", "target", "worktree", "snapshot"];

export function toQuery(ref: FileRef): { path: string; query: string } {
    const q = new URLSearchParams({ session: ref.session, version: ref.version });
    return { path: "/" + ref.path.replace(/^\/+/, ""), query: q.toString() };
}

export function fromQuery(path: string, query: string): FileRef | undefined {
    const q = new URLSearchParams(query);
    const session = q.get("session");
    const version = q.get("version") as FileVersion | null;
    if (!session || !version || !versions.includes(version)) return undefined;
    return { session, version, path: path.replace(/^\/+/, "") };
}
