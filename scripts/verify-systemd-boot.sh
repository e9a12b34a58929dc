#!/usr/bin/env bash
# Verifies the unit "assist generate systemd" writes under a REAL systemd as PID 1: boots a Debian
# bookworm container (systemd-nspawn), where scripts/systemd-boot/inside.sh installs the unit as an admin
# would, starts it, launches a real LuaJIT app through the gateway as a place does, and checks the
# cgroup, the journal, stop and restart. Exits 0 only when every check passed; prints a summary.
#
# Needs root, systemd-nspawn (apt-get install systemd-container), debootstrap, cc, and a built checkout
# (npm ci && npm run build). The first run builds the root file system with debootstrap from the Debian
# mirror into the cache (ALLO_SYSTEMD_BOOT_CACHE, default /var/cache/allo-assist/systemd-boot); later runs
# reuse it and never modify it (the container runs on a throw-away overlay: --volatile=overlay).
# The checkout and this machine's node are bind-mounted read-only; the container has its own network.
#   ALLO_SYSTEMD_BOOT_TIMEOUT  seconds the container may run (default 300)
#   ALLO_SYSTEMD_BOOT_KEEP=1   keep the work folder (console log) even on success
#   ALLO_SYSTEMD_BOOT_DROPIN=FILE  a drop-in (.conf) added to the generated unit: to try a change to it
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${ALLO_SYSTEMD_BOOT_CACHE:-/var/cache/allo-assist/systemd-boot}
rootfs=$cache/bookworm-v3 # bump the suffix when the package list changes
timeout_s=${ALLO_SYSTEMD_BOOT_TIMEOUT:-300}
mirror=${ALLO_SYSTEMD_BOOT_MIRROR:-http://deb.debian.org/debian}
started=$(date +%s)

say() { printf 'verify-systemd-boot: %s\n' "$*"; }
die() {
  say "$*" >&2
  exit 2
}

[ "$(id -u)" -eq 0 ] || die "run as root (it boots a container with systemd-nspawn)."
for tool in systemd-nspawn debootstrap cc node timeout flock; do
  command -v "$tool" >/dev/null ||
    die "$tool is missing: apt-get install -y systemd-container debootstrap gcc coreutils util-linux (and Node >= 20)."
done
if [ ! -f "$repo/dist/commands/generate/systemd.js" ] || [ ! -d "$repo/node_modules/@oclif/core" ]; then
  die "$repo is not built: run npm ci && npm run build there first."
fi
node_bin=$(readlink -f "$(command -v node)")

# 1. The root file system, built once (under a lock, so parallel runs don't build it twice).
mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9
if [ ! -e "$rootfs/.complete" ]; then
  say "building the Debian bookworm root file system in $rootfs (once; about a minute)…"
  rm -rf "$rootfs.tmp"
  # libstdc++6: the bind-mounted node needs it. procps: pgrep in the checks. iproute2: a network interface.
  if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,luajit,libstdc++6,procps,iproute2 \
    bookworm "$rootfs.tmp" "$mirror" >"$cache/debootstrap.log" 2>&1; then
    tail -20 "$cache/debootstrap.log" >&2
    die "debootstrap failed (full log: $cache/debootstrap.log)."
  fi
  # What the Debian installer writes and debootstrap doesn't: without it "localhost" doesn't resolve.
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$rootfs.tmp/etc/hosts"
  touch "$rootfs.tmp/.complete"
  rm -rf "$rootfs"
  mv "$rootfs.tmp" "$rootfs"
fi
flock -u 9

# 2. What the container gets read-only at /opt/verify: the driver, the place stand-in, the app's boot
# script and its native library (a real shared object, built here).
work=$(mktemp -d /tmp/verify-systemd-boot.XXXXXX)
machine=allo-verify-$$
nspawn_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  # Interrupted while the container runs: "timeout" passes the TERM on to nspawn, which powers the
  # container off (and is KILLed if that takes over 15 s).
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    kill -TERM "$nspawn_pid" 2>/dev/null || true
    wait "$nspawn_pid" 2>/dev/null || true
  fi
  if [ "${ALLO_SYSTEMD_BOOT_KEEP:-}" = 1 ] || [ "${failed:-1}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$work/verify"
cp "$repo/scripts/systemd-boot/inside.sh" "$repo/scripts/systemd-boot/launch.mjs" \
  "$repo/scripts/systemd-boot/boot.lua" "$work/verify/"
if [ -n "${ALLO_SYSTEMD_BOOT_DROPIN:-}" ]; then cp "$ALLO_SYSTEMD_BOOT_DROPIN" "$work/verify/dropin.conf"; fi
echo 'int allonet_test_marker(void) { return 42; }' >"$work/marker.c"
cc -shared -fPIC -o "$work/verify/liballonet.so" "$work/marker.c"

# 3. Boot. systemd.run= makes the container's systemd run inside.sh once booted (as
# kernel-command-line.service, output on the console) and exit with its status when it ends.
# --register=no/--keep-unit: no machined or host systemd needed. The unified cgroup hierarchy is what a
# current Debian/Ubuntu host runs (forced: a host mounting the hybrid layout would otherwise get hybrid).
say "booting systemd in a container ($machine; log: $work/console.log)…"
set +e
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 timeout --kill-after=15 "$timeout_s" \
  systemd-nspawn --quiet --boot --directory="$rootfs" --volatile=overlay --machine="$machine" \
  --register=no --keep-unit --private-network \
  --bind-ro="$repo:/opt/allo-assist" --bind-ro="$node_bin:/usr/local/bin/node" \
  --bind-ro="$work/verify:/opt/verify" \
  systemd.run=/opt/verify/inside.sh systemd.run_success_action=exit systemd.run_failure_action=exit \
  </dev/null >"$work/console.log" 2>&1 &
nspawn_pid=$!
wait "$nspawn_pid"
rc=$?
set -e
nspawn_pid=

# 4. Summary.
grep -a 'VERIFY' "$work/console.log" | sed 's/^.*VERIFY /  /' || true
took=$(($(date +%s) - started))
if [ "$rc" -eq 0 ] && grep -aq 'VERIFY RESULT: PASS' "$work/console.log"; then
  failed=0
  say "PASS: the generated unit runs the gateway and a LuaJIT app under systemd as PID 1 (${took}s)."
  exit 0
fi
failed=1
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  say "the container did not finish within ${timeout_s}s (ALLO_SYSTEMD_BOOT_TIMEOUT)."
fi
if ! grep -aq 'VERIFY' "$work/console.log"; then
  say "the checks never ran; the container's console ends with:"
  tail -30 "$work/console.log" | sed 's/^/  | /'
fi
say "FAIL (exit $rc, ${took}s); full console log: $work/console.log"
exit 1
