/**
 * A local stand-in for an allonet download mirror: a real HTTP server on 127.0.0.1 (ephemeral port),
 * or with `tls` a real HTTPS one (a self-signed certificate from `selfSignedCert`), whose routes each
 * test sets: files, checksums, latest-json, redirects, HTTP errors, a server that stalls, one that cuts
 * the body short, one that streams without a length, one that drips, and HTML pages.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import { join } from 'node:path'
import { tempDir } from './app.js'

export type Route =
  | { kind: 'file'; body: Buffer | string; contentType?: string }
  | { kind: 'status'; status: number; body?: string; contentType?: string }
  | { kind: 'redirect'; to: string; status?: number }
  /** Sends headers (declaring `length` bytes), then `sendBytes` of them, then stalls forever. */
  | { kind: 'stall'; length: number; sendBytes?: number }
  /** Sends headers and the first half of `body`, waits for `open`, then sends the rest. */
  | { kind: 'gated'; body: Buffer; open: Promise<void> }
  /** Declares `length` bytes, sends `sendBytes`, then closes the connection. */
  | { kind: 'truncate'; length: number; sendBytes: number }
  /** Streams `bytes` bytes (in 64 KiB chunks) without a Content-Length. */
  | { kind: 'stream'; bytes: number }
  /** Sends one byte every `everyMs`, forever (no Content-Length). */
  | { kind: 'drip'; everyMs: number }

export interface Mirror {
  url: string
  routes: Map<string, Route>
  /** Paths requested, in order. */
  hits: string[]
  set(path: string, route: Route): void
  /** Serves `body` at path and (unless `sha === false`) its sha256 (or the given wrong one) at path + '.sha256'. */
  file(path: string, body: Buffer | string, sha?: string | false): void
  close(): Promise<void>
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex')
}

/** A throwaway self-signed certificate for 127.0.0.1 and localhost (made with openssl). */
export function selfSignedCert(): { key: string; cert: string; certPath: string } {
  const dir = tempDir('assist-tls-')
  const keyPath = join(dir, 'key.pem')
  const certPath = join(dir, 'cert.pem')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '2',
    ].concat(['-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']),
    { stdio: 'ignore' },
  )
  return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), certPath }
}

export async function startMirror(opts: { tls?: { key: string; cert: string } } = {}): Promise<Mirror> {
  const routes = new Map<string, Route>()
  const hits: string[] = []
  const sockets = new Set<Socket>()
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    hits.push(path)
    const route = routes.get(path)
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
      return
    }
    switch (route.kind) {
      case 'file': {
        const body = Buffer.from(route.body)
        res
          .writeHead(200, {
            'content-type': route.contentType ?? 'application/octet-stream',
            'content-length': body.length,
          })
          .end(body)
        return
      }
      case 'status':
        res
          .writeHead(route.status, { 'content-type': route.contentType ?? 'text/plain' })
          .end(route.body ?? '')
        return
      case 'redirect':
        res.writeHead(route.status ?? 302, { location: route.to }).end()
        return
      case 'stall':
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': route.length })
        res.write(Buffer.alloc(route.sendBytes ?? 0, 0x7f))
        return // never ends; closed by close()
      case 'gated': {
        const half = Math.floor(route.body.length / 2)
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': route.body.length,
        })
        res.write(route.body.subarray(0, half))
        void route.open.then(() => res.end(route.body.subarray(half)))
        return
      }
      case 'truncate':
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': route.length })
        res.write(Buffer.alloc(route.sendBytes, 0x7f), () => req.socket.destroy())
        return
      case 'stream': {
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        const chunk = Buffer.alloc(64 * 1024, 0x7f)
        let left = route.bytes
        const pump = () => {
          while (left > 0) {
            const n = Math.min(left, chunk.length)
            left -= n
            if (!res.write(chunk.subarray(0, n))) {
              res.once('drain', pump)
              return
            }
          }
          res.end()
        }
        res.on('close', () => {
          left = 0
        })
        pump()
        return
      }
      case 'drip': {
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        res.write(Buffer.from([0x7f]))
        const timer = setInterval(() => res.write(Buffer.from([0x7f])), route.everyMs)
        res.on('close', () => clearInterval(timer))
        return
      }
    }
  }
  const server = opts.tls
    ? createTlsServer({ key: opts.tls.key, cert: opts.tls.cert }, handle)
    : createServer(handle)
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    routes,
    hits,
    set: (path, route) => routes.set(path, route),
    file(path, body, sha) {
      routes.set(path, { kind: 'file', body })
      if (sha !== false)
        routes.set(`${path}.sha256`, {
          kind: 'file',
          body: `${sha ?? sha256(body)}  ${path.split('/').pop()}\n`,
          contentType: 'text/plain',
        })
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
