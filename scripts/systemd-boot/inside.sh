#!/bin/bash
# Runs INSIDE the booted container, as root, as systemd's kernel-command-line.service (systemd.run=):
# does what an admin does on a fresh Debian host (a user, an app folder, `assist generate systemd
# --install`, systemctl start), plays the place (POST + UDP), checks the result, stops the unit and checks
# that nothing is left. Two set-ups:
#   A. a system user "allo" serving an apps root, /srv/allo/apps (POST /clock), one unit; a second app
#      ignores SIGTERM and leaves a process in its own session; then enable, and a gateway crash;
#   B. a login user "alice" serving the app in her home, /home/alice/clock (POST /), as a template unit
#      with two gateways (--instances 2): ProtectHome=read-only with the app folder writable.
# Every check prints "VERIFY PASS: …" or "VERIFY FAIL: …"; the exit status (0 = all passed) becomes the
# container's, so scripts/verify-systemd-boot.sh sees it.
set -u
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin SYSTEMD_PAGER='' SYSTEMD_COLORS=0
NODE=/usr/local/bin/node
ASSIST=("$NODE" /opt/allo-assist/bin/run.js)
TOKEN='verify-admin-token-0123456789abcdef'
fails=0
checks=0
units=()
pass() { checks=$((checks + 1)); echo "VERIFY PASS: $*"; }
fail() {
  checks=$((checks + 1))
  fails=$((fails + 1))
  echo "VERIFY FAIL: $*"
}
check() { # check "what" command…
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
section() { echo "VERIFY ---- $*"; }
json_field() { $NODE -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s)[process.argv[1]]??"")}catch{}})' "$1"; }
# The cgroup systemd put a process in: the unified hierarchy's line ("0::") on a cgroup v2 system, the
# "name=systemd" one on a hybrid/v1 system (/proc/PID/cgroup lists every hierarchy the kernel has).
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
  cgroup_of() { sed -n 's/^0:://p' "/proc/$1/cgroup"; }
else
  cgroup_of() { sed -n 's/^[0-9]*:name=systemd://p' "/proc/$1/cgroup"; }
fi
finish() {
  for u in "${units[@]}"; do
    echo "VERIFY journal of $u (journalctl -u $u -o short-monotonic):"
    journalctl -u "$u" --no-pager -o short-monotonic | sed 's/^/VERIFY | /'
  done
  if [ "$fails" -eq 0 ]; then
    echo "VERIFY RESULT: PASS ($checks checks)"
    exit 0
  fi
  echo "VERIFY RESULT: FAIL ($fails of $checks checks failed)"
  exit 1
}

# make_app DIR OWNER: a Lua app laid out like the template (allo/boot.lua, lua/main.lua, allo/lib/…).
make_app() {
  install -d "$1/lua" "$1/allo/lib"
  install -m 0644 /opt/verify/boot.lua "$1/allo/boot.lua"
  install -m 0644 /opt/verify/liballonet.so "$1/allo/lib/liballonet.so"
  echo 'print("clock main")' >"$1/lua/main.lua"
  echo '{"display_name": "Clock", "author": "verify-systemd-boot"}' >"$1/info.json"
  chown -R "$2:" "$1"
}

# install_unit FILE: prints it, adds the ALLO_SYSTEMD_BOOT_DROPIN drop-in if any, verifies, rates it.
install_unit() {
  local file=$1 name
  name=$(basename "$file")
  check "the unit is at $file" [ -f "$file" ]
  [ -f "$file" ] || finish
  sed 's/^/VERIFY unit | /' "$file"
  if [ -f /opt/verify/dropin.conf ]; then # trying a change to the unit
    install -D -m 0644 /opt/verify/dropin.conf "$file.d/verify.conf"
    sed 's/^/VERIFY drop-in | /' /opt/verify/dropin.conf
  fi
  systemctl daemon-reload
  local verify
  verify=$(systemd-analyze verify "$file" 2>&1)
  check "systemd-analyze verify is silent${verify:+: $verify}" [ -z "$verify" ]
  local rated=$name
  [[ $name == *@.service ]] && rated=${name/@.service/@$2.service}
  section "systemd-analyze security $rated: $(systemd-analyze security --no-pager "$rated" 2>&1 | tail -1)"
  systemd-analyze security --no-pager "$rated" 2>&1 | grep -E '^✗' | sed 's/^/VERIFY security | /'
}

# launch_and_check UNIT URL APPDIR USER: a place's launch, then where and how the instance runs.
launch_and_check() {
  local unit=$1 url=$2 app=$3 user=$4 launch pid hello main cg
  launch=$($NODE /opt/verify/launch.mjs "$url")
  local rc=$?
  echo "VERIFY launch | $launch"
  check "POST $url answers 200 {\"status\":\"ok\",…} and the app's UDP datagram reaches the place" [ "$rc" -eq 0 ]
  pid=$(json_field pid <<<"$launch")
  hello=$(json_field hello <<<"$launch")
  check "the app loaded its native library through the FFI (marker=42)" grep -q 'marker=42' <<<"$hello"
  check "LuaJIT's JIT is on and compiled traces" grep -qE 'jit=true' <<<"$hello"
  grep -qE 'traces=[1-9]' <<<"$hello" || fail "no JIT trace was compiled: $hello"
  check "the app wrote into its own folder (ReadWritePaths=)" [ -s "$app/state/hello.txt" ]
  check "the app could not write to its HOME (ProtectSystem=strict / ProtectHome=read-only)" grep -q 'home=denied' <<<"$hello"
  check "the app could write its private /tmp (PrivateTmp=)" grep -q 'tmp=ok' <<<"$hello"
  check "that /tmp file is not in the system's /tmp" [ ! -e /tmp/clock-probe.txt ]
  if [ -z "$pid" ] || [ ! -d "/proc/$pid" ]; then
    fail "the instance pid from the answer ($pid) is not a running process"
    return
  fi
  pass "the instance (pid $pid) is running"
  check "the instance is luajit" [ "$(cat "/proc/$pid/comm")" = luajit ]
  check "the instance runs as user $user" [ "$(stat -c %U "/proc/$pid")" = "$user" ]
  cg=$(cgroup_of "$pid")
  check "the instance is in the unit's cgroup ($cg)" [ "$cg" = "$(systemctl show -P ControlGroup "$unit")" ]
  main=$(systemctl show -P MainPID "$unit")
  # (its exe, not its comm: Node 24 renames its main thread "MainThread")
  check "the gateway (MainPID $main) is node, in the same cgroup" \
    [ "$(readlink "/proc/$main/exe")" = "$NODE" -a "$(cgroup_of "$main")" = "$cg" ]
  sleep 5
  check "the instance is still up 5 s later" [ -d "/proc/$pid" ]
  local base=${url%/*} inst
  inst=$($NODE -e 'fetch(process.argv[1] + "/instances", { headers: { authorization: "Bearer " + process.argv[2] } })
    .then(async (r) => console.log(r.status, await r.text())).catch((e) => console.log(0, String(e)))' "$base" "$TOKEN")
  echo "VERIFY instances | $inst"
  check "GET /instances (admin token from EnvironmentFile=) lists it" grep -q "\"pid\":$pid" <<<"$inst"
  check "the unit is active" [ "$(systemctl is-active "$unit")" = active ]
  check "the app's output is in the unit's journal" bash -c "journalctl -u $unit --no-pager -o cat | grep -q 'clock up: hello token='"
  check "the journal has the gateway's listening line" bash -c "journalctl -u $unit --no-pager -o cat | grep -q 'Gateway listening on'"
  check "the journal has no ANSI colour codes" bash -c "! journalctl -u $unit --no-pager -o cat | grep -q $'\x1b\\['"
  LAST_PID=$pid
}

# stop_and_check UNIT INSTANCE_PID: systemctl stop, then nothing of the unit is left.
stop_and_check() {
  local unit=$1 pid=${2:-0} cgdir
  cgdir=/sys/fs/cgroup$(systemctl show -P ControlGroup "$unit")
  systemctl stop "$unit"
  check "systemctl stop $unit returns 0" [ $? -eq 0 ]
  check "the unit is inactive (not failed)" [ "$(systemctl is-active "$unit")" = inactive ]
  check "the unit's result is success" [ "$(systemctl show -P Result "$unit")" = success ]
  check "the instance is gone" [ ! -d "/proc/$pid" ]
  check "the unit's cgroup is gone or empty" bash -c "[ ! -e $cgdir/cgroup.procs ] || [ -z \"\$(cat $cgdir/cgroup.procs)\" ]"
  # (Not "stopping N instance(s)": systemd signals the whole cgroup (KillMode=control-group), so an app
  # may die of systemd's SIGTERM before the gateway handles its own; it then logs that exit instead.)
  check "the journal shows the gateway draining and exiting on SIGTERM" \
    bash -c "journalctl -u $unit --no-pager -o cat | grep -q 'SIGTERM: shutting down' &&
      journalctl -u $unit --no-pager -o cat | grep -q 'all instances stopped; bye'"
}

section "systemd: $(systemctl --version | head -1), cgroup $(stat -fc %T /sys/fs/cgroup), node $($NODE --version), $(luajit -v | cut -d' ' -f1-2)"
# The container has its own network (--private-network) with only "lo". A real host has an address on
# some interface, and getaddrinfo(AI_ADDRCONFIG) — which ENet's resolver uses — finds no name without one
# (loopback doesn't count). Give it one: a veth pair that lives entirely inside the container.
if ! { ip link add veth-a type veth peer name veth-b && ip addr add 10.213.0.1/24 dev veth-a &&
  ip link set veth-a up && ip link set veth-b up; }; then
  fail "could not give the container a network address"
fi
install -d -m 0750 /etc/allo
install -m 0600 /dev/null /etc/allo/gateway.env
echo "ASSIST_ADMIN_TOKEN=$TOKEN" >/etc/allo/gateway.env

# ------------------------------------------------------------------------------------------------------
section 'A. system user allo, apps root /srv/allo/apps, assist generate systemd --install'
UNIT=allo-gateway-apps.service
units+=("$UNIT")
useradd --system --home-dir /srv/allo --no-create-home --shell /usr/sbin/nologin allo
install -d -m 0755 /srv/allo /srv/allo/apps
make_app /srv/allo/apps/clock allo
make_app /srv/allo/apps/stubborn allo
echo '{"env": {"CLOCK_STUBBORN": "1", "CLOCK_DAEMON": "1"}}' >/srv/allo/apps/stubborn/alloapp.json
chown allo: /srv/allo /srv/allo/apps
out=$(cd /srv/allo/apps && "${ASSIST[@]}" generate systemd --user allo --apps-root /srv/allo/apps \
  --luajit /usr/bin/luajit --max-instances 8 --max-per-place 4 --max-lifetime 12h \
  --environment-file /etc/allo/gateway.env --install 2>&1)
rc=$?
echo "$out" | sed 's/^/VERIFY | /'
check "generate systemd --install exits 0" [ "$rc" -eq 0 ]
install_unit "/etc/systemd/system/$UNIT"
systemctl start "$UNIT"
check "systemctl start returns 0" [ $? -eq 0 ]
LAST_PID=0
launch_and_check "$UNIT" http://127.0.0.1:8000/clock /srv/allo/apps/clock allo
clock_pid=$LAST_PID
LAST_PID=0
launch_and_check "$UNIT" http://127.0.0.1:8000/stubborn /srv/allo/apps/stubborn allo
stubborn_pid=$LAST_PID
daemon_pid=$(cat /srv/allo/apps/stubborn/state/daemon.pid 2>/dev/null)
check "the stubborn app left a process in its own session (pid $daemon_pid)" [ -n "$daemon_pid" -a -d "/proc/${daemon_pid:-0}" ]
stop_and_check "$UNIT" "$clock_pid"
check "the SIGTERM-ignoring instance is gone too" [ ! -d "/proc/$stubborn_pid" ]
check "the process it left in its own session is gone (systemd emptied the cgroup)" [ ! -d "/proc/${daemon_pid:-0}" ]
check "the gateway ended it with SIGKILL after its --grace, before TimeoutStopSec (the result is success)" \
  bash -c "journalctl -u $UNIT --no-pager -o cat | grep -qE 'stubborn#[0-9]+ killed by SIGKILL'"
left=$(pgrep -u allo -a)
check "no process of user allo is left${left:+: $left}" [ -z "$left" ]

section 'A. systemctl enable: started on boot (multi-user.target), then restart after a crash (Restart=on-failure)'
systemctl enable "$UNIT" 2>&1 | sed 's/^/VERIFY | /'
check "systemctl enable links it into multi-user.target" [ -L "/etc/systemd/system/multi-user.target.wants/$UNIT" ]
check "multi-user.target now wants it" bash -c "systemctl list-dependencies --plain multi-user.target | grep -q ' $UNIT'"
systemctl start "$UNIT"
launch=$($NODE /opt/verify/launch.mjs http://127.0.0.1:8000/clock)
orphan=$(json_field pid <<<"$launch")
check "an instance runs before the crash (pid $orphan)" [ -n "$orphan" -a -d "/proc/${orphan:-0}" ]
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
check "the dead gateway's instance did not outlive it (systemd ended it before the restart)" [ ! -d "/proc/${orphan:-0}" ]
systemctl stop "$UNIT"

# ------------------------------------------------------------------------------------------------------
section 'B. login user alice, the app in her home, template unit, --instances 2 --port 8100'
useradd --create-home --shell /bin/bash alice
chmod 0700 /home/alice
make_app /home/alice/clock alice
TEMPLATE=allo-gateway-clock@.service
out=$(cd /home/alice/clock && "${ASSIST[@]}" generate systemd --user alice --instances 2 --port 8100 \
  --environment-file /etc/allo/gateway.env --install 2>&1)
rc=$?
echo "$out" | sed 's/^/VERIFY | /'
check "generate systemd --instances 2 --install exits 0" [ "$rc" -eq 0 ]
check "the unit keeps homes read-only (ProtectHome=read-only)" grep -qx 'ProtectHome=read-only' "/etc/systemd/system/$TEMPLATE"
install_unit "/etc/systemd/system/$TEMPLATE" 8100
units+=(allo-gateway-clock@8100.service allo-gateway-clock@8101.service)
systemctl start allo-gateway-clock@8100.service allo-gateway-clock@8101.service
check "systemctl start of both instances returns 0" [ $? -eq 0 ]
LAST_PID=0
launch_and_check allo-gateway-clock@8101.service http://127.0.0.1:8101/ /home/alice/clock alice
check "the other gateway (@8100) is active too" [ "$(systemctl is-active allo-gateway-clock@8100.service)" = active ]
check "it listens on 8100 (PORT=%i)" $NODE -e 'fetch("http://127.0.0.1:8100/health").then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))'
stop_and_check allo-gateway-clock@8101.service "$LAST_PID"
systemctl stop allo-gateway-clock@8100.service
left=$(pgrep -u alice -a)
check "no process of user alice is left${left:+: $left}" [ -z "$left" ]
finish
