import { describe, expect, it } from 'vitest'
import { encodeFrame, FrameDecoder } from '../../host/src/control/native-framing.ts'
import { MAX_FROM_BROWSER_BYTES, MAX_TO_BROWSER_BYTES } from '../../shared/native-protocol.ts'

function header(length: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(length, 0)
  return b
}

describe('encodeFrame', () => {
  it('writes a little-endian length and UTF-8 JSON', () => {
    const frame = encodeFrame({ a: 'ü' })
    const json = JSON.stringify({ a: 'ü' })
    expect(frame.readUInt32LE(0)).toBe(Buffer.byteLength(json))
    expect(frame.subarray(4).toString('utf8')).toBe(json)
  })

  it('throws TOO_LARGE above 1 MiB and accepts exactly 1 MiB', () => {
    const exact = 'x'.repeat(MAX_TO_BROWSER_BYTES - 2) // plus the two quotes
    expect(encodeFrame(exact).byteLength).toBe(MAX_TO_BROWSER_BYTES + 4)
    expect(() => encodeFrame(exact + 'x')).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }))
  })

  it('refuses values that are not JSON', () => {
    expect(() => encodeFrame(undefined)).toThrow(expect.objectContaining({ code: 'BAD_MESSAGE' }))
  })
})

describe('FrameDecoder', () => {
  it('round-trips several frames in one chunk', () => {
    const d = new FrameDecoder()
    const out = d.push(Buffer.concat([encodeFrame({ n: 1 }), encodeFrame([2]), encodeFrame('three')]))
    expect(out).toEqual([
      { ok: true, value: { n: 1 }, bytes: 7 },
      { ok: true, value: [2], bytes: 3 },
      { ok: true, value: 'three', bytes: 7 }
    ])
    expect(d.end()).toBeNull()
  })

  it('reassembles frames split at every byte', () => {
    const d = new FrameDecoder()
    const bytes = Buffer.concat([encodeFrame({ hello: 'wörld' }), encodeFrame({ x: 1 })])
    const values: unknown[] = []
    for (let i = 0; i < bytes.length; i++) for (const f of d.push(bytes.subarray(i, i + 1))) values.push(f.ok ? f.value : f)
    expect(values).toEqual([{ hello: 'wörld' }, { x: 1 }])
    expect(d.pendingBytes).toBe(0)
  })

  it('does not share memory with the pushed chunk', () => {
    const d = new FrameDecoder()
    const frame = encodeFrame({ a: 1 })
    const chunk = Buffer.from(frame.subarray(0, 6))
    d.push(chunk)
    chunk.fill(0)
    expect(d.push(frame.subarray(6))).toEqual([{ ok: true, value: { a: 1 }, bytes: 7 }])
  })

  it('length 0 is a fatal BAD_FRAME and later input is ignored', () => {
    const d = new FrameDecoder()
    const out = d.push(Buffer.concat([encodeFrame({ ok: 1 }), header(0), encodeFrame({ later: 1 })]))
    expect(out).toHaveLength(2)
    expect(out[0]).toMatchObject({ ok: true })
    expect(out[1]).toMatchObject({ ok: false, fatal: true, error: { code: 'BAD_FRAME' } })
    expect(d.broken).toBe(true)
    expect(d.push(encodeFrame({ more: 1 }))).toEqual([])
    expect(d.end()).toBeNull()
  })

  it('an oversize length is TOO_LARGE at once, without waiting for the body', () => {
    const d = new FrameDecoder()
    const out = d.push(header(MAX_FROM_BROWSER_BYTES + 1))
    expect(out).toEqual([{ ok: false, fatal: true, error: expect.objectContaining({ code: 'TOO_LARGE' }) }])
    const huge = new FrameDecoder().push(Buffer.from([0xff, 0xff, 0xff, 0xff]))
    expect(huge[0]).toMatchObject({ ok: false, fatal: true, error: { code: 'TOO_LARGE' } })
  })

  it('accepts a frame of exactly the maximum size', () => {
    const d = new FrameDecoder({ maxFrameBytes: 16 })
    const body = Buffer.from(JSON.stringify('x'.repeat(14)))
    expect(body.length).toBe(16)
    expect(d.push(Buffer.concat([header(16), body]))).toEqual([{ ok: true, value: 'x'.repeat(14), bytes: 16 }])
    expect(d.push(header(17))[0]).toMatchObject({ ok: false, error: { code: 'TOO_LARGE' } })
  })

  it('a truncated frame at EOF is BAD_FRAME "truncated"', () => {
    const d = new FrameDecoder()
    expect(d.push(encodeFrame({ abc: 1 }).subarray(0, 7))).toEqual([])
    const end = d.end()
    expect(end).toMatchObject({ ok: false, fatal: true, error: { code: 'BAD_FRAME' } })
    expect(end && !end.ok && end.error.message).toMatch(/truncated/)
    const partialHeader = new FrameDecoder()
    partialHeader.push(Buffer.from([5, 0]))
    expect(partialHeader.end()).toMatchObject({ ok: false, error: { code: 'BAD_FRAME' } })
  })

  it('bad JSON and bad UTF-8 are BAD_JSON and decoding continues', () => {
    const d = new FrameDecoder()
    const bad = Buffer.from('{"a":')
    const badUtf8 = Buffer.from([0x22, 0xc3, 0x28, 0x22])
    const out = d.push(Buffer.concat([header(bad.length), bad, header(badUtf8.length), badUtf8, encodeFrame({ next: true })]))
    expect(out).toEqual([
      { ok: false, fatal: false, error: expect.objectContaining({ code: 'BAD_JSON' }) },
      { ok: false, fatal: false, error: expect.objectContaining({ code: 'BAD_JSON' }) },
      { ok: true, value: { next: true }, bytes: 13 }
    ])
    expect(d.broken).toBe(false)
  })
})
