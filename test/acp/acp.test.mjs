// Real ACP clients nobody here wrote, against `studiod acp` with the
// project's scripted ACP agent underneath: the acpx command-line client and
// the ACP TypeScript SDK's client. Run by .ci/acp.sh
// (STUDIOD_BIN=/path/to/studiod FAKEACP_BIN=/path/to/studiod.test npm test);
// FAKEACP_BIN is cmd/studiod's test binary, which runs the scripted agent
// when called as "fakeacp".

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, execFile, spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, existsSync, readFileSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { join, dirname } from "node:path";
import { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { client, methods, ndJsonStream, PROTOCOL_VERSION } from "@agentclientprotocol/sdk";

const execFileP = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const STUDIOD = process.env.STUDIOD_BIN;
const FAKEACP = process.env.FAKEACP_BIN;
if (!STUDIOD || !FAKEACP) throw new Error("set STUDIOD_BIN to a studiod binary and FAKEACP_BIN to cmd/studiod's test binary");
const ACPX = join(here, "node_modules", ".bin", "acpx");

// Short paths: unix socket paths are limited.
const root = mkdtempSync(join("/tmp", "sdacp"));
const home = join(root, "h");
const repo = join(root, "repo");
const bin = join(root, "bin");
const env = {
  ...process.env,
  PATH: `${bin}:${process.env.PATH}`,
  STUDIOD_HOME: home,
  HOME: join(root, "home"), // acpx keeps its sessions in ~/.acpx
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "Studio Test",
  GIT_AUTHOR_EMAIL: "test@studiod.invalid",
  GIT_COMMITTER_NAME: "Studio Test",
  GIT_COMMITTER_EMAIL: "test@studiod.invalid",
};
const editors = [];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, cond, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function studiod(...args) {
  return JSON.parse(execFileSync(STUDIOD, ["--json", ...args], { env, cwd: repo, encoding: "utf8" }));
}

function session(id) {
  return studiod("show", id);
}

before(() => {
  mkdirSync(bin, { recursive: true });
  symlinkSync(FAKEACP, join(bin, "fakeacp"));
  mkdirSync(join(home, "config"), { recursive: true });
  writeFileSync(join(home, "config", "config.toml"), `[agents.fake]
command = ["fakeacp"]
protocol = "acp"

[acp]
agent = "fake"
`);
  mkdirSync(env.HOME, { recursive: true });
  execFileSync("git", ["init", "-q", "-b", "main", repo], { env });
  writeFileSync(join(repo, "README.md"), "hello\n");
  execFileSync("git", ["-C", repo, "add", "."], { env });
  execFileSync("git", ["-C", repo, "commit", "-q", "-m", "initial"], { env });
});

after(async () => {
  for (const e of editors) e.proc.kill("SIGKILL");
  // acpx's queue owner holds a `studiod acp` until its TTL runs out, and
  // that would start the daemon again after the shutdown: close the named
  // session, and wait until no owner is left.
  try { execFileSync(ACPX, ["--agent", `${STUDIOD} acp`, "--cwd", repo, "sessions", "close", "named"], { env, cwd: repo, timeout: 30000 }); } catch {}
  const queues = join(env.HOME, ".acpx", "queues");
  await until("acpx's queue owners to end", () => !existsSync(queues) || readdirSync(queues).length === 0, 30000).catch(() => {});
  try {
    for (const s of studiod("ls").sessions ?? []) {
      try { execFileSync(STUDIOD, ["stop", "--force", s.id], { env, cwd: repo }); } catch {}
    }
  } finally {
    try { execFileSync(STUDIOD, ["shutdown"], { env }); } catch {}
    // The daemon may still be ending (a pool tree half-made is removed as
    // it goes): retry while the tree changes under the removal.
    rmSync(root, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
  }
});

// editor runs `studiod acp` under the SDK's client, as an editor's agent
// panel would: it records updates and keeps permission requests for the
// test to answer.
async function editor(name) {
  const proc = spawn(STUDIOD, ["acp"], { env, cwd: repo, stdio: ["pipe", "pipe", "inherit"] });
  const e = { proc, updates: [], asks: [] };
  const app = client({ name })
    .onNotification(methods.client.session.update, ({ params }) => { e.updates.push(params); })
    .onRequest(methods.client.session.requestPermission, ({ params, signal }) => new Promise((resolve) => {
      const ask = { params, withdrawn: false, answer: (optionId) => resolve({ outcome: { outcome: "selected", optionId } }) };
      signal.addEventListener("abort", () => { ask.withdrawn = true; resolve({ outcome: { outcome: "cancelled" } }); });
      e.asks.push(ask);
    }));
  e.conn = app.connect(ndJsonStream(Writable.toWeb(proc.stdin), Readable.toWeb(proc.stdout)));
  e.req = (method, params) => e.conn.agent.request(method, params);
  editors.push(e);
  const init = await e.req(methods.agent.initialize, { protocolVersion: PROTOCOL_VERSION, clientCapabilities: {}, clientInfo: { name, version: "1" } });
  assert.equal(init.protocolVersion, PROTOCOL_VERSION);
  assert.equal(init.agentCapabilities.loadSession, true);
  assert.ok(init.agentCapabilities.sessionCapabilities?.list, "session/list advertised");
  assert.deepEqual(init.authMethods, []);
  return e;
}

// texts lists what a session's updates said: "agent" and "user" messages,
// "tool" call titles.
function texts(e, sid, kind) {
  const out = [];
  for (const n of e.updates) {
    if (n.sessionId !== sid) continue;
    const u = n.update;
    if (kind === "agent" && u.sessionUpdate === "agent_message_chunk" && u.content.type === "text") out.push(u.content.text);
    if (kind === "user" && u.sessionUpdate === "user_message_chunk" && u.content.type === "text") out.push(u.content.text);
    if (kind === "tool" && (u.sessionUpdate === "tool_call" || u.sessionUpdate === "tool_call_update") && u.title) out.push(u.title);
  }
  return out;
}

async function said(e, sid, kind, substr) {
  await until(`a ${kind} update with "${substr}" (have: ${texts(e, sid, kind).join(" | ")})`,
    () => texts(e, sid, kind).some((t) => t.includes(substr)));
}

function prompt(e, sid, text) {
  return e.req(methods.agent.session.prompt, { sessionId: sid, prompt: [{ type: "text", text }] });
}

test("acpx: a one-shot prompt runs in a new session's worktree, the permission allowed", async () => {
  const { stdout } = await execFileP(ACPX, ["--agent", `${STUDIOD} acp`, "--cwd", repo, "--approve-all", "--format", "json", "exec", "please write one.txt"],
    { env, cwd: repo, timeout: 120000 });
  assert.match(stdout, /Done: one\.txt is written\./);
  assert.ok(!existsSync(join(repo, "one.txt")), "one.txt written in the client's checkout");
  const made = studiod("ls").sessions.filter((s) => s.agent === "fake" && existsSync(join(s.worktree, "one.txt")));
  assert.equal(made.length, 1, "one session's worktree has one.txt");
  assert.equal(readFileSync(join(made[0].worktree, "one.txt"), "utf8"), "hello from fakeacp\n");
  assert.ok(made[0].state === "idle", `the session goes on after the client: ${made[0].state}`);
});

test("acpx: a named session outlives each client process; later prompts go to the same studiod session", async () => {
  const acpx = (...args) => execFileP(ACPX, ["--agent", `${STUDIOD} acp`, "--cwd", repo, "--ttl", "1", "--approve-all", ...args], { env, cwd: repo, timeout: 120000 });
  const before = new Set(studiod("ls").sessions.map((s) => s.id));
  await acpx("sessions", "new", "--name", "named");
  const made = studiod("ls").sessions.filter((s) => !before.has(s.id));
  assert.equal(made.length, 1, "one new studiod session");
  let { stdout } = await acpx("prompt", "-s", "named", "write two.txt");
  assert.match(stdout, /Done: two\.txt is written\./);
  ({ stdout } = await acpx("prompt", "-s", "named", "hello again"));
  assert.match(stdout, /you said: hello again/);
  assert.ok(existsSync(join(made[0].worktree, "two.txt")), "two.txt in the named session's worktree");
  assert.equal(studiod("ls").sessions.filter((s) => !before.has(s.id)).length, 1, "still one session");
  await until("the session idle", () => session(made[0].id).state === "idle");
});

test("SDK: new thread, permission in the client, two clients with the first answer winning", async () => {
  const a = await editor("editor-a");
  const { sessionId: sid, configOptions } = await a.req(methods.agent.session.new, { cwd: repo, mcpServers: [] });
  assert.equal(configOptions[0].id, "agent");
  assert.equal(configOptions[0].currentValue, "fake");
  const s = session(sid);
  assert.notEqual(s.worktree, repo);
  assert.ok(existsSync(s.worktree), "worktree made");

  let turn = prompt(a, sid, "please write a.txt");
  await until("a permission request", () => a.asks.length === 1);
  assert.deepEqual(a.asks[0].params.options.map((o) => o.optionId), ["allow-once", "allow-always", "reject-once", "reject-always"]);
  a.asks[0].answer("allow-once");
  assert.equal((await turn).stopReason, "end_turn");
  assert.equal(readFileSync(join(s.worktree, "a.txt"), "utf8"), "hello from fakeacp\n");
  assert.ok(!existsSync(join(repo, "a.txt")));
  await said(a, sid, "tool", "Write a.txt");
  const loc = a.updates.find((n) => n.update.sessionUpdate === "tool_call" && n.update.locations?.length);
  assert.equal(loc.update.locations[0].path, join(s.worktree, "a.txt"));

  const b = await editor("editor-b");
  await b.req(methods.agent.session.load, { sessionId: sid, cwd: repo, mcpServers: [] });
  assert.ok(texts(b, sid, "user").includes("please write a.txt"), "load replayed the prompt");
  await said(b, sid, "agent", "Done: a.txt is written.");

  turn = prompt(a, sid, "write b.txt");
  await until("the request in both clients", () => a.asks.length === 2 && b.asks.length === 1);
  b.asks[0].answer("allow-once");
  await until("the first client's request withdrawn", () => a.asks[1].withdrawn);
  await turn;
  await said(a, sid, "tool", "answered elsewhere: Allow");
  assert.ok(existsSync(join(s.worktree, "b.txt")));
  await said(b, sid, "user", "write b.txt");

  // A second session changing a.txt otherwise: a conflict, with lines.
  execFileSync(STUDIOD, ["spawn", "--name", "other", "--", "sh", "-c", "printf 'other\\n' > a.txt; exec sleep 600"], { env, cwd: repo });
  await said(a, sid, "tool", "studiod: session other changes line 1 of a.txt you are editing");
});

test("SDK: session/list shows a session spawned from the CLI, session/load replays it", async () => {
  const cli = studiod("spawn", "--agent", "fake", "--name", "from-cli", "hello from the terminal");
  await until("the CLI session idle", () => session(cli.id).state === "idle");
  const c = await editor("editor-c");
  const list = await c.req(methods.agent.session.list, { cwd: repo });
  assert.ok(list.sessions.some((s) => s.sessionId === cli.id && s.title.includes("from-cli")), JSON.stringify(list.sessions));
  await c.req(methods.agent.session.load, { sessionId: cli.id, cwd: repo, mcpServers: [] });
  assert.ok(texts(c, cli.id, "user").includes("hello from the terminal"));
  assert.ok(texts(c, cli.id, "agent").some((t) => t.includes("you said: hello from the terminal")));
  // Another repository's session, an unknown one, a cwd outside any.
  const other = join(root, "elsewhere");
  mkdirSync(other);
  await assert.rejects(c.req(methods.agent.session.new, { cwd: other, mcpServers: [] }), (err) => err.code === -32602 && err.message.includes(other));
  await assert.rejects(c.req(methods.agent.session.load, { sessionId: "nope", cwd: repo, mcpServers: [] }), (err) => err.code === -32002);
  await assert.rejects(c.req("nope/nothing", {}), (err) => err.code === -32601);
});

test("SDK: a client killed mid-turn leaves the session going", async () => {
  const d = await editor("editor-d");
  const { sessionId: sid } = await d.req(methods.agent.session.new, { cwd: repo, mcpServers: [] });
  const wt = session(sid).worktree;
  prompt(d, sid, "hold").catch(() => {});
  await said(d, sid, "agent", "holding until released");
  d.proc.kill("SIGKILL");
  writeFileSync(join(wt, "release"), "");
  await until("the turn to end without the client", () => { const s = session(sid); return s.state === "idle" && s.detail === "end_turn"; });
  // session/cancel from a client that picks the session up again.
  const e = await editor("editor-e");
  await e.req(methods.agent.session.load, { sessionId: sid, cwd: repo, mcpServers: [] });
  const turn = prompt(e, sid, "wait");
  await said(e, sid, "agent", "waiting to be cancelled");
  await e.conn.agent.notify(methods.agent.session.cancel, { sessionId: sid });
  assert.equal((await turn).stopReason, "cancelled");
});
