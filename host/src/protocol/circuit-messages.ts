/**
 * The bodies of circuit control messages that only one hop can read (they travel inside onion
 * layers or inside a hop handshake), compact-encoded and validated:
 *
 *   ExtendBody      consumer -> last hop, in an EXTEND cell: dial `nextKey`, send it `handshake`
 *   ExtendedBody    last hop -> consumer, in an EXTENDED cell: the new hop's handshake reply,
 *                   or a refusal with a stable code
 *   ExitTunnelAsk   consumer -> exit, as the payload of the exit's hop handshake: a tunnel for
 *                   this WireGuard key, optionally resuming an earlier one (same address, same
 *                   WireGuard session) with the token the exit granted before
 *   ExitTunnelAnswer exit -> consumer, the handshake reply payload: a grant (address, gateway,
 *                   MTU, the exit's WireGuard key, the resume token) or a refusal
 *
 * A relay hop's handshake payload is empty: an empty payload asks for forwarding only.
 */
import c, { type State } from 'compact-encoding'
import { HOP_REPLY_OVERHEAD, HOP_REQUEST_OVERHEAD, MAX_HOP_PAYLOAD } from './hop-handshake.ts'
import { SESSION_VERSION, tunnelGrantEncoding, tunnelRefusalEncoding, type TunnelGrant, type TunnelRefusal } from './session-protocol.ts'

export const EXTEND_VERSION = 1
export const RESUME_TOKEN_BYTES = 32

export interface ExtendBody { version: number; nextKey: Buffer; handshake: Buffer }
export type ExtendedBody = { ok: true; handshake: Buffer } | { ok: false; code: string; message: string }
export interface ExitTunnelAsk { version: number; wgPublicKey: Buffer; resumeToken: Buffer | null }
export type ExitTunnelAnswer = { ok: true; grant: TunnelGrant; resumeToken: Buffer } | { ok: false; refusal: TunnelRefusal }

function bad(message: string): never {
  throw Object.assign(new Error(`Bad circuit control body: ${message}`), { code: 'BAD_CELL' })
}

function decodeAll<T>(buf: Uint8Array, decode: (state: State) => T): T {
  const state: State = { start: 0, end: buf.byteLength, buffer: buf }
  let value: T
  try {
    value = decode(state)
  } catch (err) {
    if ((err as { code?: string }).code === 'BAD_CELL' || (err as { code?: string }).code === 'BAD_SESSION_MESSAGE') throw err
    bad(`truncated or malformed (${(err as Error).message})`)
  }
  if (state.start !== state.end) bad('trailing bytes')
  return value
}

function encodeWith(pre: (s: State) => void, enc: (s: State) => void): Buffer {
  const state = c.state()
  pre(state)
  state.buffer = Buffer.allocUnsafe(state.end)
  enc(state)
  return state.buffer as Buffer
}

export function encodeExtend(m: ExtendBody): Buffer {
  const ops = (s: State, mode: 'preencode' | 'encode') => {
    c.uint[mode](s, m.version)
    c.fixed32[mode](s, m.nextKey)
    c.buffer[mode](s, m.handshake)
  }
  return encodeWith((s) => ops(s, 'preencode'), (s) => ops(s, 'encode'))
}

export function decodeExtend(buf: Uint8Array): ExtendBody {
  return decodeAll(buf, (state) => {
    const version = c.uint.decode(state)
    if (version !== EXTEND_VERSION) bad(`extend version ${version} (this peer speaks ${EXTEND_VERSION})`)
    const nextKey = Buffer.from(c.fixed32.decode(state))
    const handshake = c.buffer.decode(state)
    if (handshake === null || handshake.byteLength < HOP_REQUEST_OVERHEAD || handshake.byteLength > HOP_REQUEST_OVERHEAD + MAX_HOP_PAYLOAD) bad('extend handshake of the wrong size')
    return { version, nextKey, handshake: Buffer.from(handshake) }
  })
}

export function encodeExtended(m: ExtendedBody): Buffer {
  const ops = (s: State, mode: 'preencode' | 'encode') => {
    c.uint[mode](s, m.ok ? 0 : 1)
    if (m.ok) c.buffer[mode](s, m.handshake)
    else {
      c.string[mode](s, m.code)
      c.string[mode](s, m.message)
    }
  }
  return encodeWith((s) => ops(s, 'preencode'), (s) => ops(s, 'encode'))
}

export function decodeExtended(buf: Uint8Array): ExtendedBody {
  return decodeAll(buf, (state): ExtendedBody => {
    const kind = c.uint.decode(state)
    if (kind === 0) {
      const handshake = c.buffer.decode(state)
      if (handshake === null || handshake.byteLength < HOP_REPLY_OVERHEAD || handshake.byteLength > HOP_REPLY_OVERHEAD + MAX_HOP_PAYLOAD) bad('extended handshake of the wrong size')
      return { ok: true, handshake: Buffer.from(handshake) }
    }
    if (kind !== 1) bad(`unknown extended kind ${kind}`)
    const code = c.string.decode(state)
    const message = c.string.decode(state)
    if (!/^[A-Z_]{1,40}$/.test(code) || message.length > 300) bad('extended refusal malformed')
    return { ok: false, code, message }
  })
}

export function encodeTunnelAsk(m: ExitTunnelAsk): Buffer {
  const token = m.resumeToken ?? Buffer.alloc(RESUME_TOKEN_BYTES)
  const ops = (s: State, mode: 'preencode' | 'encode') => {
    c.uint[mode](s, m.version)
    c.fixed32[mode](s, m.wgPublicKey)
    c.fixed32[mode](s, token)
  }
  return encodeWith((s) => ops(s, 'preencode'), (s) => ops(s, 'encode'))
}

export function decodeTunnelAsk(buf: Uint8Array): ExitTunnelAsk {
  return decodeAll(buf, (state) => {
    const version = c.uint.decode(state)
    const wgPublicKey = Buffer.from(c.fixed32.decode(state))
    const token = Buffer.from(c.fixed32.decode(state))
    return { version, wgPublicKey, resumeToken: token.every((b) => b === 0) ? null : token }
  })
}

export function encodeTunnelAnswer(m: ExitTunnelAnswer): Buffer {
  const ops = (s: State, mode: 'preencode' | 'encode') => {
    c.uint[mode](s, m.ok ? 0 : 1)
    if (m.ok) {
      tunnelGrantEncoding[mode](s, m.grant)
      c.fixed32[mode](s, m.resumeToken)
    } else {
      tunnelRefusalEncoding[mode](s, m.refusal)
    }
  }
  return encodeWith((s) => ops(s, 'preencode'), (s) => ops(s, 'encode'))
}

export function decodeTunnelAnswer(buf: Uint8Array): ExitTunnelAnswer {
  return decodeAll(buf, (state): ExitTunnelAnswer => {
    const kind = c.uint.decode(state)
    if (kind === 0) {
      const grant = tunnelGrantEncoding.decode(state)
      if (grant.version !== SESSION_VERSION) bad(`grant version ${grant.version}`)
      return { ok: true, grant, resumeToken: Buffer.from(c.fixed32.decode(state)) }
    }
    if (kind !== 1) bad(`unknown answer kind ${kind}`)
    return { ok: false, refusal: tunnelRefusalEncoding.decode(state) }
  })
}
