/**
 * The wire format between the gateway and its resident spawner (spawner.lua): frames of
 * u32be(body length) + body, the body being fields of u32be(length) + bytes. Binary-safe, and simple
 * enough to read in Lua without a JSON library. Pure: no I/O here (launcher.ts owns the process).
 */

/** One frame holding `fields` (strings are written as UTF-8). */
export function encodeFrame(fields: Array<string | Buffer>): Buffer {
  const bufs = fields.map((f) => (typeof f === 'string' ? Buffer.from(f, 'utf8') : f))
  const size = bufs.reduce((n, b) => n + 4 + b.length, 0)
  const out = Buffer.allocUnsafe(4 + size)
  out.writeUInt32BE(size, 0)
  let at = 4
  for (const b of bufs) {
    out.writeUInt32BE(b.length, at)
    b.copy(out, at + 4)
    at += 4 + b.length
  }
  return out
}

/** Splits a byte stream into frames; each frame is its list of fields. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0)

  /** Adds `chunk`; returns every frame now complete, in order. Throws on a malformed frame. */
  push(chunk: Buffer): Buffer[][] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    const frames: Buffer[][] = []
    let pos = 0
    while (this.buf.length - pos >= 4) {
      const size = this.buf.readUInt32BE(pos)
      if (this.buf.length - pos - 4 < size) break
      const end = pos + 4 + size
      const fields: Buffer[] = []
      let at = pos + 4
      while (at < end) {
        if (end - at < 4) throw new Error('malformed spawner frame')
        const n = this.buf.readUInt32BE(at)
        if (at + 4 + n > end) throw new Error('malformed spawner frame')
        fields.push(this.buf.subarray(at + 4, at + 4 + n))
        at += 4 + n
      }
      frames.push(fields)
      pos = end
    }
    this.buf = pos === 0 ? this.buf : Buffer.from(this.buf.subarray(pos))
    return frames
  }

  /** Bytes received that do not make a whole frame yet. */
  get pending(): number {
    return this.buf.length
  }
}

/** The start request for one process: argv, exact environment ("K=V" entries) and folder. */
export function startFrame(id: string, argv: string[], env: string[], cwd: string): Buffer {
  return encodeFrame(['S', id, cwd, String(argv.length), ...argv, ...env])
}
