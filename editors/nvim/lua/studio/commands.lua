-- The :Studio subcommands. Each entry: run(args) with the parsed command
-- (fargs after the subcommand, bang, line1, line2, range) and complete(arglead,
-- args) for its arguments.
local protocol = require('studio.protocol')
local config = require('studio.config')
local rpc = require('studio.rpc')
local util = require('studio.util')

local M = {}

-- Splits flags (--name value, --force) from positional arguments.
-- flags: { name = true } for flags that take a value.
function M.parse(fargs, valued)
  local opts, rest = {}, {}
  local i = 1
  while i <= #fargs do
    local a = fargs[i]
    local key, val = a:match('^%-%-([%w-]+)=(.*)$')
    if key then
      opts[key] = val
    elseif a == '--' then
      vim.list_extend(rest, fargs, i + 1)
      break
    elseif a:match('^%-%-[%w-]+$') and #rest == 0 then
      key = a:sub(3)
      if valued[key] then
        i = i + 1
        opts[key] = fargs[i]
      else
        opts[key] = true
      end
    else
      table.insert(rest, a)
    end
    i = i + 1
  end
  return opts, rest
end

local function report(what)
  return function(err)
    if err then
      util.err(what .. ': ' .. rpc.describe(err))
    end
  end
end

-- need_name is the session name a verb was given; without one it prints
-- the verb's usage: verb, or verb followed by {name} when it names none.
local function need_name(args, verb)
  local name = args.fargs[1]
  if not name then
    local usage = verb:find('{name}', 1, true) and verb or (verb .. ' {name}')
    util.err('usage: :Studio ' .. usage)
  end
  return name
end

local function complete_names(arglead, args)
  if #args > 0 then
    return {}
  end
  return vim.tbl_filter(function(n)
    return vim.startswith(n, arglead)
  end, require('studio.events').names(util.current_repo()))
end

local function change_summary(s)
  local c = s.changes or {}
  return string.format('+%d -%d in %d file%s', c.additions or 0, c.deletions or 0, c.files or 0, c.files == 1 and '' or 's')
end

-- A token count as a person reads it: 950, 12.3k, 4.1M.
local function tokens(n)
  if n < 1000 then
    return tostring(n)
  elseif n < 1000000 then
    return string.format('%.1fk', n / 1e3)
  end
  return string.format('%.1fM', n / 1e6)
end

-- What a session's model used, as the terminal board writes it: the tokens
-- it was sent (cache reads and writes included) and answered, the cost
-- where the agent reports one, and how full the model's context is where
-- known; '' before it reported any.
function M.format_usage(u)
  if type(u) ~= 'table' then
    return ''
  end
  local t = string.format('%s in %s out', tokens((u.input or 0) + (u.cacheRead or 0) + (u.cacheWrite or 0)), tokens(u.output or 0))
  if type(u.cost) == 'number' then
    t = t .. string.format(' $%.2f', u.cost)
  end
  local ctx, window = tonumber(u.context) or 0, tonumber(u.contextWindow) or 0
  if ctx > 0 and window > 0 then
    t = t .. string.format(' ctx %d%%', math.floor(ctx * 100 / window))
  elseif ctx > 0 then
    t = t .. ' ctx ' .. tokens(ctx)
  end
  return t
end

-- One line describing a session, as :Studio list shows it.
function M.format_session(s)
  local line = string.format('%-16s %-8s %-16s', s.name, s.state, change_summary(s))
  if (s.conflicts or 0) > 0 then
    line = line .. string.format('  %d conflict%s', s.conflicts, s.conflicts == 1 and '' or 's')
  end
  if (s.behind or 0) > 0 then
    line = line .. string.format('  %d behind%s', s.behind, s.wouldConflict and ', would conflict' or '')
  end
  local usage = M.format_usage(s.usage)
  if usage ~= '' then
    line = line .. '  ' .. usage
  end
  if s.state == 'waiting' and s.detail and s.detail ~= '' then
    line = line .. '  ? ' .. s.detail
  elseif (s.state == 'failed') and s.detail then
    line = line .. '  ' .. s.detail
  end
  return line
end

M.subcommands = {}
local sub = M.subcommands

sub.spawn = {
  run = function(args, cb)
    local opts, rest = M.parse(args.fargs, { agent = true, name = true, base = true, target = true })
    local function go(prompt)
      if not prompt or prompt == '' then
        return
      end
      rpc.request(protocol.method.spawn, {
        repo = util.current_repo() or vim.loop.cwd(),
        name = opts.name,
        agent = opts.agent or config.options.agent,
        base = opts.base,
        target = opts.target,
        prompt = prompt,
      }, function(err, s)
        if not err then
          require('studio.events').on_session(s)
          util.notify(string.format('spawned %s (%s) on %s', s.name, s.agent, s.branch))
        end
        ;(cb or report('spawn'))(err, s)
      end)
    end
    if #rest > 0 then
      return go(table.concat(rest, ' '))
    end
    vim.ui.input({ prompt = 'Prompt for the agent: ' }, go)
  end,
  complete = function(arglead)
    if vim.startswith(arglead, '-') then
      return vim.tbl_filter(function(f)
        return vim.startswith(f, arglead)
      end, { '--agent', '--name', '--base', '--target' })
    end
    return {}
  end,
}

sub.list = {
  run = function(args, cb)
    rpc.request(protocol.method.sessions, { repo = not args.bang and util.current_repo() or nil, all = args.bang }, function(err, res)
      if err then
        return (cb or report('list'))(err)
      end
      local sessions = res.sessions or {}
      for _, s in ipairs(sessions) do
        require('studio.events').sessions[s.id] = s
      end
      if cb then
        return cb(nil, sessions)
      end
      if #sessions == 0 then
        return util.notify('no sessions (start one with :Studio spawn {prompt})')
      end
      vim.ui.select(sessions, {
        prompt = 'studio sessions',
        format_item = M.format_session,
      }, function(s)
        if not s then
          return
        end
        local actions = { 'review', 'attach', 'send', 'feedback', 'merge', 'stop', 'rm' }
        vim.ui.select(actions, { prompt = s.name }, function(action)
          if action == 'send' then
            vim.ui.input({ prompt = 'Send to ' .. s.name .. ': ' }, function(text)
              if text then
                M.run({ fargs = { 'send', s.name, text } })
              end
            end)
          elseif action then
            M.run({ fargs = { action, s.name } })
          end
        end)
      end)
    end)
  end,
}
sub.ls = sub.list

sub.review = {
  run = function(args, cb)
    local name = need_name(args, 'review {name}')
    if name then
      require('studio.review').open(name, util.current_repo(), cb)
    end
  end,
  complete = complete_names,
}

sub.comment = {
  run = function(args, cb)
    local line1, line2 = args.line1, args.line2
    if not args.range or args.range == 0 then
      line1 = vim.fn.line('.')
      line2 = line1
    end
    require('studio.review').comment(line1, line2, table.concat(args.fargs, ' '), cb)
  end,
}

sub.feedback = {
  run = function(args, cb)
    local name = args.fargs[1] or (require('studio.review').current() or {}).session
    if not name then
      return util.err('usage: :Studio feedback {name}')
    end
    rpc.request(protocol.method.feedback, { session = name, repo = util.current_repo() }, function(err, res)
      if not err and not cb then
        util.notify(string.format('sent %d comment%s to %s', res.sent or 0, res.sent == 1 and '' or 's', name))
      end
      ;(cb or report('feedback'))(err, res)
    end)
  end,
  complete = complete_names,
}

sub.send = {
  run = function(args, cb)
    local name = need_name(args, 'send {name} {text}')
    if not name then
      return
    end
    local text = table.concat(vim.list_slice(args.fargs, 2), ' ')
    rpc.request(protocol.method.send, { session = name, repo = util.current_repo(), text = text }, cb or report('send'))
  end,
  complete = complete_names,
}

-- :Studio answer {name} allow|always|reject|never|{option-id}|{text}:
-- answers a waiting session (studio/answer); the first answer wins.
local answer_kinds = { allow = true, always = true, reject = true, never = true }
sub.answer = {
  run = function(args, cb)
    local name = need_name(args, 'answer {name} allow|always|reject|never|{option}|{text}')
    if not name then
      return
    end
    local word = table.concat(vim.list_slice(args.fargs, 2), ' ')
    if word == '' then
      return util.err('usage: :Studio answer {name} allow|always|reject|never|{option}|{text}')
    end
    local params = { session = name, repo = util.current_repo() }
    -- An option the session offers (from the cached sessions) is an answer too.
    local offered = false
    for _, s in pairs(require('studio.events').sessions) do
      if s.name == name and s.waiting then
        for _, o in ipairs(s.waiting.options or {}) do
          offered = offered or o.id == word
        end
      end
    end
    if answer_kinds[word] or offered then
      params.answer = word
    else
      params.text = word
    end
    rpc.request(protocol.method.answer, params, cb or report('answer'))
  end,
  complete = function(arglead, args)
    if #args == 0 then
      return complete_names(arglead, args)
    end
    return vim.tbl_filter(function(w)
      return vim.startswith(w, arglead)
    end, { 'allow', 'always', 'reject', 'never' })
  end,
}

local function show_conflicts(conflicts, title)
  local items = {}
  for _, c in ipairs(conflicts or {}) do
    for _, pair in ipairs({ { c.a, c.b }, { c.b, c.a } }) do
      local side, other = pair[1], pair[2]
      local r = (side.ranges or {})[1] or { start = 1, ['end'] = 1 }
      if side.file and side.file ~= '' then
        table.insert(items, {
          filename = side.file,
          lnum = math.max(r.start, 1),
          end_lnum = math.max(r['end'], r.start, 1),
          type = c.severity == 'conflict' and 'E' or 'W',
          text = string.format('[%s] %s: %s also changes %s', c.kind, side.session, other.session, other.path),
        })
      end
    end
  end
  vim.fn.setqflist({}, ' ', { title = title, items = items, context = { studio_conflicts = true } })
  return items
end

sub.conflicts = {
  run = function(args, cb)
    local name = args.fargs[1]
    rpc.request(protocol.method.conflicts, { repo = util.current_repo(), session = name }, function(err, res)
      if err then
        return (cb or report('conflicts'))(err)
      end
      local items = show_conflicts(res.conflicts, 'studio conflicts' .. (name and (': ' .. name) or ''))
      if cb then
        return cb(nil, res.conflicts)
      end
      if #items == 0 then
        return util.notify('no predicted conflicts')
      end
      vim.cmd('botright copen')
    end)
  end,
  complete = complete_names,
}

sub.merge = {
  run = function(args, cb)
    local name = need_name(args, 'merge {name} [merge|squash|rebase]')
    if not name then
      return
    end
    local strategy = args.fargs[2] or config.options.merge_strategy
    rpc.request(protocol.method.merge, { session = name, repo = util.current_repo(), strategy = strategy }, function(err, res)
      if err and err.code == protocol.code.merge_conflict and err.data and err.data ~= vim.NIL then
        show_conflicts(err.data.conflicts, 'studio merge conflicts: ' .. name)
        if not cb then
          util.err(name .. ' does not merge cleanly: ' .. rpc.describe(err) .. ' (see the quickfix list)')
          vim.cmd('botright copen')
          return
        end
      elseif not err and not cb then
        util.notify(string.format('merged %s into %s (%s, %d files); :Studio undo %s reverts it', name, res.target or '?', res.strategy or '?', res.files or 0, name))
      end
      ;(cb or report('merge'))(err, res)
    end)
  end,
  complete = function(arglead, args)
    if #args == 0 then
      return complete_names(arglead, args)
    end
    return vim.tbl_filter(function(s)
      return vim.startswith(s, arglead)
    end, { 'merge', 'squash', 'rebase' })
  end,
}

sub.undo = {
  run = function(args, cb)
    local name = need_name(args, 'undo {name}')
    if name then
      rpc.request(protocol.method.undo, { session = name, repo = util.current_repo() }, function(err, res)
        if not err and not cb then
          util.notify(string.format('restored %s to %s', res.target or '?', (res.restored or ''):sub(1, 12)))
        end
        ;(cb or report('undo'))(err, res)
      end)
    end
  end,
  complete = complete_names,
}

-- Lines describing a preview, as :Studio preview shows them.
function M.format_preview(pv)
  local lines = {}
  local sessions = pv.sessions or {}
  if #sessions == 0 then
    return { 'no session has work to land on ' .. (pv.target or '?') }
  end
  local order = pv.order or {}
  if #order > 0 then
    table.insert(lines, string.format('landing order onto %s: %s', pv.target, table.concat(order, ', ')))
  else
    table.insert(lines, 'no session lands on ' .. (pv.target or '?') .. ' without a conflict')
  end
  for _, ps in ipairs(sessions) do
    local check = (ps.check and ps.check ~= '' and ps.check ~= vim.NIL) and (' check ' .. ps.check) or ''
    if (ps.position or 0) > 0 then
      table.insert(lines, string.format('  %d. %s%s', ps.position, ps.session, check))
    else
      table.insert(lines, string.format('  - %s (%s): %s', ps.session, ps.status, ps.reason or ''))
    end
  end
  local ck = pv.check
  if ck and ck ~= vim.NIL then
    local line = string.format('check `%s`: %s', ck.command, ck.status)
    if ck.reason and ck.reason ~= '' then
      line = line .. ' — ' .. ck.reason
    end
    table.insert(lines, line)
    if ck.status ~= protocol.check.passed and ck.log and ck.log ~= '' then
      table.insert(lines, '  log ' .. ck.log)
    end
  end
  return lines
end

-- Conflicts of a preview as quickfix items: one per session left out, at its
-- first conflicting file.
local function preview_qf(pv)
  vim.fn.setqflist({}, ' ', {
    title = 'studio preview: ' .. (pv.target or ''),
    lines = M.format_preview(pv),
    context = { studio_preview = true },
  })
end

sub.preview = {
  run = function(args, cb)
    local opts, rest = M.parse(args.fargs, {})
    rpc.request(protocol.method.preview, {
      repo = util.current_repo(),
      sessions = #rest > 0 and rest or nil,
      check = opts.check or nil,
    }, function(err, pv)
      if not err then
        preview_qf(pv)
        if not cb then
          util.notify(table.concat(M.format_preview(pv), '\n'))
        end
      end
      ;(cb or report('preview'))(err, pv)
    end)
  end,
  complete = function(arglead, args)
    if vim.startswith(arglead, '-') then
      return vim.tbl_filter(function(f)
        return vim.startswith(f, arglead)
      end, { '--check' })
    end
    return complete_names(arglead, {})
  end,
}

-- Lines describing plans, as :Studio plan shows them.
function M.format_plans(plans)
  if #plans == 0 then
    return { 'no plans: :Studio plan run {file} starts one' }
  end
  local lines = {}
  for _, pl in ipairs(plans) do
    table.insert(lines, string.format('plan %s %s: %s (target %s)', pl.id, pl.file or '', pl.state, pl.target))
    for _, t in ipairs(pl.tasks or {}) do
      local rel = {}
      if t.after and #t.after > 0 then
        table.insert(rel, 'after ' .. table.concat(t.after, ', '))
      end
      if t.stack and t.stack ~= '' then
        table.insert(rel, 'stacked on ' .. t.stack)
      end
      if t.reviews and t.reviews ~= '' then
        table.insert(rel, 'reviews ' .. t.reviews)
      end
      local state = t.state
      if t.sessionState and t.sessionState ~= '' and t.state == 'started' then
        state = state .. ' (' .. t.sessionState .. ')'
      end
      local line = string.format('  %s  %s', t.name, state)
      if #rel > 0 then
        line = line .. '  ' .. table.concat(rel, '; ')
      end
      if t.detail and t.detail ~= '' then
        line = line .. '  — ' .. t.detail
      end
      table.insert(lines, line)
    end
  end
  return lines
end

-- Lines describing a plan check: risky pairs and the proposed order.
function M.format_plan_check(rep)
  local lines = { string.format('%d tasks checked against %d commits', #(rep.tasks or {}), rep.commits or 0) }
  for _, p in ipairs(rep.pairs or {}) do
    if p.risk == 'overlap' then
      table.insert(lines, string.format('  %s ↔ %s: scopes overlap on %s', p.a, p.b, table.concat(p.overlap or {}, ', ')))
    elseif p.risk == 'coupled' then
      table.insert(lines, string.format('  %s ↔ %s: history changes them together, %d commits', p.a, p.b, p.coChange or 0))
    end
  end
  for _, t in ipairs(rep.tasks or {}) do
    if t.unscoped then
      table.insert(lines, '  ' .. t.name .. ': no scope, unknown risk')
    end
  end
  for _, st in ipairs(rep.order or {}) do
    local why = {}
    for _, w in ipairs(st.waits or {}) do
      table.insert(why, w.why)
    end
    table.insert(lines, string.format('  %d. %s%s', st.wave, st.task, #why > 0 and (': ' .. table.concat(why, '; ')) or ''))
  end
  return lines
end

local function read_plan(file)
  local ok, lines = pcall(vim.fn.readfile, vim.fn.expand(file))
  if not ok or not lines then
    return nil
  end
  return table.concat(lines, '\n')
end

sub.plan = {
  run = function(args, cb)
    local verb, file = args.fargs[1], args.fargs[2]
    local done = function(format)
      return function(err, res)
        if not err and not cb then
          util.notify(table.concat(format(res), '\n'))
        end
        ;(cb or report('plan'))(err, res)
      end
    end
    if verb == nil then
      rpc.request(protocol.method.plans, { repo = util.current_repo() }, done(function(res)
        return M.format_plans(res.plans or {})
      end))
      return
    end
    if (verb ~= 'check' and verb ~= 'run') or not file then
      util.notify('usage: :Studio plan [check|run {file}]', vim.log.levels.ERROR)
      return
    end
    local text = read_plan(file)
    if not text then
      util.notify('cannot read plan ' .. file, vim.log.levels.ERROR)
      return
    end
    if verb == 'check' then
      rpc.request(protocol.method.plan_check, { repo = util.current_repo(), path = file, text = text }, done(M.format_plan_check))
    else
      rpc.request(protocol.method.plan_run, { repo = util.current_repo(), path = file, text = text }, done(function(pl)
        return M.format_plans({ pl })
      end))
    end
  end,
  complete = function(arglead, args)
    if #args == 0 then
      return vim.tbl_filter(function(f)
        return vim.startswith(f, arglead)
      end, { 'check', 'run' })
    end
    return vim.fn.getcompletion(arglead, 'file')
  end,
}

sub.land = {
  run = function(args, cb)
    local opts, rest = M.parse(args.fargs, { strategy = true, resume = true })
    rpc.request(protocol.method.land, {
      repo = util.current_repo(),
      sessions = #rest > 0 and rest or nil,
      strategy = opts.strategy,
      check = opts.check or nil,
      sendFailures = opts['send-failures'] or nil,
      resume = opts.resume,
    }, function(err, res)
      if not err and not cb then
        local landed = {}
        for _, d in ipairs(res.landed or {}) do
          table.insert(landed, d.session)
        end
        local msg = #landed > 0 and ('landed ' .. table.concat(landed, ', ') .. ' on ' .. res.target) or ('landed nothing on ' .. res.target)
        local st = res.stopped
        if st and st ~= vim.NIL then
          msg = msg .. string.format('; stopped at %s (%s): %s', st.session, st.reason, st.message)
          if st.sent then
            msg = msg .. ' (sent to its agent)'
          end
        end
        if #landed > 0 then
          msg = msg .. '; undo: studiod undo --land ' .. res.id
        end
        util.notify(msg, st and st ~= vim.NIL and vim.log.levels.WARN or nil)
      end
      ;(cb or report('land'))(err, res)
    end)
  end,
  complete = function(arglead)
    if vim.startswith(arglead, '-') then
      return vim.tbl_filter(function(f)
        return vim.startswith(f, arglead)
      end, { '--check', '--send-failures', '--strategy', '--resume' })
    end
    return complete_names(arglead, {})
  end,
}

sub.sync = {
  run = function(args, cb)
    local opts, rest = M.parse(args.fargs, {})
    local name = rest[1]
    if not name then
      return util.err('usage: :Studio sync {name} [--rebase] [--send]')
    end
    rpc.request(protocol.method.sync, {
      session = name,
      repo = util.current_repo(),
      strategy = opts.rebase and protocol.strategy.rebase or nil,
      send = opts.send or nil,
    }, function(err, res)
      if err and err.code == protocol.code.merge_conflict and err.data and err.data ~= vim.NIL then
        show_conflicts(err.data.conflicts, 'studio sync conflicts: ' .. name)
        if not cb then
          local sent = err.data.sent and ' (the list went to its agent)' or ' (see the quickfix list; --send gives it to the agent)'
          util.err(name .. ' would conflict with its target: ' .. rpc.describe(err) .. sent)
          return
        end
      elseif not err and not cb then
        util.notify(res.upToDate and (name .. ' already has ' .. res.target) or string.format('synced %s with %s (%s)', name, res.target, res.strategy))
      end
      ;(cb or report('sync'))(err, res)
    end)
  end,
  complete = function(arglead, args)
    if vim.startswith(arglead, '-') then
      return vim.tbl_filter(function(f)
        return vim.startswith(f, arglead)
      end, { '--rebase', '--merge', '--send' })
    end
    return complete_names(arglead, args)
  end,
}

-- :Studio budget {name} [{amount}|clear]: shows, raises or clears what a
-- session's model may use (studio/budget); a session waiting on its budget
-- is idle again once it covers what was used.
sub.budget = {
  run = function(args, cb)
    local name = need_name(args, 'budget {name} [{amount}|clear]')
    if not name then
      return
    end
    local amount = args.fargs[2]
    local done = cb
      or function(err, s)
        if err then
          return util.err('budget: ' .. rpc.describe(err))
        end
        util.notify(M.format_budget(s))
      end
    if not amount then
      rpc.request(protocol.method.session, { session = name, repo = util.current_repo() }, done)
    elseif amount == 'clear' then
      rpc.request(protocol.method.budget, { session = name, repo = util.current_repo(), clear = true }, done)
    else
      rpc.request(protocol.method.budget, { session = name, repo = util.current_repo(), budget = amount }, done)
    end
  end,
  complete = complete_names,
}

-- What a session's budget is and how much of it is used.
function M.format_budget(s)
  local b = type(s) == 'table' and s.budget
  if type(b) ~= 'table' then
    return (s and s.name or '?') .. ': no budget'
  end
  local spent = type(b.spent) == 'number' and string.format('%d%% used', math.floor(b.spent * 100 + 0.5))
    or 'its agent reports no cost: not enforced'
  return string.format('%s: budget %s, %s (%s)', s.name, b.text, spent, s.state)
end

sub.stop = {
  run = function(args, cb)
    local name = need_name(args, 'stop[!] {name}')
    if name then
      rpc.request(protocol.method.stop, { session = name, repo = util.current_repo(), force = args.bang or nil }, cb or report('stop'))
    end
  end,
  complete = complete_names,
}

sub.rm = {
  run = function(args, cb)
    local name = need_name(args, 'rm[!] {name}')
    if name then
      rpc.request(protocol.method.remove, { session = name, repo = util.current_repo(), force = args.bang or nil }, function(err, res)
        if not err and not cb and res and res.branchKept and res.branchKept ~= '' then
          util.notify('removed ' .. name .. '; branch kept: ' .. res.branchKept)
        end
        ;(cb or report('rm'))(err, res)
      end)
    end
  end,
  complete = complete_names,
}

sub.attach = {
  run = function(args)
    local name = need_name(args, 'attach {name}')
    if not name then
      return
    end
    vim.cmd('tabnew')
    local cmd = { config.options.binary, 'attach', name }
    local repo = util.current_repo()
    vim.fn.termopen(cmd, { cwd = repo, env = util.env() })
    vim.b.studio_session = name
    pcall(vim.api.nvim_buf_set_name, 0, 'studio://' .. name .. '/terminal')
    vim.cmd('startinsert')
  end,
  complete = complete_names,
}

-- Runs :Studio with the parsed user-command table.
function M.run(opts, cb)
  local fargs = vim.list_slice(opts.fargs or {}, 1)
  local name = table.remove(fargs, 1)
  if not name then
    return sub.list.run({ fargs = {}, bang = opts.bang })
  end
  local s = sub[name]
  if not s then
    return util.err('unknown subcommand ' .. name .. ' (one of: ' .. table.concat(M.names(), ', ') .. ')')
  end
  return s.run({
    fargs = fargs,
    bang = opts.bang or false,
    line1 = opts.line1,
    line2 = opts.line2,
    range = opts.range,
  }, cb)
end

function M.names()
  local names = vim.tbl_keys(sub)
  table.sort(names)
  return names
end

-- Completion for :Studio: subcommands, then the subcommand's arguments.
function M.complete(arglead, cmdline)
  local words = vim.split(cmdline, '%s+', { trimempty = true })
  -- Drop the command itself, and the word being completed.
  table.remove(words, 1)
  if arglead ~= '' then
    table.remove(words)
  end
  if #words == 0 then
    return vim.tbl_filter(function(n)
      return vim.startswith(n, arglead)
    end, M.names())
  end
  local s = sub[words[1]]
  if not s or not s.complete then
    return {}
  end
  return s.complete(arglead, vim.list_slice(words, 2))
end

return M
