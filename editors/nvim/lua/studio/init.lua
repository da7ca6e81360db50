-- studio.nvim: drive studiod (parallel AI coding agents in git worktrees)
-- from Neovim. require('studio').setup({...}) may be called any number of
-- times; each call replaces the options, the autocmds and the subscriptions
-- of the previous one.
local config = require('studio.config')

local M = {}

local configured = nil

function M.setup(opts)
  local old = configured and vim.deepcopy(config.options) or nil
  config.set(opts)
  configured = true
  local rpc = require('studio.rpc')
  local lsp = require('studio.lsp')

  -- A different binary or environment means different processes.
  if old and (old.binary ~= config.options.binary or not vim.deep_equal(old.env, config.options.env)) then
    rpc.close()
    lsp.stop()
  elseif old and old.lsp and not config.options.lsp then
    lsp.stop()
  end

  local group = vim.api.nvim_create_augroup('studio', { clear = true })
  if config.options.lsp then
    vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile' }, {
      group = group,
      callback = function(ev)
        lsp.attach(ev.buf)
      end,
    })
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(buf) then
        lsp.attach(buf)
      end
    end
  end

  rpc.clear_listeners()
  require('studio.events').start()
  require('studio.help').ensure_tags()
  return M
end

-- Lua API: the same operations as the :Studio subcommands. cb(err, result);
-- without cb, errors are reported with vim.notify.
function M.run(subcommand, fargs, cb)
  local args = vim.list_extend({ subcommand }, fargs or {})
  return require('studio.commands').run({ fargs = args }, cb)
end

return M
