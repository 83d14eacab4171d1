import dgram from 'node:dgram'
import DHT from 'hyperdht'
import { OverlayError } from './overlay-errors.ts'
import { LibError } from '../lib/lib-errors.ts'
import { CodedError } from '../lib/coded-error.ts'

export interface BootstrapNodeOptions {
  /** IPv4 address other nodes reach this bootstrap at (also what it announces for itself). */
  host: string
  /** UDP port of the bootstrap node (hyperdht's default is 49737). */
  port: number
  /** Total DHT nodes in this process, the bootstrap included. Fewer than ~10 and NAT classification never settles. */
  nodes?: number
}

/**
 * A self-contained DHT: one hyperdht bootstrap node on host:port plus `nodes - 1` further
 * non-ephemeral nodes on random ports of the same host, bootstrapped from the first.
 * Same approach as hyperdht's own testnet helper (node_modules/hyperdht/testnet.js).
 */
export class BootstrapNode {
  readonly host: string
  readonly port: number
  readonly size: number
  private readonly dhts: DHT[] = []
  private opened = false
  private closing: Promise<void> | null = null

  constructor({ host, port, nodes = 10 }: BootstrapNodeOptions) {
    if (typeof host !== 'string' || !/^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host === '0.0.0.0') {
      throw new CodedError(
        LibError.BAD_ARGUMENT,
        `Invalid bootstrap host ${JSON.stringify(host)}: give the IPv4 address other nodes will reach, e.g. --host 198.18.0.2.`
      )
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new CodedError(LibError.BAD_ARGUMENT, `Invalid bootstrap port ${String(port)}: give a UDP port between 1 and 65535, e.g. --port 49737.`)
    }
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > 100) {
      throw new CodedError(LibError.BAD_ARGUMENT, `Invalid node count ${String(nodes)}: give 1 to 100 (10 is a good testnet).`)
    }
    this.host = host
    this.port = port
    this.size = nodes
  }

  get address(): { host: string; port: number } {
    return { host: this.host, port: this.port }
  }

  /** All nodes' addresses, the bootstrap first. */
  get nodeAddresses(): Array<{ host: string; port: number }> {
    return this.dhts.map((dht) => ({ host: this.host, port: dht.address().port }))
  }

  async open(): Promise<void> {
    if (this.opened) return
    this.opened = true
    const bindHost = this.host === '127.0.0.1' ? '127.0.0.1' : '0.0.0.0'
    try {
      // hyperdht leaks a native socket when its bind fails, keeping the process alive: probe first.
      await probeUdpPort(bindHost, this.port)
      const first = DHT.bootstrapper(this.port, this.host, { host: bindHost })
      this.dhts.push(first)
      await first.fullyBootstrapped()
      const bootstrap = [{ host: this.host, port: this.port }]
      while (this.dhts.length < this.size) {
        const node = new DHT({ ephemeral: false, firewalled: false, bootstrap, host: bindHost })
        this.dhts.push(node)
        await node.fullyBootstrapped()
      }
    } catch (err) {
      await this.close()
      const e = err as NodeJS.ErrnoException
      if (e.code === 'EADDRINUSE' || /EADDRINUSE/.test(String(e.message))) {
        throw new CodedError(
          OverlayError.BOOTSTRAP_PORT_IN_USE,
          `Cannot listen on UDP ${this.host}:${this.port}: the port is in use. Stop the other bootstrap node or choose another --port.`,
          { cause: err }
        )
      }
      if (e.code === 'EADDRNOTAVAIL' || /EADDRNOTAVAIL/.test(String(e.message))) {
        throw new CodedError(
          OverlayError.BOOTSTRAP_ADDRESS_UNAVAILABLE,
          `Cannot listen on UDP ${this.host}:${this.port}: the address is not on this machine. Use one of this machine's IPv4 addresses for --host.`,
          { cause: err }
        )
      }
      throw new CodedError(OverlayError.BOOTSTRAP_FAILED, `Could not start the bootstrap node on ${this.host}:${this.port}: ${e.message}`, { cause: err })
    }
  }

  async close(): Promise<void> {
    if (this.closing) return this.closing
    this.closing = (async () => {
      for (let i = this.dhts.length - 1; i >= 0; i--) {
        await this.dhts[i]!.destroy().catch(() => {})
      }
      this.dhts.length = 0
    })()
    return this.closing
  }
}

function probeUdpPort(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4')
    socket.once('error', (err) => {
      socket.close()
      reject(err)
    })
    socket.bind({ address: host, port, exclusive: true }, () => socket.close(() => resolve()))
  })
}
