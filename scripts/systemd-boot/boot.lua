-- The app the systemd check launches (allo/boot.lua of /srv/allo/apps/clock inside the container).
-- Run by the gateway as: luajit allo/boot.lua <app root> <place url>, like a real Alloverse app. It does
-- what a real app needs its sandbox to allow, then idles until signalled:
--   * loads its native library from allo/lib through the FFI (as the real boot script loads liballonet),
--   * compiles and runs JIT traces (machine code in memory LuaJIT writes, then executes),
--   * writes into its own folder (ReadWritePaths) and its /tmp, and cannot write to its HOME,
--   * resolves the place's host name and sends it a UDP datagram (as ENet does), carrying what it saw.
local ffi = require('ffi')
local root, url = arg[1], arg[2]
ffi.cdef([[
int getpid(void);
int pause(void);
int allonet_test_marker(void);
struct sockaddr_in { unsigned short sin_family; unsigned short sin_port; unsigned int sin_addr; unsigned char sin_zero[8]; };
int socket(int domain, int type, int protocol);
long sendto(int fd, const void *buf, unsigned long len, int flags, const struct sockaddr_in *to, unsigned int tolen);
unsigned short htons(unsigned short v);
char *strerror(int errnum);
struct addrinfo { int ai_flags; int ai_family; int ai_socktype; int ai_protocol; unsigned int ai_addrlen;
  struct sockaddr_in *ai_addr; char *ai_canonname; struct addrinfo *ai_next; };
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res);
void freeaddrinfo(struct addrinfo *res);
]])

local function fail(what)
  io.stderr:write('clock: ', what, '\n')
  io.stderr:flush()
  os.exit(4)
end

local marker = ffi.load(root .. '/allo/lib/liballonet.so').allonet_test_marker()

os.execute('mkdir -p "' .. root .. '/state"')
local jitlog = root .. '/state/jit.log'
local v = require('jit.v')
v.on(jitlog)
local sum = 0
for i = 1, 2000000 do
  sum = sum + i % 7
end
v.off()
local traces = 0
for line in io.lines(jitlog) do
  if line:match('^%[TRACE%s+%d+ ') then traces = traces + 1 end
end

local token = (os.getenv('ALLO_APP_BOOT_ARGS') or ''):match('"avatarToken"%s*:%s*"([^"]*)"') or '?'
local pid = ffi.C.getpid()
local out = assert(io.open(root .. '/state/hello.txt', 'w'))
out:write(token, ' ', pid, '\n')
out:close()

-- The place's host name is resolved as ENet does (getaddrinfo), here with AI_ADDRCONFIG (0x20), the
-- variant that asks the kernel for the machine's addresses first.
-- What the sandbox refuses and allows: its HOME is read-only, its /tmp is private and writable.
local function try_write(path)
  local f = io.open(path, 'w')
  if not f then return 'denied' end
  f:write('probe\n')
  f:close()
  return 'ok'
end
local home = os.getenv('HOME') or '/nonexistent'
local home_w = try_write(home .. '/clock-probe.txt')
if home_w == 'ok' then home_w = 'written' end
local tmp_w = try_write('/tmp/clock-probe.txt')

local host, port = url:match('^alloplace://([%w.-]+):(%d+)$')
if not host then fail('expected alloplace://HOST:PORT, got ' .. tostring(url)) end
local hints = ffi.new('struct addrinfo')
hints.ai_family, hints.ai_socktype, hints.ai_flags = 2, 2, 0x20 -- AF_INET, SOCK_DGRAM, AI_ADDRCONFIG
local res = ffi.new('struct addrinfo *[1]')
local gai = ffi.C.getaddrinfo(host, port, hints, res)
if gai ~= 0 then fail('getaddrinfo(' .. host .. ') failed: ' .. gai) end
local to = ffi.new('struct sockaddr_in')
ffi.copy(to, res[0].ai_addr, ffi.sizeof(to))
ffi.C.freeaddrinfo(res[0])
local fd = ffi.C.socket(2, 2, 0) -- AF_INET, SOCK_DGRAM
if fd < 0 then fail('socket(AF_INET, SOCK_DGRAM): ' .. ffi.string(ffi.C.strerror(ffi.errno()))) end
local msg = string.format('hello token=%s pid=%d marker=%d traces=%d jit=%s sum=%d home=%s tmp=%s', token, pid,
  marker, traces, tostring(jit.status()), sum, home_w, tmp_w)
if ffi.C.sendto(fd, msg, #msg, 0, to, ffi.sizeof(to)) ~= #msg then
  fail('sendto: ' .. ffi.string(ffi.C.strerror(ffi.errno())))
end

-- CLOCK_DAEMON=1 (the app's alloapp.json "env"): leave a process in its own session behind, out of the
-- reach of the gateway's process-group kill; only systemd's cgroup can end it.
if os.getenv('CLOCK_DAEMON') == '1' then
  os.execute('setsid sleep 100000 </dev/null >/dev/null 2>&1 & echo $! > "' .. root .. '/state/daemon.pid"')
end

-- CLOCK_STUBBORN=1 (the app's alloapp.json "env"): ignore SIGTERM, so only the gateway's SIGKILL after its
-- --grace ends it.
if os.getenv('CLOCK_STUBBORN') == '1' then
  ffi.cdef('typedef void (*sighandler_t)(int); sighandler_t signal(int, sighandler_t);')
  ffi.C.signal(15, ffi.cast('sighandler_t', 1)) -- SIG_IGN
end

io.stdout:write('clock up: ', msg, '\n')
io.stdout:flush()
while true do ffi.C.pause() end
