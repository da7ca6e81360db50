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

-- Predicted conflicts by id.
M.conflicts = {}

-- The subscription's snapshot and the notifications after it: while a
-- snapshot is asked for, notifications are held (`studiod lsp` forwards
-- them apart from the reply, so some may come first); once it is in, the
-- held ones it already has (seq at or below its seq) are dropped.
local waiting, held = 0, {}

local function event(params, apply)
  if waiting > 0 then
    table.insert(held, { seq = type(params) == 'table' and params.seq or nil, apply = apply })
  else
    apply()
  end
end

local function apply_conflicts(d)
  for _, list in ipairs({ d.added or {}, d.updated or {} }) do
    for _, c in ipairs(list) do
      M.conflicts[c.id] = c
    end
  end
  for _, id in ipairs(d.resolved or {}) do
    M.conflicts[id] = nil
  end
  M.last_conflicts = d
  doautocmd('StudioConflictsChanged')
end

-- Subscribes with a snapshot: the cache becomes the daemon's sessions and
-- conflicts, and follows every change after them.
function M.subscribe()
  waiting = waiting + 1
  rpc.subscribe({ sessions = true, conflicts = true, snapshot = true }, function(err, result)
    waiting = waiting - 1
    local seq = 0
    if err then
      util.err('subscribe: ' .. rpc.describe(err))
    elseif type(result) == 'table' then
      seq = tonumber(result.seq) or 0
      M.sessions, M.conflicts = {}, {}
      for _, s in ipairs(result.sessions or {}) do
        M.sessions[s.id] = s
      end
      for _, c in ipairs(result.conflicts or {}) do
        M.conflicts[c.id] = c
      end
    end
    if waiting == 0 then
      local h = held
      held = {}
      for _, e in ipairs(h) do
        if not e.seq or e.seq == vim.NIL or e.seq > seq then
          e.apply()
        end
      end
    end
  end)
end

-- Follows session and conflict notifications from a snapshot on.
function M.start()
  rpc.on(protocol.notify.session_changed, function(params)
    event(params, function()
      M.on_session(params and params.session)
    end)
  end)
  rpc.on(protocol.notify.conflicts_changed, function(params)
    event(params, function()
      apply_conflicts(params or {})
    end)
  end)
  rpc.on_connect(M.subscribe)
  M.subscribe()
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
