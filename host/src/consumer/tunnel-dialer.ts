/**
 * Opens TCP connections through the tunnel: resolves through the exit, applies the exit policy
 * locally too (a DNS answer must not point the proxy at this machine or its LAN), refuses this
 * machine's own addresses (system/local-addresses.ts), and connects
 * from the tunnel address so the policy rule routes it into WireGuard.
 */
import net from 'node:net'
import { isBlockedDestination } from '../protocol/exit-policy.ts'
import { isLocalAddress } from '../system/local-addresses.ts'
import type { TunnelResolver } from './tunnel-resolver.ts'
import { ConsumerError } from './consumer-errors.ts'
import { CodedError } from '../lib/coded-error.ts'

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
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CodedError(ConsumerError.BAD_DESTINATION, 'Invalid port.')
    if (net.isIPv6(host) || host.startsWith('[')) throw new CodedError(ConsumerError.DESTINATION_BLOCKED, 'IPv6 destinations are not carried yet.')
    const address = await this.resolver.lookup(host)
    if (isBlockedDestination(address, port)) {
      throw new CodedError(ConsumerError.DESTINATION_BLOCKED, 'The exit policy does not allow this destination.')
    }
    if (isLocalAddress(address)) {
      throw new CodedError(
        ConsumerError.DESTINATION_BLOCKED,
        'That destination is this computer itself; the VPN does not carry connections to it. Open it without the proxy.'
      )
    }
    return await new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect({ host: address, port, localAddress: this.localAddress, noDelay: true })
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new CodedError(ConsumerError.CONNECT_TIMEOUT, 'The destination did not answer in time.'))
      }, this.connectTimeoutMs)
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        resolve(socket)
      })
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        reject(new CodedError(ConsumerError.CONNECT_FAILED, `The destination refused or was unreachable (${err.code ?? 'error'}).`))
      })
    })
  }
}
