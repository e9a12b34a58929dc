/**
 * Is this file a shared library for a platform? Decided by its header, never its name:
 * ELF (linux-x64: 64-bit, little-endian, shared object, x86-64), Mach-O (mac-universal: a fat
 * binary or a 64-bit dylib), PE (windows-x64: MZ + PE header, x64 machine, DLL flag).
 */
import { closeSync, openSync, readSync } from 'node:fs'
import type { Platform } from '../project.js'

/** How many bytes of a file `checkLibraryHeader` needs. */
export const HEADER_BYTES = 4096

export type HeaderVerdict = { ok: true; kind: string } | { ok: false; kind: string; reason: string }

const ELF_MACHINES: Record<number, string> = { 3: 'x86', 40: 'ARM', 62: 'x86-64', 183: 'AArch64' }
const PE_MACHINES: Record<number, string> = { 332: 'x86', 34404: 'x64', 43620: 'ARM64' }
const MACHO_CPUS: Record<number, string> = { 16777223: 'x86_64', 16777228: 'arm64', 7: 'i386' }

/** What kind of file this is, in a few words (for messages). */
export function describeHeader(buf: Buffer): string {
  if (buf.length === 0) return 'an empty file'
  if (isHtml(buf)) return 'an HTML page'
  if (buf.length >= 20 && buf.readUInt32BE(0) === 0x7f454c46) {
    const bits = buf[4] === 2 ? '64-bit' : '32-bit'
    const type = buf.readUInt16LE(16)
    const what =
      type === 3 ? 'shared object' : type === 2 ? 'executable' : type === 1 ? 'object file' : 'file'
    const m = buf.readUInt16LE(18)
    return `an ELF ${bits} ${what} for ${ELF_MACHINES[m] ?? `machine ${m}`}`
  }
  if (buf.length >= 8 && buf.readUInt32BE(0) === 0xcafebabe) return 'a Mach-O universal binary'
  if (buf.length >= 16 && buf.readUInt32LE(0) === 0xfeedfacf) {
    const cpu = buf.readUInt32LE(4)
    return `a Mach-O 64-bit ${buf.readUInt32LE(12) === 6 ? 'dylib' : 'file'} for ${MACHO_CPUS[cpu] ?? `cpu ${cpu}`}`
  }
  if (buf.length >= 2 && buf[0] === 0x4d && buf[1] === 0x5a) return 'a Windows (MZ/PE) file'
  const printable = buf.subarray(0, 256).every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127))
  return printable ? 'a text file' : 'an unrecognised binary file'
}

/** True when the bytes look like an HTML (or XML) document: first non-space byte is `<`. */
export function isHtml(buf: Buffer): boolean {
  for (const b of buf.subarray(0, 512)) {
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0xef || b === 0xbb || b === 0xbf)
      continue
    return b === 0x3c
  }
  return false
}

function checkElf(buf: Buffer): HeaderVerdict {
  const kind = describeHeader(buf)
  if (buf.length < 20 || buf.readUInt32BE(0) !== 0x7f454c46)
    return { ok: false, kind, reason: 'not an ELF file' }
  if (buf[4] !== 2) return { ok: false, kind, reason: 'not a 64-bit ELF file' }
  if (buf[5] !== 1) return { ok: false, kind, reason: 'not little-endian' }
  if (buf.readUInt16LE(16) !== 3) return { ok: false, kind, reason: 'not a shared object (ET_DYN)' }
  if (buf.readUInt16LE(18) !== 62)
    return { ok: false, kind, reason: 'built for another architecture, not x86-64' }
  return { ok: true, kind }
}

function checkMachO(buf: Buffer): HeaderVerdict {
  const kind = describeHeader(buf)
  if (buf.length >= 8 && buf.readUInt32BE(0) === 0xcafebabe) {
    const n = buf.readUInt32BE(4)
    // Java class files share the magic; their "count" is a version number far above any arch count.
    if (n === 0 || n > 16) return { ok: false, kind, reason: 'not a Mach-O universal binary' }
    return { ok: true, kind }
  }
  if (buf.length >= 16 && buf.readUInt32LE(0) === 0xfeedfacf) {
    if (buf.readUInt32LE(12) !== 6) return { ok: false, kind, reason: 'not a dylib (MH_DYLIB)' }
    const cpu = buf.readUInt32LE(4)
    if (cpu !== 0x01000007 && cpu !== 0x0100000c)
      return { ok: false, kind, reason: 'not for x86_64 or arm64' }
    return { ok: true, kind }
  }
  return { ok: false, kind, reason: 'not a Mach-O file' }
}

function checkPe(buf: Buffer): HeaderVerdict {
  const kind = describeHeader(buf)
  if (buf.length < 0x40 || buf[0] !== 0x4d || buf[1] !== 0x5a)
    return { ok: false, kind, reason: 'not a PE file' }
  const pe = buf.readUInt32LE(0x3c)
  if (pe + 24 > buf.length || buf.readUInt32BE(pe) !== 0x50450000)
    return { ok: false, kind, reason: 'no PE header' }
  const machine = buf.readUInt16LE(pe + 4)
  if (machine !== 0x8664)
    return {
      ok: false,
      kind,
      reason: `built for ${PE_MACHINES[machine] ?? `machine 0x${machine.toString(16)}`}, not x64`,
    }
  if ((buf.readUInt16LE(pe + 22) & 0x2000) === 0) return { ok: false, kind, reason: 'not a DLL' }
  return { ok: true, kind: 'a Windows x64 DLL' }
}

/** Checks the first bytes of a file (at least HEADER_BYTES when available) against a platform. */
export function checkLibraryHeader(buf: Buffer, platform: Platform): HeaderVerdict {
  if (platform === 'linux-x64') return checkElf(buf)
  if (platform === 'mac-universal') return checkMachO(buf)
  return checkPe(buf)
}

export function readHeader(path: string): Buffer {
  const fd = openSync(path, 'r')
  try {
    const buf = Buffer.alloc(HEADER_BYTES)
    const n = readSync(fd, buf, 0, HEADER_BYTES, 0)
    return buf.subarray(0, n)
  } finally {
    closeSync(fd)
  }
}

export const PLATFORM_WORDS: Record<Platform, string> = {
  'linux-x64': 'a Linux x86-64 shared library (ELF .so)',
  'mac-universal': 'a macOS dynamic library (Mach-O .dylib)',
  'windows-x64': 'a Windows x64 DLL',
}
