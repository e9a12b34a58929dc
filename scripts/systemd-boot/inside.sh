#!/bin/bash
# Runs INSIDE the booted container, as root, as systemd's kernel-command-line.service (systemd.run=):
# does what an admin does on a fresh Debian host (user, app folder, `assist generate systemd --install`,
# systemctl start), plays the place (POST + UDP), checks the result, stops the unit, checks nothing is
# left. Every check prints "VERIFY PASS: …" or "VERIFY FAIL: …"; the exit status (0 = all passed)
# becomes the container's, so scripts/verify-systemd-boot.sh sees it.
set -u
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin SYSTEMD_PAGER= SYSTEMD_COLORS=0
NODE=/usr/local/bin/node
ASSIST=(/usr/local/bin/node /opt/allo-assist/bin/run.js)
APPS=/srv/allo/apps
APP=$APPS/clock
UNIT=allo-gateway-apps.service
CG=/sys/fs/cgroup/system.slice/$UNIT
TOKEN=verify-admin-token-0123456789abcdef
fails=0
checks=0
pass() { checks=$((checks + 1)); echo "VERIFY PASS: $*"; }
fail() { checks=$((checks + 1)) fails=$((fails + 1)); echo "VERIFY FAIL: $*"; }
check() { # check "what" command…
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
section() { echo "VERIFY ---- $*"; }
finish() {
  echo "VERIFY journal of $UNIT (journalctl -u $UNIT -o short-monotonic):"
  journalctl -u "$UNIT" --no-pager -o short-monotonic | sed 's/^/VERIFY | /'
  if [ "$fails" -eq 0 ]; then
    echo "VERIFY RESULT: PASS ($checks checks)"
    exit 0
  fi
  echo "VERIFY RESULT: FAIL ($fails of $checks checks failed)"
  exit 1
}

section "systemd: $(systemctl --version | head -1), cgroup $(stat -fc %T /sys/fs/cgroup), node $($NODE --version), $(luajit -v | cut -d' ' -f1-2)"

section 'set up the host as an admin would'
useradd --system --home-dir /srv/allo --no-create-home --shell /usr/sbin/nologin allo
install -d -m 0755 /srv/allo "$APPS"
install -d "$APP/lua" "$APP/allo/lib" "$APP/allo/deps"
install -m 0644 /opt/verify/boot.lua "$APP/allo/boot.lua"
install -m 0644 /opt/verify/liballonet.so "$APP/allo/lib/liballonet.so"
echo 'print("clock main")' >"$APP/lua/main.lua"
echo '{"display_name": "Clock", "author": "verify-systemd-boot"}' >"$APP/info.json"
chown -R allo:allo /srv/allo
install -d -m 0750 /etc/allo
install -m 0600 /dev/null /etc/allo/gateway.env
echo "ASSIST_ADMIN_TOKEN=$TOKEN" >/etc/allo/gateway.env

section 'assist generate systemd --install'
cd "$APPS" || exit 1
out=$("${ASSIST[@]}" generate systemd --user allo --apps-root "$APPS" --luajit /usr/bin/luajit \
  --max-instances 8 --max-per-place 4 --max-lifetime 12h --environment-file /etc/allo/gateway.env 2>&1 --install)
rc=$?
echo "$out" | sed 's/^/VERIFY | /'
check "generate systemd --install exits 0" [ "$rc" -eq 0 ]
check "the unit is at /etc/systemd/system/$UNIT" [ -f "/etc/systemd/system/$UNIT" ]
[ -f "/etc/systemd/system/$UNIT" ] || finish
sed 's/^/VERIFY unit | /' "/etc/systemd/system/$UNIT"
if [ -f /opt/verify/dropin.conf ]; then # ALLO_SYSTEMD_BOOT_DROPIN: try a change to the unit
  install -D -m 0644 /opt/verify/dropin.conf "/etc/systemd/system/$UNIT.d/verify.conf"
  sed 's/^/VERIFY drop-in | /' /opt/verify/dropin.conf
fi
systemctl daemon-reload
verify=$(systemd-analyze verify "/etc/systemd/system/$UNIT" 2>&1)
check "systemd-analyze verify is silent${verify:+: $verify}" [ -z "$verify" ]
exposure=$(systemd-analyze security --no-pager "$UNIT" 2>&1 | tail -1)
section "systemd-analyze security: $exposure"
systemd-analyze security --no-pager "$UNIT" 2>&1 | grep -E '^✗' | sed 's/^/VERIFY security | /'

section 'systemctl start'
systemctl start "$UNIT"
check "systemctl start returns 0" [ $? -eq 0 ]

section 'a place POSTs a launch'
launch=$($NODE /opt/verify/launch.mjs "http://127.0.0.1:8000/clock")
rc=$?
echo "VERIFY launch | $launch"
check "the launch POST answers 200 {\"status\":\"ok\"} and the app's UDP datagram reaches the place" [ "$rc" -eq 0 ]
pid=$(echo "$launch" | $NODE -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).pid??"")}catch{}})')
hello=$(echo "$launch" | $NODE -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).hello??"")}catch{}})')
check "the app loaded its native library through the FFI (marker=42)" grep -q 'marker=42' <<<"$hello"
check "LuaJIT's JIT is on and compiled traces (no MemoryDenyWriteExecute trouble)" grep -qE 'jit=true' <<<"$hello"
grep -qE 'traces=[1-9]' <<<"$hello" || fail "no JIT trace was compiled: $hello"
check "the app wrote into its own folder (ReadWritePaths)" [ -s "$APP/state/hello.txt" ]

if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then
  pass "the instance (pid $pid) is running"
  check "the instance is luajit" [ "$(cat "/proc/$pid/comm")" = luajit ]
  check "the instance runs as user allo" [ "$(stat -c %U "/proc/$pid")" = allo ]
  # /proc/PID/cgroup lists every hierarchy the kernel has; the unified one (what systemd uses) is "0::".
  cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
  check "the instance is in the unit's cgroup ($cg)" [ "$cg" = "/system.slice/$UNIT" ]
  main=$(systemctl show -P MainPID "$UNIT")
  check "the gateway (MainPID $main) is node, in the same cgroup" \
    [ "$(cat "/proc/$main/comm")" = node -a "$(sed -n 's/^0:://p' "/proc/$main/cgroup")" = "/system.slice/$UNIT" ]
  sleep 5
  check "the instance is still up 5 s later" [ -d "/proc/$pid" ]
  inst=$($NODE -e '
    fetch("http://127.0.0.1:8000/instances", { headers: { authorization: "Bearer '"$TOKEN"'" } })
      .then(async (r) => console.log(r.status, await r.text())).catch((e) => console.log(0, String(e)))')
  echo "VERIFY instances | $inst"
  check "GET /instances (admin token from EnvironmentFile=) lists it" grep -q "\"pid\":$pid" <<<"$inst"
else
  fail "the instance pid from the answer ($pid) is not a running process"
fi
check "the unit is active" [ "$(systemctl is-active "$UNIT")" = active ]
check "the app's output is in the unit's journal" \
  bash -c "journalctl -u $UNIT --no-pager -o cat | grep -q 'clock up: hello token='"
check "the journal has the gateway's listening line" \
  bash -c "journalctl -u $UNIT --no-pager -o cat | grep -q 'Gateway listening on'"
check "the journal has no ANSI colour codes" bash -c "! journalctl -u $UNIT --no-pager -o cat | grep -q $'\x1b\\['"

section 'systemctl stop'
systemctl stop "$UNIT"
check "systemctl stop returns 0" [ $? -eq 0 ]
check "the unit is inactive (not failed)" [ "$(systemctl is-active "$UNIT")" = inactive ]
check "the unit's result is success" [ "$(systemctl show -P Result "$UNIT")" = success ]
check "the instance is gone" [ ! -d "/proc/${pid:-0}" ]
left=$(pgrep -u allo -a)
check "no process of user allo is left${left:+: $left}" [ -z "$left" ]
check "the unit's cgroup is gone or empty" bash -c "[ ! -e $CG/cgroup.procs ] || [ -z \"\$(cat $CG/cgroup.procs)\" ]"
check "the journal shows the gateway stopping its instance" \
  bash -c "journalctl -u $UNIT --no-pager -o cat | grep -qi 'stopping 1 instance'"

section 'restart after a crash (Restart=on-failure)'
systemctl start "$UNIT"
old=$(systemctl show -P MainPID "$UNIT")
new=
[ "$old" -gt 0 ] && kill -KILL "$old" # never "kill 0": that would be this script's own process group
for _ in $(seq 1 100); do
  [ "$old" -gt 0 ] || break
  new=$(systemctl show -P MainPID "$UNIT")
  [ "$new" != 0 ] && [ "$new" != "$old" ] && [ "$(systemctl is-active "$UNIT")" = active ] && break
  sleep 0.2
done
check "a killed gateway is restarted (MainPID $old -> $new)" [ "$old" -gt 0 -a -n "$new" -a "$new" != 0 -a "$new" != "$old" ]
systemctl stop "$UNIT"
finish
