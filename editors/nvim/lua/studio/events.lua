-- Session events from the daemon (studio/subscribe): a cache of the sessions
-- for completion and listings, a notification when a session starts waiting
-- for input, and User autocmds (StudioSessionChanged, StudioConflictsChanged)
-- for statuslines and other plugins.
local protocol = require('studio.protocol')
local config = require('studio.config')
local rpc = require('studio.rpc')
local util = require('studio.util')

local M = {}

-- Sessions by id, as last reported.
M.sessions = {}
-- The last conflictsChanged delta.
M.last_conflicts = nil

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
    and s.state == protocol.state.waiting
    and (not old or old.state ~= protocol.state.waiting or old.detail ~= s.detail)
  then
    local msg = question ~= '' and question or 'waiting for input'
    util.notify(
      string.format('%s is waiting: %s  (:Studio answer %s allow|reject|{text}, or :Studio attach %s)', s.name, msg, s.name, s.name),
      vim.log.levels.WARN
    )
  end
  M.last_session = s
  doautocmd('StudioSessionChanged')
end

-- Subscribes to session and conflict notifications and seeds the cache.
function M.start()
  rpc.on(protocol.notify.session_changed, function(params)
    M.on_session(params and params.session)
  end)
  rpc.on(protocol.notify.conflicts_changed, function(params)
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
  local err, res = rpc.request_sync(protocol.method.sessions, { repo = repo }, config.options.timeout)
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
