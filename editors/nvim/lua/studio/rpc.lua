-- How requests reach the daemon.
--
-- `studiod lsp` relays studio/* requests to the daemon on any connection,
-- with or without an LSP `initialize`.
-- So a request goes over the attached studiod language client when there is
-- one, else over a private connection: a second `studiod lsp` driven with
-- vim.lsp.rpc (LSP framing, no initialize). The studio/subscribe
-- notifications come the same way: over the language client once it is up
-- (the private connection is then closed, so the editor holds one daemon
-- connection), else over the private connection.
--
-- Callbacks run on the main loop: cb(err, result), err = {code, message, data}.
local protocol = require('studio.protocol')
local config = require('studio.config')

local M = {}

-- Error codes of the wire API (generated from the Go package protocol).
M.codes = protocol.code

-- The private connection: { rpc = <vim.lsp.rpc client>, hello = {...} }.
local channel = nil
-- Notification listeners by method.
local listeners = {}
-- Whether something subscribed: the subscribers are asked to subscribe
-- again (on_connect) when the connection carrying it changes.
local subscribed = false
-- Functions run when the connection that carries the subscription changes.
local connect_hooks = {}

local function dispatch(method, params)
  for _, fn in ipairs(listeners[method] or {}) do
    local ok, err = pcall(fn, params)
    if not ok then
      require('studio.util').err(method .. ' handler: ' .. tostring(err))
    end
  end
end

M.dispatch = dispatch

-- Registers fn() to run when notifications move to a new connection: it
-- subscribes again there.
function M.on_connect(fn)
  table.insert(connect_hooks, fn)
end

local function reconnected()
  if not subscribed then
    return
  end
  vim.schedule(function()
    for _, fn in ipairs(connect_hooks) do
      fn()
    end
  end)
end

-- Registers fn(params) for a notification from the daemon.
function M.on(method, fn)
  listeners[method] = listeners[method] or {}
  table.insert(listeners[method], fn)
end

-- Removes every listener and hook (setup() registers them again).
function M.clear_listeners()
  listeners = {}
  connect_hooks = {}
end

local function rpc_start(dispatchers)
  local bin = config.options.binary
  local extra = { env = require('studio.util').env() }
  if vim.fn.has('nvim-0.10') == 1 then
    return vim.lsp.rpc.start({ bin, 'lsp' }, dispatchers, extra)
  end
  return vim.lsp.rpc.start(bin, { 'lsp' }, dispatchers, extra)
end

local function open(subscribing)
  if channel then
    return channel
  end
  local this = {}
  local ok, rpc = pcall(rpc_start, {
    notification = dispatch,
    server_request = function(method)
      return nil, vim.lsp.rpc.rpc_response_error(protocol.code.method_not_found, method)
    end,
    -- Runs in a fast event: only forget the connection here.
    on_exit = function()
      if channel == this then
        channel = nil
      end
    end,
  })
  if not ok or not rpc then
    return nil, 'cannot start `' .. config.options.binary .. ' lsp`: ' .. tostring(rpc)
  end
  this.rpc = rpc
  channel = this
  rpc.request(protocol.method.hello, { client = 'nvim', version = protocol.version }, function(err, result)
    if not err then
      this.hello = result
    end
  end)
  if not subscribing then
    reconnected()
  end
  return channel
end

-- Closes the private connection (the daemon keeps running).
function M.close()
  local c = channel
  channel = nil
  if c and c.rpc then
    if c.rpc.terminate then
      c.rpc.terminate()
    elseif c.rpc.handle and not c.rpc.handle:is_closing() then
      c.rpc.handle:kill(15)
    end
  end
end

function M.connected()
  return channel ~= nil
end

local function normalize(err)
  if err == nil or err == vim.NIL then
    return nil
  end
  if type(err) ~= 'table' then
    return { code = 0, message = tostring(err) }
  end
  return err
end

-- Sends method with params; cb(err, result) on the main loop.
function M.request(method, params, cb)
  cb = cb or function() end
  local function done(err, result)
    err = normalize(err)
    if err and err.code == protocol.code.method_not_found then
      err.message = method .. ' is not served by this studiod (update it): ' .. (err.message or '')
    end
    if result == vim.NIL then
      result = nil
    end
    cb(err, result)
  end
  local client = require('studio.lsp').client()
  if client then
    local ok = client.request(method, params, function(err, result)
      done(err, result)
    end, 0)
    if ok then
      return
    end
  end
  local c, oerr = open()
  if not c then
    return vim.schedule(function()
      cb({ code = 0, message = oerr })
    end)
  end
  if not c.rpc.request(method, params, done) then
    channel = nil
    vim.schedule(function()
      cb({ code = 0, message = 'connection to studiod closed' })
    end)
  end
end

-- The same, waiting at most timeout ms. Returns err, result.
function M.request_sync(method, params, timeout)
  local got, rerr, rres = false, nil, nil
  M.request(method, params, function(err, result)
    got, rerr, rres = true, err, result
  end)
  if not vim.wait(timeout or config.options.timeout, function()
    return got
  end, 10) then
    return { code = 0, message = method .. ': no answer from studiod' }
  end
  return rerr, rres
end

-- Chooses the notifications to receive (studio/subscribe), on the language
-- client when it is up, else on the private connection. The on_connect
-- hooks subscribe again when that changes.
function M.subscribe(params, cb)
  subscribed = true
  cb = cb or function() end
  local function done(err, result)
    if result == vim.NIL then
      result = nil
    end
    cb(normalize(err), result)
  end
  local client = require('studio.lsp').client()
  if client and client.request(protocol.method.subscribe, params, function(err, result)
    done(err, result)
  end, 0) then
    return
  end
  local c, oerr = open(true)
  if not c then
    return vim.schedule(function()
      cb({ code = 0, message = oerr })
    end)
  end
  c.rpc.request(protocol.method.subscribe, params, done)
end

-- The language client is up (or gone): notifications move to it (or back
-- to a private connection). The private connection is closed first, so
-- that no change comes over both.
function M.client_changed(up)
  if up then
    M.close()
  end
  reconnected()
end

-- A one-line description of err for messages.
function M.describe(err)
  if not err then
    return ''
  end
  local msg = err.message or vim.inspect(err)
  return msg
end

return M
