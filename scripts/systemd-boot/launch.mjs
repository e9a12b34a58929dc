// The place's side of a launch, run inside the container: listens on a UDP port as a place does, POSTs
// the launch request to the gateway exactly as allonet's place does (headers, pretty-printed body with
// TABs, identity with its newlines escaped; see /work/shared/alloverse/apps-and-gateway.md and
// test/helpers/gateway.ts), then waits for the launched app's datagram carrying the avatarToken.
// Usage: node launch.mjs http://127.0.0.1:8000/clock   Prints one JSON line; exit 0 only when all held.
import { createSocket } from 'node:dgram'
import { request } from 'node:http'
import { connect } from 'node:net'

const target = new URL(process.argv[2] ?? 'http://127.0.0.1:8000/clock')
const letters = 'abcdefghijklmnopqrstuvwxy'
const token = Array.from({ length: 19 }, () => letters[Math.floor(Math.random() * letters.length)]).join('')
const identity = '{\\n\t"display_name":\t"launch-app"\\n}'
const body = `{\n\t"initialLocation":\t[1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1.2, -2, 1],\n\t"avatarToken":\t"${token}"\n}`

const result = { token, status: 0, body: '', ms: 0, hello: '' }
function finish(ok, why) {
  if (why) result.error = why
  console.log(JSON.stringify(result))
  process.exit(ok ? 0 : 1)
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
async function waitForListen(deadline) {
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = connect(Number(target.port), target.hostname)
      s.once('connect', () => resolve(s.destroy() || true))
      s.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) finish(false, `nothing listens on ${target.host}`)
    await sleep(100)
  }
}

const udp = createSocket('udp4')
let gotHello
const hello = new Promise((resolve) => {
  gotHello = resolve
})
udp.on('message', (msg) => {
  const text = msg.toString()
  if (text.includes(`token=${token}`)) gotHello(text)
})
udp.bind(0, '127.0.0.1', async () => {
  // A host name, as a place announces itself (ALLOPLACE_HOST): the app has to resolve it.
  const place = `alloplace://localhost:${udp.address().port}`
  await waitForListen(Date.now() + 60_000)
  const started = Date.now()
  const res = await new Promise((resolve) => {
    const req = request(
      target,
      {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'x-alloverse-server': place,
          'x-alloverse-launched-by': identity,
          'Content-Length': Buffer.byteLength(body),
        },
      },
      (r) => {
        let text = ''
        r.setEncoding('utf8')
        r.on('data', (d) => {
          text += d
        })
        r.on('end', () => resolve({ status: r.statusCode, text }))
      },
    )
    req.on('error', (err) => resolve({ status: 0, text: String(err) }))
    req.end(body)
  })
  result.ms = Date.now() - started
  result.status = res.status
  result.body = res.text
  let json
  try {
    json = JSON.parse(res.text)
  } catch {}
  if (res.status !== 200 || json?.status !== 'ok')
    finish(false, 'the gateway did not answer 200 {"status":"ok",…}')
  result.pid = json.pid
  const timer = setTimeout(() => finish(false, 'no datagram from the launched app within 60 s'), 60_000)
  result.hello = await hello
  clearTimeout(timer)
  finish(true)
})
