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
 *   HopAsk           consumer -> each hop, the payload of that hop's handshake: a relay is asked
 *                    to forward and told what it must pay its next hop per MiB (the sum of the
 *                    prices after it; DESIGN.md section 4), the exit is asked for a tunnel
 */
import c, { type State } from 'compact-encoding'
import { failWith } from '../lib/coded-error.ts'
import { boundedBuffer, checked, decodeExact, encodeWith, mapped, outcome, struct } from '../lib/struct-encoding.ts'
import { MAX_CIRCUIT_HOPS } from './circuit-cell.ts'
import { HOP_REPLY_OVERHEAD, HOP_REQUEST_OVERHEAD, MAX_HOP_PAYLOAD } from './hop-handshake.ts'
import { MAX_PRICE_TIER } from './price-tiers.ts'
import { ProtocolError } from './protocol-errors.ts'
import { SESSION_VERSION, tunnelGrantEncoding, tunnelRefusalEncoding } from './session-protocol.ts'
import { WIRE_CODE } from './wire-codes.ts'

export const EXTEND_VERSION = 1
export const HOP_ASK_VERSION = 1
export const RESUME_TOKEN_BYTES = 32
/** The most a hop can be asked to pass on per MiB: every later hop at the highest tier. */
export const MAX_DOWNSTREAM_PRICE = (MAX_CIRCUIT_HOPS - 1) * MAX_PRICE_TIER

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

const relayAskEncoding = struct({ version: c.uint, downstreamLamportsPerMiB: c.uint }, (m) => {
  if (m.version !== HOP_ASK_VERSION) bad(`relay ask version ${m.version} (this peer speaks ${HOP_ASK_VERSION})`)
  if (m.downstreamLamportsPerMiB > MAX_DOWNSTREAM_PRICE) bad('relay ask passes on more than any path costs')
})

/** What the consumer asks one hop for, inside that hop's handshake. */
export type HopAsk = { kind: 'relay'; downstreamLamportsPerMiB: number } | { kind: 'exit'; tunnel: ExitTunnelAsk }

const HOP_ASK_RELAY = 0
const HOP_ASK_EXIT = 1

const hopAskEncoding = {
  preencode(state: State, m: HopAsk) {
    c.uint.preencode(state, m.kind === 'relay' ? HOP_ASK_RELAY : HOP_ASK_EXIT)
    if (m.kind === 'relay') relayAskEncoding.preencode(state, { version: HOP_ASK_VERSION, downstreamLamportsPerMiB: m.downstreamLamportsPerMiB })
    else tunnelAskEncoding.preencode(state, m.tunnel)
  },
  encode(state: State, m: HopAsk) {
    c.uint.encode(state, m.kind === 'relay' ? HOP_ASK_RELAY : HOP_ASK_EXIT)
    if (m.kind === 'relay') relayAskEncoding.encode(state, { version: HOP_ASK_VERSION, downstreamLamportsPerMiB: m.downstreamLamportsPerMiB })
    else tunnelAskEncoding.encode(state, m.tunnel)
  },
  decode(state: State): HopAsk {
    const kind = c.uint.decode(state)
    if (kind === HOP_ASK_RELAY) return { kind: 'relay', downstreamLamportsPerMiB: relayAskEncoding.decode(state).downstreamLamportsPerMiB }
    if (kind === HOP_ASK_EXIT) return { kind: 'exit', tunnel: tunnelAskEncoding.decode(state) }
    return bad(`unknown hop ask ${kind}`)
  }
}

export const encodeHopAsk = (m: HopAsk): Buffer => encodeWith(hopAskEncoding, m)
export const decodeHopAsk = (buf: Uint8Array): HopAsk => decodeExact(hopAskEncoding, buf, bad)
export const encodeExtend = (m: ExtendBody): Buffer => encodeWith(extendEncoding, m)
export const decodeExtend = (buf: Uint8Array): ExtendBody => decodeExact(extendEncoding, buf, bad)
export const encodeExtended = (m: ExtendedBody): Buffer => encodeWith(extendedEncoding, m)
export const decodeExtended = (buf: Uint8Array): ExtendedBody => decodeExact(extendedEncoding, buf, bad)
export const encodeTunnelAsk = (m: ExitTunnelAsk): Buffer => encodeWith(tunnelAskEncoding, m)
export const decodeTunnelAsk = (buf: Uint8Array): ExitTunnelAsk => decodeExact(tunnelAskEncoding, buf, bad)
export const encodeTunnelAnswer = (m: ExitTunnelAnswer): Buffer => encodeWith(tunnelAnswerEncoding, m)
export const decodeTunnelAnswer = (buf: Uint8Array): ExitTunnelAnswer => decodeExact(tunnelAnswerEncoding, buf, bad)
