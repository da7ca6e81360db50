-- :help studio. The plugin ships doc/tags; a copy without them (a plugin
-- manager that leaves the tags to the user, a hand copy) gets them made at
-- setup() when the doc directory is writable.
local M = {}

-- The plugin's doc directory: ../../doc from this file.
function M.doc_dir()
  local src = debug.getinfo(1, 'S').source:sub(2)
  return vim.fn.fnamemodify(src, ':p:h:h:h') .. '/doc'
end

-- Makes dir/tags (default: the plugin's) with :helptags when it is
-- missing or older than the help file. Returns true when the tags are there.
function M.ensure_tags(dir)
  dir = dir or M.doc_dir()
  local txt, tags = dir .. '/studio.txt', dir .. '/tags'
  if vim.fn.filereadable(txt) == 0 then
    return false
  end
  if vim.fn.filereadable(tags) == 1 and vim.fn.getftime(tags) >= vim.fn.getftime(txt) then
    return true
  end
  if vim.fn.filewritable(dir) ~= 2 then
    return false
  end
  local ok = pcall(vim.cmd, 'silent helptags ' .. vim.fn.fnameescape(dir))
  return ok and vim.fn.filereadable(tags) == 1
end

return M
