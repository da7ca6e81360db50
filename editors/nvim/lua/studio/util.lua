-- Small helpers shared by the modules: notifications, git roots, paths.
local M = {}

function M.notify(msg, level)
  vim.notify('studio: ' .. msg, level or vim.log.levels.INFO, { title = 'studio' })
end

function M.err(msg)
  M.notify(msg, vim.log.levels.ERROR)
end

-- Runs git synchronously with a fixed, locale-independent environment and
-- returns its stdout lines, or nil and the stderr text.
function M.git(dir, args)
  local cmd = { 'git', '--no-pager', '--no-optional-locks', '-c', 'color.ui=false', '-C', dir }
  vim.list_extend(cmd, args)
  local out = vim.fn.systemlist(cmd)
  if vim.v.shell_error ~= 0 then
    return nil, table.concat(out, '\n')
  end
  return out
end

local roots = {}

-- The main worktree of the repository holding dir, or nil outside git. For a
-- session's worktree this is the repository it was spawned from, which is
-- what the daemon's `repo` fields name.
function M.repo_root(dir)
  if not dir or dir == '' then
    dir = vim.loop.cwd()
  end
  if roots[dir] ~= nil then
    return roots[dir] or nil
  end
  local out = M.git(dir, { 'rev-parse', '--path-format=absolute', '--git-common-dir' })
  local root = false
  if out and out[1] then
    local common = out[1]:gsub('/$', '')
    if common:match('/%.git$') then
      root = common:gsub('/%.git$', '')
    else -- bare repository
      root = common
    end
  end
  roots[dir] = root
  return root or nil
end

-- The directory of buffer bufnr's file, or the current directory.
function M.buf_dir(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr or 0)
  if name ~= '' and not name:match('^%a+://') then
    local dir = vim.fn.fnamemodify(name, ':p:h')
    if vim.fn.isdirectory(dir) == 1 then
      return dir
    end
  end
  return vim.loop.cwd()
end

-- The repository the current buffer (or directory) belongs to.
function M.current_repo()
  return M.repo_root(M.buf_dir(0))
end

-- Splits text into lines the way a buffer holds them.
function M.lines(text)
  local lines = vim.split(text or '', '\n', { plain = true })
  if lines[#lines] == '' then
    table.remove(lines)
  end
  return lines
end

-- Extra environment for studiod processes (config.env). vim.loop.spawn via
-- vim.lsp.rpc, jobstart() and termopen() all add it to Neovim's own.
function M.env()
  local env = require('studio.config').options.env
  if not env or vim.tbl_isempty(env) then
    return nil
  end
  return env
end


return M
