/** Checks a PNG file structurally: signature, chunk CRCs, IHDR, and that the IDAT data inflates to the right size. */
import { crc32, inflateSync } from 'node:zlib'

export interface PngInfo {
  width: number
  height: number
  bitDepth: number
  colorType: number
}

export function checkPng(buf: Buffer): PngInfo {
  const SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  if (!buf.subarray(0, 8).equals(SIG)) throw new Error('not a PNG signature')
  let off = 8
  let info: PngInfo | undefined
  const idat: Buffer[] = []
  let sawEnd = false
  while (off < buf.length) {
    const len = buf.readUInt32BE(off)
    const type = buf.toString('ascii', off + 4, off + 8)
    const data = buf.subarray(off + 8, off + 8 + len)
    const crc = buf.readUInt32BE(off + 8 + len)
    if (crc32(buf.subarray(off + 4, off + 8 + len)) !== crc) throw new Error(`bad CRC in ${type}`)
    if (type === 'IHDR') {
      info = {
        width: data.readUInt32BE(0),
        height: data.readUInt32BE(4),
        bitDepth: data[8],
        colorType: data[9],
      }
    } else if (type === 'IDAT') idat.push(data)
    else if (type === 'IEND') {
      sawEnd = true
      off += 12 + len
      break
    }
    off += 12 + len
  }
  if (!info) throw new Error('no IHDR')
  if (!sawEnd || off !== buf.length) throw new Error('IEND missing or data after it')
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[info.colorType] ?? 0
  const raw = inflateSync(Buffer.concat(idat))
  const expected = info.height * (1 + Math.ceil((info.width * channels * info.bitDepth) / 8))
  if (raw.length !== expected) throw new Error(`image data is ${raw.length} bytes, expected ${expected}`)
  return info
}
