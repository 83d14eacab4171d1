import DHT from 'hyperdht'
import { describe, expect, it } from 'vitest'
import { HOP_REPLY_OVERHEAD, HOP_REQUEST_OVERHEAD, HopInitiator, HopResponder, MAX_HOP_PAYLOAD } from '../../host/src/protocol/hop-handshake.ts'

function code(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}

describe('hop handshake (Noise IK over hyperdht ed25519 keys)', () => {
  const hop = DHT.keyPair()

  it('agrees on per-direction keys and carries both payloads', () => {
    const initiator = new HopInitiator(hop.publicKey)
    const request = initiator.request(Buffer.from('extend to X'))
    expect(request.byteLength).toBe(HOP_REQUEST_OVERHEAD + 11)

    const responder = new HopResponder(hop)
    const accepted = responder.accept(request)
    expect(accepted.payload.toString()).toBe('extend to X')
    expect(accepted.remotePublicKey.equals(initiator.publicKey)).toBe(true)

    const { message, keys: hopKeys } = responder.reply(Buffer.from('extended'))
    expect(message.byteLength).toBe(HOP_REPLY_OVERHEAD + 8)
    const { payload, keys } = initiator.finish(message)
    expect(payload.toString()).toBe('extended')

    expect(keys.forward.byteLength).toBe(32)
    expect(keys.backward.byteLength).toBe(32)
    expect(keys.forward.equals(hopKeys.forward)).toBe(true)
    expect(keys.backward.equals(hopKeys.backward)).toBe(true)
    expect(keys.forward.equals(keys.backward)).toBe(false)
    // The hop's long-lived key pair is left intact by the handshake.
    expect(hop.secretKey.some((b) => b !== 0)).toBe(true)
  })

  it('uses a fresh consumer key and fresh hop keys every time', () => {
    const a = new HopInitiator(hop.publicKey)
    const b = new HopInitiator(hop.publicKey)
    expect(a.publicKey.equals(b.publicKey)).toBe(false)
    const ra = new HopResponder(hop)
    ra.accept(a.request())
    const rb = new HopResponder(hop)
    rb.accept(b.request())
    const ka = a.finish(ra.reply().message).keys
    const kb = b.finish(rb.reply().message).keys
    expect(ka.forward.equals(kb.forward)).toBe(false)
  })

  it('fails with HANDSHAKE_FAILED at a hop with another key', () => {
    const initiator = new HopInitiator(hop.publicKey)
    const impostor = new HopResponder(DHT.keyPair())
    expect(code(() => impostor.accept(initiator.request()))).toBe('HANDSHAKE_FAILED')
  })

  it('fails with HANDSHAKE_FAILED on a tampered request or reply', () => {
    for (let i = 0; i < HOP_REQUEST_OVERHEAD + 4; i += 7) {
      const initiator = new HopInitiator(hop.publicKey)
      const request = initiator.request(Buffer.from('data'))
      request[i]! ^= 1
      expect(code(() => new HopResponder(hop).accept(request))).toBe('HANDSHAKE_FAILED')
    }
    for (let i = 0; i < HOP_REPLY_OVERHEAD + 2; i += 5) {
      const initiator = new HopInitiator(hop.publicKey)
      const responder = new HopResponder(hop)
      responder.accept(initiator.request())
      const { message } = responder.reply(Buffer.from('ok'))
      message[i]! ^= 0x80
      expect(code(() => initiator.finish(message))).toBe('HANDSHAKE_FAILED')
    }
  })

  it('fails with HANDSHAKE_FAILED when the prologue (protocol version) differs', () => {
    const initiator = new HopInitiator(hop.publicKey, { prologue: Buffer.from('macro-vpn/hop/v2') })
    expect(code(() => new HopResponder(hop).accept(initiator.request()))).toBe('HANDSHAKE_FAILED')
  })

  it('rejects truncated, oversized and garbage messages, and calls out of order', () => {
    expect(code(() => new HopResponder(hop).accept(Buffer.alloc(10)))).toBe('HANDSHAKE_FAILED')
    expect(code(() => new HopResponder(hop).accept(Buffer.alloc(HOP_REQUEST_OVERHEAD + MAX_HOP_PAYLOAD + 1)))).toBe('HANDSHAKE_FAILED')
    expect(code(() => new HopResponder(hop).accept(Buffer.alloc(200, 0xff)))).toBe('HANDSHAKE_FAILED')
    const initiator = new HopInitiator(hop.publicKey)
    expect(code(() => initiator.finish(Buffer.alloc(48)))).toBe('INVALID_STATE')
    initiator.request()
    expect(code(() => initiator.finish(Buffer.alloc(10)))).toBe('HANDSHAKE_FAILED')
    expect(code(() => new HopResponder(hop).reply())).toBe('INVALID_STATE')
    expect(code(() => new HopInitiator(Buffer.alloc(31)))).toBe('BAD_ARGUMENT')
    expect(code(() => new HopInitiator(hop.publicKey).request(Buffer.alloc(MAX_HOP_PAYLOAD + 1)))).toBe('BAD_ARGUMENT')
  })
})
