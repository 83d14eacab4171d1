/**
 * The consumer <-> exit session protocol of Speed mode, a protomux channel over the hyperdht
 * (secret-stream) connection: the consumer asks for a tunnel with its WireGuard public key and
 * the rate it pays per MiB (the exit's price; paid over the pay channel, protocol/pay-channel.ts); the
 * exit answers with the tunnel address it assigned, its gateway (also its DNS resolver), the MTU
 * and its WireGuard public key, or refuses with a stable code (protocol/wire-codes.ts).
 *
 * WireGuard datagrams do not use this channel: they travel as unordered secret-stream messages
 * (`conn.send`), probes among them (protocol/probe.ts). The grant and refusal encodings are also
 * the exit's answer inside a circuit's hop handshake (protocol/circuit-messages.ts).
 */
import c from 'compact-encoding'
import { parseIPv4 } from '../../../shared/bypass-ip-address.ts'
import { failWith } from '../lib/coded-error.ts'
import { struct } from '../lib/struct-encoding.ts'
import { defineChannel } from './channel-definition.ts'
import { MAX_PRICE_TIER } from './price-tiers.ts'
import { ProtocolError } from './protocol-errors.ts'

export const SESSION_PROTOCOL = 'macro-vpn/session'
/** 2: the request carries the rate the consumer pays. */
export const SESSION_VERSION = 2

const fail: (message: string) => never = failWith(ProtocolError.BAD_SESSION_MESSAGE)

export const tunnelRequestEncoding = struct({ version: c.uint, wgPublicKey: c.fixed32, rateLamportsPerMiB: c.uint }, (m) => {
  if (m.rateLamportsPerMiB > MAX_PRICE_TIER) fail('tunnel request rate above any exit price')
})
export type TunnelRequest = ReturnType<typeof tunnelRequestEncoding.decode>

export const tunnelGrantEncoding = struct({ version: c.uint, wgPublicKey: c.fixed32, address: c.string, gateway: c.string, mtu: c.uint }, (m) => {
  if (parseIPv4(m.address) === null || parseIPv4(m.gateway) === null) fail('tunnel grant carries an invalid address')
  if (m.mtu < 1280 || m.mtu > 1500) fail('tunnel grant carries an MTU outside 1280..1500')
})
export type TunnelGrant = ReturnType<typeof tunnelGrantEncoding.decode>

export const tunnelRefusalEncoding = struct({ code: c.string, message: c.string }, (m) => {
  if (m.code.length > 64 || m.message.length > 500) fail('tunnel refusal too long')
})
export type TunnelRefusal = ReturnType<typeof tunnelRefusalEncoding.decode>

export const sessionChannel = defineChannel({
  protocol: SESSION_PROTOCOL,
  version: SESSION_VERSION,
  errorCode: ProtocolError.BAD_SESSION_MESSAGE,
  messages: { request: tunnelRequestEncoding, grant: tunnelGrantEncoding, refusal: tunnelRefusalEncoding }
})
