/**
 * The control channel of a circuit link: a protomux channel `macro-vpn/circuit` (version 1) on a
 * hyperdht connection between two adjacent hops (consumer -> entry, relay -> relay, relay -> exit).
 * It is reliable and ordered; data cells never use it (they travel as unordered secret-stream
 * messages on the same connection, see circuit-cell.ts).
 *
 *   create    dialler -> acceptor   open circuit `circuitId` on this link with a Noise IK
 *                                   request (hop-handshake.ts); `seqBase` is the first backward
 *                                   sequence the new hop may use (the previous hop used the ones
 *                                   below it for its own cells, and a nonce is never reused);
 *                                   `rateLamportsPerMiB` is what the dialler pays the acceptor per
 *                                   MiB of this circuit's cells on this link (0: nothing), over
 *                                   the link's pay channel (protocol/pay-channel.ts)
 *   created   acceptor -> dialler   the handshake reply
 *   cell      either way            an EXTEND (forward) or EXTENDED (backward) cell, onion-layered
 *   destroy   either way            the circuit is gone on this link, with a stable code
 *
 * Only the dialling side of a link creates circuits on it, so a circuit id names one circuit per
 * link. A message that does not decode destroys the connection (protomux forwards the throw).
 */
import c from 'compact-encoding'
import { failWith } from '../lib/coded-error.ts'
import { boundedBuffer, checked, struct } from '../lib/struct-encoding.ts'
import { defineChannel } from './channel-definition.ts'
import { MAX_CELL_BYTES, MAX_CIRCUIT_HOPS } from './circuit-cell.ts'
import { HOP_REPLY_OVERHEAD, HOP_REQUEST_OVERHEAD, MAX_HOP_PAYLOAD } from './hop-handshake.ts'
import { MAX_PRICE_TIER } from './price-tiers.ts'
import { ProtocolError } from './protocol-errors.ts'
import { WIRE_CODE } from './wire-codes.ts'

export const CIRCUIT_PROTOCOL = 'macro-vpn/circuit'
/** 2: create carries the rate the dialler pays. */
export const CIRCUIT_VERSION = 2
/** The most one circuit can pay per MiB on a link: every hop at the highest tier. */
export const MAX_CIRCUIT_RATE = MAX_CIRCUIT_HOPS * MAX_PRICE_TIER

const fail: (message: string) => never = failWith(ProtocolError.BAD_CIRCUIT_MESSAGE, 'Bad circuit message: ')

const requestBytes = boundedBuffer(HOP_REQUEST_OVERHEAD, HOP_REQUEST_OVERHEAD + MAX_HOP_PAYLOAD, () => fail('handshake request of the wrong size'))
const replyBytes = boundedBuffer(HOP_REPLY_OVERHEAD, HOP_REPLY_OVERHEAD + MAX_HOP_PAYLOAD, () => fail('handshake reply of the wrong size'))
const cellBytes = boundedBuffer(1, MAX_CELL_BYTES, () => fail('cell of the wrong size'))
const seqBase = checked(c.uint, (n) => {
  if (!Number.isSafeInteger(n)) fail('sequence base out of range')
})
const destroyCode = checked(c.string, (code) => {
  if (!WIRE_CODE.test(code)) fail('destroy code malformed')
})
const rate = checked(c.uint, (n) => {
  if (n > MAX_CIRCUIT_RATE) fail('circuit rate above any path price')
})

export const createEncoding = struct({ circuitId: c.uint32, seqBase, rateLamportsPerMiB: rate, handshake: requestBytes })
export const createdEncoding = struct({ circuitId: c.uint32, handshake: replyBytes })
export const destroyEncoding = struct({ circuitId: c.uint32, code: destroyCode })
export type CreateMessage = ReturnType<typeof createEncoding.decode>
export type CreatedMessage = ReturnType<typeof createdEncoding.decode>
export type DestroyMessage = ReturnType<typeof destroyEncoding.decode>

export const circuitChannel = defineChannel({
  protocol: CIRCUIT_PROTOCOL,
  version: CIRCUIT_VERSION,
  errorCode: ProtocolError.BAD_CIRCUIT_MESSAGE,
  messages: { create: createEncoding, created: createdEncoding, cell: cellBytes, destroy: destroyEncoding }
})
export type CircuitChannelEnd = ReturnType<typeof circuitChannel.attach>
export type CircuitChannelHandlers = Parameters<typeof circuitChannel.attach>[1]
