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

H.test('format what a session used', function()
  local line = commands.format_session({
    name = 'auth', state = 'idle', changes = {},
    usage = { input = 1245, output = 66, cacheRead = 9103, cacheWrite = 871, cost = 0.0213 },
  })
  H.truthy(line:find('11.2k in 66 out $0.02', 1, true), line)
  H.eq(commands.format_usage({ input = 950, output = 12, cacheRead = 0, cacheWrite = 0 }), '950 in 12 out', 'no cost reported')
  H.eq(commands.format_usage({ input = 10, output = 1, context = 150000, contextWindow = 200000 }), '10 in 1 out ctx 75%', 'context and its window')
  H.eq(commands.format_usage({ input = 10, output = 1, context = 5200 }), '10 in 1 out ctx 5.2k', 'context of a window not said')
  H.eq(commands.format_usage(nil), '', 'nothing reported yet')
  H.eq(commands.format_usage(vim.NIL), '', 'null from JSON')
  H.truthy(not commands.format_session({ name = 'b', state = 'idle', changes = {} }):find(' out', 1, true), 'no usage, no words')
end)

H.test('format a budget', function()
  H.eq(commands.format_budget({ name = 'a', state = 'waiting', budget = { text = '10k tokens', spent = 1.05 } }),
    'a: budget 10k tokens, 105% used (waiting)', 'tokens')
  H.eq(commands.format_budget({ name = 'b', state = 'idle', budget = { text = '$5.00' } }),
    'b: budget $5.00, its agent reports no cost: not enforced (idle)', 'no cost reported')
  H.eq(commands.format_budget({ name = 'c', state = 'idle' }), 'c: no budget', 'none')
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

H.test('format plans and a plan check', function()
  H.eq(commands.format_plans({
    {
      id = 'p1', file = 'plan.toml', state = 'running', target = 'main',
      tasks = {
        { name = 'api', state = 'started', sessionState = 'idle' },
        { name = 'client', state = 'waiting', after = { 'api' }, detail = 'waits for api to land' },
      },
    },
  }), {
    'plan p1 plan.toml: running (target main)',
    '  api  started (idle)',
    '  client  waiting  after api  — waits for api to land',
  }, 'plan lines')
  H.eq(commands.format_plan_check({
    commits = 5,
    tasks = { { name = 'api' }, { name = 'misc', unscoped = true } },
    pairs = { { a = 'api', b = 'misc', risk = 'coupled', coChange = 3 } },
    order = { { task = 'api', wave = 1 }, { task = 'misc', wave = 2, waits = { { task = 'api', why = 'history' } } } },
  }), {
    '2 tasks checked against 5 commits',
    '  api ↔ misc: history changes them together, 3 commits',
    '  misc: no scope, unknown risk',
    '  1. api',
    '  2. misc: history',
  }, 'check lines')
  H.eq(commands.complete('c', 'Studio plan c'), { 'check' }, 'plan verbs')
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

H.test('a verb without its session name prints its usage once', function()
  local got
  vim.notify = function(msg)
    got = msg
  end
  commands.run({ fargs = { 'merge' } })
  H.truthy(got and got:find('usage: :Studio merge {name} [merge|squash|rebase]', 1, true), tostring(got))
  H.truthy(not got:find('{name}.*{name}'), got)
  commands.run({ fargs = { 'stop' } })
  H.truthy(got and got:find('usage: :Studio stop[!] {name}', 1, true), tostring(got))
end)

H.test('the shipped doc/tags are what :helptags makes of doc/studio.txt', function()
  local help = require('studio.help')
  local tmp = vim.fn.tempname()
  vim.fn.mkdir(tmp, 'p')
  vim.fn.writefile(vim.fn.readfile(help.doc_dir() .. '/studio.txt', 'b'), tmp .. '/studio.txt', 'b')
  vim.cmd('helptags ' .. vim.fn.fnameescape(tmp))
  H.eq(vim.fn.readfile(help.doc_dir() .. '/tags'), vim.fn.readfile(tmp .. '/tags'), 'doc/tags (regenerate with :helptags editors/nvim/doc)')
  vim.fn.delete(tmp, 'rf')
end)

H.test(':help studio opens the plugin help at its top tag', function()
  vim.cmd('help studio')
  H.eq(vim.bo.filetype, 'help', 'filetype')
  H.truthy(vim.api.nvim_buf_get_name(0):find('editors/nvim/doc/studio.txt', 1, true), vim.api.nvim_buf_get_name(0))
  H.truthy(vim.api.nvim_get_current_line():find('*studio*', 1, true), vim.api.nvim_get_current_line())
  vim.cmd('help :Studio-merge')
  H.truthy(vim.api.nvim_get_current_line():find('*:Studio-merge*', 1, true), vim.api.nvim_get_current_line())
  vim.cmd('helpclose')
end)

H.test('setup makes the help tags of a copy shipped without them', function()
  local help = require('studio.help')
  local tmp = vim.fn.tempname()
  vim.fn.mkdir(tmp .. '/doc', 'p')
  vim.fn.writefile(vim.fn.readfile(help.doc_dir() .. '/studio.txt', 'b'), tmp .. '/doc/studio.txt', 'b')
  H.eq(vim.fn.filereadable(tmp .. '/doc/tags'), 0, 'no tags before')
  H.eq(help.ensure_tags(tmp .. '/doc'), true, 'ensure_tags')
  H.truthy(vim.fn.readfile(tmp .. '/doc/tags')[1], 'tags written')
  local found = false
  for _, l in ipairs(vim.fn.readfile(tmp .. '/doc/tags')) do
    found = found or l:find('^studio\tstudio.txt\t') ~= nil
  end
  H.truthy(found, 'a top-level studio tag')
  -- A directory that cannot be written is left alone.
  H.eq(help.ensure_tags(tmp .. '/nowhere'), false, 'missing dir')
  vim.fn.delete(tmp, 'rf')
end)

H.finish()
