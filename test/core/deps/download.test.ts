/** downloadToFile / fetchText against a real local HTTP server: one clear error per failure. */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import https from 'node:https'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { DownloadError, downloadToFile, fetchText, parseSha256File } from '../../../src/core/deps/download.js'
import { tempDir } from '../../helpers/app.js'
import { type Mirror, selfSignedCert, sha256, startMirror } from '../../helpers/mirror.js'

let m: Mirror
before(async () => {
  m = await startMirror()
})
after(() => m.close())

const dest = () => join(tempDir(), 'out.bin')
const body = Buffer.alloc(300_000, 0x42)

async function fails(url: string, kind: string, re: RegExp, timeoutMs = 10_000) {
  await assert.rejects(downloadToFile(url, dest(), { timeoutMs }), (err: Error) => {
    assert.ok(err instanceof DownloadError, `${err}`)
    assert.equal(err.kind, kind)
    assert.match(err.message, re)
    return true
  })
}

test('streams the body to the file, with size, sha256 and progress', async () => {
  m.set('/ok.bin', { kind: 'file', body })
  const out = dest()
  const seen: number[] = []
  const r = await downloadToFile(`${m.url}/ok.bin`, out, {
    timeoutMs: 10_000,
    onProgress: (n) => seen.push(n),
  })
  assert.equal(r.bytes, body.length)
  assert.equal(r.sha256, sha256(body))
  assert.deepEqual(readFileSync(out), body)
  assert.equal(seen.at(-1), body.length)
})

test('follows one redirect (relative Location) and reports the final URL', async () => {
  m.set('/moved.bin', { kind: 'redirect', to: '/ok.bin', status: 301 })
  const r = await downloadToFile(`${m.url}/moved.bin`, dest(), { timeoutMs: 10_000 })
  assert.equal(r.finalUrl, `${m.url}/ok.bin`)
})

test('a redirect loop and a too-long chain get their own messages', async () => {
  m.set('/a', { kind: 'redirect', to: '/b' })
  m.set('/b', { kind: 'redirect', to: '/a' })
  await fails(`${m.url}/a`, 'redirect-loop', /Redirect loop .*\/a → .*\/b → .*\/a/)
  for (let i = 0; i < 10; i++) m.set(`/r${i}`, { kind: 'redirect', to: `/r${i + 1}` })
  await fails(`${m.url}/r0`, 'too-many-redirects', /Too many redirects .*more than 5/)
})

test('HTTP 404 and 500', async () => {
  await fails(`${m.url}/nothing`, 'not-found', /HTTP 404/)
  m.set('/boom', { kind: 'status', status: 500, body: 'oops' })
  await fails(`${m.url}/boom`, 'http', /HTTP 500 Internal Server Error/)
})

test('HTML by content-type or by a leading "<" is refused', async () => {
  m.set('/page', { kind: 'file', body: '<html>login</html>', contentType: 'text/html; charset=utf-8' })
  await fails(`${m.url}/page`, 'html', /HTML page instead of the library/)
  m.set('/sneaky', { kind: 'file', body: '\n<!DOCTYPE html><html></html>' })
  await fails(`${m.url}/sneaky`, 'html', /HTML page/)
})

test('a server that stalls mid-body times out; one that cuts the body short is "cut off"', async () => {
  m.set('/slow', { kind: 'stall', length: 1000, sendBytes: 10 })
  await fails(`${m.url}/slow`, 'timeout', /Timed out: .* sent nothing for 0\.3 s.*--timeout/, 300)
  m.set('/short', { kind: 'truncate', length: 100_000, sendBytes: 5000 })
  await fails(`${m.url}/short`, 'truncated', /cut off after 5000 of 100000 bytes/)
})

test('connection refused and unknown hosts', async () => {
  const closed = await startMirror()
  const url = closed.url
  await closed.close()
  await fails(`${url}/x`, 'refused', /connection refused/)
  await fails('http://no-such-host.invalid/x', 'dns', /could not be resolved/)
})

test('the destination file is never overwritten (wx): the caller picks a fresh temp path', async () => {
  const out = dest()
  await downloadToFile(`${m.url}/ok.bin`, out, { timeoutMs: 10_000 })
  await assert.rejects(downloadToFile(`${m.url}/ok.bin`, out, { timeoutMs: 10_000 }))
  assert.ok(existsSync(out))
})

test('fetchText reads small documents and caps their size', async () => {
  m.set('/latest.json', { kind: 'file', body: '{"version":"1.2.3.gabc"}' })
  assert.equal(await fetchText(`${m.url}/latest.json`, { timeoutMs: 10_000 }), '{"version":"1.2.3.gabc"}')
  await assert.rejects(
    fetchText(`${m.url}/ok.bin`, { timeoutMs: 10_000, maxBytes: 1000 }),
    /larger than 1000 bytes/,
  )
})

test('sha256 files as sha256sum writes them', () => {
  const h = 'a'.repeat(64)
  assert.equal(parseSha256File(`${h}  liballonet.so\n`), h)
  assert.equal(parseSha256File(h.toUpperCase()), h)
  assert.equal(parseSha256File('nope'), undefined)
})

test('a redirect to file: or ftp: is refused with our one-line message (issue 20, info)', async () => {
  m.set('/to-file', { kind: 'redirect', to: 'file:///etc/passwd' })
  m.set('/to-ftp', { kind: 'redirect', to: 'ftp://127.0.0.1/lib.so' })
  await fails(
    `${m.url}/to-file`,
    'bad-redirect',
    /^Refusing the redirect from .*\/to-file to file:\/\/\/etc\/passwd: only http and https/,
  )
  await fails(`${m.url}/to-ftp`, 'bad-redirect', /to ftp:\/\/127\.0\.0\.1\/lib\.so: only http and https/)
})

test('a body larger than the cap is refused, with or without Content-Length (issue 20 #5)', async () => {
  m.set('/endless', { kind: 'stream', bytes: 3 * 1024 * 1024 })
  m.set('/declared', { kind: 'file', body: Buffer.alloc(2 * 1024 * 1024, 1) })
  const out = dest()
  await assert.rejects(
    downloadToFile(`${m.url}/endless`, out, { timeoutMs: 10_000, maxBytes: 1024 * 1024 }),
    (err: Error) =>
      err instanceof DownloadError &&
      err.kind === 'too-large' &&
      /larger than 1048576 bytes.*--max-size MB/.test(err.message),
  )
  assert.ok(!existsSync(out) || readFileSync(out).length <= 1024 * 1024, 'it stopped at the cap')
  await assert.rejects(
    downloadToFile(`${m.url}/declared`, dest(), { timeoutMs: 10_000, maxBytes: 1024 * 1024 }),
    (err: Error) => err instanceof DownloadError && err.kind === 'too-large',
  )
})

// The test's own timeout only keeps a regression (no deadline: the drip never ends) from hanging the run.
test('a drip that never trips the idle timeout still ends at the overall deadline (issue 20 #5)', {
  timeout: 60_000,
}, async () => {
  m.set('/drip', { kind: 'drip', everyMs: 100 })
  // The idle timeout (10 s) never fires: a byte comes every 100 ms. Only the deadline can end it.
  await assert.rejects(
    downloadToFile(`${m.url}/drip`, dest(), { timeoutMs: 10_000, deadlineMs: 1500 }),
    (err: Error) =>
      err instanceof DownloadError &&
      err.kind === 'deadline' &&
      /longer than 1\.5 s in all.*--deadline/.test(err.message),
  )
  await assert.rejects(
    fetchText(`${m.url}/drip`, { timeoutMs: 10_000, deadlineMs: 1500 }),
    (err: Error) => err instanceof DownloadError && err.kind === 'deadline',
  )
})

test('https never follows a redirect down to http (issue 20 #2), over a real TLS server', async () => {
  const { key, cert } = selfSignedCert()
  const tls = await startMirror({ tls: { key, cert } })
  // Trust the self-signed certificate the way a private CA would be trusted.
  const previous = https.globalAgent.options.ca
  https.globalAgent.options.ca = cert
  try {
    tls.file('/ok.bin', body)
    tls.set('/down', { kind: 'redirect', to: `${m.url}/plain.bin` })
    tls.set('/up', { kind: 'redirect', to: `${tls.url}/ok.bin` })
    m.file('/plain.bin', body)
    m.set('/to-https', { kind: 'redirect', to: `${tls.url}/ok.bin` })
    await fails(
      `${tls.url}/down`,
      'insecure-redirect',
      /Refusing the redirect from https:\/\/.*\/down to plain-http http:\/\/.*\/plain\.bin/,
    )
    assert.equal(m.hits.includes('/plain.bin'), false, 'the plain-http URL was never asked')
    const same = await downloadToFile(`${tls.url}/up`, dest(), { timeoutMs: 10_000 })
    assert.equal(same.finalUrl, `${tls.url}/ok.bin`)
    const upgraded = await downloadToFile(`${m.url}/to-https`, dest(), { timeoutMs: 10_000 })
    assert.equal(upgraded.finalUrl, `${tls.url}/ok.bin`, 'http → https is fine')
  } finally {
    https.globalAgent.options.ca = previous
    await tls.close()
  }
})
