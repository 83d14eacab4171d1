/**
 * Draws the toolbar icons (a white ring on a teal rounded square) as PNG files into
 * extension/public/icon/<size>.png. Run: node --import tsx extension/scripts/write-icons.ts
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import zlib from 'node:zlib'

const SIZES = [16, 32, 48, 128]
const TEAL = [15, 123, 108]
const WHITE = [255, 255, 255]
const SAMPLES = 4

function coverage(size: number, x: number, y: number, inside: (u: number, v: number) => boolean): number {
  let hit = 0
  for (let i = 0; i < SAMPLES; i++) {
    for (let j = 0; j < SAMPLES; j++) {
      if (inside((x + (i + 0.5) / SAMPLES) / size, (y + (j + 0.5) / SAMPLES) / size)) hit++
    }
  }
  return hit / (SAMPLES * SAMPLES)
}

function roundedSquare(u: number, v: number): boolean {
  const r = 0.22
  const dx = Math.max(r - u, u - (1 - r), 0)
  const dy = Math.max(r - v, v - (1 - r), 0)
  return dx * dx + dy * dy <= r * r
}

function ring(u: number, v: number): boolean {
  const d = Math.hypot(u - 0.5, v - 0.5)
  return d >= 0.2 && d <= 0.32
}

function pixels(size: number): Buffer {
  const rows = Buffer.alloc(size * (size * 4 + 1))
  for (let y = 0; y < size; y++) {
    const row = y * (size * 4 + 1)
    rows[row] = 0 // filter: none
    for (let x = 0; x < size; x++) {
      const alpha = coverage(size, x, y, roundedSquare)
      const white = coverage(size, x, y, ring)
      const o = row + 1 + x * 4
      for (let c = 0; c < 3; c++) rows[o + c] = Math.round(TEAL[c]! * (1 - white) + WHITE[c]! * white)
      rows[o + 3] = Math.round(alpha * 255)
    }
  }
  return rows
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(data: Buffer): number {
  let c = 0xffffffff
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(data.length, 0)
  head.write(type, 4, 'ascii')
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0)
  return Buffer.concat([head, data, crc])
}

function png(size: number): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(size, 0)
  ihdr.writeUInt32BE(size, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 6 // RGBA
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(pixels(size))), chunk('IEND', Buffer.alloc(0))])
}

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'public', 'icon')
fs.mkdirSync(dir, { recursive: true })
for (const size of SIZES) fs.writeFileSync(path.join(dir, `${size}.png`), png(size))
console.log(`wrote ${SIZES.map((s) => `${s}.png`).join(', ')} to ${dir}`)
