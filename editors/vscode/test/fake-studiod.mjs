#!/usr/bin/env node
// A stand-in for `studiod lsp` until the real one lands: just enough of the
// wire contract (protocol/*.go) to drive the extension's end-to-end tests.
// Not a reference: the real daemon is the authority, and the e2e tests are
// meant to run against it (STUDIOD_BIN=path/to/studiod). Sessions live in
// this process; the "demo" agent rewrites lines 3-5 of notes.txt in its
// worktree, so two demo sessions always conflict there.
//
//   fake-studiod.mjs version | --version
//   fake-studiod.mjs lsp          (LSP framing on stdio)

import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

const cmd = process.argv[2];
if (cmd === "version" || cmd === "--version") {
    console.log("studiod fake-0.0.0");
    process.exit(0);
}
if (cmd !== "lsp") {
    console.error(`usage: fake-studiod.mjs version|lsp`);
    process.exit(2);
}

const home = process.env.STUDIOD_HOME || "/tmp/fake-studiod";
const git = (cwd, ...args) => execFileSync("git", ["-C", cwd, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

// ---- framing ------------------------------------------------------------------
let buf = Buffer.alloc(0);
process.stdin.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const len = Number(/Content-Length: (\d+)/i.exec(buf.subarray(0, end).toString())?.[1]);
        if (buf.length < end + 4 + len) return;
        const msg = JSON.parse(buf.subarray(end + 4, end + 4 + len).toString());
        buf = buf.subarray(end + 4 + len);
        void handle(msg);
    }
});
process.stdin.on("end", () => process.exit(0));

function write(msg) {
    const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", ...msg }));
    process.stdout.write(`Content-Length: ${body.length}\r\n\r\n`);
    process.stdout.write(body);
}
const notify = (method, params) => write({ method, params });

class RpcError extends Error {
    constructor(code, message, data) {
        super(message);
        this.code = code;
        this.data = data;
    }
}

async function handle(msg) {
    if (msg.id === undefined) {
        if (msg.method === "exit") process.exit(0);
        return;
    }
    if (!msg.method) return; // a response to one of ours
    try {
        const h = handlers[msg.method];
        if (!h) throw new RpcError(-32601, `method not found: ${msg.method}`);
        write({ id: msg.id, result: (await h(msg.params ?? {})) ?? null });
    } catch (e) {
        write({ id: msg.id, error: { code: e.code ?? -32603, message: e.message, ...(e.data ? { data: e.data } : {}) } });
    }
}

// ---- state --------------------------------------------------------------------
const sessions = new Map(); // id -> Session
let conflicts = []; // Conflict[]
let seq = 0;

function find(ref) {
    const s = sessions.get(ref) ?? [...sessions.values()].find((s) => s.name === ref);
    if (!s) throw new RpcError(-32001, `no session ${ref}`);
    return s;
}

function changed(s) {
    s.updated = new Date().toISOString();
    notify("studio/sessionChanged", { session: s });
}

function numstat(s) {
    const out = git(s.worktree, "diff", "--numstat", s.base);
    return out
        ? out.split("\n").map((l) => {
              const [a, d, p] = l.split("\t");
              return { path: p, status: "modified", additions: Number(a), deletions: Number(d) };
          })
        : [];
}

function setChanges(s) {
    const files = numstat(s);
    s.changes = {
        files: files.length,
        additions: files.reduce((n, f) => n + f.additions, 0),
        deletions: files.reduce((n, f) => n + f.deletions, 0),
    };
}

const range = { start: 3, end: 5 };

function publish(c, clear) {
    for (const side of [c.a, c.b]) {
        notify("textDocument/publishDiagnostics", {
            uri: pathToFileURL(side.file).href,
            diagnostics: clear
                ? []
                : [
                      {
                          range: { start: { line: range.start - 1, character: 0 }, end: { line: range.end - 1, character: 0 } },
                          severity: 2,
                          source: "studiod",
                          message: `${c.a.session} and ${c.b.session} both change lines ${range.start}-${range.end}`,
                      },
                  ],
        });
    }
}

function recomputeConflicts() {
    const live = [...sessions.values()].filter((s) => s.changes.files > 0 && s.state !== "merged" && s.state !== "removed");
    const want = [];
    for (let i = 0; i < live.length; i++) {
        for (let j = i + 1; j < live.length; j++) {
            const [a, b] = [live[i], live[j]];
            want.push({
                id: `${a.name}:${b.name}:notes.txt`,
                repo: a.repo,
                path: "notes.txt",
                kind: "content",
                severity: "conflict",
                a: { session: a.name, path: "notes.txt", file: path.join(a.worktree, "notes.txt"), ranges: [range] },
                b: { session: b.name, path: "notes.txt", file: path.join(b.worktree, "notes.txt"), ranges: [range] },
            });
        }
    }
    const added = want.filter((c) => !conflicts.some((o) => o.id === c.id));
    const resolved = conflicts.filter((o) => !want.some((c) => c.id === o.id));
    conflicts = want;
    for (const s of sessions.values()) s.conflicts = want.filter((c) => c.a.session === s.name || c.b.session === s.name).length;
    if (added.length || resolved.length) {
        notify("studio/conflictsChanged", { added, resolved: resolved.map((c) => c.id) });
        resolved.forEach((c) => publish(c, true));
        added.forEach((c) => publish(c, false));
        for (const s of sessions.values()) changed(s);
    }
}

function demoAgent(s) {
    setTimeout(() => {
        s.state = "working";
        changed(s);
        const file = path.join(s.worktree, "notes.txt");
        const lines = readFileSync(file, "utf8").split("\n");
        for (let i = range.start - 1; i < range.end; i++) lines[i] = `${s.name} edit ${i + 1}`;
        writeFileSync(file, lines.join("\n"));
        setChanges(s);
        s.state = "waiting";
        s.detail = "Done. Anything else?";
        changed(s);
        recomputeConflicts();
    }, 300);
}

// ---- handlers -------------------------------------------------------------------
const handlers = {
    initialize: () => ({
        capabilities: {
            textDocumentSync: 1,
            executeCommandProvider: { commands: ["studio.spawn", "studio.review", "studio.merge", "studio.stop", "studio.remove", "studio.send", "studio.feedback", "studio.undo"] },
        },
        serverInfo: { name: "studiod (fake)", version: "0.0.0" },
    }),
    shutdown: () => null,
    "workspace/executeCommand": () => null,
    "studio/hello": () => ({ version: "fake-0.0.0", protocolVersion: "1", pid: process.pid }),
    "studio/subscribe": () => ({}),
    "studio/sessions": ({ repo }) => ({
        sessions: [...sessions.values()].filter((s) => !repo || s.repo === repo),
    }),
    "studio/session": ({ session }) => find(session),
    "studio/conflicts": () => ({ conflicts }),
    "studio/spawn": ({ repo, name, agent, prompt }) => {
        if (agent !== "demo") throw new RpcError(-32002, `the fake daemon only runs the demo agent, not ${agent}`);
        const root = git(repo, "rev-parse", "--show-toplevel");
        name ||= `demo-${++seq}`;
        const worktree = path.join(home, "worktrees", path.basename(root), name);
        mkdirSync(path.dirname(worktree), { recursive: true });
        const base = git(root, "rev-parse", "HEAD");
        git(root, "worktree", "add", "-q", "-b", `studio/${name}`, worktree, base);
        const now = new Date().toISOString();
        const s = {
            id: `s${++seq}`, name, repo: root, branch: `studio/${name}`, base, target: "main", worktree, agent,
            prompt, state: "starting", created: now, updated: now,
            changes: { files: 0, additions: 0, deletions: 0 }, conflicts: 0,
        };
        sessions.set(s.id, s);
        demoAgent(s);
        return s;
    },
    "studio/diff": ({ session }) => {
        const s = find(session);
        const files = numstat(s);
        return { from: s.base, to: "", files, additions: s.changes.additions, deletions: s.changes.deletions };
    },
    "studio/file": ({ session, path: p, version }) => {
        const s = find(session);
        if (version === "base") {
            try {
                return { content: execFileSync("git", ["-C", s.repo, "show", `${s.base}:${p}`], { encoding: "utf8" }) };
            } catch {
                return { content: "", missing: true };
            }
        }
        const f = path.join(s.worktree, p);
        return existsSync(f) ? { content: readFileSync(f, "utf8") } : { content: "", missing: true };
    },
    "studio/output": ({ offset }) => ({ data: "", offset: Math.max(offset, 0), next: Math.max(offset, 0), size: 0, done: false }),
    "studio/send": () => ({}),
    "studio/resize": () => ({}),
    "studio/comment": ({ session, path: p, startLine, endLine, body }) => ({
        id: ++seq, session, path: p, startLine, endLine: endLine ?? startLine, body, created: new Date().toISOString(),
    }),
    "studio/comments": () => ({ comments: [] }),
    "studio/feedback": () => ({ sent: 0, message: "", via: "pty" }),
    "studio/stop": ({ session }) => {
        const s = find(session);
        s.state = "stopped";
        changed(s);
        return s;
    },
    "studio/remove": ({ session }) => {
        const s = find(session);
        git(s.repo, "worktree", "remove", "--force", s.worktree);
        s.state = "removed";
        sessions.delete(s.id);
        changed(s);
        recomputeConflicts();
        return { session: s, branchDeleted: false, branchKept: "not merged" };
    },
    "studio/merge": ({ session, strategy = "merge" }) => {
        const s = find(session);
        git(s.worktree, "add", "-A");
        if (git(s.worktree, "status", "--porcelain")) git(s.worktree, "commit", "-q", "-m", `${s.name}: ${s.prompt ?? "work"}`);
        const old = git(s.repo, "rev-parse", "HEAD");
        try {
            git(s.repo, "merge-tree", "--write-tree", "--name-only", "--no-messages", old, s.branch);
        } catch {
            const file = path.join(s.worktree, "notes.txt");
            const conflict = {
                id: `${s.name}:target:notes.txt`, repo: s.repo, path: "notes.txt", kind: "content", severity: "conflict",
                a: { session: s.name, path: "notes.txt", file, ranges: [range] },
                b: { session: "target", path: "notes.txt", file: path.join(s.repo, "notes.txt"), ranges: [range] },
            };
            throw new RpcError(-32003, `${s.name} conflicts with main`, { conflicts: [conflict] });
        }
        git(s.repo, "merge", "-q", "--no-ff", "-m", `Merge ${s.branch}`, s.branch);
        const now = git(s.repo, "rev-parse", "HEAD");
        s.state = "merged";
        changed(s);
        recomputeConflicts();
        return { session: s, strategy, target: "main", old, new: now, backup: "", files: s.changes.files };
    },
};
