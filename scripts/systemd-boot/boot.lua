-- The app the systemd check launches (allo/boot.lua of /srv/allo/apps/clock inside the container).
-- Run by the gateway as: luajit allo/boot.lua <app root> <place url>, like a real Alloverse app. It does
-- what a real app needs its sandbox to allow, then idles until signalled:
--   * loads its native library from allo/lib through the FFI (as the real boot script loads liballonet),
--   * compiles and runs JIT traces (machine code in memory LuaJIT writes, then executes),
--   * writes into its own folder (ReadWritePaths),
--   * sends a UDP datagram to the place URL it was given (as ENet does), carrying what it saw.
local ffi = require('ffi')
local root, url = arg[1], arg[2]
ffi.cdef([[
int getpid(void);
int pause(void);
int allonet_test_marker(void);
struct sockaddr_in { unsigned short sin_family; unsigned short sin_port; unsigned int sin_addr; unsigned char sin_zero[8]; };
int socket(int domain, int type, int protocol);
long sendto(int fd, const void *buf, unsigned long len, int flags, const struct sockaddr_in *to, unsigned int tolen);
int inet_pton(int af, const char *src, void *dst);
unsigned short htons(unsigned short v);
char *strerror(int errnum);
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

local host, port = url:match('^alloplace://([%d.]+):(%d+)$')
if not host then fail('expected alloplace://IPv4:PORT, got ' .. tostring(url)) end
local fd = ffi.C.socket(2, 2, 0) -- AF_INET, SOCK_DGRAM
if fd < 0 then fail('socket(AF_INET, SOCK_DGRAM): ' .. ffi.string(ffi.C.strerror(ffi.errno()))) end
local to = ffi.new('struct sockaddr_in')
to.sin_family = 2
to.sin_port = ffi.C.htons(tonumber(port))
if ffi.C.inet_pton(2, host, ffi.cast('char *', to) + 4) ~= 1 then -- &to.sin_addr
  fail('inet_pton ' .. host)
end
local msg = string.format('hello token=%s pid=%d marker=%d traces=%d jit=%s sum=%d', token, pid, marker, traces,
  tostring(jit.status()), sum)
if ffi.C.sendto(fd, msg, #msg, 0, to, ffi.sizeof(to)) ~= #msg then
  fail('sendto: ' .. ffi.string(ffi.C.strerror(ffi.errno())))
end

io.stdout:write('clock up: ', msg, '\n')
io.stdout:flush()
while true do ffi.C.pause() end
