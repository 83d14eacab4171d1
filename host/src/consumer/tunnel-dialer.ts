/**
 * Opens TCP connections through the tunnel: resolves through the exit, applies the exit policy
 * locally too (a DNS answer must not point the proxy at this machine or its LAN), and connects
 * from the tunnel address so the policy rule routes it into WireGuard.
 */
import net from 'node:net'
import { isBlockedDestination } from '../protocol/exit-policy.ts'
import type { TunnelResolver } from './tunnel-resolver.ts'

export class TunnelDialer {
  private readonly resolver: TunnelResolver
  private readonly localAddress: string
  private readonly connectTimeoutMs: number

  constructor(opts: { resolver: TunnelResolver; localAddress: string; connectTimeoutMs?: number }) {
    this.resolver = opts.resolver
    this.localAddress = opts.localAddress
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 15000
  }

  async connect(host: string, port: number): Promise<net.Socket> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw Object.assign(new Error('Invalid port.'), { code: 'BAD_DESTINATION' })
    if (net.isIPv6(host) || host.startsWith('[')) throw Object.assign(new Error('IPv6 destinations are not carried yet.'), { code: 'DESTINATION_BLOCKED' })
    const address = await this.resolver.lookup(host)
    if (isBlockedDestination(address, port)) {
      throw Object.assign(new Error('The exit policy does not allow this destination.'), { code: 'DESTINATION_BLOCKED' })
    }
    return await new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect({ host: address, port, localAddress: this.localAddress, noDelay: true })
      const timer = setTimeout(() => {
        socket.destroy()
        reject(Object.assign(new Error('The destination did not answer in time.'), { code: 'CONNECT_TIMEOUT' }))
      }, this.connectTimeoutMs)
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        resolve(socket)
      })
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        reject(Object.assign(new Error(`The destination refused or was unreachable (${err.code ?? 'error'}).`), { code: 'CONNECT_FAILED' }))
      })
    })
  }
}
