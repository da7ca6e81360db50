-- Defines :Studio only; everything else loads on first use and is set up by
-- require('studio').setup().
if vim.g.loaded_studio then
  return
end
vim.g.loaded_studio = true

vim.api.nvim_create_user_command('Studio', function(opts)
  require('studio.commands').run(opts)
end, {
  nargs = '*',
  bang = true,
  range = true,
  desc = 'studiod: spawn, list, review, merge agent sessions',
  complete = function(arglead, cmdline)
    return require('studio.commands').complete(arglead, cmdline)
  end,
})
