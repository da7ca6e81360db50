-- Session events from the daemon (studio/subscribe): a cache of the sessions
-- for completion and listings, a notification when a session starts waiting
-- for input, and User autocmds (StudioSessionChanged, StudioConflictsChanged)
-- for statuslines and other plugins.
local config = require('studio.config')
local rpc = require('studio.rpc')
local util = require('studio.util')

local M = {}

-- Sessions by id, as last reported.
M.sessions = {}
-- The last conflictsChanged delta.
M.last_conflicts = nil

-- Questions already shown, so the LSP's showMessageRequest and the
-- sessionChanged notification of the same question are shown once.
local shown = {}

-- Whether a message naming one of the shown questions was already shown;
-- records it otherwise.
function M.seen(message)
  for q in pairs(shown) do
    if message:find(q, 1, true) or q:find(message, 1, true) then
      return true
    end
  end
  shown[message] = true
  return false
end

local function doautocmd(pattern)
  vim.cmd('doautocmd <nomodeline> User ' .. pattern)
end

function M.on_session(s)
  if type(s) ~= 'table' or not s.id then
    return
  end
  local old = M.sessions[s.id]
  M.sessions[s.id] = s
  local question = s.detail or ''
  if
    config.options.notify
    and s.state == 'waiting'
    and (not old or old.state ~= 'waiting' or old.detail ~= s.detail)
  then
    local msg = question ~= '' and question or 'waiting for input'
    if not M.seen(msg) then
      util.notify(
        string.format('%s is waiting: %s  (:Studio send %s {answer}, or :Studio attach %s)', s.name, msg, s.name, s.name),
        vim.log.levels.WARN
      )
    end
  end
  if s.state ~= 'waiting' and question ~= '' then
    shown[question] = nil
  end
  M.last_session = s
  doautocmd('StudioSessionChanged')
end

-- Subscribes to session and conflict notifications and seeds the cache.
function M.start()
  rpc.on('studio/sessionChanged', function(params)
    M.on_session(params and params.session)
  end)
  rpc.on('studio/conflictsChanged', function(params)
    M.last_conflicts = params
    doautocmd('StudioConflictsChanged')
  end)
  rpc.subscribe({ sessions = true, conflicts = true }, function(err)
    if err then
      util.err('subscribe: ' .. rpc.describe(err))
    end
  end)
end

-- Session names of repo (all repos when nil), from the daemon when it answers
-- in time, else from the cache.
function M.names(repo)
  local err, res = rpc.request_sync('studio/sessions', { repo = repo }, config.options.timeout)
  if not err and res and res.sessions then
    for _, s in ipairs(res.sessions) do
      M.sessions[s.id] = s
    end
  end
  local names = {}
  for _, s in pairs(M.sessions) do
    if (not repo or s.repo == repo) and s.state ~= 'removed' then
      names[s.name] = true
    end
  end
  names = vim.tbl_keys(names)
  table.sort(names)
  return names
end

return M
