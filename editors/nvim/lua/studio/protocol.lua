-- The studiod wire surface, generated from the Go package protocol by
-- `go test ./protocol -run TestGenerated -update`. Do not edit: change the
-- Go declarations and regenerate.
local M = {}

-- Clients refuse a daemon with a different major version.
M.version = '2'

-- The side name of a conflict's target branch.
M.target_side = 'target'

-- Requests served by the daemon.
M.method = {
  hello = 'studio/hello',
  spawn = 'studio/spawn',
  sessions = 'studio/sessions',
  session = 'studio/session',
  send = 'studio/send',
  answer = 'studio/answer',
  cancel = 'studio/cancel',
  output = 'studio/output',
  resize = 'studio/resize',
  stop = 'studio/stop',
  remove = 'studio/remove',
  hook = 'studio/hook',
  diff = 'studio/diff',
  file = 'studio/file',
  comment = 'studio/comment',
  comments = 'studio/comments',
  feedback = 'studio/feedback',
  conflicts = 'studio/conflicts',
  who = 'studio/who',
  note = 'studio/note',
  budget = 'studio/budget',
  merge = 'studio/merge',
  undo = 'studio/undo',
  preview = 'studio/preview',
  land = 'studio/land',
  undo_land = 'studio/undoLand',
  sync = 'studio/sync',
  subscribe = 'studio/subscribe',
  status = 'studio/status',
  trust = 'studio/trust',
  pool = 'studio/pool',
  fsmonitor = 'studio/fsmonitor',
  salvage = 'studio/salvage',
  restore = 'studio/restore',
  plan_check = 'studio/planCheck',
  plan_run = 'studio/planRun',
  plans = 'studio/plans',
  plan_cancel = 'studio/planCancel',
  review_by = 'studio/reviewBy',
  shutdown = 'studio/shutdown',
  profiles = 'studio/profiles',
  hosts = 'studio/hosts',
}

-- Notifications from the daemon.
M.notify = {
  session_changed = 'studio/sessionChanged',
  conflicts_changed = 'studio/conflictsChanged',
  output = 'studio/output',
  preview_changed = 'studio/previewChanged',
  session_activity = 'studio/sessionActivity',
  progress = '$/progress',
}

-- Editor commands (workspace/executeCommand).
M.command = {
  spawn = 'studio.spawn',
  review = 'studio.review',
  merge = 'studio.merge',
  stop = 'studio.stop',
  remove = 'studio.remove',
  send = 'studio.send',
  feedback = 'studio.feedback',
  undo = 'studio.undo',
  preview = 'studio.preview',
  land = 'studio.land',
  sync = 'studio.sync',
  open = 'studio.open',
}

-- Error codes.
M.code = {
  parse_error = -32700,
  invalid_request = -32600,
  method_not_found = -32601,
  invalid_params = -32602,
  internal = -32603,
  request_cancelled = -32800,
  not_found = -31001,
  invalid = -31002,
  merge_conflict = -31003,
  target_dirty = -31004,
  untrusted = -31005,
  busy = -31006,
  git = -31007,
  forbidden = -31012,
  unreviewed = -31008,
}

-- Session states.
M.state = {
  starting = 'starting',
  working = 'working',
  waiting = 'waiting',
  idle = 'idle',
  exited = 'exited',
  failed = 'failed',
  stopped = 'stopped',
  merged = 'merged',
  removed = 'removed',
  disconnected = 'disconnected',
}

-- Conflict kinds.
M.kind = {
  content = 'content',
  modify_delete = 'modify/delete',
  add_add = 'add/add',
  rename = 'rename',
  binary = 'binary',
  mode = 'mode',
  overlap = 'overlap',
}

-- Conflict severities.
M.severity = {
  conflict = 'conflict',
  overlap = 'overlap',
}

-- Merge strategies.
M.strategy = {
  merge = 'merge',
  squash = 'squash',
  rebase = 'rebase',
}

-- File versions (studio/file).
M.file = {
  base = 'base',
  target = 'target',
  worktree = 'worktree',
  snapshot = 'snapshot',
}

-- Where a session stands in a preview.
M.preview = {
  clean = 'clean',
  conflict = 'conflict',
  breaks = 'breaks',
  empty = 'empty',
  error = 'error',
}

-- Check statuses.
M.check = {
  running = 'running',
  passed = 'passed',
  failed = 'failed',
  timeout = 'timeout',
  cancelled = 'cancelled',
  error = 'error',
}

-- Land queue statuses.
M.land = {
  running = 'running',
  done = 'done',
  stopped = 'stopped',
  interrupted = 'interrupted',
  undone = 'undone',
}

-- What to do about an error (ErrorData.fix).
M.fix = {
  list_sessions = 'listSessions',
  other_name = 'otherName',
  stop_first = 'stopFirst',
  wait_idle = 'waitIdle',
  trust = 'trust',
  resolve = 'resolve',
  sync_send = 'syncSend',
  commit_target = 'commitTarget',
  retry = 'retry',
  add_comments = 'addComments',
  clean_up = 'cleanUp',
  answer_in_terminal = 'answerInTerminal',
  check_command = 'checkCommand',
  land_i_d = 'landID',
  restart_daemon = 'restartDaemon',
  record_stop = 'recordStop',
  install_git = 'installGit',
  answer_first = 'answerFirst',
  resolve_sync = 'resolveSync',
  ask_person = 'askPerson',
  raise_budget = 'raiseBudget',
  review = 'review',
}

-- States in which an agent process may still be running.
M.live = { ['starting'] = true, ['working'] = true, ['waiting'] = true, ['idle'] = true, ['disconnected'] = true }

return M
