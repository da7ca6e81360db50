-- Tiny test harness for headless Neovim: named cases, waits on conditions
-- (never sleeps), skips, and an exit status (cquit) at the end.
local H = { failures = 0, passed = 0, skipped = 0 }

local out = io.stdout

function H.log(fmt, ...)
  out:write(string.format(fmt, ...) .. '\n')
  out:flush()
end

-- Raised by H.skip to end a case without failing it.
local Skip = {}

function H.skip(why)
  error(setmetatable({ why = why }, Skip), 0)
end

function H.test(name, fn)
  local ok, err = xpcall(fn, function(e)
    if getmetatable(e) == Skip then
      return e
    end
    return debug.traceback(tostring(e), 2)
  end)
  if ok then
    H.passed = H.passed + 1
    H.log('ok   %s', name)
  elseif getmetatable(err) == Skip then
    H.skipped = H.skipped + 1
    H.log('skip %s: %s', name, err.why)
  else
    H.failures = H.failures + 1
    H.log('FAIL %s\n%s', name, err)
  end
end

-- Waits until fn() returns a truthy value, and returns it; fails with what
-- after timeout ms.
function H.wait(what, fn, timeout)
  local val
  local ok = vim.wait(timeout or 15000, function()
    val = fn()
    return val
  end, 20)
  if not ok then
    error('timed out waiting for ' .. what, 2)
  end
  return val
end

function H.eq(got, want, what)
  if not vim.deep_equal(got, want) then
    error(string.format('%s: got %s, want %s', what or 'value', vim.inspect(got), vim.inspect(want)), 2)
  end
end

function H.truthy(v, what)
  if not v then
    error((what or 'condition') .. ' does not hold', 2)
  end
  return v
end

-- Calls fn(cb) and waits for cb(err, result); returns err, result.
function H.await(what, fn, timeout)
  local done, rerr, rres = false, nil, nil
  fn(function(err, res)
    done, rerr, rres = true, err, res
  end)
  H.wait(what, function()
    return done
  end, timeout)
  return rerr, rres
end

function H.finish()
  -- An error inside a callback (vim.schedule, a job, an RPC response) does not
  -- fail the case that caused it, but it leaves v:errmsg behind.
  if vim.v.errmsg ~= '' then
    H.failures = H.failures + 1
    H.log('FAIL an error was reported: %s', vim.v.errmsg)
  end
  H.log('%d passed, %d failed, %d skipped', H.passed, H.failures, H.skipped)
  if H.failures > 0 then
    vim.cmd('cquit 1')
  else
    vim.cmd('qall!')
  end
end

return H
