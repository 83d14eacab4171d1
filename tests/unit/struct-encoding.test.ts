import c from 'compact-encoding'
import { describe, expect, it } from 'vitest'
import { CodedError, errorCode, failWith } from '../../host/src/lib/coded-error.ts'
import { boundedBuffer, checked, decodeExact, encodeWith, mapped, outcome, struct } from '../../host/src/lib/struct-encoding.ts'

const fail = failWith('BAD_TEST_MESSAGE', 'Bad test message: ')
const code = (fn: () => unknown): string | undefined => {
  try {
    fn()
  } catch (err) {
    return errorCode(err)
  }
  return undefined
}

describe('struct encoding', () => {
  const point = struct({ x: c.uint, name: c.string, tag: boundedBuffer(1, 4, () => fail('tag of the wrong size')) }, (p) => {
    if (p.x > 1000) fail('x too large')
  })

  it('round-trips every field in wire order, each written once', () => {
    const value = { x: 7, name: 'seven', tag: Buffer.from([1, 2]) }
    const bytes = encodeWith(point, value)
    // uint 7 · string len 5 'seven' · buffer len 2 [1, 2]
    expect([...bytes]).toEqual([7, 5, ...Buffer.from('seven'), 2, 1, 2])
    expect(decodeExact(point, bytes, fail)).toEqual(value)
  })

  it("turns truncation, trailing bytes and failed checks into the caller's code, never another error", () => {
    const bytes = encodeWith(point, { x: 7, name: 'seven', tag: Buffer.from([1]) })
    expect(code(() => decodeExact(point, bytes.subarray(0, bytes.length - 1), fail))).toBe('BAD_TEST_MESSAGE')
    expect(code(() => decodeExact(point, Buffer.concat([bytes, Buffer.from([0])]), fail))).toBe('BAD_TEST_MESSAGE')
    expect(code(() => decodeExact(point, encodeWith(point, { x: 1001, name: '', tag: Buffer.from([1]) }), fail))).toBe('BAD_TEST_MESSAGE')
    expect(code(() => decodeExact(point, encodeWith(c.uint, 3), fail))).toBe('BAD_TEST_MESSAGE')
    const over = Buffer.concat([encodeWith(c.uint, 1), encodeWith(c.string, ''), encodeWith(c.buffer, Buffer.alloc(9))])
    expect(() => decodeExact(point, over, fail)).toThrow(/tag of the wrong size/)
  })

  it('decodes a prefix only when asked (a version before the layout it selects)', () => {
    const bytes = Buffer.concat([encodeWith(c.uint, 2), Buffer.from('anything')])
    expect(decodeExact(c.uint, bytes, fail, true)).toBe(2)
    expect(code(() => decodeExact(c.uint, bytes, fail))).toBe('BAD_TEST_MESSAGE')
  })

  it('outcome: ok or refused behind a tag; an unknown tag fails', () => {
    const answer = outcome(struct({ value: c.uint }), struct({ reason: c.string }), fail)
    expect(decodeExact(answer, encodeWith(answer, { ok: true, value: 5 }), fail)).toEqual({ ok: true, value: 5 })
    expect(decodeExact(answer, encodeWith(answer, { ok: false, reason: 'no' }), fail)).toEqual({ ok: false, reason: 'no' })
    expect(code(() => decodeExact(answer, Buffer.from([2]), fail))).toBe('BAD_TEST_MESSAGE')
  })

  it('checked and mapped fields', () => {
    const even = checked(c.uint, (n) => {
      if (n % 2) fail('odd')
    })
    expect(decodeExact(even, encodeWith(even, 4), fail)).toBe(4)
    expect(code(() => decodeExact(even, encodeWith(c.uint, 3), fail))).toBe('BAD_TEST_MESSAGE')
    const flags = mapped<string[], number>(
      c.uint,
      (names) => names.length,
      (n) => Array.from({ length: n }, () => 'x')
    )
    expect(decodeExact(flags, encodeWith(flags, ['a', 'b']), fail)).toEqual(['x', 'x'])
  })
})

describe('CodedError', () => {
  it('carries a code, a cause and a typed detail', () => {
    const cause = new Error('inner')
    const err = new CodedError<{ hop: number }>('SOME_CODE', 'Outer words.', { cause, detail: { hop: 2 } })
    expect(err).toBeInstanceOf(Error)
    expect(err.code).toBe('SOME_CODE')
    expect(err.cause).toBe(cause)
    expect(err.detail.hop).toBe(2)
    expect(errorCode({ code: 'PLAIN' })).toBe('PLAIN')
    expect(errorCode(null)).toBeUndefined()
    expect(errorCode({ code: 5 })).toBeUndefined()
  })
})
