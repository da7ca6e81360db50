// Finds the studiod binary (setting, then PATH) and checks that it runs.
// No vscode import: unit tested with a fake environment.

import { execFile } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface Binary {
    path: string;
    version: string;
}

/** A failure the user can fix; `fix` says how. */
export class BootstrapError extends Error {
    constructor(
        message: string,
        readonly fix: string,
    ) {
        super(message);
        this.name = "BootstrapError";
    }
}

export function isExecutable(p: string): boolean {
    try {
        if (!statSync(p).isFile()) return false;
        accessSync(p, constants.X_OK);
        return true;
    } catch {
        return false;
    }
}

/** Searches the PATH-like list for name. */
export function findOnPath(name: string, pathEnv: string | undefined, exe = isExecutable): string | undefined {
    for (const dir of (pathEnv ?? "").split(path.delimiter)) {
        if (!dir) continue;
        const p = path.join(dir, name);
        if (exe(p)) return p;
    }
    return undefined;
}

export function expandHome(p: string, home = os.homedir()): string {
    return p === "~" ? home : p.startsWith("~/") ? path.join(home, p.slice(2)) : p;
}

/** Resolves the binary from the setting or PATH without running it. */
export function locate(setting: string | undefined, pathEnv: string | undefined, exe = isExecutable): string {
    if (setting) {
        const p = expandHome(setting);
        if (!exe(p)) {
            throw new BootstrapError(
                `studiod.path is set to "${setting}", which is not an executable file.`,
                "Fix the studiod.path setting, or clear it to use studiod from PATH.",
            );
        }
        return p;
    }
    const found = findOnPath("studiod", pathEnv, exe);
    if (!found) {
        throw new BootstrapError(
            "The studiod binary was not found: studiod.path is not set and there is no studiod on PATH.",
            "Install studiod (go install ./cmd/studiod in its repository) or set studiod.path to the binary.",
        );
    }
    return found;
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile(bin, args, { timeout: 10_000, env }, (err, stdout, stderr) => {
            if (err) reject(new Error(`${[bin, ...args].join(" ")}: ${(stderr || err.message).trim()}`));
            else resolve(stdout.trim());
        });
    });
}

/** Locates the binary and checks it answers `version` (or `--version`). */
export async function bootstrap(setting: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Binary> {
    const bin = locate(setting, env["PATH"]);
    let first: unknown;
    for (const args of [["version"], ["--version"]]) {
        try {
            const out = await run(bin, args, env);
            return { path: bin, version: out.split("\n")[0] ?? "" };
        } catch (e) {
            first ??= e;
        }
    }
    throw new BootstrapError(
        `${bin} does not run: ${first instanceof Error ? first.message : String(first)}`,
        "Check that studiod.path points at a studiod binary built for this machine.",
    );
}
