/**
 * LIVE and opt-in: the unit `assist generate systemd` writes, under a real systemd as PID 1. Runs
 * scripts/verify-systemd-boot.sh, which boots Debian bookworm's systemd in a systemd-nspawn container and
 * there installs the unit as an admin would, starts it, launches a real LuaJIT app through the gateway as
 * a place does (POST + the app's UDP datagram back), checks the cgroup, user, sandbox, journal, stop,
 * enable and restart, for an apps root (system user) and for an app in a home folder (template unit).
 *
 * Skipped unless ALLO_TEST_SYSTEMD_BOOT=1: it needs root, systemd-nspawn (apt-get install
 * systemd-container) and debootstrap, and its first run downloads a Debian root file system (~60 MB) into
 * ALLO_SYSTEMD_BOOT_CACHE (default /var/cache/allo-assist/systemd-boot). Build first (npm run build).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const SCRIPT = fileURLToPath(new URL('../../scripts/verify-systemd-boot.sh', import.meta.url))
const enabled = process.env.ALLO_TEST_SYSTEMD_BOOT === '1'

/** Runs the script; if the test is cancelled (timeout), SIGTERM makes it power the container off. */
function runScript(signal: AbortSignal): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT], {
      stdio: ['ignore', 'pipe', 'pipe'],
      signal,
      killSignal: 'SIGTERM',
    })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      out += d
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, out }))
  })
}

test('the generated unit runs the gateway and a LuaJIT app under systemd as PID 1', {
  skip: enabled
    ? false
    : 'set ALLO_TEST_SYSTEMD_BOOT=1 to boot systemd in a container (root, systemd-nspawn, debootstrap)',
  // The first run builds the root file system with debootstrap; later runs take about a minute.
  timeout: 20 * 60_000,
}, async (t) => {
  const { code, out } = await runScript(t.signal)
  const lines = out.split('\n')
  // On failure: every failed check, then the end of the output (the journals and the summary).
  const tail = [...lines.filter((l) => /^\s*FAIL: /.test(l)), '…', ...lines.slice(-40)].join('\n')
  assert.equal(code, 0, `verify-systemd-boot.sh exited ${code}:\n${tail}`)
  assert.doesNotMatch(out, /^\s*FAIL: /m, tail)
  const passed = Number(/RESULT: PASS \((\d+) checks\)/.exec(out)?.[1] ?? 0)
  // Both set-ups ran to the end (a script that stopped early would report fewer checks).
  assert.ok(passed >= 80, `only ${passed} checks ran:\n${tail}`)
  for (const must of [
    /PASS: POST http:\/\/127\.0\.0\.1:8000\/clock answers 200/,
    /PASS: the instance is in the unit's cgroup \(\/system\.slice\/allo-gateway-apps\.service\)/,
    /PASS: LuaJIT's JIT is on and compiled traces/,
    /PASS: no process of user allo is left/,
    /PASS: the gateway ended it with SIGKILL after its --grace/,
    /PASS: a killed gateway is restarted/,
    /PASS: POST http:\/\/127\.0\.0\.1:8101\/ answers 200/,
    /PASS: no process of user alice is left/,
    /PASS: the app's output is in the unit's journal/,
  ])
    assert.match(out, must)
})
