/**
 * Name resolution through the tunnel: queries go to the exit's resolver at the tunnel gateway,
 * sent from the tunnel address (so the policy rule carries them into WireGuard). Never the
 * local resolver. A small cache honours the answer's TTL (bounded in size and time).
 */
import { Resolver } from 'node:dns/promises'
import net from 'node:net'
import { ConsumerError } from './consumer-errors.ts'
import { CodedError } from '../lib/coded-error.ts'

const MAX_ENTRIES = 2048
const MAX_TTL_S = 300

export class TunnelResolver {
  private readonly resolver: Resolver
  private readonly cache = new Map<string, { address: string; expires: number }>()

  constructor(opts: { server: string; localAddress: string; timeoutMs?: number }) {
    this.resolver = new Resolver({ timeout: opts.timeoutMs ?? 2500, tries: 2 })
    this.resolver.setLocalAddress(opts.localAddress)
    this.resolver.setServers([opts.server])
  }

  /** Resolve to one IPv4 address. Errors: DNS_NOT_FOUND (no such name), DNS_FAILED (resolver unreachable). */
  async lookup(hostname: string): Promise<string> {
    if (net.isIPv4(hostname)) return hostname
    const name = hostname.toLowerCase().replace(/\.$/, '')
    const hit = this.cache.get(name)
    const now = Date.now()
    if (hit && hit.expires > now) return hit.address
    let records: { address: string; ttl: number }[]
    try {
      records = await this.resolver.resolve4(name, { ttl: true })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOTFOUND' || code === 'ENODATA' || code === 'ENONAME') {
        throw new CodedError(ConsumerError.DNS_NOT_FOUND, 'The exit found no address for this name.')
      }
      throw new CodedError(ConsumerError.DNS_FAILED, 'The exit resolver did not answer through the tunnel.')
    }
    const first = records[0]
    if (!first) throw new CodedError(ConsumerError.DNS_NOT_FOUND, 'The exit found no address for this name.')
    if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value as string)
    this.cache.set(name, { address: first.address, expires: now + Math.min(first.ttl, MAX_TTL_S) * 1000 })
    return first.address
  }

  /** A query whose answer (even NXDOMAIN) proves the tunnel carries traffic both ways. */
  async probe(): Promise<void> {
    try {
      await this.resolver.resolve4('probe.macro-vpn.invalid')
    } catch (err) {
      // Any DNS answer (NXDOMAIN, SERVFAIL, REFUSED…) came back through the tunnel; only silence fails.
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ETIMEOUT' && code !== 'ECONNREFUSED' && code !== 'ECANCELLED' && code !== 'ECONNRESET') return
      throw new CodedError(ConsumerError.TUNNEL_FAILED, 'No answer from the exit through the tunnel.')
    }
  }

  cancel(): void {
    this.resolver.cancel()
  }
}
