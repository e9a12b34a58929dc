/**
 * The container renderers (src/core/deploy/docker.ts): the Dockerfile's shape (stages, what each
 * copies, the runtime's user/init/healthcheck/stop signal), compose.yaml read back with a real YAML
 * parser, the .dockerignore, that every template carries exactly what `generate docker` writes, and
 * that hostile values are refused before anything is rendered. The image itself is built and run
 * for real in test/e2e/container.test.ts.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { parse } from 'yaml'
import {
  DEFAULT_BASE_IMAGE,
  type DockerSetup,
  defaultImageName,
  dockerFiles,
  renderCompose,
  renderDockerfile,
  renderDockerignore,
  resolveDockerOptions,
} from '../../src/core/deploy/docker.js'
import { UserError } from '../../src/core/errors.js'
import { renderText } from '../../src/core/scaffold/render.js'
import { listTemplates } from '../../src/core/scaffold/templates.js'

const TEMPLATES = fileURLToPath(new URL('../../templates', import.meta.url))

function setup(o: Partial<Parameters<typeof resolveDockerOptions>[0]> = {}): DockerSetup {
  return resolveDockerOptions({ appFolder: 'Clock App', assistVersion: '1.2.3', ...o })
}

/** The Dockerfile's stages: the text from each FROM to the next. */
function stages(text: string): string[] {
  return text.split(/^(?=FROM )/m).slice(1)
}

function refuses(fn: () => unknown, option: string): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof UserError, `not a UserError: ${e}`)
    assert.ok(e.message.includes(option), `message does not name ${option}: ${e.message}`)
    assert.ok(!e.message.includes('\n'), 'one line')
    return true
  })
}

describe('Dockerfile', () => {
  const text = renderDockerfile(setup())
  const [assist, deps, runtime] = stages(text)

  test('three stages on one base image chosen by a build argument', () => {
    assert.equal(stages(text).length, 3)
    assert.match(text, new RegExp(`^ARG BASE_IMAGE=${DEFAULT_BASE_IMAGE}$`, 'm'))
    assert.match(assist, /^FROM \$BASE_IMAGE AS assist$/m)
    assert.match(deps, /^FROM assist AS deps$/m)
    assert.match(runtime, /^FROM \$BASE_IMAGE$/m)
  })

  test('assist comes from npm at the version given, through a build argument', () => {
    assert.match(assist, /^ARG ASSIST_PACKAGE=allo-assist@1\.2\.3$/m)
    assert.match(assist, /npm install --global --prefix \/opt\/assist .*"\$ASSIST_PACKAGE"/)
    assert.doesNotMatch(text, /COPY .*(src|dist|bin)\//, 'never copied from a checkout')
  })

  test('the build stage gets allonet three ways and alloui; it copies only allo/ (dependencies before code)', () => {
    assert.match(deps, /assist fetch --from "\$ALLONET_FROM"/)
    assert.match(deps, /assist fetch --base-url "\$ALLONET_BASE_URL"/)
    assert.match(deps, /assist fetch --build/)
    assert.match(deps, /git clone --quiet --recursive "\$ALLOUI_URL" allo\/deps\/alloui/)
    const copies = deps.match(/^COPY .*$/gm)
    assert.deepEqual(copies, ['COPY allo/ allo/'])
    // compilers only when neither a mirror nor a file is given
    assert.match(deps, /if \[ -z "\$ALLONET_BASE_URL\$ALLONET_FROM" \]; then echo cmake make gcc g\+\+/)
  })

  test('the runtime stage: LuaJIT and tini, no compilers or git; dependencies before the app; non-root', () => {
    assert.match(runtime, /apt-get install -y --no-install-recommends luajit tini\b/)
    for (const tool of ['cmake', 'gcc', 'g++', ' git', 'make'])
      assert.ok(!runtime.includes(tool), `runtime stage mentions ${tool}`)
    const copies = runtime.match(/^COPY .*$/gm) ?? []
    assert.deepEqual(copies, [
      'COPY --from=assist /opt/assist /opt/assist',
      'COPY --from=deps --chown=10001:10001 /app/allo/ allo/',
      'COPY --chown=10001:10001 . .',
    ])
    assert.match(runtime, /^USER 10001:10001$/m)
    assert.ok(
      runtime.indexOf('USER ') > runtime.indexOf('COPY --chown=10001:10001 . .'),
      'the app is copied in before the user switch',
    )
    assert.match(runtime, /^STOPSIGNAL SIGTERM$/m)
    assert.match(runtime, /^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m)
    assert.match(runtime, /^CMD \["assist", "serve", "--host", "0\.0\.0\.0", "--grace", "5000"\]$/m)
    assert.match(runtime, /^EXPOSE 8000$/m)
    assert.match(runtime, /^HEALTHCHECK .*\n {4}CMD \["node", "-e", ".*\/health.*"\]$/m)
  })

  test('port and grace follow the options, with the stop timeout that covers the drain', () => {
    const t = renderDockerfile(setup({ port: '9000', graceMs: '12000' }))
    assert.match(t, /^EXPOSE 9000$/m)
    assert.match(t, /PORT=9000$/m)
    assert.match(t, /"--grace", "12000"\]$/m)
    assert.match(t, /--stop-timeout 17 /)
    assert.match(t, /process\.env\.PORT\|\|9000/)
  })

  test('the healthcheck script is valid JavaScript', () => {
    const cmd = /CMD (\["node", "-e", .*\])$/m.exec(runtime)?.[1]
    const argv = JSON.parse(cmd ?? 'null') as string[]
    assert.doesNotThrow(() => new Function(argv[2]))
  })
})

describe('.dockerignore', () => {
  test('keeps git metadata, the host-built native library and logs out of the build', () => {
    const lines = renderDockerignore()
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
    for (const l of ['.git', '**/.git', 'allo/lib/', '**/*.log', 'node_modules/', '.env'])
      assert.ok(lines.includes(l), `missing ${l}`)
    assert.ok(!lines.some((l) => l === 'allo/' || l === 'allo/deps/' || l === 'lua/'), 'the app stays in')
  })
})

describe('templates', () => {
  test('every template lays down the Dockerfile and .dockerignore generate docker writes (this version)', () => {
    const templates = listTemplates(TEMPLATES)
    assert.ok(templates.length >= 2)
    const values = { name: 'clock', displayName: 'Clock', author: 'A', assistVersion: '1.2.3' }
    const expected = dockerFiles(resolveDockerOptions({ appFolder: 'clock', assistVersion: '1.2.3' }))
    for (const t of templates) {
      for (const [src, out] of [
        ['Dockerfile', 'Dockerfile'],
        ['_dockerignore', '.dockerignore'],
      ]) {
        const dir = [t.dir, ...t.include].find((d) => {
          try {
            readFileSync(join(d, src))
            return true
          } catch {
            return false
          }
        })
        assert.ok(dir, `${t.name} has no ${src}`)
        const rendered = renderText(out, readFileSync(join(dir, src), 'utf8'), values)
        assert.equal(
          rendered,
          expected.find((f) => f.rel === out)?.text,
          `templates/…/${src} differs from what generate docker writes: regenerate it from renderDockerfile/renderDockerignore`,
        )
      }
    }
  })
})

describe('compose.yaml', () => {
  test('the gateway: built here, its port, restart policy, healthcheck, stop grace, locked down', () => {
    const doc = parse(renderCompose(setup()))
    assert.equal(doc.name, 'clock-app')
    const gw = doc.services.gateway
    assert.equal(gw.build, '.')
    assert.equal(gw.image, 'clock-app')
    assert.deepEqual(gw.ports, ['8000:8000'])
    assert.equal(gw.restart, 'unless-stopped')
    assert.equal(gw.stop_grace_period, '10s')
    assert.equal(gw.healthcheck.test[0], 'CMD')
    assert.match(gw.healthcheck.test[3], /\/health/)
    assert.equal(gw.read_only, undefined, 'alloui opens asset files read-write')
    assert.deepEqual(gw.tmpfs, ['/tmp'])
    assert.equal(parse(renderCompose(setup({ readOnlyRoot: true }))).services.gateway.read_only, true)
    assert.deepEqual(gw.cap_drop, ['ALL'])
    assert.deepEqual(gw.security_opt, ['no-new-privileges:true'])
    assert.equal(doc.services.nginx, undefined)
  })

  test('with a domain: nginx in front with the site generate nginx writes; the gateway is not published', () => {
    const s = setup({ domain: 'Apps.Example.com' })
    const doc = parse(renderCompose(s))
    assert.equal(doc.services.gateway.ports, undefined)
    assert.deepEqual(doc.services.gateway.expose, ['8000'])
    const ngx = doc.services.nginx
    assert.deepEqual(ngx.ports, ['80:80', '443:443'])
    assert.deepEqual(ngx.depends_on, { gateway: { condition: 'service_healthy' } })
    assert.ok(
      ngx.volumes.includes('./nginx/apps.example.com.conf:/etc/nginx/conf.d/apps.example.com.conf:ro'),
    )
    const files = dockerFiles(s)
    const site = files.find((f) => f.rel === 'nginx/apps.example.com.conf')?.text ?? ''
    assert.match(site, /server gateway:8000 /)
    assert.match(site, /server_name apps\.example\.com;/)
    assert.doesNotMatch(site, /listen \[::\]/, 'no IPv6 listen on a compose network')
  })
})

describe('validation', () => {
  test('names are derived from the folder, lowercase and safe', () => {
    assert.equal(defaultImageName('Clock App'), 'clock-app')
    assert.equal(defaultImageName('__x__'), 'x')
    assert.equal(defaultImageName('…'), 'allo-app')
    fc.assert(
      fc.property(fc.string(), (folder) => {
        assert.match(defaultImageName(folder), /^[a-z0-9][a-z0-9_-]{0,62}$/)
      }),
    )
  })

  test('hostile or bad values are refused with one line naming the option', () => {
    refuses(() => setup({ domain: 'a;b' }), '--domain')
    refuses(() => setup({ domain: 'a.com\nserver {' }), '--domain')
    refuses(() => setup({ name: 'My App' }), '--name')
    refuses(() => setup({ name: 'app\nx' }), '--name')
    refuses(() => setup({ port: '0' }), '--port')
    refuses(() => setup({ port: '8000; rm -rf /' }), '--port')
    refuses(() => setup({ graceMs: '-1' }), '--grace')
    refuses(() => setup({ baseImage: 'node:24 AS evil' }), '--base-image')
    refuses(() => setup({ baseImage: 'node:24\nRUN evil' }), '--base-image')
    refuses(() => setup({ baseImage: 'Node:24' }), '--base-image')
    refuses(() => setup({ assistVersion: '1.0.0"; evil' }), '--assist-version')
    refuses(() => setup({ assistVersion: '' }), '--assist-version')
  })

  test('any string as any value: refused, or it lands in the files as given (no injection)', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }),
        fc.constantFrom('name', 'baseImage', 'assistVersion', 'domain'),
        (value, key) => {
          let s: DockerSetup
          try {
            s = setup({ [key]: value })
          } catch (e) {
            assert.ok(e instanceof UserError, String(e))
            return
          }
          for (const f of dockerFiles(s)) {
            assert.ok(!/[\r\0]/.test(f.text))
            if (f.rel === 'compose.yaml') assert.doesNotThrow(() => parse(f.text))
          }
          assert.ok(!/[\s;"'$`\\{}]/.test(value), `accepted ${JSON.stringify(value)}`)
        },
      ),
      { numRuns: 300 },
    )
  })
})
