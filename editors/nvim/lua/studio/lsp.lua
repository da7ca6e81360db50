-- The studiod language client: diagnostics for predicted conflicts and code
-- lenses, on buffers inside git repos.
--
-- One client serves every repository (the daemon is global). Neovim 0.8+ has
-- vim.lsp.start; 0.7 gets vim.lsp.start_client + vim.lsp.buf_attach_client.
-- Before the first start a throwaway `studiod lsp` is asked to `initialize`:
-- a daemon without LSP support answers "method not found", and then the
-- client is never started (0.7 would raise an assertion error from inside
-- its initialize callback otherwise). The studio/* requests work either way.
local protocol = require('studio.protocol')
local config = require('studio.config')
local util = require('studio.util')

local M = {}

-- support: nil (unknown), 'probing', true, false.
local state = { id = nil, support = nil, waiting = {} }

-- The initialized studiod client, or nil.
function M.client()
  if not state.id then
    return nil
  end
  local c = vim.lsp.get_client_by_id(state.id)
  if c and c.initialized and not c.is_stopped() then
    return c
  end
  return nil
end

-- Whether the daemon speaks LSP: true, false, or nil when not known yet.
function M.supported()
  if state.support == 'probing' then
    return nil
  end
  return state.support
end

local function client_config(root)
  return {
    name = 'studiod',
    cmd = { config.options.binary, 'lsp' },
    cmd_env = util.env(),
    root_dir = root,
    -- Waiting sessions are announced from studio/sessionChanged (events.lua),
    -- so the server must not also ask with window/showMessageRequest.
    init_options = { client = 'nvim', showsWaiting = true },
    -- The daemon's notifications the editor subscribed to (rpc.subscribe)
    -- come over this client.
    handlers = (function()
      local h = {}
      for _, method in pairs(protocol.notify) do
        if method:find('^studio/') then
          h[method] = function(_, result)
            require('studio.rpc').dispatch(method, result)
          end
        end
      end
      return h
    end)(),
    on_init = function(client)
      vim.schedule(function()
        require('studio.rpc').client_changed(true)
      end)
      local caps = client.server_capabilities or {}
      if caps.codeLensProvider then
        vim.schedule(function()
          pcall(vim.lsp.codelens.refresh)
        end)
      end
    end,
    on_exit = function(_, _, id)
      if state.id == id then
        state.id = nil
        vim.schedule(function()
          require('studio.rpc').client_changed(false)
        end)
      end
    end,
  }
end

local function attach_now(bufnr, root)
  if not vim.api.nvim_buf_is_valid(bufnr) then
    return
  end
  if vim.lsp.start then
    vim.api.nvim_buf_call(bufnr, function()
      state.id = vim.lsp.start(client_config(root), {
        reuse_client = function(client)
          return client.name == 'studiod'
        end,
      }) or state.id
    end)
    return
  end
  if not state.id or not vim.lsp.get_client_by_id(state.id) then
    state.id = vim.lsp.start_client(client_config(root))
  end
  if state.id then
    vim.lsp.buf_attach_client(bufnr, state.id)
  end
end

local function probe(done)
  state.support = 'probing'
  local finished = false
  local rpc
  local function finish(ok)
    if finished then
      return
    end
    finished = true
    state.support = ok
    if rpc then
      pcall(rpc.notify, 'exit', vim.NIL)
      if rpc.terminate then
        pcall(rpc.terminate)
      elseif rpc.handle and not rpc.handle:is_closing() then
        rpc.handle:kill(15)
      end
    end
    done()
  end
  local dispatchers = {
    on_exit = function()
      vim.schedule(function()
        finish(false)
      end)
    end,
  }
  local bin, extra = config.options.binary, { env = util.env() }
  local ok
  if vim.fn.has('nvim-0.10') == 1 then
    ok, rpc = pcall(vim.lsp.rpc.start, { bin, 'lsp' }, dispatchers, extra)
  else
    ok, rpc = pcall(vim.lsp.rpc.start, bin, { 'lsp' }, dispatchers, extra)
  end
  if not ok or not rpc then
    rpc = nil
    return finish(false)
  end
  rpc.request('initialize', {
    processId = vim.NIL,
    rootUri = vim.NIL,
    capabilities = vim.empty_dict(),
    clientInfo = { name = 'studio.nvim probe' },
  }, function(err, result)
    finish(err == nil and type(result) == 'table' and result.capabilities ~= nil)
  end)
  vim.defer_fn(function()
    finish(false)
  end, 5000)
end

-- Commands the server puts in code lenses and code actions that are better
-- done by the editor: studio.review opens the review tab here rather than
-- having the server open one file.
local function register_commands()
  vim.lsp.commands[protocol.command.review] = function(command)
    local a = (command.arguments or {})[1] or {}
    local paths = a.paths ~= vim.NIL and a.paths or nil
    require('studio.review').open(a.session, a.repo ~= vim.NIL and a.repo or nil, nil, paths and paths[1])
  end
end

-- Attaches the client to bufnr when it shows a file inside a git repository.
function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if not config.options.lsp or vim.bo[bufnr].buftype ~= '' then
    return
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == '' or name:match('^%a+://') then
    return
  end
  local root = util.repo_root(vim.fn.fnamemodify(name, ':p:h'))
  if not root then
    return
  end
  register_commands()
  if state.support == false then
    return
  elseif state.support == true then
    return attach_now(bufnr, root)
  end
  state.waiting[bufnr] = root
  if state.support == nil then
    probe(function()
      local waiting = state.waiting
      state.waiting = {}
      if state.support then
        for b, r in pairs(waiting) do
          attach_now(b, r)
        end
      end
    end)
  end
end

-- Stops the client (setup({lsp = false}) or a new binary).
function M.stop()
  if state.id then
    vim.lsp.stop_client(state.id)
  end
  state.id = nil
  state.support = nil
  state.waiting = {}
end

return M
