/**
 * A TCP/HTTP server on a local address that remembers its live sockets, so that close() ends
 * every proxied connection at once (a disconnect must not leave tunnels half open).
 */
import type net from 'node:net'
import type { Duplex } from 'node:stream'
import { listenServer } from './socket-binding.ts'

export class LocalListener {
  private readonly sockets = new Set<Duplex>()
  port = 0

  constructor(
    private readonly server: net.Server,
    readonly host: string,
    private readonly wantedPort: number
  ) {}

  get address(): string {
    return `${this.host}:${this.port}`
  }

  /** Remember a socket until it closes. */
  track(socket: Duplex): void {
    this.sockets.add(socket)
    socket.once('close', () => this.sockets.delete(socket))
  }

  async open(): Promise<void> {
    await listenServer(this.server, this.wantedPort, this.host)
    this.port = (this.server.address() as net.AddressInfo).port
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}
