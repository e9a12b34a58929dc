/**
 * Our ENet host as an echo server in its own process (used by enet.bench.ts, so that ours↔ours runs in
 * two processes like the C↔C anchor). Prints "LISTENING <port>"; exits when stdin closes.
 */
import { EnetHost } from '../src/core/enet/index.js'

const host = await EnetHost.listen({ host: '127.0.0.1', port: 0, channelLimit: 6 })
host.on('receive', (peer, channel, data, reliable) => peer.send(channel, data, { reliable }))
console.log(`LISTENING ${host.address.port}`)
process.stdin.resume()
process.stdin.on('end', () => void host.close().then(() => process.exit(0)))
