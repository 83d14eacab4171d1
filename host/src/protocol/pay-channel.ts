/**
 * The pay channel of a link: a protomux channel `macro-vpn/pay` (version 1) beside the circuit
 * (or session) channel on the same hyperdht connection, between the hop that pays (the dialler:
 * a consumer towards its entry, a relay towards its next hop) and the hop it pays (DESIGN.md
 * section 4). Reliable and ordered; every message validated.
 *
 *   payer    payer -> payee   who pays: the payer's wallet and the durable-nonce account its
 *                             vouchers to this payee use (one per payee)
 *   voucher  payer -> payee   a signed Solana transaction: advance the payer's nonce + transfer
 *                             payer -> payee of the running total since the last settlement
 *   behind   payee -> payer   the payee counts `lamports` more carried than covered (its count
 *                             of this link's bytes); the payer may make up the difference
 *   settled  payee -> payer   the payee settled a voucher of `amount` on chain (`signature`);
 *                             the nonce is now `nonce`: a new running total starts
 *   refusal  payee -> payer   the payee refuses this payer (stable code) and ends its circuits
 *
 * Amounts are lamports. A message that does not decode closes the connection (protomux
 * forwards the throw).
 */
import c from 'compact-encoding'
import { failWith } from '../lib/coded-error.ts'
import { boundedBuffer, checked, struct } from '../lib/struct-encoding.ts'
import { defineChannel } from './channel-definition.ts'
import { ProtocolError } from './protocol-errors.ts'
import { WIRE_CODE } from './wire-codes.ts'

export const PAY_PROTOCOL = 'macro-vpn/pay'
export const PAY_VERSION = 1
/** Solana's largest transaction. */
export const MAX_VOUCHER_BYTES = 1232

const fail: (message: string) => never = failWith(ProtocolError.BAD_PAY_MESSAGE, 'Bad pay message: ')

const BASE58_ADDRESS = /^[1-9A-HJ-NP-Za-km-z]{32,44}$/
const BASE58_SIGNATURE = /^[1-9A-HJ-NP-Za-km-z]{64,88}$/

const address = checked(c.string, (a) => {
  if (!BASE58_ADDRESS.test(a)) fail('not a base58 address')
})
const signature = checked(c.string, (s) => {
  if (!BASE58_SIGNATURE.test(s)) fail('not a base58 signature')
})
const lamports = checked(c.uint, (n) => {
  if (!Number.isSafeInteger(n)) fail('amount out of range')
})

export const payerEncoding = struct({ payer: address, nonceAccount: address })
export const voucherEncoding = struct({ transaction: boundedBuffer(64, MAX_VOUCHER_BYTES, () => fail('voucher of the wrong size')) })
export const behindEncoding = struct({ lamports })
export const settledEncoding = struct({ signature, amount: lamports, nonce: address })
export const payRefusalEncoding = struct({ code: c.string, message: c.string }, (m) => {
  if (!WIRE_CODE.test(m.code) || m.message.length > 300) fail('refusal malformed')
})
export type PayerMessage = ReturnType<typeof payerEncoding.decode>
export type SettledMessage = ReturnType<typeof settledEncoding.decode>
export type PayRefusal = ReturnType<typeof payRefusalEncoding.decode>

export const payChannel = defineChannel({
  protocol: PAY_PROTOCOL,
  version: PAY_VERSION,
  errorCode: ProtocolError.BAD_PAY_MESSAGE,
  messages: { payer: payerEncoding, voucher: voucherEncoding, behind: behindEncoding, settled: settledEncoding, refusal: payRefusalEncoding }
})
export type PayChannelEnd = ReturnType<typeof payChannel.attach>
export type PayChannelHandlers = Parameters<typeof payChannel.attach>[1]
