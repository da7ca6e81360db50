// Drives the real `studiod lsp` with the LSP client library VS Code's own
// language client is built on (vscode-languageserver-protocol): initialize,
// spawn two command agents that rewrite the same lines through
// workspace/executeCommand, receive the conflict as diagnostics from source
// "studiod" on both worktree copies, read the code lens, clear the conflict,
// then shutdown and exit.
//
// Usage: STUDIOD_BIN=/path/to/studiod node client.test.js
'use strict';

const assert = require('node:assert/strict');
const cp = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  InitializeRequest,
  InitializedNotification,
  ExecuteCommandRequest,
  PublishDiagnosticsNotification,
  CodeLensRequest,
  ShutdownRequest,
  ExitNotification,
  WorkDoneProgressCreateRequest,
  ShowMessageRequest,
  DiagnosticSeverity,
} = require('vscode-languageserver-protocol/node');

const bin = process.env.STUDIOD_BIN || 'studiod';
const deadline = Date.now() + 120_000;

// Isolated git and studiod: no global config, fixed identities, a private
// STUDIOD_HOME (short: it holds a unix socket).
const home = fs.mkdtempSync('/tmp/sdn');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'studiod-lsp-'));
const env = {
  ...process.env,
  STUDIOD_HOME: home,
  HOME: work,
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'Studio Test',
  GIT_AUTHOR_EMAIL: 'test@studiod.invalid',
  GIT_COMMITTER_NAME: 'Studio Test',
  GIT_COMMITTER_EMAIL: 'test@studiod.invalid',
};

function git(dir, ...args) {
  return cp.execFileSync('git', args, { cwd: dir, env, encoding: 'utf8' }).trim();
}

function cleanup() {
  // Agents outlive the daemon by design: stop any this run left behind.
  for (const name of ['one', 'two']) {
    try {
      cp.execFileSync(bin, ['stop', name, '--force', '--repo', path.join(work, 'repo')], { env, stdio: 'ignore', timeout: 30_000 });
    } catch {}
  }
  try {
    cp.execFileSync(bin, ['shutdown'], { env, stdio: 'ignore', timeout: 30_000 });
  } catch {}
  fs.rmSync(home, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
}

async function until(what, cond) {
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main() {
  const repo = fs.realpathSync(fs.mkdirSync(path.join(work, 'repo'), { recursive: true }));
  git(repo, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(repo, 'shared.txt'), Array.from({ length: 10 }, (_, i) => `line ${i + 1}\n`).join(''));
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'initial');

  const proc = cp.spawn(bin, ['lsp'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const conn = createProtocolConnection(new StreamMessageReader(proc.stdout), new StreamMessageWriter(proc.stdin));

  const diagnostics = new Map(); // uri → latest diagnostics
  const progress = [];
  conn.onNotification(PublishDiagnosticsNotification.type, (p) => diagnostics.set(p.uri, p.diagnostics));
  conn.onRequest(WorkDoneProgressCreateRequest.type, () => null);
  conn.onUnhandledProgress((p) => progress.push(p.value.kind));
  conn.onRequest(ShowMessageRequest.type, () => null);
  conn.onRequest('workspace/codeLens/refresh', () => null);
  conn.listen();

  const init = await conn.sendRequest(InitializeRequest.type, {
    processId: process.pid,
    rootUri: `file://${repo}`,
    workspaceFolders: [{ uri: `file://${repo}`, name: 'repo' }],
    capabilities: { window: { workDoneProgress: true }, workspace: { codeLens: { refreshSupport: true } } },
  });
  assert.ok(init.capabilities.executeCommandProvider.commands.includes('studio.spawn'), 'studio.spawn offered');
  assert.ok(init.capabilities.codeLensProvider, 'code lenses offered');
  assert.ok(init.capabilities.codeActionProvider, 'code actions offered');
  assert.equal(init.serverInfo.name, 'studiod');
  await conn.sendNotification(InitializedNotification.type, {});

  // Two command agents rewrite shared.txt and stay alive.
  const agent = ['sh', '-c', 'printf "edited by %s\\n" "$STUDIO_SESSION" > shared.txt; exec sleep 600'];
  const sessions = {};
  for (const name of ['one', 'two']) {
    const s = await conn.sendRequest(ExecuteCommandRequest.type, {
      command: 'studio.spawn',
      arguments: [{ name, command: agent }],
    });
    assert.equal(s.name, name);
    assert.equal(s.repo, repo, 'repo defaults to the workspace folder');
    sessions[name] = s;
  }
  assert.deepEqual(progress.filter((k) => k !== 'report'), ['begin', 'end', 'begin', 'end'], 'spawn progress');

  const uri = (s) => `file://${path.join(s.worktree, 'shared.txt')}`;
  await until('studiod diagnostics on both worktree copies', () =>
    ['one', 'two'].every((n) => (diagnostics.get(uri(sessions[n])) || []).length > 0));
  const d = diagnostics.get(uri(sessions.one))[0];
  assert.equal(d.source, 'studiod');
  assert.equal(d.severity, DiagnosticSeverity.Warning);
  assert.match(d.message, /^conflicts with session two \(command\): line/);
  assert.equal(d.relatedInformation[0].location.uri, uri(sessions.two));
  console.log(`diagnostic: ${d.message}`);

  // The user's own shared.txt: the lines both sessions rewrite, pointing at both.
  const mine = `file://${repo}/shared.txt`;
  await until("studiod diagnostics on the user's own copy", () => (diagnostics.get(mine) || []).length > 0);
  const u = diagnostics.get(mine)[0];
  assert.equal(u.message, 'sessions one and two both change lines 1–10: a conflict when both land');
  assert.deepEqual([u.range.start.line, u.range.end.line], [0, 9]);
  assert.deepEqual(u.relatedInformation.map((r) => r.location.uri).sort(), [uri(sessions.one), uri(sessions.two)].sort());
  console.log(`user's copy: ${u.message}`);

  const lenses = await conn.sendRequest(CodeLensRequest.type, { textDocument: { uri: `file://${repo}/shared.txt` } });
  assert.match(lenses[0].command.title, /^2 sessions edit this file: one \+1 −10 · two \+1 −10$/);
  console.log(`code lens: ${lenses[0].command.title}`);

  // Removing one side clears the other's diagnostics.
  await conn.sendRequest(ExecuteCommandRequest.type, { command: 'studio.remove', arguments: [{ session: 'two', force: true }] });
  await until('diagnostics cleared', () =>
    (diagnostics.get(uri(sessions.one)) || [1]).length === 0 && (diagnostics.get(mine) || [1]).length === 0);
  await conn.sendRequest(ExecuteCommandRequest.type, { command: 'studio.stop', arguments: [{ session: 'one', force: true }] });

  await conn.sendRequest(ShutdownRequest.type);
  await conn.sendNotification(ExitNotification.type);
  const { code, signal } = await exited;
  assert.equal(code, 0, `studiod lsp exit code (signal ${signal})`);
  conn.dispose();
}

main().then(
  () => {
    cleanup();
    console.log('ok: vscode-languageserver-protocol client against studiod lsp');
  },
  (err) => {
    cleanup();
    console.error('FAIL:', err);
    process.exit(1);
  },
);
