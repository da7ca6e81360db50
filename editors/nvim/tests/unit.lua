-- Tests without a daemon: argument parsing, completion of subcommands,
-- formatting, and that setup() is idempotent with the language client off.
local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
vim.opt.rtp:prepend(vim.fn.fnamemodify(here, ':h'))
package.path = here .. '/?.lua;' .. package.path
vim.cmd('runtime plugin/studio.lua')
local H = require('helpers')
local commands = require('studio.commands')

H.test('parse flags and prompt', function()
  local opts, rest = commands.parse({ '--agent', 'demo', '--name=x', 'fix', '--the', 'bug' }, { agent = true, name = true })
  H.eq(opts, { agent = 'demo', name = 'x' }, 'flags')
  H.eq(rest, { 'fix', '--the', 'bug' }, 'prompt words')
  opts, rest = commands.parse({ '--force', '--', '--name' }, {})
  H.eq(opts, { force = true }, 'boolean flag')
  H.eq(rest, { '--name' }, 'after --')
end)

H.test('complete subcommands and flags', function()
  H.eq(commands.complete('s', 'Studio s'), { 'send', 'spawn', 'stop', 'sync' }, 'subcommands')
  H.eq(commands.complete('--c', 'Studio preview --c'), { '--check' }, 'preview flags')
  H.eq(commands.complete('--a', 'Studio spawn --a'), { '--agent' }, 'spawn flags')
  H.eq(commands.complete('', 'Studio nope '), {}, 'unknown subcommand')
end)

H.test('format a waiting session', function()
  local line = commands.format_session({
    name = 'auth', state = 'waiting', detail = 'Proceed? (y/n)', conflicts = 2,
    changes = { files = 1, additions = 12, deletions = 3 },
  })
  H.truthy(line:find('+12 -3 in 1 file ', 1, true) and line:find('2 conflicts', 1, true) and line:find('? Proceed?', 1, true), line)
end)

H.test('format a preview', function()
  local lines = commands.format_preview({
    target = 'main',
    order = { 'alpha' },
    sessions = {
      { session = 'alpha', status = 'clean', position = 1, check = 'passed' },
      { session = 'beta', status = 'conflict', position = 0, reason = 'conflicts with alpha in app/config.txt (lines 3–5)' },
    },
    check = { command = 'make test', status = 'passed' },
  })
  H.eq(lines, {
    'landing order onto main: alpha',
    '  1. alpha check passed',
    '  - beta (conflict): conflicts with alpha in app/config.txt (lines 3–5)',
    'check `make test`: passed',
  }, 'preview lines')
  H.eq(commands.format_preview({ target = 'main', sessions = {} }), { 'no session has work to land on main' }, 'empty preview')
end)

H.test('format a session behind its target', function()
  local line = commands.format_session({ name = 'b', state = 'idle', behind = 2, wouldConflict = true, changes = {} })
  H.truthy(line:find('2 behind, would conflict', 1, true), line)
end)

H.test('unknown subcommand reports an error', function()
  local got
  vim.notify = function(msg)
    got = msg
  end
  commands.run({ fargs = { 'frobnicate' } })
  H.truthy(got and got:find('unknown subcommand frobnicate', 1, true), tostring(got))
end)

H.finish()
