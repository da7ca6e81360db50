-- :checkhealth studio
local config = require('studio.config')

local M = {}

-- vim.health (0.8+) or the older health#report_* functions (0.7).
local h = vim.health or require('health')
local start = h.start or h.report_start
local ok = h.ok or h.report_ok
local warn = h.warn or h.report_warn
local error = h.error or h.report_error
local info = h.info or h.report_info

-- Runs studiod with args and decodes its --json output.
local function studiod(args)
  local cmd = vim.list_extend({ config.options.binary }, args)
  local env = config.options.env
  local out
  if env and not vim.tbl_isempty(env) then
    local prefix = { 'env' }
    for k, v in pairs(env) do
      table.insert(prefix, k .. '=' .. v)
    end
    cmd = vim.list_extend(prefix, cmd)
  end
  out = vim.fn.system(cmd)
  if vim.v.shell_error ~= 0 then
    return nil, vim.trim(out)
  end
  local dok, res = pcall(vim.json.decode, out)
  if not dok then
    return nil, 'cannot decode `' .. table.concat(args, ' ') .. '`: ' .. tostring(res)
  end
  return res
end

function M.check()
  start('studiod')
  local bin = config.options.binary
  local path = vim.fn.exepath(bin)
  if path == '' then
    error(string.format('`%s` not found (install studiod, or setup({ binary = "/path/to/studiod" }))', bin))
    return
  end
  ok('binary: ' .. path)
  local v, verr = studiod({ 'version', '--json' })
  if v then
    ok(string.format('version %s, protocol %s', v.version or '?', v.protocolVersion or '?'))
  else
    error('`studiod version --json` failed: ' .. tostring(verr))
  end
  local st, serr = studiod({ 'status', '--json' })
  if st then
    ok(string.format('daemon running: pid %s, socket %s', tostring(st.pid), st.socket or '?'))
    info('log: ' .. (st.log or '?'))
    local counts = {}
    for state, n in pairs(st.sessions or {}) do
      table.insert(counts, n .. ' ' .. state)
    end
    table.sort(counts)
    info('sessions: ' .. (#counts > 0 and table.concat(counts, ', ') or 'none'))
    if st.watch and st.watch.degraded and #st.watch.degraded > 0 then
      warn('file watching degraded (' .. (st.watch.reason or '?') .. ')', { 'raise fs.inotify.max_user_watches' })
    end
  else
    warn('daemon not reachable: ' .. tostring(serr), { 'it starts on first use; `studiod serve` runs it in the foreground' })
  end

  start('studio.nvim')
  local lsp = require('studio.lsp')
  if not config.options.lsp then
    info('language client disabled (setup({ lsp = false }))')
  elseif lsp.client() then
    ok('language client attached (id ' .. lsp.client().id .. ')')
  elseif lsp.supported() == false then
    warn('this studiod does not answer LSP initialize: no conflict diagnostics; commands still work')
  else
    info('language client not started yet (opens with a file inside a git repository)')
  end
  info(vim.lsp.start and 'Neovim has vim.lsp.start' or 'Neovim 0.7: vim.lsp.start_client + buf_attach_client')
  info('Neovim LSP log: ' .. vim.lsp.get_log_path())

  start('git')
  local git = vim.fn.system({ 'git', 'version' })
  if vim.v.shell_error ~= 0 then
    error('git not found')
  else
    local major, minor = git:match('(%d+)%.(%d+)')
    major, minor = tonumber(major), tonumber(minor)
    if major and (major > 2 or (major == 2 and minor >= 38)) then
      ok(vim.trim(git))
    else
      warn(vim.trim(git) .. ': studiod needs git 2.38 or newer (merge-tree --write-tree)')
    end
  end
end

return M
