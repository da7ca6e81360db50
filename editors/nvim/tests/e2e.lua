-- End-to-end test against the real daemon. Run by .ci/nvim.sh:
--   nvim --headless --clean -u NONE -c 'luafile tests/e2e.lua'
-- with STUDIOD_BIN, STUDIO_TEST_REPO and STUDIOD_HOME (temp dir) set.
-- STUDIO_TEST_DIAGNOSTICS=1 also requires conflict diagnostics from the
-- language server; STUDIO_TEST_STRICT=1 fails instead of skipping requests the
-- daemon does not serve yet.
local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
local root = vim.fn.fnamemodify(here, ':h')
vim.opt.rtp:prepend(root)
package.path = here .. '/?.lua;' .. package.path
vim.cmd('runtime plugin/studio.lua')

local protocol = require('studio.protocol')
local H = require('helpers')
local bin = assert(os.getenv('STUDIOD_BIN'), 'STUDIOD_BIN')
local repo = assert(os.getenv('STUDIO_TEST_REPO'), 'STUDIO_TEST_REPO')
local strict = os.getenv('STUDIO_TEST_STRICT') == '1'

-- Collect notifications instead of printing them.
local notes = {}
vim.notify = function(msg, level)
  table.insert(notes, { msg = msg, level = level })
end
local function noted(pattern)
  for _, n in ipairs(notes) do
    if n.msg:find(pattern) then
      return n
    end
  end
end

-- A method the daemon does not serve yet skips the case, unless strict.
local function served(err, method)
  if err and err.code == -32601 then
    if strict then
      error(method .. ' not served by the daemon')
    end
    H.skip(method .. ' is not served by this daemon yet')
  end
end

local studio = require('studio')
local commands = require('studio.commands')
local rpc = require('studio.rpc')

vim.cmd('cd ' .. vim.fn.fnameescape(repo))

local function run(line)
  return H.await(':Studio ' .. line, function(cb)
    commands.run({ fargs = vim.split(line, ' ', { trimempty = true }), range = 0 }, cb)
  end, 20000)
end

local function session(name)
  local err, s = rpc.request_sync(protocol.method.session, { session = name, repo = repo }, 5000)
  return not err and s or nil
end

local ok, err = xpcall(function()
  H.test('setup is idempotent', function()
    studio.setup({ binary = bin })
    local first = #vim.api.nvim_get_autocmds({ group = 'studio' })
    studio.setup({ binary = bin })
    studio.setup({ binary = bin })
    H.eq(#vim.api.nvim_get_autocmds({ group = 'studio' }), first, 'autocmds after three setups')
    H.eq(vim.fn.exists(':Studio'), 2, ':Studio defined')
  end)

  H.test('spawn with the demo agent', function()
    local serr, s = run('spawn --agent demo --name alpha tune the config')
    H.eq(serr, nil, 'spawn error')
    H.eq(s.name, 'alpha', 'session name')
    H.eq(s.branch, 'studio/alpha', 'branch')
  end)

  H.test('notifies when a session waits for input', function()
    local n = H.wait('a waiting notification', function()
      return noted('alpha is waiting')
    end)
    H.truthy(n.msg:find('README', 1, true), 'the question in ' .. n.msg)
  end)

  H.test('list shows state and changes', function()
    H.wait('alpha idle', function()
      local s = session('alpha')
      return s and s.state == 'idle'
    end, 30000)
    local lerr, sessions = run('list')
    H.eq(lerr, nil, 'list error')
    H.eq(#sessions, 1, 'sessions')
    local line = commands.format_session(sessions[1])
    H.truthy(line:find('alpha') and line:find('idle') and line:find('+%d+ %-%d+ in %d+ files'), 'list line ' .. line)
  end)

  H.test('completion of subcommands and session names', function()
    local subs = commands.complete('re', 'Studio re')
    H.eq(subs, { 'review' }, 'subcommands for "re"')
    H.eq(commands.complete('', 'Studio review '), { 'alpha' }, 'names for review')
    H.eq(commands.complete('sq', 'Studio merge alpha sq'), { 'squash' }, 'strategies')
    H.eq(vim.fn.getcompletion('Studio mer', 'cmdline'), { 'merge' }, 'getcompletion')
  end)

  H.test('spawn a second session editing the same lines', function()
    local serr = run('spawn --agent demo --name beta tune the config too')
    H.eq(serr, nil, 'spawn error')
    H.wait('beta idle', function()
      local s = session('beta')
      return s and s.state == 'idle'
    end, 30000)
  end)

  H.test(':Studio conflicts lists the predicted conflict', function()
    local items = H.wait('conflicts on app/config.txt', function()
      local cerr, conflicts = run('conflicts')
      if cerr then
        error(rpc.describe(cerr))
      end
      for _, c in ipairs(conflicts) do
        if c.path == 'app/config.txt' and c.kind == 'content' then
          return vim.fn.getqflist()
        end
      end
    end, 20000)
    local sides = {}
    for _, it in ipairs(items) do
      local name = vim.api.nvim_buf_get_name(it.bufnr)
      if name:match('app/config%.txt$') then
        H.eq(it.lnum, 3, 'first conflicting line')
        sides[name:match('/(%w+)/app/config%.txt$')] = true
      end
    end
    H.truthy(sides.alpha and sides.beta, 'both sides in the quickfix list: ' .. vim.inspect(sides))
  end)

  H.test('conflict diagnostics from the language server', function()
    if os.getenv('STUDIO_TEST_DIAGNOSTICS') ~= '1' then
      H.skip('set STUDIO_TEST_DIAGNOSTICS=1 once the daemon serves LSP')
    end
    local s = assert(session('alpha'))
    vim.cmd('tabnew ' .. vim.fn.fnameescape(s.worktree .. '/app/config.txt'))
    local buf = vim.api.nvim_get_current_buf()
    H.wait('the studiod client attached', function()
      return require('studio.lsp').client() ~= nil
    end)
    H.wait('a studiod diagnostic', function()
      for _, d in ipairs(vim.diagnostic.get(nil)) do
        if d.source == 'studiod' then
          return d
        end
      end
    end, 20000)
    H.truthy(vim.lsp.buf_is_attached(buf, require('studio.lsp').client().id), 'client attached to the buffer')
    vim.cmd('tabclose')
  end)

  H.test('one daemon connection: session events come over the language client', function()
    if not require('studio.lsp').client() then
      H.skip('no studiod language client')
    end
    local events = require('studio.events')
    H.wait('the private connection closed', function()
      return not rpc.connected()
    end)
    local s = assert(session('alpha'))
    H.eq(events.sessions[s.id] and events.sessions[s.id].name, 'alpha', 'alpha in the snapshot')
    local nerr = H.await('note', function(cb)
      rpc.request(protocol.method.note, { session = 'alpha', repo = repo, note = 'over the client' }, cb)
    end)
    H.eq(nerr, nil, 'note error')
    H.wait('the note in the session cache', function()
      local c = events.sessions[s.id]
      return c and c.note == 'over the client'
    end)
    H.truthy(not rpc.connected(), 'no private connection')
  end)

  H.test('review opens a diff against the base version', function()
    local rerr = H.await('review', function(cb)
      require('studio.review').open('alpha', repo, cb)
    end)
    served(rerr, 'studio/diff')
    H.eq(rerr, nil, 'review error')
    local qf = vim.fn.getqflist({ title = 1, items = 1 })
    H.truthy(qf.title:find('studio review: alpha', 1, true), 'quickfix title ' .. qf.title)
    local paths = {}
    for _, it in ipairs(qf.items) do
      paths[vim.api.nvim_buf_get_name(it.bufnr):match('/alpha/(.*)$')] = true
    end
    H.truthy(paths['app/config.txt'] and paths['src/alpha.go'], 'changed files: ' .. vim.inspect(paths))
    -- Open app/config.txt from the list, as <CR> in the quickfix window does.
    local idx
    for i, p in ipairs(require('studio.review').current().files) do
      if p == 'app/config.txt' then
        idx = i
      end
    end
    local oerr = H.await('open app/config.txt', function(cb)
      require('studio.review').open_file(require('studio.review').current().files[idx], cb)
    end)
    H.eq(oerr, nil, 'open error')
    local diffwins = {}
    for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
      if vim.wo[win].diff then
        table.insert(diffwins, vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(win)))
      end
    end
    table.sort(diffwins)
    H.eq(#diffwins, 2, 'diff windows ' .. vim.inspect(diffwins))
    H.truthy(diffwins[1]:match('/alpha/app/config%.txt$'), 'worktree side ' .. diffwins[1])
    H.eq(diffwins[2], 'studio://alpha/base/app/config.txt', 'base side')
    local base = vim.fn.bufnr('studio://alpha/base/app/config.txt')
    H.eq(vim.api.nvim_buf_get_lines(base, 0, -1, false), vim.fn.readfile(repo .. '/app/config.txt'), 'base content')
  end)

  H.test(':cnext in the review tab opens the next file as a diff', function()
    local files = require('studio.review').current().files
    local idx = vim.fn.index(files, 'app/config.txt') + 1
    local want = files[idx % #files + 1]
    vim.cmd('cc ' .. idx)
    vim.cmd(idx == #files and 'cfirst' or 'cnext')
    H.wait('the base of ' .. want, function()
      for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
        local name = vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(win))
        if name == 'studio://alpha/base/' .. want and vim.wo[win].diff then
          return true
        end
      end
    end)
    -- Back to app/config.txt for the comment below.
    vim.cmd('cc ' .. idx)
    H.wait('the base of app/config.txt', function()
      return vim.api.nvim_buf_get_name(0):match('/alpha/app/config%.txt$') and vim.wo.diff
        and vim.fn.bufwinid('studio://alpha/base/app/config.txt') ~= -1
    end)
  end)

  H.test(':Studio comment and feedback during review', function()
    vim.api.nvim_win_set_cursor(0, { 4, 0 })
    local cerr = H.await('comment', function(cb)
      commands.run({ fargs = { 'comment', 'keep', 'the', 'old', 'owner' }, range = 2, line1 = 3, line2 = 4 }, cb)
    end)
    served(cerr, 'studio/comment')
    H.eq(cerr, nil, 'comment error')
    local ferr, res = run('feedback alpha')
    served(ferr, 'studio/feedback')
    H.eq(ferr, nil, 'feedback error')
    H.eq(res.sent, 1, 'comments sent')
  end)

  H.test(':Studio preview names the landing order and why the other waits', function()
    local perr, pv = run('preview')
    served(perr, 'studio/preview')
    H.eq(perr, nil, 'preview error')
    H.eq(pv.order, { 'alpha' }, 'landing order')
    local beta
    for _, ps in ipairs(pv.sessions) do
      if ps.session == 'beta' then
        beta = ps
      end
    end
    H.truthy(beta and beta.status == 'conflict' and beta.reason:find('app/config.txt', 1, true), 'beta left out: ' .. vim.inspect(beta))
    local qf = vim.fn.getqflist({ title = 1, items = 1 })
    H.truthy(qf.title:find('studio preview: main', 1, true), 'quickfix title ' .. qf.title)
    H.truthy(#qf.items >= 2, 'preview lines in the quickfix list')
  end)

  H.test(':Studio merge', function()
    vim.cmd('tabonly')
    local merr, res = run('merge beta')
    served(merr, 'studio/merge')
    H.eq(merr, nil, 'merge error')
    H.eq(res.target, 'main', 'target')
    local log = vim.fn.systemlist({ 'git', '-C', repo, 'log', '--format=%s', 'main' })
    H.truthy(table.concat(log, '\n'):find('demo(beta)', 1, true), 'beta commit on main: ' .. table.concat(log, ' | '))
    local uerr = run('undo beta')
    H.eq(uerr, nil, 'undo error')
  end)

  H.test(':checkhealth studio', function()
    vim.cmd('checkhealth studio')
    local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
    H.truthy(text:find('binary: ' .. bin, 1, true), 'binary reported:\n' .. text)
    H.truthy(text:find('daemon running', 1, true), 'daemon reported:\n' .. text)
    H.truthy(text:find('log: ', 1, true), 'log path reported')
    H.truthy(not text:find('ERROR'), 'no errors:\n' .. text)
  end)
end, debug.traceback)
if not ok then
  H.failures = H.failures + 1
  H.log('FAIL (harness) %s', tostring(err))
end

-- Always leave no agent and no daemon behind.
rpc.close()
for _, name in ipairs({ 'alpha', 'beta' }) do
  vim.fn.system({ bin, 'stop', '--force', '--repo', repo, name })
end
vim.fn.system({ bin, 'shutdown' })
H.finish()
