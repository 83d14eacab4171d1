/**
 * compact-encoding, one idiom: a message is a `struct` of named fields, each written once, in
 * wire order; `outcome` is the tagged "ok or refusal" union several replies share. Decoding
 * validates with the `check` a struct or field is given, and `decodeExact` refuses trailing
 * bytes and turns compact-encoding's own errors (truncation, overflow) into the caller's coded
 * error, so no decoder throws anything but its own code on network input.
 *
 *   const grant = struct({ version: c.uint, wgPublicKey: c.fixed32, mtu: c.uint }, (m) => { if (m.mtu < 1280) fail('…') })
 *   decodeExact(grant, bytes, fail)
 *
 * Not for the per-datagram cell header (protocol/circuit-cell.ts writes it by hand).
 */
import c, { type Encoding, type State } from 'compact-encoding'
import { CodedError } from './coded-error.ts'

type Fields = Record<string, Encoding<any>>
export type StructOf<F extends Fields> = { [K in keyof F]: F[K] extends Encoding<infer T> ? T : never }

export function struct<F extends Fields>(fields: F, check?: (value: StructOf<F>) => void): Encoding<StructOf<F>> {
  const entries = Object.entries(fields) as Array<[keyof F & string, Encoding<unknown>]>
  return {
    preencode(state, value) {
      for (const [name, enc] of entries) enc.preencode(state, value[name])
    },
    encode(state, value) {
      for (const [name, enc] of entries) enc.encode(state, value[name])
    },
    decode(state) {
      const value = {} as Record<string, unknown>
      for (const [name, enc] of entries) value[name] = enc.decode(state)
      check?.(value as StructOf<F>)
      return value as StructOf<F>
    }
  }
}

/** A field encoding whose decoded value must pass `check` (which throws the caller's coded error). */
export function checked<T>(enc: Encoding<T>, check: (value: T) => void): Encoding<T> {
  return {
    preencode: (state, value) => enc.preencode(state, value),
    encode: (state, value) => enc.encode(state, value),
    decode(state) {
      const value = enc.decode(state)
      check(value)
      return value
    }
  }
}

/** A length-prefixed buffer of min..max bytes (`fail` names the field). */
export function boundedBuffer(min: number, max: number, fail: () => never): Encoding<Buffer> {
  return {
    preencode: (state, b) => c.buffer.preencode(state, b),
    encode: (state, b) => c.buffer.encode(state, b),
    decode(state) {
      const b = c.buffer.decode(state)
      if (b === null || b.byteLength < min || b.byteLength > max) fail()
      return Buffer.from(b)
    }
  }
}

/** A value mapped to and from another encoding (e.g. a role list carried as bits). */
export function mapped<T, W>(enc: Encoding<W>, toWire: (value: T) => W, fromWire: (wire: W) => T): Encoding<T> {
  return {
    preencode: (state, value) => enc.preencode(state, toWire(value)),
    encode: (state, value) => enc.encode(state, toWire(value)),
    decode: (state) => fromWire(enc.decode(state))
  }
}

/** `{ ok: true, ...A } | { ok: false, ...B }` as a uint tag (0 = ok) followed by A or B. */
export function outcome<A extends object, B extends object>(
  ok: Encoding<A>,
  refused: Encoding<B>,
  fail: (message: string) => never
): Encoding<({ ok: true } & A) | ({ ok: false } & B)> {
  return {
    preencode(state, value) {
      c.uint.preencode(state, value.ok ? 0 : 1)
      if (value.ok) ok.preencode(state, value)
      else refused.preencode(state, value)
    },
    encode(state, value) {
      c.uint.encode(state, value.ok ? 0 : 1)
      if (value.ok) ok.encode(state, value)
      else refused.encode(state, value)
    },
    decode(state) {
      const tag = c.uint.decode(state)
      if (tag === 0) return { ok: true as const, ...ok.decode(state) }
      if (tag === 1) return { ok: false as const, ...refused.decode(state) }
      return fail(`unknown outcome ${tag}`)
    }
  }
}

/** Encode into a buffer of exactly the encoded size. */
export function encodeWith<T>(enc: Encoding<T>, value: T): Buffer {
  const state = c.state()
  enc.preencode(state, value)
  state.buffer = Buffer.allocUnsafe(state.end)
  enc.encode(state, value)
  return state.buffer as Buffer
}

/**
 * Decode all of `buf` (network input): trailing bytes are an error, and so is anything
 * compact-encoding throws; `fail` turns a description into the caller's coded error. A
 * CodedError thrown by a `check` passes through unchanged. `prefixOnly`: decode the start of
 * `buf` and ignore the rest (reading a version before the layout it selects).
 */
export function decodeExact<T>(enc: Encoding<T>, buf: Uint8Array, fail: (message: string) => never, prefixOnly = false): T {
  const state: State = { start: 0, end: buf.byteLength, buffer: buf }
  let value: T
  try {
    value = enc.decode(state)
  } catch (err) {
    if (err instanceof CodedError) throw err
    return fail(`truncated or malformed (${err instanceof Error ? err.message : 'unreadable'})`)
  }
  if (!prefixOnly && state.start !== state.end) fail('trailing bytes')
  return value
}
