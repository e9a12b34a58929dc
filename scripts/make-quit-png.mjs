#!/usr/bin/env node
/**
 * Draws templates/lua/images/quit.png: the texture of the Lua template's quit button.
 *
 * A 128×128 RGBA image, drawn pixel by pixel (anti-aliased by 4×4 supersampling): a red disc with a
 * white "×", on a transparent background. Written with Node's own zlib, so the output is the same
 * bytes on every machine. Run: node scripts/make-quit-png.mjs [out.png]
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { crc32, deflateSync } from 'node:zlib'

const SIZE = 128
const SAMPLES = 4

/** Coverage of the shapes at one point (0…1 units): 'disc', 'cross' or null. */
function shapeAt(x, y) {
  const dx = x - 0.5
  const dy = y - 0.5
  if (dx * dx + dy * dy > 0.46 * 0.46) return null
  // The cross: two bars along the diagonals, half-width 0.055, arms reaching 0.2 from the centre.
  const along1 = Math.abs(dx + dy) / Math.SQRT2
  const across1 = Math.abs(dx - dy) / Math.SQRT2
  const along2 = across1
  const across2 = along1
  const arm = 0.2
  const half = 0.055
  if ((along1 <= arm && across1 <= half) || (along2 <= arm && across2 <= half)) return 'cross'
  return 'disc'
}

const DISC = [214, 48, 49]
const CROSS = [255, 255, 255]

export function drawQuitIcon() {
  const rowBytes = 1 + SIZE * 4
  const raw = Buffer.alloc(rowBytes * SIZE)
  for (let py = 0; py < SIZE; py++) {
    raw[py * rowBytes] = 0 // filter: none
    for (let px = 0; px < SIZE; px++) {
      let r = 0
      let g = 0
      let b = 0
      let a = 0
      for (let sy = 0; sy < SAMPLES; sy++) {
        for (let sx = 0; sx < SAMPLES; sx++) {
          const s = shapeAt((px + (sx + 0.5) / SAMPLES) / SIZE, (py + (sy + 0.5) / SAMPLES) / SIZE)
          if (!s) continue
          const col = s === 'cross' ? CROSS : DISC
          r += col[0]
          g += col[1]
          b += col[2]
          a += 1
        }
      }
      const o = py * rowBytes + 1 + px * 4
      // Colour averaged over the covered samples (straight alpha), alpha = coverage.
      raw[o] = a ? Math.round(r / a) : 0
      raw[o + 1] = a ? Math.round(g / a) : 0
      raw[o + 2] = a ? Math.round(b / a) : 0
      raw[o + 3] = Math.round((255 * a) / (SAMPLES * SAMPLES))
    }
  }
  return encodePng(SIZE, SIZE, raw)
}

function chunk(type, data) {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const typed = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(typed))
  return Buffer.concat([len, typed, crc])
}

/** PNG from filtered scanlines of 8-bit RGBA. */
export function encodePng(width, height, raw) {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 6 // colour type: RGBA
  ihdr[10] = 0 // compression
  ihdr[11] = 0 // filter
  ihdr[12] = 0 // interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv[2] ?? fileURLToPath(new URL('../templates/lua/images/quit.png', import.meta.url))
  writeFileSync(out, drawQuitIcon())
  console.log(`wrote ${out}`)
}
