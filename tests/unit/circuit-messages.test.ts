import c from 'compact-encoding'
import { describe, expect, it } from 'vitest'
import { createEncoding, destroyEncoding } from '../../host/src/protocol/circuit-channel.ts'
import {
  decodeExtend,
  decodeExtended,
  decodeHopAsk,
  decodeTunnelAnswer,
  decodeTunnelAsk,
  encodeExtend,
  encodeExtended,
  encodeHopAsk,
  encodeTunnelAnswer,
  encodeTunnelAsk,
  EXTEND_VERSION,
  MAX_DOWNSTREAM_PRICE
} from '../../host/src/protocol/circuit-messages.ts'
import { MAX_CIRCUIT_RATE } from '../../host/src/protocol/circuit-channel.ts'
import { behindEncoding, payerEncoding, payRefusalEncoding, settledEncoding, voucherEncoding } from '../../host/src/protocol/pay-channel.ts'
import { SESSION_VERSION, tunnelRequestEncoding } from '../../host/src/protocol/session-protocol.ts'
import { HOP_REPLY_OVERHEAD, HOP_REQUEST_OVERHEAD } from '../../host/src/protocol/hop-handshake.ts'
import { TokenBucket } from '../../host/src/lib/token-bucket.ts'

const code = (fn: () => unknown): string | undefined => {
  try {
    fn()
    return undefined
  } catch (err) {
    return (err as { code?: string }).code
  }
}

describe('circuit control bodies', () => {
  it('round-trip an EXTEND and reject bad versions, sizes and trailing bytes', () => {
    const body = { version: EXTEND_VERSION, nextKey: Buffer.alloc(32, 3), handshake: Buffer.alloc(HOP_REQUEST_OVERHEAD, 9) }
    const buf = encodeExtend(body)
    expect(decodeExtend(buf)).toEqual(body)
    expect(code(() => decodeExtend(Buffer.concat([buf, Buffer.from([0])])))).toBe('BAD_CELL')
    expect(code(() => decodeExtend(encodeExtend({ ...body, version: 2 })))).toBe('BAD_CELL')
    expect(code(() => decodeExtend(encodeExtend({ ...body, handshake: Buffer.alloc(10) })))).toBe('BAD_CELL')
    expect(code(() => decodeExtend(buf.subarray(0, 20)))).toBe('BAD_CELL')
  })

  it('round-trip EXTENDED answers, both kinds', () => {
    const ok = { ok: true as const, handshake: Buffer.alloc(HOP_REPLY_OVERHEAD + 5, 1) }
    expect(decodeExtended(encodeExtended(ok))).toEqual(ok)
    const refused = { ok: false as const, code: 'EXTEND_FAILED', message: 'The next hop could not be reached.' }
    expect(decodeExtended(encodeExtended(refused))).toEqual(refused)
    expect(code(() => decodeExtended(encodeExtended({ ok: false, code: 'lower case', message: '' })))).toBe('BAD_CELL')
    expect(code(() => decodeExtended(Buffer.from([7])))).toBe('BAD_CELL')
  })

  it('carries the tunnel request and answer through the exit handshake', () => {
    const ask = { version: SESSION_VERSION, wgPublicKey: Buffer.alloc(32, 5), resumeToken: null }
    expect(decodeTunnelAsk(encodeTunnelAsk(ask))).toEqual(ask)
    const resume = { ...ask, resumeToken: Buffer.alloc(32, 8) }
    expect(decodeTunnelAsk(encodeTunnelAsk(resume))).toEqual(resume)
    const grant = { version: SESSION_VERSION, wgPublicKey: Buffer.alloc(32, 2), address: '10.77.0.2', gateway: '10.77.0.1', mtu: 1392 }
    expect(decodeTunnelAnswer(encodeTunnelAnswer({ ok: true, grant, resumeToken: Buffer.alloc(32, 4) }))).toEqual({
      ok: true,
      grant,
      resumeToken: Buffer.alloc(32, 4)
    })
    expect(decodeTunnelAnswer(encodeTunnelAnswer({ ok: false, refusal: { code: 'EXIT_FULL', message: 'full' } }))).toEqual({
      ok: false,
      refusal: { code: 'EXIT_FULL', message: 'full' }
    })
    expect(code(() => decodeTunnelAnswer(encodeTunnelAnswer({ ok: true, grant: { ...grant, address: 'nope' }, resumeToken: Buffer.alloc(32) })))).toBe(
      'BAD_SESSION_MESSAGE'
    )
  })
})

describe('hop asks (what the consumer asks each hop, inside its handshake)', () => {
  it('round-trip a relay ask with what it passes on, and an exit ask with the tunnel request', () => {
    const relay = { kind: 'relay' as const, downstreamLamportsPerMiB: 7000 }
    expect(decodeHopAsk(encodeHopAsk(relay))).toEqual(relay)
    const exit = { kind: 'exit' as const, tunnel: { version: SESSION_VERSION, wgPublicKey: Buffer.alloc(32, 5), resumeToken: Buffer.alloc(32, 6) } }
    expect(decodeHopAsk(encodeHopAsk(exit))).toEqual(exit)
  })

  it('reject an unknown kind, an empty payload, trailing bytes and a relay ask passing on more than any path costs', () => {
    const relay = encodeHopAsk({ kind: 'relay', downstreamLamportsPerMiB: 0 })
    expect(code(() => decodeHopAsk(Buffer.from([9, 1, 0])))).toBe('BAD_CELL')
    expect(code(() => decodeHopAsk(Buffer.alloc(0)))).toBe('BAD_CELL')
    expect(code(() => decodeHopAsk(Buffer.concat([relay, Buffer.from([0])])))).toBe('BAD_CELL')
    expect(code(() => decodeHopAsk(encodeHopAsk({ kind: 'relay', downstreamLamportsPerMiB: MAX_DOWNSTREAM_PRICE + 1 })))).toBe('BAD_CELL')
    // A relay ask of another version.
    expect(code(() => decodeHopAsk(Buffer.from([0, 2, 0])))).toBe('BAD_CELL')
  })
})

describe('pay channel messages', () => {
  const address = '9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin'
  const signature = '5'.repeat(88)

  it('round-trip every message', () => {
    const payer = { payer: address, nonceAccount: address }
    expect(c.decode(payerEncoding, c.encode(payerEncoding, payer))).toEqual(payer)
    const voucher = { transaction: Buffer.alloc(291, 3) }
    expect(c.decode(voucherEncoding, c.encode(voucherEncoding, voucher))).toEqual(voucher)
    expect(c.decode(behindEncoding, c.encode(behindEncoding, { lamports: 12345 }))).toEqual({ lamports: 12345 })
    const settled = { signature, amount: 250_000, nonce: address }
    expect(c.decode(settledEncoding, c.encode(settledEncoding, settled))).toEqual(settled)
    const refusal = { code: 'PAYMENT_OVERDUE', message: 'behind' }
    expect(c.decode(payRefusalEncoding, c.encode(payRefusalEncoding, refusal))).toEqual(refusal)
  })

  it('reject what is not an address, a signature, a voucher of a possible size or a refusal code', () => {
    expect(code(() => c.decode(payerEncoding, c.encode(payerEncoding, { payer: 'not-base58-0OIl', nonceAccount: address })))).toBe('BAD_PAY_MESSAGE')
    expect(code(() => c.decode(voucherEncoding, c.encode(voucherEncoding, { transaction: Buffer.alloc(1233) })))).toBe('BAD_PAY_MESSAGE')
    expect(code(() => c.decode(voucherEncoding, c.encode(voucherEncoding, { transaction: Buffer.alloc(10) })))).toBe('BAD_PAY_MESSAGE')
    expect(code(() => c.decode(settledEncoding, c.encode(settledEncoding, { signature: 'x', amount: 1, nonce: address })))).toBe('BAD_PAY_MESSAGE')
    expect(code(() => c.decode(payRefusalEncoding, c.encode(payRefusalEncoding, { code: 'lower', message: '' })))).toBe('BAD_PAY_MESSAGE')
  })
})

describe('circuit channel messages', () => {
  it('carry the rate a create pays, bounded by what any path costs; a session request carries its rate too', () => {
    const create = { circuitId: 1, seqBase: 0, rateLamportsPerMiB: 17_000, handshake: Buffer.alloc(HOP_REQUEST_OVERHEAD) }
    expect(c.decode(createEncoding, c.encode(createEncoding, create))).toEqual(create)
    expect(code(() => c.decode(createEncoding, c.encode(createEncoding, { ...create, rateLamportsPerMiB: MAX_CIRCUIT_RATE + 1 })))).toBe('BAD_CIRCUIT_MESSAGE')
    const request = { version: SESSION_VERSION, wgPublicKey: Buffer.alloc(32, 1), rateLamportsPerMiB: 5000 }
    expect(c.decode(tunnelRequestEncoding, c.encode(tunnelRequestEncoding, request))).toEqual(request)
    expect(code(() => c.decode(tunnelRequestEncoding, c.encode(tunnelRequestEncoding, { ...request, rateLamportsPerMiB: 10 ** 9 })))).toBe(
      'BAD_SESSION_MESSAGE'
    )
  })

  it('reject a create whose handshake has the wrong size and a malformed destroy code', () => {
    const good = c.encode(createEncoding, { circuitId: 7, seqBase: 3, rateLamportsPerMiB: 0, handshake: Buffer.alloc(HOP_REQUEST_OVERHEAD) })
    expect(c.decode(createEncoding, good)).toMatchObject({ circuitId: 7, seqBase: 3 })
    const short = c.encode(createEncoding, { circuitId: 7, seqBase: 3, rateLamportsPerMiB: 0, handshake: Buffer.alloc(4) })
    expect(code(() => c.decode(createEncoding, short))).toBe('BAD_CIRCUIT_MESSAGE')
    expect(c.decode(destroyEncoding, c.encode(destroyEncoding, { circuitId: 1, code: 'NEXT_HOP_LOST' }))).toEqual({ circuitId: 1, code: 'NEXT_HOP_LOST' })
    expect(code(() => c.decode(destroyEncoding, c.encode(destroyEncoding, { circuitId: 1, code: 'x'.repeat(80) })))).toBe('BAD_CIRCUIT_MESSAGE')
  })
})

describe('TokenBucket', () => {
  it('passes a burst, then limits to the rate; 0 means unlimited', () => {
    let now = 0 // a clock of the test's own: the wall clock would race a loaded machine
    const bucket = new TokenBucket(1_000_000, 10_000, () => now) // 1 MB/s, 10 kB burst
    let passed = 0
    for (let i = 0; i < 100; i++) if (bucket.take(1000)) passed++
    expect(passed).toBe(10)
    now += 20 // ~20 kB of refill, capped at the 10 kB burst
    passed = 0
    for (let i = 0; i < 100; i++) if (bucket.take(1000)) passed++
    expect(passed).toBe(10)
    now += 2.5 // 2.5 kB: two more cells of 1000 bytes
    passed = 0
    for (let i = 0; i < 100; i++) if (bucket.take(1000)) passed++
    expect(passed).toBe(2)
    const free = new TokenBucket(0)
    for (let i = 0; i < 1000; i++) expect(free.take(1e6)).toBe(true)
  })
})
