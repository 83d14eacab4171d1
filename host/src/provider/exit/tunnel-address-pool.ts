/**
 * The exit's pool of consumer tunnel addresses: one /32 per consumer out of the tunnel subnet
 * (default 10.77.0.0/16: 10.77.0.2 .. 10.77.255.254, the gateway 10.77.0.1 excluded). Addresses
 * are handed out round-robin, so a released one is not reused at once.
 */
import { formatIPv4, parseIPv4 } from '../../../../shared/bypass-ip-address.ts'
import { CodedError } from '../../lib/coded-error.ts'
import { LibError } from '../../lib/lib-errors.ts'

export interface TunnelAddressPoolOptions {
  subnet?: string
  gateway?: string
  /** At most this many addresses in use at once (default: the whole subnet). */
  limit?: number
}

function ipv4ToInt(ip: string): number {
  const n = parseIPv4(ip)
  if (n === null) throw new CodedError(LibError.BAD_ARGUMENT, `Invalid IPv4 address ${JSON.stringify(ip)}.`)
  return n
}

export class TunnelAddressPool {
  readonly subnet: string
  readonly gateway: string
  readonly prefix: number
  readonly limit: number
  private readonly first: number
  private readonly last: number
  private readonly gatewayInt: number
  private readonly used = new Set<number>()
  private cursor: number

  constructor(opts: TunnelAddressPoolOptions = {}) {
    this.subnet = opts.subnet ?? '10.77.0.0/16'
    this.gateway = opts.gateway ?? '10.77.0.1'
    const [ip, bits, extra] = this.subnet.split('/')
    const prefix = Number(bits)
    if (extra !== undefined || !/^\d{1,2}$/.test(bits ?? '') || prefix < 8 || prefix > 30)
      throw new CodedError(LibError.BAD_ARGUMENT, `Invalid tunnel subnet ${JSON.stringify(this.subnet)}: use a /8../30 IPv4 CIDR.`)
    const size = 2 ** (32 - prefix)
    const network = ipv4ToInt(ip ?? '')
    if (network % size !== 0) throw new CodedError(LibError.BAD_ARGUMENT, `Tunnel subnet ${this.subnet} has host bits set`)
    this.prefix = prefix
    this.first = network + 1
    this.last = network + size - 2
    this.gatewayInt = ipv4ToInt(this.gateway)
    if (this.gatewayInt < this.first || this.gatewayInt > this.last)
      throw new CodedError(LibError.BAD_ARGUMENT, `Gateway ${this.gateway} is not inside ${this.subnet}`)
    const capacity = this.last - this.first // hosts minus the gateway
    this.limit = Math.min(opts.limit ?? capacity, capacity)
    if (!Number.isInteger(this.limit) || this.limit < 0) throw new CodedError(LibError.BAD_ARGUMENT, 'Pool limit must be a non-negative integer')
    this.cursor = this.first
  }

  /** Addresses in use. */
  get size(): number {
    return this.used.size
  }

  get full(): boolean {
    return this.used.size >= this.limit
  }

  /** A free address, or null when the pool is full. */
  allocate(): string | null {
    if (this.full) return null
    for (let n = this.cursor, tries = 0; tries <= this.last - this.first; tries++) {
      const candidate = n
      n = n >= this.last ? this.first : n + 1
      if (candidate === this.gatewayInt || this.used.has(candidate)) continue
      this.used.add(candidate)
      this.cursor = n
      return formatIPv4(candidate)
    }
    return null
  }

  /** Give an address back; false if it was not in use. */
  release(address: string): boolean {
    const n = parseIPv4(address)
    return n !== null && this.used.delete(n)
  }

  has(address: string): boolean {
    const n = parseIPv4(address)
    return n !== null && this.used.has(n)
  }
}
