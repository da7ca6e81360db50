-- Options of require('studio').setup(). Every other module reads them from
-- here, never from its own copy, so a second setup() call takes effect
-- everywhere.
local M = {}

M.defaults = {
  -- The studiod executable: a name looked up on $PATH or an absolute path.
  binary = 'studiod',
  -- Extra environment for studiod processes (e.g. { STUDIOD_HOME = '...' }).
  env = nil,
  -- Agent profile for :Studio spawn when --agent is not given (nil: the
  -- daemon's default).
  agent = nil,
  -- Merge strategy for :Studio merge when none is given (nil: the repo's
  -- .studio.toml, else the daemon's default).
  merge_strategy = nil,
  -- Attach the studiod language server (diagnostics for predicted conflicts,
  -- code lenses) to buffers inside git repositories.
  lsp = true,
  -- vim.notify when a session starts waiting for input.
  notify = true,
  -- Milliseconds a synchronous request (completion, health) may take.
  timeout = 2000,
}

M.options = vim.deepcopy(M.defaults)

function M.set(opts)
  vim.validate({ opts = { opts, 't', true } })
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  return M.options
end

return M
