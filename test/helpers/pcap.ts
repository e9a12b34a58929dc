/**
 * A tiny pcap reader for the recorded traces: classic libpcap files (either byte order) with microsecond
 * timestamps, link type Ethernet (1); IPv4 + UDP frames are decoded, anything else is skipped.
 */
import { readFileSync } from 'node:fs'

export interface UdpDatagram {
  /** 1-based index among the UDP datagrams of the file (the traces' `dgram`) */
  index: number
  /** seconds since the epoch, µs resolution */
  time: number
  srcAddress: string
  srcPort: number
  dstAddress: string
  dstPort: number
  payload: Buffer
}

const ip4 = (b: Buffer, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`

export function readPcapUdp(path: string): UdpDatagram[] {
  const f = readFileSync(path)
  const magic = f.readUInt32LE(0)
  let le: boolean
  if (magic === 0xa1b2c3d4) le = true
  else if (magic === 0xd4c3b2a1) le = false
  else throw new Error(`${path}: not a microsecond pcap file (magic ${magic.toString(16)})`)
  const u32 = (at: number) => (le ? f.readUInt32LE(at) : f.readUInt32BE(at))
  const linkType = u32(20)
  if (linkType !== 1) throw new Error(`${path}: link type ${linkType}, expected Ethernet (1)`)
  const out: UdpDatagram[] = []
  let at = 24
  while (at + 16 <= f.length) {
    const sec = u32(at)
    const usec = u32(at + 4)
    const caplen = u32(at + 8)
    const frame = f.subarray(at + 16, at + 16 + caplen)
    at += 16 + caplen
    if (frame.length < 14 || frame.readUInt16BE(12) !== 0x0800) continue
    const ip = 14
    const ihl = (frame[ip] & 0x0f) * 4
    if (frame[ip] >> 4 !== 4 || frame[ip + 9] !== 17) continue
    const totalLength = frame.readUInt16BE(ip + 2)
    const udp = ip + ihl
    const udpLength = frame.readUInt16BE(udp + 4)
    if (udpLength < 8 || udp + udpLength > frame.length || ip + totalLength > frame.length) {
      throw new Error(`${path}: truncated frame ${out.length + 1}`)
    }
    out.push({
      index: out.length + 1,
      time: sec + usec / 1e6,
      srcAddress: ip4(frame, ip + 12),
      dstAddress: ip4(frame, ip + 16),
      srcPort: frame.readUInt16BE(udp),
      dstPort: frame.readUInt16BE(udp + 2),
      payload: Buffer.from(frame.subarray(udp + 8, udp + udpLength)),
    })
  }
  return out
}
