/**
 * The signed provider descriptor, published as the hyperdht mutable record under the provider's
 * own key (`dht.mutablePut(keyPair, encodeDescriptor(d), { seq: d.seq })`). The DHT checks the
 * signature against that key; this module fixes the bytes and validates every field.
 *
 * Layout (compact-encoding): version uint · roles uint (bit 0 relay, bit 1 exit, bit 2 offers a
 * blind relay for peers that cannot hole-punch each other; at least one of relay and exit) · region string
 * · host string (the provider's public IPv4 address as the DHT observed it, '' when unknown; path
 * selection keeps one peer per /16) · priceLamportsPerMiB uint · bandwidthMbps uint · blocked CIDR count uint, then per CIDR
 * network address as a uint32 number + prefix uint8 · blocked TCP port count uint, then uint16
 * each · wgPublicKey fixed32 · payoutAddress string · seq uint. Nothing may follow.
 */
import c, { type State } from 'compact-encoding'

export const DESCRIPTOR_VERSION = 2
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
  /** 0 = free. */
  priceLamportsPerMiB: number
  bandwidthMbps: number
  exitPolicy: ExitPolicySummary
  wgPublicKey: Buffer
  /** '' until payments exist, else a base58 Solana address. */
  payoutAddress: string
  /** Milliseconds timestamp; also the mutable record's seq. */
  seq: number
}

const ROLE_BITS: Record<ProviderRole, number> = { relay: 1, exit: 2 }
const BLIND_RELAY_BIT = 4
const REGION = /^[a-z0-9-]{1,16}$/
const PAYOUT = /^[1-9A-HJ-NP-Za-km-z]{32,44}$/
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

function bad(message: string): never {
  throw Object.assign(new Error(`Invalid provider descriptor: ${message}`), { code: 'BAD_DESCRIPTOR' })
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0)
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

function parseCidr(cidr: string): { network: number; prefix: number } {
  const [ip, bits, extra] = typeof cidr === 'string' ? cidr.split('/') : []
  if (extra !== undefined || !IPV4.test(ip ?? '') || !/^\d{1,2}$/.test(bits ?? '') || Number(bits) > 32) bad(`blocked CIDR ${JSON.stringify(cidr)}`)
  const prefix = Number(bits)
  const network = ipToInt(ip ?? '')
  if (!hostBitsClear(network, prefix)) bad(`blocked CIDR ${JSON.stringify(cidr)} has host bits set`)
  return { network, prefix }
}

function hostBitsClear(network: number, prefix: number): boolean {
  const hostMask = prefix === 32 ? 0 : (2 ** (32 - prefix)) - 1
  return (network % (hostMask + 1)) === 0
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
  if (typeof d.host !== 'string' || (d.host !== '' && !IPV4.test(d.host))) bad('host must be empty or an IPv4 address')
  if (typeof d.payoutAddress !== 'string' || (d.payoutAddress !== '' && !PAYOUT.test(d.payoutAddress))) bad('payout address must be empty or a base58 address')
}

/** Validate and encode. Throws BAD_DESCRIPTOR for anything out of bounds. */
export function encodeDescriptor(d: ProviderDescriptor): Buffer {
  if (d.version !== DESCRIPTOR_VERSION) bad(`version must be ${DESCRIPTOR_VERSION}`)
  if (!Array.isArray(d.roles)) bad('roles must be a list')
  let roleBits = 0
  for (const role of d.roles) {
    const bit = ROLE_BITS[role as ProviderRole]
    if (!bit || (roleBits & bit)) bad(`role ${JSON.stringify(role)} unknown or repeated`)
    roleBits |= bit
  }
  checkRolesBits(roleBits)
  if (typeof d.blindRelay !== 'boolean') bad('blindRelay must be true or false')
  if (d.blindRelay) roleBits |= BLIND_RELAY_BIT
  checkStrings(d)
  checkUint(d.priceLamportsPerMiB, 'price')
  checkUint(d.bandwidthMbps, 'bandwidth', MAX_BANDWIDTH_MBPS)
  checkUint(d.seq, 'seq')
  if (!d.exitPolicy || !Array.isArray(d.exitPolicy.blockedCidrs) || !Array.isArray(d.exitPolicy.blockedTcpPorts)) bad('exit policy must have blockedCidrs and blockedTcpPorts lists')
  if (d.exitPolicy.blockedCidrs.length > MAX_POLICY_ENTRIES || d.exitPolicy.blockedTcpPorts.length > MAX_POLICY_ENTRIES) bad(`exit policy lists hold at most ${MAX_POLICY_ENTRIES} entries`)
  const cidrs = d.exitPolicy.blockedCidrs.map(parseCidr)
  const ports = d.exitPolicy.blockedTcpPorts.map(checkPort)
  if (!Buffer.isBuffer(d.wgPublicKey) || d.wgPublicKey.length !== 32) bad('WireGuard public key must be 32 bytes')

  const state = c.state()
  const ops = (s: State, mode: 'preencode' | 'encode') => {
    c.uint[mode](s, d.version)
    c.uint[mode](s, roleBits)
    c.string[mode](s, d.region)
    c.string[mode](s, d.host)
    c.uint[mode](s, d.priceLamportsPerMiB)
    c.uint[mode](s, d.bandwidthMbps)
    c.uint[mode](s, cidrs.length)
    for (const cidr of cidrs) {
      c.uint32[mode](s, cidr.network)
      c.uint8[mode](s, cidr.prefix)
    }
    c.uint[mode](s, ports.length)
    for (const port of ports) c.uint16[mode](s, port)
    c.fixed32[mode](s, d.wgPublicKey)
    c.string[mode](s, d.payoutAddress)
    c.uint[mode](s, d.seq)
  }
  ops(state, 'preencode')
  if (state.end > MAX_DESCRIPTOR_BYTES) bad(`encoded size ${state.end} exceeds ${MAX_DESCRIPTOR_BYTES} bytes`)
  state.buffer = Buffer.allocUnsafe(state.end)
  ops(state, 'encode')
  return state.buffer as Buffer
}

/** Decode and validate bytes from the DHT. Throws BAD_DESCRIPTOR for anything malformed. */
export function decodeDescriptor(buf: Uint8Array): ProviderDescriptor {
  if (!(buf instanceof Uint8Array)) bad('not a byte buffer')
  if (buf.byteLength > MAX_DESCRIPTOR_BYTES) bad(`size ${buf.byteLength} exceeds ${MAX_DESCRIPTOR_BYTES} bytes`)
  const state: State = { start: 0, end: buf.byteLength, buffer: buf }
  try {
    const version = c.uint.decode(state)
    if (version !== DESCRIPTOR_VERSION) bad(`version ${version} is not supported (this program reads version ${DESCRIPTOR_VERSION})`)
    const roleBits = c.uint.decode(state)
    const roles = checkRolesBits(roleBits)
    const blindRelay = (roleBits & BLIND_RELAY_BIT) !== 0
    const region = c.string.decode(state)
    const host = c.string.decode(state)
    const priceLamportsPerMiB = checkUint(c.uint.decode(state), 'price')
    const bandwidthMbps = checkUint(c.uint.decode(state), 'bandwidth', MAX_BANDWIDTH_MBPS)
    const cidrCount = c.uint.decode(state)
    if (cidrCount > MAX_POLICY_ENTRIES) bad('too many blocked CIDRs')
    const blockedCidrs: string[] = []
    for (let i = 0; i < cidrCount; i++) {
      const network = c.uint32.decode(state)
      const prefix = c.uint8.decode(state)
      if (prefix > 32 || !hostBitsClear(network, prefix)) bad('malformed blocked CIDR')
      blockedCidrs.push(`${intToIp(network)}/${prefix}`)
    }
    const portCount = c.uint.decode(state)
    if (portCount > MAX_POLICY_ENTRIES) bad('too many blocked ports')
    const blockedTcpPorts: number[] = []
    for (let i = 0; i < portCount; i++) blockedTcpPorts.push(checkPort(c.uint16.decode(state)))
    const wgPublicKey = Buffer.from(c.fixed32.decode(state))
    const payoutAddress = c.string.decode(state)
    const seq = checkUint(c.uint.decode(state), 'seq')
    if (state.start !== state.end) bad('trailing bytes')
    checkStrings({ region, payoutAddress, host })
    return { version, roles, blindRelay, region, host, priceLamportsPerMiB, bandwidthMbps, exitPolicy: { blockedCidrs, blockedTcpPorts }, wgPublicKey, payoutAddress, seq }
  } catch (err) {
    if ((err as { code?: string }).code === 'BAD_DESCRIPTOR') throw err
    bad(`truncated or malformed (${(err as Error).message})`)
  }
}
