-- Local answers for review requests a daemon may not serve yet (it answers
-- "method not found"): studio/diff (stat only) and studio/file, read with git
-- from the session's worktree. Read-only by design: nothing that changes a
-- repository (merge, undo, comments) is ever emulated here.
local rpc = require('studio.rpc')
local util = require('studio.util')

local M = {}

local function with_session(params, cb, fn)
  rpc.request('studio/session', { session = params.session, repo = params.repo }, function(err, s)
    if err then
      return cb(err)
    end
    local ok, res = pcall(fn, s)
    if not ok then
      return cb({ code = 0, message = tostring(res) })
    end
    cb(nil, res)
  end)
end

local function count_lines(file)
  if vim.fn.filereadable(file) == 0 then
    return 0
  end
  return #vim.fn.readfile(file)
end

M['studio/diff'] = function(params, cb)
  with_session(params, cb, function(s)
    local from = params.against == 'target' and s.target or s.base
    local wt = s.worktree
    local files, byPath = {}, {}
    local status_names = { A = 'added', M = 'modified', D = 'deleted', T = 'modified' }
    local names = assert(util.git(wt, { 'diff', '--no-renames', '--name-status', from, '--' }))
    for _, l in ipairs(names) do
      local st, path = l:match('^(%a)%d*\t(.*)$')
      if st then
        local f = { path = path, status = status_names[st] or 'modified', additions = 0, deletions = 0 }
        table.insert(files, f)
        byPath[path] = f
      end
    end
    local nums = assert(util.git(wt, { 'diff', '--no-renames', '--numstat', from, '--' }))
    for _, l in ipairs(nums) do
      local a, d, path = l:match('^(%S+)\t(%S+)\t(.*)$')
      local f = path and byPath[path]
      if f then
        f.binary = a == '-'
        f.additions, f.deletions = tonumber(a) or 0, tonumber(d) or 0
      end
    end
    local others = assert(util.git(wt, { 'ls-files', '--others', '--exclude-standard' }))
    for _, path in ipairs(others) do
      table.insert(files, { path = path, status = 'added', additions = count_lines(wt .. '/' .. path), deletions = 0 })
    end
    table.sort(files, function(x, y)
      return x.path < y.path
    end)
    local stats = { files = #files, additions = 0, deletions = 0 }
    for _, f in ipairs(files) do
      stats.additions, stats.deletions = stats.additions + f.additions, stats.deletions + f.deletions
    end
    local res = { from = from, files = files, stats = stats }
    return res
  end)
end

M['studio/file'] = function(params, cb)
  with_session(params, cb, function(s)
    local v = params.version
    if v == 'worktree' or v == 'snapshot' then
      local file = s.worktree .. '/' .. params.path
      if vim.fn.filereadable(file) == 0 then
        return { content = '', missing = true }
      end
      return { content = table.concat(vim.fn.readfile(file, 'b'), '\n') }
    end
    local rev = v == 'target' and s.target or s.base
    local out = util.git(s.repo, { 'cat-file', '-e', rev .. ':' .. params.path })
    if not out then
      return { content = '', missing = true }
    end
    out = assert(util.git(s.repo, { 'show', rev .. ':' .. params.path }))
    return { content = table.concat(out, '\n') .. (#out > 0 and '\n' or '') }
  end)
end

return M
