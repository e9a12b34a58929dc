/** Channel-3 asset messages: u16 BE mid, u16 BE header length, JSON header, data. */
import { cjsonPrint, isPlainObject, tryParse } from './json.js'

export const ASSET_REQUEST = 1
export const ASSET_DATA = 2
export const ASSET_FAILURE = 3
/** allonet's chunk size: one message carries at most 1 MiB of asset data. */
export const ASSET_CHUNK = 1048576

export interface AssetMessage {
  mid: number
  header: Record<string, unknown>
  data: Buffer
}

export function encodeAsset(mid: number, header: Record<string, unknown>, data?: Uint8Array): Buffer {
  const head = Buffer.from(cjsonPrint(header), 'utf8')
  const out = Buffer.alloc(4 + head.length + (data?.length ?? 0))
  out.writeUInt16BE(mid, 0)
  out.writeUInt16BE(head.length, 2)
  head.copy(out, 4)
  if (data) out.set(data, 4 + head.length)
  return out
}

/** Decodes an asset message; a string saying what is wrong when it is malformed. */
export function decodeAsset(buf: Buffer): AssetMessage | string {
  if (buf.length < 4) return `asset message of ${buf.length} bytes is shorter than its 4-byte header`
  const mid = buf.readUInt16BE(0)
  const hlen = buf.readUInt16BE(2)
  if (4 + hlen > buf.length) return `asset header length ${hlen} runs past the end of the message`
  const header = tryParse(buf.subarray(4, 4 + hlen).toString('utf8'))
  if (!isPlainObject(header)) return 'asset header is not a JSON object'
  return { mid, header, data: buf.subarray(4 + hlen) }
}

/** A `range` header value [offset, length] with sane numbers, else undefined. */
export function parseRange(value: unknown): [number, number] | undefined {
  if (!Array.isArray(value) || value.length !== 2) return undefined
  const [off, len] = value
  if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < 0 || len < 0) return undefined
  return [off as number, len as number]
}
