-- :Studio review: one tab per session. The quickfix list holds the session's
-- changed files; opening one shows it as a diff between its base version
-- (fetched with studio/file into a scratch buffer) and the worktree file,
-- which stays an ordinary, editable buffer.
local protocol = require('studio.protocol')
local rpc = require('studio.rpc')
local util = require('studio.util')

local M = {}

local ns = vim.api.nvim_create_namespace('studio_comments')

-- Errors passed to callbacks are rpc-style tables: { code, message, data }.
local function failure(message, err)
  if err then
    return vim.tbl_extend('force', err, { message = message .. ': ' .. rpc.describe(err) })
  end
  return { code = 0, message = message }
end

local function default_cb(err)
  if err then
    util.err(err.message)
  end
end

-- The review state of the current tab, or nil.
function M.current()
  local ok, rs = pcall(vim.api.nvim_tabpage_get_var, 0, 'studio_review')
  return ok and rs or nil
end

local function find_tab(session_id)
  for _, tab in ipairs(vim.api.nvim_list_tabpages()) do
    local ok, rs = pcall(vim.api.nvim_tabpage_get_var, tab, 'studio_review')
    if ok and rs.id == session_id then
      return tab
    end
  end
end

local function win_var(win, name)
  local ok, v = pcall(vim.api.nvim_win_get_var, win, name)
  return ok and v or nil
end

-- The windows of the current tab: the quickfix window, the base (left) and
-- the file (right) windows of the diff.
local function layout()
  local l = {}
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    local buf = vim.api.nvim_win_get_buf(win)
    if vim.bo[buf].buftype == 'quickfix' then
      l.qf = win
    elseif win_var(win, 'studio_base') then
      l.base = win
    elseif not l.file then
      l.file = win
    end
  end
  return l
end

local function scratch(name, lines, ft)
  local buf = vim.fn.bufnr(name)
  if buf == -1 then
    buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(buf, name)
  end
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'hide'
  vim.bo[buf].swapfile = false
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].modified = false
  if ft and ft ~= '' then
    vim.bo[buf].filetype = ft
  end
  return buf
end

-- Set while open_file edits a buffer, so its own BufWinEnter is ignored.
local opening = false

-- Opens path of the tab's session as a diff against its base version.
-- cb(err) runs once both sides are shown.
function M.open_file(path, cb)
  cb = cb or default_cb
  local rs = M.current()
  if not rs then
    return cb(failure('not in a :Studio review tab'))
  end
  opening = true
  local l = layout()
  if not l.file then
    vim.cmd('aboveleft new')
    l.file = vim.api.nvim_get_current_win()
  end
  vim.api.nvim_set_current_win(l.file)
  vim.cmd('diffoff!')
  local file = rs.worktree .. '/' .. path
  if vim.fn.filereadable(file) == 1 then
    local ok, err = pcall(vim.cmd, 'edit ' .. vim.fn.fnameescape(file))
    if not ok then
      opening = false
      return cb(failure(tostring(err)))
    end
  else -- deleted in the session
    vim.api.nvim_win_set_buf(l.file, scratch('studio://' .. rs.session .. '/deleted/' .. path, {}))
  end
  opening = false
  local filebuf = vim.api.nvim_get_current_buf()
  vim.b[filebuf].studio_session = rs.session
  vim.b[filebuf].studio_path = path
  rpc.request(protocol.method.file, { session = rs.id, repo = rs.repo, path = path, version = 'base' }, function(err, res)
    if err then
      return cb(failure('base of ' .. path, err))
    end
    if not vim.api.nvim_win_is_valid(l.file) or vim.api.nvim_win_get_buf(l.file) ~= filebuf then
      return cb(failure('review window changed before the base version arrived'))
    end
    local lines = res.binary and { '(binary file)' } or util.lines(res.content)
    local base = scratch('studio://' .. rs.session .. '/base/' .. path, lines, vim.bo[filebuf].filetype)
    vim.b[base].studio_session = rs.session
    vim.b[base].studio_path = path
    vim.b[base].studio_base = true
    local basewin = layout().base
    if not basewin then
      vim.api.nvim_set_current_win(l.file)
      vim.cmd('leftabove vsplit')
      basewin = vim.api.nvim_get_current_win()
      vim.api.nvim_win_set_var(basewin, 'studio_base', true)
    end
    vim.api.nvim_win_set_buf(basewin, base)
    for _, win in ipairs({ basewin, l.file }) do
      vim.api.nvim_win_call(win, function()
        vim.cmd('diffthis')
      end)
    end
    vim.api.nvim_set_current_win(l.file)
    cb(nil)
  end)
end

-- Opens the file of quickfix entry idx (1-based) of the review list.
function M.open_entry(idx)
  local rs = M.current()
  local item = rs and rs.files[idx]
  if not item then
    return vim.cmd('execute "normal! \\<CR>"')
  end
  M.open_file(item)
end

local function qf_items(rs, files)
  local items = {}
  for _, f in ipairs(files) do
    local lnum = 1
    if f.hunks and f.hunks[1] then
      lnum = math.max(f.hunks[1].newStart or 1, 1)
    end
    table.insert(items, {
      filename = rs.worktree .. '/' .. f.path,
      lnum = lnum,
      text = string.format('%-8s +%d -%d%s', f.status or '', f.additions or 0, f.deletions or 0, f.binary and ' (binary)' or ''),
    })
  end
  return items
end

-- :Studio review {name}: opens (or switches to) the session's review tab.
-- cb(err) runs once the diff of path (default: the first file) is shown.
function M.open(name, repo, cb, path)
  cb = cb or default_cb
  rpc.request(protocol.method.session, { session = name, repo = repo }, function(err, s)
    if err then
      return cb(failure('session ' .. name, err))
    end
    rpc.request(protocol.method.diff, { session = s.id, repo = s.repo, stat = true }, function(derr, diff)
      if derr then
        return cb(failure('diff of ' .. name, derr))
      end
      local files = diff.files or {}
      local stats = diff.stats or {}
      local tab = find_tab(s.id)
      if tab then
        vim.api.nvim_set_current_tabpage(tab)
      else
        vim.cmd('tabnew')
      end
      local rs = { id = s.id, session = s.name, repo = s.repo, worktree = s.worktree, files = {} }
      for i, f in ipairs(files) do
        rs.files[i] = f.path
      end
      vim.api.nvim_tabpage_set_var(0, 'studio_review', rs)
      -- :cnext, :cc and friends open a file of the list as a diff too.
      vim.api.nvim_create_autocmd('BufWinEnter', {
        group = vim.api.nvim_create_augroup('studio_review_' .. s.id, { clear = true }),
        pattern = s.worktree .. '/*',
        callback = function(ev)
          local cur = M.current()
          if opening or not cur or cur.id ~= s.id then
            return
          end
          local path = vim.api.nvim_buf_get_name(ev.buf):sub(#cur.worktree + 2)
          local base = layout().base
          if
            vim.wo.diff
            and base
            and vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(base)) == 'studio://' .. s.name .. '/base/' .. path
          then
            return -- already shown as a diff
          end
          vim.schedule(function()
            M.open_file(path)
          end)
        end,
      })
      vim.fn.setqflist({}, ' ', {
        title = string.format('studio review: %s (+%d -%d)', s.name, stats.additions or 0, stats.deletions or 0),
        items = qf_items(rs, files),
        context = { studio_review = s.id },
      })
      vim.cmd('botright copen')
      vim.keymap.set('n', '<CR>', function()
        M.open_entry(vim.fn.line('.'))
      end, { buffer = true, desc = 'studio: open the file as a diff against its base' })
      if #files == 0 then
        util.notify(s.name .. ' has no changes')
        return cb(nil)
      end
      M.open_file(path or files[1].path, cb)
    end)
  end)
end

-- :[range]Studio comment [body]: a review comment on lines of the worktree
-- file shown in the current window. cb(err) when stored.
function M.comment(line1, line2, body, cb)
  cb = cb or function(err)
    if err then
      util.err(err.message)
    else
      util.notify('comment added (send it with :Studio feedback)')
    end
  end
  local buf = vim.api.nvim_get_current_buf()
  local session, path = vim.b[buf].studio_session, vim.b[buf].studio_path
  local rs = M.current()
  if not session and rs then
    local name = vim.api.nvim_buf_get_name(buf)
    if vim.startswith(name, rs.worktree .. '/') then
      session, path = rs.session, name:sub(#rs.worktree + 2)
    end
  end
  if not session then
    return cb(failure('not on a file under review (:Studio review {name})'))
  end
  if vim.b[buf].studio_base then
    return cb(failure('comment on the session side (right), not on the base version'))
  end
  local function send(text)
    if not text or text == '' then
      return cb(failure('empty comment'))
    end
    rpc.request(protocol.method.comment, {
      session = (rs and rs.session == session) and rs.id or session,
      repo = rs and rs.repo or util.current_repo(),
      path = path,
      startLine = line1,
      endLine = line2,
      body = text,
    }, function(err)
      if err then
        return cb(failure('comment', err))
      end
      if vim.api.nvim_buf_is_valid(buf) and line1 <= vim.api.nvim_buf_line_count(buf) then
        vim.api.nvim_buf_set_extmark(buf, ns, line1 - 1, 0, {
          virt_text = { { '▍ ' .. text, 'Comment' } },
          virt_text_pos = 'eol',
        })
      end
      cb(nil)
    end)
  end
  if body and body ~= '' then
    return send(body)
  end
  vim.ui.input({ prompt = string.format('Comment on %s:%d-%d: ', path, line1, line2) }, send)
end

return M
