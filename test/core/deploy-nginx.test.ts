/**
 * Generated nginx sites, checked by the real `nginx -t` with a self-signed certificate made by the
 * real openssl; every absolute path the site references is redirected into a temp prefix.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type NginxOptions, renderNginxSite, resolveNginxOptions } from '../../src/core/deploy/nginx.js'
import { UserError } from '../../src/core/errors.js'
import { removeDir } from '../helpers/app.js'
import { nginxTest, selfSignedCert, tmpPrefix } from '../helpers/deploy.js'

const DOMAIN = 'apps.example.com'

describe('renderNginxSite', () => {
  test('defaults: ACME + redirect, TLS 1.2/1.3, HSTS, upstream with retry on 503, headers, 64k body', () => {
    const text = renderNginxSite(resolveNginxOptions({ domain: DOMAIN }))
    const has = (s: string) => assert.ok(text.includes(s), `missing: ${s}\n${text}`)
    has('listen 80;')
    has('listen [::]:80;')
    has('listen 443 ssl;')
    has('listen [::]:443 ssl;')
    has('server_name apps.example.com;')
    has('location ^~ /.well-known/acme-challenge/ {')
    has('root /var/www/letsencrypt;')
    has('return 301 https://apps.example.com$request_uri;')
    has('ssl_certificate /etc/letsencrypt/live/apps.example.com/fullchain.pem;')
    has('ssl_certificate_key /etc/letsencrypt/live/apps.example.com/privkey.pem;')
    has('ssl_protocols TLSv1.2 TLSv1.3;')
    has('add_header Strict-Transport-Security "max-age=63072000" always;')
    has('upstream assist_gateway_apps_example_com {')
    has('server 127.0.0.1:8000 max_fails=3 fail_timeout=10s;')
    has('proxy_pass http://assist_gateway_apps_example_com;')
    has('proxy_next_upstream error timeout http_503 non_idempotent;')
    has('proxy_next_upstream_tries 1;')
    has('proxy_set_header Host $host;')
    has('proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;')
    has('proxy_set_header X-Forwarded-Proto $scheme;')
    has('client_max_body_size 64k;')
    has('proxy_read_timeout 1s;')
    has('access_log /var/log/nginx/apps.example.com.access.log assist_gateway_apps_example_com;')
    assert.ok(!text.includes('limit_req'))
  })

  test('several upstreams (IPv6 in brackets), non-default ports, rate limit, no IPv6 listen, log off', () => {
    const text = renderNginxSite(
      resolveNginxOptions({
        domain: 'Allo.Example.org',
        upstreams: ['10.0.0.2:8000', '[::1]:8001', 'gw3.internal:8002'],
        listenHttp: '127.0.0.1:8080',
        listenHttps: 8443,
        ipv6: false,
        rateLimit: '10r/m',
        rateBurst: 2,
        accessLog: 'off',
        maxBody: 100_000,
      }),
    )
    const has = (s: string) => assert.ok(text.includes(s), `missing: ${s}\n${text}`)
    has('server_name allo.example.org;')
    has('listen 127.0.0.1:8080;')
    has('listen 8443 ssl;')
    assert.ok(!text.includes('[::]:'))
    has('server [::1]:8001 max_fails=3')
    has('server gw3.internal:8002 max_fails=3')
    has('proxy_next_upstream_tries 3;')
    has('return 301 https://allo.example.org:8443$request_uri;')
    has(
      'limit_req_zone $assist_launch_key_allo_example_org zone=assist_launch_allo_example_org:10m rate=10r/m;',
    )
    has('limit_req zone=assist_launch_allo_example_org burst=2 nodelay;')
    has('access_log off;')
    has('client_max_body_size 100000;')
  })

  test('bad options are UserErrors naming the option', () => {
    const cases: Array<[NginxOptions, RegExp]> = [
      [{ domain: '' }, /--domain/],
      [{ domain: '1.2.3.4' }, /IP address is not a domain/],
      [{ domain: DOMAIN, upstreams: ['127.0.0.1'] }, /--upstream.*HOST:PORT/],
      [{ domain: DOMAIN, upstreams: ['127.0.0.1:0'] }, /--upstream.*1 to 65535/],
      [{ domain: DOMAIN, upstreams: ['a:1', 'a:1'] }, /twice/],
      [{ domain: DOMAIN, listenHttp: 443 }, /must differ/],
      [{ domain: DOMAIN, listenHttps: 'example.com:443' }, /--listen-https.*IP address/],
      [{ domain: DOMAIN, cert: 'cert.pem' }, /--cert.*absolute/],
      [{ domain: DOMAIN, rateLimit: '10/m' }, /--rate-limit/],
      [{ domain: DOMAIN, accessLog: 'logs/x.log' }, /--access-log/],
    ]
    for (const [opts, re] of cases) {
      assert.throws(
        () => resolveNginxOptions(opts),
        (e: Error) => e instanceof UserError && re.test(e.message),
      )
    }
  })
})

describe('nginx -t on generated sites (real nginx, real openssl)', () => {
  let prefix = ''
  let cert = ''
  let key = ''
  before(async () => {
    prefix = tmpPrefix()
    ;({ cert, key } = await selfSignedCert(prefix, DOMAIN))
  })
  after(() => removeDir(prefix))

  const MATRIX: Array<[string, Partial<NginxOptions>]> = [
    ['defaults', {}],
    ['two upstreams + rate limit', { upstreams: ['127.0.0.1:8000', '127.0.0.1:8001'], rateLimit: '10r/m' }],
    [
      'IPv6 upstream, high ports, no IPv6 listen',
      {
        upstreams: ['[::1]:9000'],
        listenHttp: 18080,
        listenHttps: '127.0.0.1:18443',
        ipv6: false,
      },
    ],
    [
      'access log off, odd body size, per-second rate',
      { accessLog: 'off', maxBody: 1000, rateLimit: '5r/s', rateBurst: 0 },
    ],
    ['hostname upstreams', { upstreams: ['localhost:8000', 'localhost:8001', 'localhost:8002'] }],
  ]

  for (const [label, extra] of MATRIX) {
    test(`${label}: nginx -t passes`, async () => {
      const dir = join(prefix, label.replace(/\W+/g, '-'))
      const site = renderNginxSite(
        resolveNginxOptions({
          domain: DOMAIN,
          cert,
          key,
          acmeRoot: join(prefix, 'acme'),
          accessLog: join(prefix, 'access.log'),
          ...extra,
        }),
      )
      const { mkdirSync } = await import('node:fs')
      mkdirSync(dir, { recursive: true })
      const sitePath = join(dir, 'site.conf')
      writeFileSync(sitePath, site)
      const r = await nginxTest(dir, sitePath)
      assert.equal(r.code, 0, `nginx -t failed:\n${r.stderr}\n--- site ---\n${site}`)
    })
  }

  test('two generated sites (different domains) load together', async () => {
    const dir = join(prefix, 'two-sites')
    const { mkdirSync } = await import('node:fs')
    mkdirSync(dir, { recursive: true })
    const text = ['a.example.com', 'b.example.com']
      .map((domain) =>
        renderNginxSite(
          resolveNginxOptions({
            domain,
            cert,
            key,
            acmeRoot: join(prefix, 'acme'),
            accessLog: join(dir, `${domain}.log`),
            rateLimit: '10r/m',
          }),
        ),
      )
      .join('\n')
    const sitePath = join(dir, 'sites.conf')
    writeFileSync(sitePath, text)
    const r = await nginxTest(dir, sitePath)
    assert.equal(r.code, 0, r.stderr)
  })

  test('nginx -t fails on a broken site (the check can fail)', async () => {
    const dir = join(prefix, 'broken')
    const { mkdirSync } = await import('node:fs')
    mkdirSync(dir, { recursive: true })
    const sitePath = join(dir, 'site.conf')
    writeFileSync(sitePath, 'server { listen 80; proxy_pass http://nowhere }\n')
    const r = await nginxTest(dir, sitePath)
    assert.notEqual(r.code, 0)
  })
})
