/**
 * The signed provider descriptor, published as the hyperdht mutable record under the provider's
 * own key (`dht.mutablePut(keyPair, encodeDescriptor(d), { seq: d.seq })`). The DHT checks the
 * signature against that key; this module fixes the bytes and validates every field.
 *
 * Layout (compact-encoding): version uint · roles uint (bit 0 relay, bit 1 exit, bit 2 offers a
 * blind relay for peers that cannot hole-punch each other; at least one of relay and exit) · region string
 * · host string (the provider's public IPv4 address as the DHT observed it, '' when unknown; path
 * selection keeps one peer per /16) · priceLamportsPerMiB uint (one of protocol/price-tiers.ts) · bandwidthMbps uint · blocked CIDR count uint, then per CIDR
 * network address as a uint32 number + prefix uint8 · blocked TCP port count uint, then uint16
 * each · wgPublicKey fixed32 · payoutAddress string (the provider's Solana wallet, '' for a
 * volunteer without one; required when the price is not 0) · seq uint. Nothing may follow.
 *
 * Version 3 (payments): prices are tiers and a priced provider names its payout address.
 */
import c from 'compact-encoding'
import { formatIPv4, ipv4Mask, parseIPv4 } from '../../../shared/bypass-ip-address.ts'
import { failWith } from '../lib/coded-error.ts'
import { decodeExact, encodeWith, struct } from '../lib/struct-encoding.ts'
import { isPriceTier, priceTierList } from './price-tiers.ts'
import { ProtocolError } from './protocol-errors.ts'

export const DESCRIPTOR_VERSION = 3
export const MAX_DESCRIPTOR_BYTES = 1000
export const MAX_POLICY_ENTRIES = 32
export const MAX_BANDWIDTH_MBPS = 1_000_000

export type ProviderRole = 'relay' | 'exit'

export interface ExitPolicySummary {
  /** IPv4 CIDRs the exit refuses. */
  blockedCidrs: string[]
  /** TCP destination ports the exit refuses. */
  blockedTcpPorts: number[]
}

export interface ProviderDescriptor {
  version: number
  roles: ProviderRole[]
  /**
   * Offers a blind relay (the `blind-relay` protocol on its DHT key): two peers whose NATs both
   * randomize ports meet through it (hyperdht `relayThrough`). It forwards their encrypted UDX
   * packets without reading them.
   */
  blindRelay: boolean
  /** 1..16 characters of [a-z0-9-]. */
  region: string
  /** Public IPv4 address as the provider's DHT node sees it, '' when unknown. */
  host: string
  /** Lamports per MiB carried, one of PRICE_TIERS; 0 = a volunteer. */
  priceLamportsPerMiB: number
  bandwidthMbps: number
  exitPolicy: ExitPolicySummary
  wgPublicKey: Buffer
  /**
   * The provider's Solana wallet (base58): where payers' vouchers pay, and what it pays its next
   * hops from. '' for a volunteer without a wallet (it can carry only circuits that pay nobody after it).
   */
  payoutAddress: string
  /** Milliseconds timestamp; also the mutable record's seq. */
  seq: number
}

const ROLE_BITS: Record<ProviderRole, number> = { relay: 1, exit: 2 }
const BLIND_RELAY_BIT = 4
const REGION = /^[a-z0-9-]{1,16}$/
const PAYOUT = /^[1-9A-HJ-NP-Za-km-z]{32,44}$/

/** The bytes as they travel, field by field in wire order. */
const wireEncoding = struct({
  version: c.uint,
  roleBits: c.uint,
  region: c.string,
  host: c.string,
  priceLamportsPerMiB: c.uint,
  bandwidthMbps: c.uint,
  blockedCidrs: c.array(struct({ network: c.uint32, prefix: c.uint8 })),
  blockedTcpPorts: c.array(c.uint16),
  wgPublicKey: c.fixed32,
  payoutAddress: c.string,
  seq: c.uint
})
type WireDescriptor = ReturnType<typeof wireEncoding.decode>

const bad: (message: string) => never = failWith(ProtocolError.BAD_DESCRIPTOR, 'Invalid provider descriptor: ')

function parseCidr(cidr: string): { network: number; prefix: number } {
  const [ip, bits, extra] = typeof cidr === 'string' ? cidr.split('/') : []
  const network = parseIPv4(ip ?? '')
  if (extra !== undefined || network === null || !/^\d{1,2}$/.test(bits ?? '') || Number(bits) > 32) bad(`blocked CIDR ${JSON.stringify(cidr)}`)
  const prefix = Number(bits)
  if (!hostBitsClear(network, prefix)) bad(`blocked CIDR ${JSON.stringify(cidr)} has host bits set`)
  return { network, prefix }
}

function hostBitsClear(network: number, prefix: number): boolean {
  return (network & ~ipv4Mask(prefix)) >>> 0 === 0
}

function checkUint(n: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > max) bad(`${what} must be an integer 0..${max}`)
  return n
}

function checkPort(n: unknown): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) bad('blocked port must be 1..65535')
  return n
}

function checkRolesBits(bits: number): ProviderRole[] {
  if ((bits & 3) === 0 || (bits & ~7) !== 0) bad('roles must be a non-empty set of relay and exit, plus the blind relay flag')
  const roles: ProviderRole[] = []
  if (bits & ROLE_BITS.relay) roles.push('relay')
  if (bits & ROLE_BITS.exit) roles.push('exit')
  return roles
}

function checkStrings(d: { region: unknown; payoutAddress: unknown; host: unknown }): void {
  if (typeof d.region !== 'string' || !REGION.test(d.region)) bad('region must be 1-16 characters of a-z, 0-9 and -')
  if (typeof d.host !== 'string' || (d.host !== '' && parseIPv4(d.host) === null)) bad('host must be empty or an IPv4 address')
  if (typeof d.payoutAddress !== 'string' || (d.payoutAddress !== '' && !PAYOUT.test(d.payoutAddress))) bad('payout address must be empty or a base58 address')
}

function checkPrice(price: unknown, payoutAddress: unknown): void {
  checkUint(price, 'price')
  if (!isPriceTier(price)) bad(`price ${String(price)} is not a price tier (${priceTierList()} lamports per MiB)`)
  if (price > 0 && payoutAddress === '') bad('a priced provider must name its payout address')
}

function checkPolicyLists(cidrs: unknown[], ports: unknown[]): void {
  if (cidrs.length > MAX_POLICY_ENTRIES || ports.length > MAX_POLICY_ENTRIES) bad(`exit policy lists hold at most ${MAX_POLICY_ENTRIES} entries`)
}

/** Validate and encode. Throws BAD_DESCRIPTOR for anything out of bounds. */
export function encodeDescriptor(d: ProviderDescriptor): Buffer {
  if (d.version !== DESCRIPTOR_VERSION) bad(`version must be ${DESCRIPTOR_VERSION}`)
  if (!Array.isArray(d.roles)) bad('roles must be a list')
  let roleBits = 0
  for (const role of d.roles) {
    const bit = ROLE_BITS[role as ProviderRole]
    if (!bit || roleBits & bit) bad(`role ${JSON.stringify(role)} unknown or repeated`)
    roleBits |= bit
  }
  checkRolesBits(roleBits)
  if (typeof d.blindRelay !== 'boolean') bad('blindRelay must be true or false')
  if (d.blindRelay) roleBits |= BLIND_RELAY_BIT
  checkStrings(d)
  checkPrice(d.priceLamportsPerMiB, d.payoutAddress)
  checkUint(d.bandwidthMbps, 'bandwidth', MAX_BANDWIDTH_MBPS)
  checkUint(d.seq, 'seq')
  if (!d.exitPolicy || !Array.isArray(d.exitPolicy.blockedCidrs) || !Array.isArray(d.exitPolicy.blockedTcpPorts))
    bad('exit policy must have blockedCidrs and blockedTcpPorts lists')
  checkPolicyLists(d.exitPolicy.blockedCidrs, d.exitPolicy.blockedTcpPorts)
  if (!Buffer.isBuffer(d.wgPublicKey) || d.wgPublicKey.length !== 32) bad('WireGuard public key must be 32 bytes')
  const wire: WireDescriptor = {
    version: d.version,
    roleBits,
    region: d.region,
    host: d.host,
    priceLamportsPerMiB: d.priceLamportsPerMiB,
    bandwidthMbps: d.bandwidthMbps,
    blockedCidrs: d.exitPolicy.blockedCidrs.map(parseCidr),
    blockedTcpPorts: d.exitPolicy.blockedTcpPorts.map(checkPort),
    wgPublicKey: d.wgPublicKey,
    payoutAddress: d.payoutAddress,
    seq: d.seq
  }
  const buf = encodeWith(wireEncoding, wire)
  if (buf.byteLength > MAX_DESCRIPTOR_BYTES) bad(`encoded size ${buf.byteLength} exceeds ${MAX_DESCRIPTOR_BYTES} bytes`)
  return buf
}

/** Decode and validate bytes from the DHT. Throws BAD_DESCRIPTOR for anything malformed. */
export function decodeDescriptor(buf: Uint8Array): ProviderDescriptor {
  if (!(buf instanceof Uint8Array)) bad('not a byte buffer')
  if (buf.byteLength > MAX_DESCRIPTOR_BYTES) bad(`size ${buf.byteLength} exceeds ${MAX_DESCRIPTOR_BYTES} bytes`)
  // The version first: a later version may lay the rest out differently.
  const version = decodeExact(c.uint, buf.subarray(0, Math.min(buf.byteLength, 9)), bad, true)
  if (version !== DESCRIPTOR_VERSION) bad(`version ${version} is not supported (this program reads version ${DESCRIPTOR_VERSION})`)
  const w = decodeExact(wireEncoding, buf, bad)
  const roles = checkRolesBits(w.roleBits)
  checkUint(w.bandwidthMbps, 'bandwidth', MAX_BANDWIDTH_MBPS)
  checkPolicyLists(w.blockedCidrs, w.blockedTcpPorts)
  for (const cidr of w.blockedCidrs) if (cidr.prefix > 32 || !hostBitsClear(cidr.network, cidr.prefix)) bad('malformed blocked CIDR')
  for (const port of w.blockedTcpPorts) checkPort(port)
  checkUint(w.seq, 'seq')
  checkStrings(w)
  checkPrice(w.priceLamportsPerMiB, w.payoutAddress)
  return {
    version: w.version,
    roles,
    blindRelay: (w.roleBits & BLIND_RELAY_BIT) !== 0,
    region: w.region,
    host: w.host,
    priceLamportsPerMiB: w.priceLamportsPerMiB,
    bandwidthMbps: w.bandwidthMbps,
    exitPolicy: { blockedCidrs: w.blockedCidrs.map((cidr) => `${formatIPv4(cidr.network)}/${cidr.prefix}`), blockedTcpPorts: w.blockedTcpPorts },
    wgPublicKey: Buffer.from(w.wgPublicKey),
    payoutAddress: w.payoutAddress,
    seq: w.seq
  }
}
