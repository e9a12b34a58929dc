/**
 * Generated systemd units, checked by the real systemd-analyze: `verify` must pass without a single
 * warning, and `security --offline=true` must score at or under the goal recorded in BENCHMARKS.md.
 * (systemd is not PID 1 here, so the unit cannot be started; verify + security are the real checks.)
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { cliEntryPath, nodeBinaryPath, parseAccounts } from '../../src/core/deploy/files.js'
import { accountChecks } from '../../src/core/deploy/index.js'
import {
  defaultUnitName,
  isRootAccount,
  renderSystemdUnit,
  resolveSystemdOptions,
  riskyEnvWarnings,
  type SystemdOptions,
  stopTimeoutSeconds,
} from '../../src/core/deploy/systemd.js'
import { UserError } from '../../src/core/errors.js'
import { removeDir } from '../helpers/app.js'
import { EXEC_UNDER_TMP } from '../helpers/cli.js'
import {
  DEFAULT_UNIT_EXPOSURE_GOAL,
  deployWorkDir,
  EXPOSURE_GOAL,
  systemdExposure,
  systemdVerify,
} from '../helpers/deploy.js'

const work = deployWorkDir('systemd-')
after(() => removeDir(work))

function base(extra: Partial<SystemdOptions> = {}): SystemdOptions {
  return {
    workDir: work,
    appsRoot: false,
    nodePath: nodeBinaryPath(),
    cliPath: cliEntryPath(),
    // a checkout under /tmp (a CI clone may be) still renders; the refusal's own test turns this off
    allowTmpExec: EXEC_UNDER_TMP,
    user: 'allo',
    ...extra,
  }
}

function lines(text: string): string[] {
  return text.split('\n')
}

describe('renderSystemdUnit', () => {
  test('default unit: absolute ExecStart, env, restart, stop timeout, hardening, no MemoryDenyWriteExecute', () => {
    const text = renderSystemdUnit(resolveSystemdOptions(base()))
    const l = lines(text)
    assert.ok(l.includes(`ExecStart=${nodeBinaryPath()} ${cliEntryPath()} serve --grace 5000`))
    assert.ok(l.includes(`WorkingDirectory=${work}`))
    assert.ok(l.includes('User=allo'))
    assert.ok(!l.some((x) => x.startsWith('Group=')))
    assert.ok(l.includes('Environment=PORT=8000'))
    assert.ok(l.includes('Environment=NODE_ENV=production'))
    assert.ok(!l.some((x) => x.startsWith('Environment=APPS_ROOT')))
    assert.ok(l.includes('Restart=on-failure'))
    assert.ok(l.includes('StartLimitBurst=5'))
    assert.ok(l.includes('KillMode=control-group'))
    assert.ok(l.includes('TimeoutStopSec=10s'))
    assert.ok(l.includes(`ReadWritePaths=${work}`))
    assert.ok(l.includes('ProtectSystem=strict'))
    assert.ok(l.includes('ProtectHome=yes'))
    assert.ok(l.includes('RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK'))
    assert.ok(!l.some((x) => x.startsWith('MemoryDenyWriteExecute')))
    assert.ok(l.some((x) => x.startsWith('#') && x.includes('MemoryDenyWriteExecute')))
  })

  test('apps root sets APPS_ROOT; serve flags pass through; grace drives TimeoutStopSec', () => {
    const u = resolveSystemdOptions(
      base({
        appsRoot: true,
        host: '127.0.0.1',
        maxInstances: 20,
        maxPerPlace: 3,
        maxLifetime: '12h',
        logFormat: 'json',
        maxBody: 32768,
        graceMs: 12_500,
        group: 'allo',
        env: ['LOG_LEVEL=debug', 'GREETING=hello world'],
        environmentFile: '/etc/allo/gateway.env',
      }),
    )
    const l = lines(renderSystemdUnit(u))
    assert.ok(l.includes(`Environment=APPS_ROOT=${work}`))
    assert.ok(l.includes('Group=allo'))
    assert.ok(l.includes('Environment="LOG_LEVEL=debug"'))
    assert.ok(l.includes('Environment="GREETING=hello world"'))
    assert.ok(l.includes('EnvironmentFile=/etc/allo/gateway.env'))
    assert.ok(
      l.includes(
        `ExecStart=${nodeBinaryPath()} ${cliEntryPath()} serve --host 127.0.0.1 --max-instances 20 --max-per-place 3 --max-lifetime 43200 --log-format json --max-body 32768 --grace 12500`,
      ),
    )
    assert.equal(stopTimeoutSeconds(12_500), 18)
    assert.ok(l.includes('TimeoutStopSec=18s'))
  })

  test('--instances: template unit with the port from %i and one enable line per port', () => {
    const u = resolveSystemdOptions(base({ name: 'gw', instances: 3, port: 9000 }))
    assert.equal(u.fileName, 'gw@.service')
    assert.deepEqual(u.enableUnits, ['gw@9000.service', 'gw@9001.service', 'gw@9002.service'])
    const text = renderSystemdUnit(u)
    assert.ok(lines(text).includes('Environment=PORT=%i'))
  })

  test('a path under /home or /root keeps homes read-only instead of hidden', () => {
    const u = resolveSystemdOptions(base({ workDir: '/home/allo/apps' }))
    assert.ok(lines(renderSystemdUnit(u)).includes('ProtectHome=read-only'))
  })

  test('default name comes from the folder', () => {
    assert.equal(defaultUnitName('/srv/allo/my clock!'), 'allo-gateway-my-clock-')
    assert.equal(defaultUnitName('/srv/apps'), 'allo-gateway-apps')
  })

  test('refuses root without --allow-root, and nobody', () => {
    assert.throws(
      () => resolveSystemdOptions(base({ user: 'root' })),
      (e: Error) => {
        assert.ok(e instanceof UserError)
        assert.match(e.message, /Refusing to run the gateway as root.*--user NAME.*--allow-root/)
        return true
      },
    )
    assert.throws(() => resolveSystemdOptions(base({ user: '0' })), UserError)
    assert.throws(() => resolveSystemdOptions(base({ user: 'nobody' })), /dedicated user/)
    assert.ok(resolveSystemdOptions(base({ user: 'root', allowRoot: true })))
  })

  test('refuses app folders under /tmp, reserved env keys, duplicate env keys, ports past 65535', () => {
    assert.throws(() => resolveSystemdOptions(base({ workDir: '/tmp/app' })), /under \/tmp.*PrivateTmp/)
    assert.throws(() => resolveSystemdOptions(base({ env: ['PORT=1'] })), /use --port/)
    assert.throws(() => resolveSystemdOptions(base({ env: ['APPS_ROOT=/x'] })), /use --apps-root/)
    assert.throws(() => resolveSystemdOptions(base({ env: ['A=1', 'A=2'] })), /twice/)
    assert.throws(() => resolveSystemdOptions(base({ port: 65535, instances: 2 })), /65535/)
    assert.throws(() => resolveSystemdOptions(base({ logFormat: 'xml' })), /human or json/)
    assert.throws(() => resolveSystemdOptions(base({ maxLifetime: '12 hours' })), /--max-lifetime/)
  })

  test('refuses uid and gid 0 in any spelling, and the root group (issue 20, info)', () => {
    for (const user of ['0', '00', '000'])
      assert.throws(() => resolveSystemdOptions(base({ user })), /Refusing to run the gateway as root/, user)
    for (const group of ['root', '0', '00'])
      assert.throws(
        () => resolveSystemdOptions(base({ group })),
        /Refusing --group .*root's group rights.*--allow-root/,
        group,
      )
    assert.ok(resolveSystemdOptions(base({ user: '00', group: 'root', allowRoot: true })))
    assert.equal(resolveSystemdOptions(base({ group: '100' })).group, '100', 'other ids pass')
  })

  test('refuses to point ExecStart= at an assist or node under /tmp (issue 14)', () => {
    assert.throws(
      () =>
        resolveSystemdOptions(
          base({ cliPath: '/tmp/npx-123/node_modules/allo-assist/bin/run.js', allowTmpExec: false }),
        ),
      /This assist \(\/tmp\/npx-123\/.*run\.js\) lives under \/tmp.*PrivateTmp/,
    )
    assert.throws(
      () =>
        resolveSystemdOptions(
          base({
            nodePath: '/var/tmp/node/bin/node',
            cliPath: '/opt/allo-assist/bin/run.js',
            allowTmpExec: false,
          }),
        ),
      /node running this .*\/var\/tmp/,
    )
  })

  test('warns about --env variables that change what runs (issue 20, info)', () => {
    const u = resolveSystemdOptions(
      base({
        env: ['LD_PRELOAD=/x.so', 'PATH=/evil:/usr/bin', 'NODE_OPTIONS=--require /x.js', 'LOG_LEVEL=debug'],
      }),
    )
    const w = riskyEnvWarnings(u.env)
    assert.equal(w.length, 3)
    assert.match(w[0], /--env LD_PRELOAD=… changes which code the gateway runs/)
    assert.match(w[1], /--env PATH=/)
    assert.match(w[2], /--env NODE_OPTIONS=/)
    assert.equal(isRootAccount('0000'), true)
    assert.equal(isRootAccount('10'), false)
  })
})

describe('accounts on this machine (issue 14)', () => {
  const accounts = parseAccounts(
    'root:x:0:0:root:/root:/bin/bash\nallo:x:998:997::/srv/allo:/usr/sbin/nologin\n',
    'root:x:0:\nallo-grp:x:997:\nweb:x:33:\n',
  )
  test("Group= defaults to the user's primary group", () => {
    assert.deepEqual(accountChecks('allo', undefined, accounts), { group: 'allo-grp', warnings: [] })
    assert.deepEqual(accountChecks('998', undefined, accounts), { group: 'allo-grp', warnings: [] })
    assert.deepEqual(accountChecks('allo', 'web', accounts), { group: 'web', warnings: [] })
  })
  test('warns when the user or group does not exist here', () => {
    const u = accountChecks('ghost', undefined, accounts)
    assert.equal(u.group, undefined)
    assert.match(
      u.warnings[0],
      /--user ghost does not exist on this machine \(not in \/etc\/passwd\).*useradd --system ghost/,
    )
    const g = accountChecks('allo', 'nogroup-here', accounts)
    assert.match(g.warnings[0], /--group nogroup-here does not exist on this machine/)
    assert.equal(accountChecks('allo', '33', accounts).warnings.length, 0)
  })
})

const MATRIX: Array<[string, Partial<SystemdOptions>]> = [
  ['default', {}],
  [
    'apps root + every serve flag',
    {
      appsRoot: true,
      host: '0.0.0.0',
      maxInstances: 50,
      maxPerPlace: 5,
      maxLifetime: '30m',
      logFormat: 'json',
      maxBody: 65536,
      graceMs: 0,
    },
  ],
  [
    'group + env + environment file',
    {
      group: 'www-data',
      env: ['LOG_LEVEL=debug', 'MOTD=hello there, world'],
      environmentFile: '/etc/allo/gateway.env',
    },
  ],
  ['template, 4 instances', { name: 'allo-gw', instances: 4, port: 8100 }],
  ['numeric uid, long grace', { user: '1000', graceMs: 120_000 }],
  ['under /home (ProtectHome=read-only)', { workDir: '/home/allo/apps', appsRoot: true }],
  ['root, allowed', { user: 'root', allowRoot: true }],
]

describe('systemd-analyze on generated units (real tool)', () => {
  for (const [label, extra] of MATRIX) {
    test(`${label}: verify passes cleanly; security exposure ≤ ${EXPOSURE_GOAL}`, async () => {
      const u = resolveSystemdOptions(base(extra))
      const file = join(work, u.fileName)
      writeFileSync(file, renderSystemdUnit(u))
      const v = await systemdVerify(file)
      assert.equal(v.code, 0, `verify failed:\n${v.stderr}`)
      assert.equal(v.stderr.trim(), '', `verify warned:\n${v.stderr}`)
      const exposure = await systemdExposure(file)
      assert.ok(
        exposure.score <= EXPOSURE_GOAL,
        `exposure ${exposure.score} ${exposure.rating} is above the goal ${EXPOSURE_GOAL}:\n${exposure.output}`,
      )
      assert.equal(exposure.rating, 'OK')
    })
  }

  test(`the default unit scores ≤ ${DEFAULT_UNIT_EXPOSURE_GOAL}; a naive unit scores far worse (the anchor)`, async () => {
    const u = resolveSystemdOptions(base({ name: 'default-score' }))
    const file = join(work, u.fileName)
    writeFileSync(file, renderSystemdUnit(u))
    const ours = await systemdExposure(file)
    assert.ok(ours.score <= DEFAULT_UNIT_EXPOSURE_GOAL, `default unit exposure ${ours.score}`)
    const naive = join(work, 'naive.service')
    writeFileSync(naive, `[Service]\nExecStart=${nodeBinaryPath()} ${cliEntryPath()} serve\n`)
    const anchor = await systemdExposure(naive)
    assert.ok(anchor.score > 9, `naive unit exposure ${anchor.score}`)
  })

  test('verify catches a broken unit (the check can fail)', async () => {
    const file = join(work, 'broken.service')
    writeFileSync(file, '[Service]\nExecStart=/nonexistent/node serve\nKillMode=sometimes\n')
    const v = await systemdVerify(file)
    assert.ok(v.code !== 0 || v.stderr.trim() !== '', 'systemd-analyze verify accepted a broken unit')
  })
})
