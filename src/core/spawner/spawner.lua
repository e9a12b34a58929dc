-- The resident spawner of `assist serve` (see src/core/launcher.ts, ResidentSpawner).
--
-- The gateway starts this once and asks it to start app instances, so the (large) Node process never
-- forks itself: posix_spawn here costs the same whatever the gateway's size. Linux only (glibc >= 2.29
-- for posix_spawn_file_actions_addchdir_np); anything else exits with status 3 and the gateway spawns
-- directly.
--
-- Protocol, both ways: frames of u32be(length of body) .. body, the body being fields
-- u32be(length) .. bytes. The first field says what the frame is.
--   in:  S id cwd argc argv[1..argc] env[...]   start a process ("K=V" env entries; cwd may be "")
--        C id                                   close that process's stdin (assist asks it to leave)
--   out: H pid                                  ready (sent once, first)
--        P id pid                               started
--        F id errno                             could not start (errno number; nothing was started)
--        O id stream bytes                      output ("1" stdout, "2" stderr)
--        E id stream                            that stream reached end of file
--        X id code|"" signal|""                 exited (output read so far comes first)
-- Each child's stdin is a pipe whose write end only the spawner holds: closing it (C, the child's
-- exit, or the spawner's own end) is the launcher's request to leave (see launcher.ts, stop()).
-- End of file on stdin (the gateway is gone, even killed by SIGKILL) ends the spawner; children still
-- running are first asked to leave (their stdin closes), and those still there after 3 s are killed
-- (SIGKILL to their process groups): nothing started by a dead gateway lives on unsupervised.
local ffi = require('ffi')
local bit = require('bit')

if ffi.os ~= 'Linux' then
  io.stderr:write('assist spawner: needs Linux\n')
  os.exit(3)
end

ffi.cdef([[
typedef int pid_t;
typedef struct { unsigned long val[16]; } sigset_t;
/* glibc: 336 and 80 bytes on 64-bit Linux; padded generously, set up only by the init functions. */
typedef struct { char opaque[1024]; } spawner_attr_t;
typedef struct { char opaque[512]; } spawner_actions_t;
struct pollfd { int fd; short events; short revents; };
int posix_spawn(pid_t *pid, const char *path, const spawner_actions_t *fa, const spawner_attr_t *attr,
                char *const argv[], char *const envp[]);
int posix_spawn_file_actions_init(spawner_actions_t *fa);
int posix_spawn_file_actions_destroy(spawner_actions_t *fa);
int posix_spawn_file_actions_adddup2(spawner_actions_t *fa, int fd, int newfd);
int posix_spawn_file_actions_addopen(spawner_actions_t *fa, int fd, const char *path, int oflag, unsigned int mode);
int posix_spawn_file_actions_addchdir_np(spawner_actions_t *fa, const char *path);
int posix_spawnattr_init(spawner_attr_t *attr);
int posix_spawnattr_destroy(spawner_attr_t *attr);
int posix_spawnattr_setflags(spawner_attr_t *attr, short flags);
int posix_spawnattr_setpgroup(spawner_attr_t *attr, pid_t pgroup);
int posix_spawnattr_setsigdefault(spawner_attr_t *attr, const sigset_t *sigdefault);
int posix_spawnattr_setsigmask(spawner_attr_t *attr, const sigset_t *sigmask);
int sigemptyset(sigset_t *set);
int sigfillset(sigset_t *set);
int sigaddset(sigset_t *set, int signum);
int sigprocmask(int how, const sigset_t *set, sigset_t *oldset);
int signalfd(int fd, const sigset_t *mask, int flags);
typedef void (*sighandler_t)(int);
sighandler_t signal(int signum, sighandler_t handler);
int pipe2(int pipefd[2], int flags);
int poll(struct pollfd *fds, unsigned long nfds, int timeout);
long read(int fd, void *buf, size_t count);
long write(int fd, const void *buf, size_t count);
int close(int fd);
int fcntl(int fd, int cmd, ...);
pid_t waitpid(pid_t pid, int *status, int options);
pid_t getpid(void);
int kill(pid_t pid, int sig);
struct spawner_timespec { long tv_sec; long tv_nsec; };
int clock_gettime(int clk_id, struct spawner_timespec *tp);
]])

local C = ffi.C
-- Linux values (asm-generic; the same on x86_64 and arm64).
local EINTR, EAGAIN, ENOENT, ENOTDIR, EACCES = 4, 11, 2, 20, 13
local O_NONBLOCK, O_CLOEXEC = 2048, 524288
local F_GETFL, F_SETFL = 3, 4
local SIG_BLOCK, SIGCHLD, SIGPIPE, SIGINT, SIGHUP, SIGTERM, SIGQUIT = 0, 17, 13, 2, 1, 15, 3
local POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 1, 4, 8, 16, 32
local WNOHANG = 1
local POSIX_SPAWN_SETPGROUP, POSIX_SPAWN_SETSIGDEF, POSIX_SPAWN_SETSIGMASK = 2, 4, 8
local CHUNK = 65536

-- Fail now (exit 3, the gateway falls back) if this libc lacks what a start needs.
if not pcall(function() return C.posix_spawn_file_actions_addchdir_np end) then
  io.stderr:write('assist spawner: this C library has no posix_spawn_file_actions_addchdir_np\n')
  os.exit(3)
end

local function errno()
  return ffi.errno()
end

-- The gateway's terminal signals (Ctrl-C, a service manager's SIGTERM to the whole group) are the
-- gateway's business: it drains, then closes our stdin. Writing to a gone gateway is EPIPE, not death.
local SIG_IGN = ffi.cast('sighandler_t', 1)
for _, s in ipairs({ SIGPIPE, SIGINT, SIGHUP, SIGTERM, SIGQUIT }) do C.signal(s, SIG_IGN) end

local chld = ffi.new('sigset_t')
C.sigemptyset(chld)
C.sigaddset(chld, SIGCHLD)
assert(C.sigprocmask(SIG_BLOCK, chld, nil) == 0, 'sigprocmask')
local sigfd = C.signalfd(-1, chld, O_NONBLOCK + O_CLOEXEC)
assert(sigfd >= 0, 'signalfd')

-- Every child: default dispositions for every signal (we ignore some), nothing blocked.
local sigdef = ffi.new('sigset_t')
C.sigfillset(sigdef)
local nomask = ffi.new('sigset_t')
C.sigemptyset(nomask)

---------------------------------------------------------------------------- output to the gateway

local function u32(n)
  return string.char(bit.band(bit.rshift(n, 24), 255), bit.band(bit.rshift(n, 16), 255),
    bit.band(bit.rshift(n, 8), 255), bit.band(n, 255))
end

local outq = {}
local orphaned = false -- the gateway is gone: nothing is sent any more
local function send(...)
  if orphaned then return end
  local parts = {}
  local size = 0
  for i = 1, select('#', ...) do
    local f = tostring((select(i, ...)))
    parts[#parts + 1] = u32(#f)
    parts[#parts + 1] = f
    size = size + 4 + #f
  end
  outq[#outq + 1] = u32(size)
  outq[#outq + 1] = table.concat(parts)
end

local wfds = ffi.new('struct pollfd[1]')
local orphanedExit -- defined with the loop below
local function flush()
  if #outq == 0 then return end
  local data = table.concat(outq)
  outq = {}
  local p = ffi.cast('const char *', data)
  local left = #data
  while left > 0 do
    local n = C.write(1, p, left)
    if n > 0 then
      p = p + n
      left = left - n
    else
      local e = errno()
      if e == EAGAIN then
        wfds[0].fd, wfds[0].events = 1, POLLOUT
        C.poll(wfds, 1, -1)
      elseif e ~= EINTR then
        return orphanedExit() -- the gateway is gone (EPIPE)
      end
    end
  end
end

---------------------------------------------------------------------------- children

local byPid = {} -- pid -> { id = , fds = { fd, fd } }
local stdinOf = {} -- id -> write end of that child's stdin
local pipes = {} -- read fd -> { id = , stream = "1"|"2" }
local pollDirty = true

local buf = ffi.new('char[?]', CHUNK)

-- Reads what `fd` holds now (at most `chunks` reads, so one chatty child cannot starve the others);
-- on end of file closes it and says so. Returns true while it stays open.
local function pump(fd, chunks)
  local p = pipes[fd]
  for _ = 1, chunks do
    local n = C.read(fd, buf, CHUNK)
    local e = n < 0 and errno() or 0
    if n > 0 then
      send('O', p.id, p.stream, ffi.string(buf, n))
      if n < CHUNK then return true end
    elseif e == EAGAIN then
      return true
    elseif e ~= EINTR then -- end of file, or an error that ends this stream the same way
      C.close(fd)
      pipes[fd] = nil
      pollDirty = true
      send('E', p.id, p.stream)
      return false
    end
  end
  return true
end

local status = ffi.new('int[1]')
local function reap()
  while true do
    local pid = C.waitpid(-1, status, WNOHANG)
    if pid <= 0 then
      if pid < 0 and errno() == EINTR then goto continue end
      return
    end
    do
      local child = byPid[pid]
      if child then
        byPid[pid] = nil
        if stdinOf[child.id] then
          C.close(stdinOf[child.id])
          stdinOf[child.id] = nil
        end
        -- Output the child wrote before it died comes before its exit.
        for _, fd in ipairs(child.fds) do
          if pipes[fd] then pump(fd, 1024) end
        end
        local s = status[0]
        local low = bit.band(s, 0x7f)
        if low == 0 then
          send('X', child.id, bit.band(bit.rshift(s, 8), 0xff), '')
        else
          send('X', child.id, '', low)
        end
      end
    end
    ::continue::
  end
end

local function cstrings(list)
  local arr = ffi.new('char *[?]', #list + 1)
  for i, s in ipairs(list) do arr[i - 1] = ffi.cast('char *', s) end
  arr[#list] = nil
  return arr
end

local function envPath(env)
  for _, kv in ipairs(env) do
    if kv:sub(1, 5) == 'PATH=' then return kv:sub(6) end
  end
  return '/usr/bin:/bin' -- libuv's default when the environment has no PATH
end

local pidOut = ffi.new('pid_t[1]')
local pipeFds = ffi.new('int[2]')

-- One posix_spawn of `path`; returns pid or nil, errno.
local function spawnOne(path, argv, env, cwd, inr, outw, errw)
  local fa = ffi.new('spawner_actions_t')
  local attr = ffi.new('spawner_attr_t')
  C.posix_spawn_file_actions_init(fa)
  C.posix_spawnattr_init(attr)
  C.posix_spawn_file_actions_adddup2(fa, inr, 0)
  C.posix_spawn_file_actions_adddup2(fa, outw, 1)
  C.posix_spawn_file_actions_adddup2(fa, errw, 2)
  if cwd ~= '' then C.posix_spawn_file_actions_addchdir_np(fa, cwd) end
  C.posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP + POSIX_SPAWN_SETSIGDEF + POSIX_SPAWN_SETSIGMASK)
  C.posix_spawnattr_setpgroup(attr, 0)
  C.posix_spawnattr_setsigdefault(attr, sigdef)
  C.posix_spawnattr_setsigmask(attr, nomask)
  local cargv, cenv = cstrings(argv), cstrings(env)
  local rc = C.posix_spawn(pidOut, path, fa, attr, cargv, cenv)
  C.posix_spawn_file_actions_destroy(fa)
  C.posix_spawnattr_destroy(attr)
  -- argv/env strings stay referenced (the `argv`/`env` tables) until here.
  if rc ~= 0 then return nil, rc end
  return pidOut[0]
end

local function newPipe()
  if C.pipe2(pipeFds, O_CLOEXEC) ~= 0 then return nil, errno() end
  local r, w = pipeFds[0], pipeFds[1]
  -- Only our end is non-blocking: the child's must stay a normal, blocking stdout.
  C.fcntl(r, F_SETFL, ffi.new('int', bit.bor(C.fcntl(r, F_GETFL), O_NONBLOCK)))
  return r, w
end

local function start(id, cwd, argv, env)
  local outr, outw = newPipe()
  if not outr then return send('F', id, outw) end
  local errr, errw = newPipe()
  if not errr then
    C.close(outr)
    C.close(outw)
    return send('F', id, errw)
  end
  -- stdin: both ends blocking (the child's is a normal stdin; we never write to ours).
  if C.pipe2(pipeFds, O_CLOEXEC) ~= 0 then
    local e = errno()
    for _, fd in ipairs({ outr, outw, errr, errw }) do C.close(fd) end
    return send('F', id, e)
  end
  local inr, inw = pipeFds[0], pipeFds[1]
  local file = argv[1] or ''
  local pid, err
  if file == '' then
    pid, err = nil, ENOENT
  elseif file:find('/', 1, true) then
    pid, err = spawnOne(file, argv, env, cwd, inr, outw, errw)
  else
    -- Like libuv: search the PATH of the child's environment; EACCES wins over ENOENT.
    local sawEacces = false
    err = ENOENT
    for dir in (envPath(env) .. ':'):gmatch('([^:]*):') do
      local candidate = (dir == '' and '.' or dir) .. '/' .. file
      pid, err = spawnOne(candidate, argv, env, cwd, inr, outw, errw)
      if pid then break end
      if err == EACCES then sawEacces = true end
      if err ~= EACCES and err ~= ENOENT and err ~= ENOTDIR then break end
    end
    if not pid and (err == ENOENT or err == ENOTDIR) and sawEacces then err = EACCES end
  end
  C.close(outw)
  C.close(errw)
  C.close(inr)
  if not pid then
    C.close(outr)
    C.close(errr)
    C.close(inw)
    return send('F', id, err)
  end
  stdinOf[id] = inw
  pipes[outr] = { id = id, stream = '1' }
  pipes[errr] = { id = id, stream = '2' }
  byPid[pid] = { id = id, fds = { outr, errr } }
  pollDirty = true
  send('P', id, pid)
end

---------------------------------------------------------------------------- requests from the gateway

local inbuf = ''
local function be32(s, i)
  local a, b, c, d = s:byte(i, i + 3)
  return ((a * 256 + b) * 256 + c) * 256 + d
end

local function handle(fields)
  if fields[1] == 'S' then
    local id, cwd, argc = fields[2], fields[3], tonumber(fields[4])
    local argv, env = {}, {}
    for i = 1, argc do argv[i] = fields[4 + i] end
    for i = 5 + argc, #fields do env[#env + 1] = fields[i] end
    start(id, cwd, argv, env)
  elseif fields[1] == 'C' then
    local w = stdinOf[fields[2]]
    if w then
      C.close(w)
      stdinOf[fields[2]] = nil
    end
  end
end

local function parse()
  local pos = 1
  local len = #inbuf
  while len - pos + 1 >= 4 do
    local size = be32(inbuf, pos)
    if len - pos + 1 < 4 + size then break end
    local fields = {}
    local i, stop = pos + 4, pos + 4 + size
    while i < stop do
      local n = be32(inbuf, i)
      fields[#fields + 1] = inbuf:sub(i + 4, i + 3 + n)
      i = i + 4 + n
    end
    pos = stop
    handle(fields)
  end
  if pos > 1 then inbuf = inbuf:sub(pos) end
end

---------------------------------------------------------------------------- the loop

local pfds, nfds, pfdList = nil, 0, {}
local function rebuild()
  pfdList = { 0, sigfd }
  for fd in pairs(pipes) do pfdList[#pfdList + 1] = fd end
  nfds = #pfdList
  pfds = ffi.new('struct pollfd[?]', nfds)
  for i, fd in ipairs(pfdList) do
    pfds[i - 1].fd = fd
    pfds[i - 1].events = POLLIN
  end
  pollDirty = false
end

local sigbuf = ffi.new('char[1024]')
local ORPHAN_GRACE_MS = 3000

local ts = ffi.new('struct spawner_timespec')
local function nowMs()
  C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

-- The gateway is gone: ask every child to leave, give them a moment, kill the rest, exit.
orphanedExit = function()
  orphaned = true
  outq = {}
  for id, w in pairs(stdinOf) do
    C.close(w)
    stdinOf[id] = nil
  end
  local deadline = nowMs() + ORPHAN_GRACE_MS
  while next(byPid) ~= nil and nowMs() < deadline do
    if pollDirty then rebuild() end
    pfds[0].fd = -1 -- stdin has ended: poll ignores it
    if C.poll(pfds, nfds, 100) > 0 then
      for i = 2, nfds - 1 do
        local fd = pfds[i].fd
        if pfds[i].revents ~= 0 and pipes[fd] then pump(fd, 4) end -- read and dropped
      end
      if pfds[1].revents ~= 0 then
        while C.read(sigfd, sigbuf, 1024) > 0 do end
        reap()
      end
    end
  end
  for pid in pairs(byPid) do C.kill(-pid, 9) end
  os.exit(0)
end

send('H', C.getpid())
flush()
while true do
  if pollDirty then rebuild() end
  local n = C.poll(pfds, nfds, -1)
  if n < 0 then
    if errno() ~= EINTR then os.exit(1) end
  else
    -- Pipes first, then exits (a reaped child's pipes are pumped before its exit is sent anyway).
    for i = 2, nfds - 1 do
      local ev = pfds[i].revents
      if ev ~= 0 then
        local fd = pfds[i].fd
        if pipes[fd] then pump(fd, 4) end
      end
    end
    if pfds[1].revents ~= 0 then
      while C.read(sigfd, sigbuf, 1024) > 0 do end
      reap()
    end
    if pfds[0].revents ~= 0 then
      local r = C.read(0, buf, CHUNK)
      if r > 0 then
        inbuf = inbuf .. ffi.string(buf, r)
        parse()
      elseif r == 0 or (errno() ~= EINTR and errno() ~= EAGAIN) then
        flush()
        orphanedExit()
      end
    end
    flush()
  end
end
