/**
 * The bodies of circuit control messages that only one hop can read (they travel inside onion
 * layers or inside a hop handshake), compact-encoded and validated:
 *
 *   ExtendBody       consumer -> last hop, in an EXTEND cell: dial `nextKey`, send it `handshake`
 *   ExtendedBody     last hop -> consumer, in an EXTENDED cell: the new hop's handshake reply,
 *                    or a refusal with a stable code
 *   ExitTunnelAsk    consumer -> exit, as the payload of the exit's hop handshake: a tunnel for
 *                    this WireGuard key, optionally resuming an earlier one (same address, same
 *                    WireGuard session) with the token the exit granted before (all zero: none)
 *   ExitTunnelAnswer exit -> consumer, the handshake reply payload: a grant (address, gateway,
 *                    MTU, the exit's WireGuard key, the resume token) or a refusal
 *
 * A relay hop's handshake payload is empty: an empty payload asks for forwarding only.
 */
import c from 'compact-encoding'
import { failWith } from '../lib/coded-error.ts'
import { boundedBuffer, checked, decodeExact, encodeWith, mapped, outcome, struct } from '../lib/struct-encoding.ts'
import { HOP_REPLY_OVERHEAD, HOP_REQUEST_OVERHEAD, MAX_HOP_PAYLOAD } from './hop-handshake.ts'
import { ProtocolError } from './protocol-errors.ts'
import { SESSION_VERSION, tunnelGrantEncoding, tunnelRefusalEncoding } from './session-protocol.ts'
import { WIRE_CODE } from './wire-codes.ts'

export const EXTEND_VERSION = 1
export const RESUME_TOKEN_BYTES = 32

const bad: (message: string) => never = failWith(ProtocolError.BAD_CELL, 'Bad circuit control body: ')

/** 32 bytes, decoded as a copy (the received buffer may be reused). */
const bytes32 = mapped<Buffer, Buffer>(
  c.fixed32,
  (k) => k,
  (k) => Buffer.from(k)
)

const extendEncoding = struct({
  version: checked(c.uint, (v) => {
    if (v !== EXTEND_VERSION) bad(`extend version ${v} (this peer speaks ${EXTEND_VERSION})`)
  }),
  nextKey: bytes32,
  handshake: boundedBuffer(HOP_REQUEST_OVERHEAD, HOP_REQUEST_OVERHEAD + MAX_HOP_PAYLOAD, () => bad('extend handshake of the wrong size'))
})
export type ExtendBody = ReturnType<typeof extendEncoding.decode>

const extendedEncoding = outcome(
  struct({ handshake: boundedBuffer(HOP_REPLY_OVERHEAD, HOP_REPLY_OVERHEAD + MAX_HOP_PAYLOAD, () => bad('extended handshake of the wrong size')) }),
  struct({ code: c.string, message: c.string }, (m) => {
    if (!WIRE_CODE.test(m.code) || m.message.length > 300) bad('extended refusal malformed')
  }),
  (message) => bad(message)
)
export type ExtendedBody = ReturnType<typeof extendedEncoding.decode>

/** The resume token on the wire: 32 bytes, all zero for "no tunnel to resume". */
const resumeToken = mapped<Buffer | null, Buffer>(
  c.fixed32,
  (token) => token ?? Buffer.alloc(RESUME_TOKEN_BYTES),
  (wire) => (wire.every((b) => b === 0) ? null : Buffer.from(wire))
)
const tunnelAskEncoding = struct({ version: c.uint, wgPublicKey: bytes32, resumeToken })
export type ExitTunnelAsk = ReturnType<typeof tunnelAskEncoding.decode>

const tunnelAnswerEncoding = outcome(
  struct({
    grant: checked(tunnelGrantEncoding, (g) => {
      if (g.version !== SESSION_VERSION) bad(`grant version ${g.version}`)
    }),
    resumeToken: bytes32
  }),
  struct({ refusal: tunnelRefusalEncoding }),
  (message) => bad(message)
)
export type ExitTunnelAnswer = ReturnType<typeof tunnelAnswerEncoding.decode>

export const encodeExtend = (m: ExtendBody): Buffer => encodeWith(extendEncoding, m)
export const decodeExtend = (buf: Uint8Array): ExtendBody => decodeExact(extendEncoding, buf, bad)
export const encodeExtended = (m: ExtendedBody): Buffer => encodeWith(extendedEncoding, m)
export const decodeExtended = (buf: Uint8Array): ExtendedBody => decodeExact(extendedEncoding, buf, bad)
export const encodeTunnelAsk = (m: ExitTunnelAsk): Buffer => encodeWith(tunnelAskEncoding, m)
export const decodeTunnelAsk = (buf: Uint8Array): ExitTunnelAsk => decodeExact(tunnelAskEncoding, buf, bad)
export const encodeTunnelAnswer = (m: ExitTunnelAnswer): Buffer => encodeWith(tunnelAnswerEncoding, m)
export const decodeTunnelAnswer = (buf: Uint8Array): ExitTunnelAnswer => decodeExact(tunnelAnswerEncoding, buf, bad)
