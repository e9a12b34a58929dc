import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { checkLibraryHeader, describeHeader, isHtml } from '../../../src/core/deps/header.js'
import { tempDir } from '../../helpers/app.js'
import { buildSharedLib } from '../../helpers/native.js'

function elf(opts: { cls?: number; data?: number; type?: number; machine?: number } = {}): Buffer {
  const b = Buffer.alloc(64)
  b.writeUInt32BE(0x7f454c46, 0)
  b[4] = opts.cls ?? 2
  b[5] = opts.data ?? 1
  b.writeUInt16LE(opts.type ?? 3, 16)
  b.writeUInt16LE(opts.machine ?? 62, 18)
  return b
}

function machO64(cpu: number, filetype = 6): Buffer {
  const b = Buffer.alloc(32)
  b.writeUInt32LE(0xfeedfacf, 0)
  b.writeUInt32LE(cpu, 4)
  b.writeUInt32LE(filetype, 12)
  return b
}

function pe(machine: number, characteristics = 0x2022): Buffer {
  const b = Buffer.alloc(0x200)
  b.write('MZ', 0, 'latin1')
  b.writeUInt32LE(0x80, 0x3c)
  b.writeUInt32BE(0x50450000, 0x80)
  b.writeUInt16LE(machine, 0x84)
  b.writeUInt16LE(characteristics, 0x80 + 22)
  return b
}

test('a real cc -shared library is a linux-x64 library; not mac or windows', () => {
  const lib = buildSharedLib(join(tempDir(), 'liballonet.so'))
  const head = readFileSync(lib)
  assert.deepEqual(checkLibraryHeader(head, 'linux-x64'), {
    ok: true,
    kind: 'an ELF 64-bit shared object for x86-64',
  })
  assert.equal(checkLibraryHeader(head, 'mac-universal').ok, false)
  assert.equal(checkLibraryHeader(head, 'windows-x64').ok, false)
})

test('ELF: wrong class, endianness, type or machine are refused with the reason', () => {
  const cases: Array<[Buffer, RegExp]> = [
    [elf({ cls: 1 }), /not a 64-bit/],
    [elf({ data: 2 }), /little-endian/],
    [elf({ type: 2 }), /not a shared object/],
    [elf({ machine: 183 }), /another architecture/],
  ]
  for (const [buf, re] of cases) {
    const v = checkLibraryHeader(buf, 'linux-x64')
    assert.equal(v.ok, false)
    assert.match(v.ok ? '' : v.reason, re)
  }
  assert.match(describeHeader(elf({ machine: 183 })), /AArch64/)
})

test('Mach-O: fat binaries and 64-bit dylibs for x86_64/arm64 pass; others fail', () => {
  const fat = Buffer.alloc(8)
  fat.writeUInt32BE(0xcafebabe, 0)
  fat.writeUInt32BE(2, 4)
  assert.equal(checkLibraryHeader(fat, 'mac-universal').ok, true)
  const javaClass = Buffer.from(fat)
  javaClass.writeUInt32BE(52, 4)
  assert.equal(checkLibraryHeader(javaClass, 'mac-universal').ok, false)
  assert.equal(checkLibraryHeader(machO64(0x0100000c), 'mac-universal').ok, true)
  assert.equal(checkLibraryHeader(machO64(0x01000007), 'mac-universal').ok, true)
  assert.equal(checkLibraryHeader(machO64(0x01000007, 2), 'mac-universal').ok, false)
  assert.equal(checkLibraryHeader(machO64(0x01000007), 'linux-x64').ok, false)
})

test('PE: x64 DLL passes; x86, ARM64 and non-DLL executables fail', () => {
  assert.equal(checkLibraryHeader(pe(0x8664), 'windows-x64').ok, true)
  const x86 = checkLibraryHeader(pe(0x14c), 'windows-x64')
  assert.equal(x86.ok, false)
  assert.match(x86.ok ? '' : x86.reason, /x86, not x64/)
  assert.equal(checkLibraryHeader(pe(0xaa64), 'windows-x64').ok, false)
  assert.equal(checkLibraryHeader(pe(0x8664, 0x0022), 'windows-x64').ok, false)
  assert.equal(checkLibraryHeader(Buffer.from('MZ'), 'windows-x64').ok, false)
})

test('text, HTML and empty files are described and refused', () => {
  assert.equal(describeHeader(Buffer.from('hello\n')), 'a text file')
  assert.equal(describeHeader(Buffer.from('\n  <!doctype html><html>')), 'an HTML page')
  assert.equal(describeHeader(Buffer.alloc(0)), 'an empty file')
  assert.equal(isHtml(Buffer.from('<html>')), true)
  assert.equal(isHtml(elf()), false)
  for (const p of ['linux-x64', 'mac-universal', 'windows-x64'] as const)
    assert.equal(checkLibraryHeader(Buffer.from('<html></html>'), p).ok, false)
})
