-- How requests reach the daemon.
--
-- `studiod lsp` relays studio/* requests to the daemon on any connection,
-- with or without an LSP `initialize`.
-- So a request goes over the attached studiod language client when there is
-- one, else over a private connection: a second `studiod lsp` driven with
-- vim.lsp.rpc (LSP framing, no initialize). That private connection also
-- carries the studio/subscribe notifications, so there is one stream of
-- session events however many buffers the client is attached to.
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
-- The last studio/subscribe params, sent again on a new connection.
local subscription = nil

local function dispatch(method, params)
  for _, fn in ipairs(listeners[method] or {}) do
    local ok, err = pcall(fn, params)
    if not ok then
      require('studio.util').err(method .. ' handler: ' .. tostring(err))
    end
  end
end

-- Registers fn(params) for a notification from the daemon.
function M.on(method, fn)
  listeners[method] = listeners[method] or {}
  table.insert(listeners[method], fn)
end

-- Removes every listener (setup() registers them again).
function M.clear_listeners()
  listeners = {}
end

local function rpc_start(dispatchers)
  local bin = config.options.binary
  local extra = { env = require('studio.util').env() }
  if vim.fn.has('nvim-0.10') == 1 then
    return vim.lsp.rpc.start({ bin, 'lsp' }, dispatchers, extra)
  end
  return vim.lsp.rpc.start(bin, { 'lsp' }, dispatchers, extra)
end

local function open()
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
  if subscription then
    rpc.request(protocol.method.subscribe, subscription, function() end)
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

-- Chooses the notifications to receive (studio/subscribe), on the private
-- connection, and again whenever that connection is reopened.
function M.subscribe(params, cb)
  subscription = params
  local c, oerr = open()
  if not c then
    return cb and cb({ code = 0, message = oerr })
  end
  c.rpc.request(protocol.method.subscribe, params, function(err, result)
    if cb then
      cb(normalize(err), result)
    end
  end)
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
