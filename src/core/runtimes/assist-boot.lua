-- assist-boot.lua: how the launcher core starts every Lua app (see src/core/runtimes/lua.ts).
--
--     luajit assist-boot.lua <the app's boot script> <app folder> <place URL>
--
-- It prepares the process, then runs the app's own boot script (allo/boot.lua or alloui's
-- app_boot.lua) exactly as `luajit <boot script> <app folder> <place URL>` would, touching no file
-- of the app. What it adds:
--   * stdout line-buffered and stderr unbuffered, so prints reach `assist` as they happen;
--   * alloui's Client.poll hands liballonet's alloclient_poll(client, int timeout_ms) whole
--     milliseconds (alloui passes seconds, e.g. 0.025, which C truncates to 0: a busy loop);
--     off with ALLO_ASSIST_POLL_FIX=0 (assist's --no-poll-fix);
--   * a request to leave: end of file on stdin (ALLO_ASSIST_LEAVE=stdin) ends alloui's run loop the
--     way App:quit() does, so alloui disconnects from the place before the process exits;
--   * when its parent (assist, or serve's spawner) dies, even by SIGKILL, its stdin closes: the app
--     leaves the place and exits as on any request to leave (SIGPIPE is ignored so that printing to
--     the dead parent's pipe cannot kill it first; SIGALRM ends a goodbye that hangs);
--   * ends alloui hides are reported in the exit status: 80 = alloui caught an error in the app,
--     81 = the place ended the connection (lost, or refused the app). A leave asked for exits 0;
--   * the place is told which launch an agent came from: "assist_instance" (ALLO_ASSIST_INSTANCE) is
--     added to the identity alloui announces.
-- An error in the app's boot script itself ends the process as luajit would (status 1), after
-- disconnecting any alloui client that had not.
local EXIT_APP_ERROR, EXIT_LOST_PLACE = 80, 81

local bootScript = arg and arg[1]
if not bootScript then
  io.stderr:write('usage: luajit assist-boot.lua <boot script> <app folder> <place URL>\n')
  os.exit(2)
end

io.stdout:setvbuf('line')
io.stderr:setvbuf('no')

local ffi = require('ffi')
local bit = require('bit')
local getenv = os.getenv

-- 1. Die with the parent. Its end of our stdin closes when it dies, however it dies: that is a
--    request to leave like any other (below). The parent may have died before we got here.
--    A write to a stdout nobody reads any more must then fail instead of killing the app before it
--    could leave the place: SIGPIPE is ignored.
local parentPid = tonumber(getenv('ALLO_ASSIST_PARENT_PID') or '')
pcall(ffi.cdef, [[
typedef void (*assist_sighandler_t)(int);
assist_sighandler_t signal(int signum, assist_sighandler_t handler);
int getppid(void);
unsigned int alarm(unsigned int seconds);
]])
if ffi.os ~= 'Windows' then
  pcall(function() ffi.C.signal(13, ffi.cast('assist_sighandler_t', 1)) end) -- SIGPIPE, SIG_IGN
  if parentPid and ffi.C.getppid() ~= parentPid then os.exit(0) end
end

-- 2. The leave request: end of file (or any byte) on stdin.
local leaveOnStdin = getenv('ALLO_ASSIST_LEAVE') == 'stdin'
pcall(ffi.cdef, [[
struct assist_pollfd { int fd; short events; short revents; };
int poll(struct assist_pollfd *fds, unsigned long nfds, int timeout);
]])
local pfd = ffi.new('struct assist_pollfd[1]')
local POLLIN, POLLERR, POLLHUP, POLLNVAL = 1, 8, 16, 32
local function leaveRequested()
  pfd[0].fd, pfd[0].events, pfd[0].revents = 0, POLLIN, 0
  local n = ffi.C.poll(pfd, 1, 0)
  return n > 0 and bit.band(pfd[0].revents, POLLIN + POLLERR + POLLHUP + POLLNVAL) ~= 0
end

local pollFix = getenv('ALLO_ASSIST_POLL_FIX') ~= '0'
local instanceToken = getenv('ALLO_ASSIST_INSTANCE')

local state = { crashed = false, lost = false, leaving = false }
-- Every alloui client seen polling, and whether it has disconnected (for the last-resort goodbye).
local clients = setmetatable({}, { __mode = 'k' })

-- Ends this client's run loop the way App:quit() does; alloui then disconnects and returns.
local function leave(client)
  state.leaving = true
  -- If nobody is left to escalate (the parent died), a goodbye that hangs still ends: SIGALRM.
  if parentPid and ffi.os ~= 'Windows' and ffi.C.getppid() ~= parentPid then ffi.C.alarm(5) end
  local a = rawget(_G, 'app')
  if type(a) == 'table' and a.client == client and a.running ~= nil then
    a.running = false
    return
  end
  -- Not run by alloui's App: disconnect this client ourselves and end.
  pcall(client.disconnect, client, 0)
  os.exit(0)
end

-- 3. alloui's client module, wrapped when it is loaded.
local function wrapClient(Client)
  if type(Client) ~= 'table' or type(Client.poll) ~= 'function' or Client.__assist_wrapped then return end
  Client.__assist_wrapped = true
  local poll = Client.poll
  local wrappedDelegates = setmetatable({}, { __mode = 'k' })
  Client.poll = function(self, timeout)
    if clients[self] == nil then
      clients[self] = 'connected'
      -- Tell assist we listen (launcher.ts LEAVE_MARKER): it then waits for us before SIGTERM.
      if leaveOnStdin and not state.announcedListening then
        state.announcedListening = true
        io.stderr:write('\1assist:leaves-on-stdin-eof\n')
      end
    end
    if leaveOnStdin and not state.leaving and leaveRequested() then leave(self) end
    local d = self.delegates
    if type(d) == 'table' and type(d.onDisconnected) == 'function' and wrappedDelegates[d] ~= d.onDisconnected then
      local original = d.onDisconnected
      local wrapped = function(...)
        if not state.leaving then state.lost = true end
        return original(...)
      end
      wrappedDelegates[d] = wrapped
      d.onDisconnected = wrapped
    end
    -- Seconds (fractional) → whole milliseconds; an alloui that passes milliseconds is left alone.
    if pollFix and type(timeout) == 'number' and timeout > 0 and timeout % 1 ~= 0 then
      timeout = math.floor(timeout * 1000 + 0.5)
    end
    return poll(self, timeout)
  end
  -- C calls back into Lua from alloclient_poll: never compile it (as alloui does for its own poll).
  if jit and jit.off then jit.off(Client.poll) end

  if type(Client.disconnect) == 'function' then
    local disconnect = Client.disconnect
    Client.disconnect = function(self, ...)
      clients[self] = 'disconnected'
      return disconnect(self, ...)
    end
  end

  if instanceToken and instanceToken ~= '' and type(Client.connect) == 'function' then
    local connect = Client.connect
    Client.connect = function(self, ...)
      local handle = self.handle
      if handle == nil then return connect(self, ...) end
      self.handle = setmetatable({
        alloclient_connect = function(c, url, identity, avatar)
          if type(identity) == 'string' and identity:match('^%s*{') then
            local rest = identity:gsub('^%s*{', '', 1)
            local sep = rest:match('^%s*}') and '' or ','
            identity = '{"assist_instance":"' .. instanceToken:gsub('[^%w%-_.]', '') .. '"' .. sep .. rest
          end
          return handle.alloclient_connect(c, url, identity, avatar)
        end,
      }, { __index = function(_, k) return handle[k] end })
      local ok, r1, r2 = pcall(connect, self, ...)
      self.handle = handle
      if not ok then error(r1, 0) end
      return r1, r2
    end
  end
end

-- alloui's App: an error its run loop catches (xpcall) is remembered for the exit status.
local function wrapApp(App)
  if type(App) ~= 'table' or type(App._run) ~= 'function' or App.__assist_wrapped then return end
  App.__assist_wrapped = true
  local run = App._run
  App._run = function(self, ...)
    local args = { n = select('#', ...), ... }
    local ok, err = xpcall(function() return run(self, unpack(args, 1, args.n)) end, function(e)
      state.crashed = true
      -- Keep where it happened: alloui prints the traceback of the point it caught the error.
      if type(e) == 'string' then return debug.traceback(e, 2) end
      return e
    end)
    if not ok then error(err, 0) end
  end
end

local WRAPPERS = {
  { pattern = 'alloui%.client$', wrap = wrapClient },
  { pattern = 'alloui%.app$', wrap = wrapApp },
}

local loaders = package.loaders or package.searchers
table.insert(loaders, 1, function(name)
  for _, w in ipairs(WRAPPERS) do
    if name:match(w.pattern) then
      local notes = {}
      for i = 2, #loaders do
        local loader = loaders[i](name)
        if type(loader) == 'function' then
          return function(...)
            local mod = loader(...)
            if mod == nil then mod = package.loaded[name] end
            w.wrap(mod)
            return mod
          end
        elseif type(loader) == 'string' then
          notes[#notes + 1] = loader
        end
      end
      return table.concat(notes)
    end
  end
  return nil
end)

-- 4. The app's own boot script, as `luajit <boot script> <app folder> <place URL>` runs it.
local script = bootScript
local appArgs = {}
for i = 2, #arg do appArgs[#appArgs + 1] = arg[i] end
local newArg = { [0] = script }
for i = -1, -10, -1 do
  if arg[i] == nil then break end
  newArg[i - 1] = arg[i]
end
newArg[-1] = arg[0]
for i, v in ipairs(appArgs) do newArg[i] = v end
arg = newArg

local chunk, loadErr = loadfile(script)
if not chunk then error(loadErr, 0) end
local ok, err = xpcall(chunk, function(e) return debug.traceback(e, 2) end, unpack(appArgs))
if not ok then
  -- An error that escaped alloui's run loop (e.g. Ctrl-C landing after it returned): say goodbye
  -- to the place for every client that has not, then end as luajit would.
  for client, how in pairs(clients) do
    if how ~= 'disconnected' then pcall(client.disconnect, client, 0) end
  end
  io.stderr:write('luajit: ', tostring(err), '\n')
  os.exit(1)
end

if state.crashed then os.exit(EXIT_APP_ERROR) end
if state.lost and not state.leaving then os.exit(EXIT_LOST_PLACE) end
