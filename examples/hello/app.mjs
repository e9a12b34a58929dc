// hello: a tiny Alloverse app in JavaScript, on allo-assist's allonet client (see README.md).
// Started by `assist run` as `node app.mjs <alloplace://host:port>` (alloapp.json "start").
import { AlloClient } from '../../dist/core/place/client.js'

// Stop cleanly (leave the place, exit 0) when assist stops or restarts us, even while still connecting.
// assist's contract: with ALLO_ASSIST_LEAVE=stdin, end of file on stdin is the request to leave;
// SIGTERM (and later SIGKILL) follow only if we have not gone within a short grace.
let client
let quitting = false
const quit = async () => {
  if (quitting) return
  quitting = true
  await client?.disconnect()
  process.exit(0)
}
process.on('SIGTERM', quit)
process.on('SIGINT', quit)
// Leaving while still setting up fails what was waiting for the place: that is not an error then.
process.on('unhandledRejection', (err) => {
  if (!quitting) throw err
})
if (process.env.ALLO_ASSIST_LEAVE === 'stdin') {
  process.stdin.on('end', quit)
  process.stdin.resume()
  process.stderr.write('\u0001assist:leaves-on-stdin-eof\n') // assist: wait for us before SIGTERM
}

const place = new URL(process.argv[2] ?? 'alloplace://localhost:21337')
client = await AlloClient.connect({ host: place.hostname, port: Number(place.port || 21337) })

/** An inline box mesh w × h × d, centred on its entity (the shape alloui's cubes send). */
function box(w, h, d) {
  const [x, y, z] = [w / 2, h / 2, d / 2]
  const vertices = [
    [-x, -y, z],
    [x, -y, z],
    [-x, y, z],
    [x, y, z],
    [-x, -y, -z],
    [x, -y, -z],
    [-x, y, -z],
    [x, y, -z],
  ]
  const triangles = [
    [0, 1, 2],
    [1, 3, 2],
    [5, 4, 7],
    [4, 6, 7],
    [4, 0, 6],
    [0, 2, 6],
    [1, 5, 3],
    [5, 7, 3],
    [2, 3, 6],
    [3, 7, 6],
    [4, 5, 0],
    [5, 1, 0],
  ]
  return {
    type: 'inline',
    vertices,
    triangles,
    uvs: vertices.map(([vx, vy]) => [vx > 0 ? 1 : 0, vy > 0 ? 1 : 0]),
  }
}
const translate = (tx, ty, tz) => [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, tx, ty, tz, 1]

// Where to appear: the launcher's initialLocation when started through a gateway, else in front of you.
const launch = JSON.parse(process.env.ALLO_APP_BOOT_ARGS || '{}')
const { avatarId } = await client.announce({
  // ALLO_ASSIST_INSTANCE: lets assist's development place drop our entities the moment we exit.
  identity: {
    display_name: 'hello',
    ...(process.env.ALLO_ASSIST_INSTANCE ? { assist_instance: process.env.ALLO_ASSIST_INSTANCE } : {}),
  },
  avatar: {
    transform: { matrix: launch.initialLocation ?? translate(0, 1.2, -2) },
    geometry: box(0.8, 0.4, 0.02),
    material: { color: [0.9, 0.92, 0.96, 1] },
    collider: { type: 'box', width: 0.8, height: 0.4, depth: 0.02 },
    grabbable: { grabbable: true },
  },
})

const button = await client.spawnEntity({
  relationships: { parent: avatarId },
  transform: { matrix: translate(0, 0, 0.05) },
  geometry: box(0.3, 0.15, 0.08),
  material: { color: [0.45, 0.3, 0.85, 1] },
  collider: { type: 'box', width: 0.3, height: 0.15, depth: 0.08 },
})
const label = await client.spawnEntity({
  relationships: { parent: button },
  transform: { matrix: translate(0, 0, 0.045) },
  text: { string: 'Hello!', height: 0.06, width: 0.28, halign: 'center' },
  material: { color: [1, 1, 1, 1] },
})

let pokes = 0
client.on('interaction', (i) => {
  // A hand sends ["point", …], then ["poke", true] and ["poke", false]; a press is the release.
  if (i.receiver !== button || !Array.isArray(i.body) || i.body[0] !== 'poke' || i.body[1] !== false) return
  pokes++
  console.log(`Hello! (${pokes})`)
  void client.changeComponents(label, {
    text: { string: `Hello × ${pokes}`, height: 0.06, width: 0.28, halign: 'center' },
  })
})
console.log(`hello is up in ${client.placeName} as ${avatarId}`)
