/**
 * What the two local proxies (HTTP and SOCKS5) share: a listener on 127.0.0.1 that remembers its
 * sockets (close() ends every proxied connection), the per-session credential they demand, and
 * the dialer that opens connections through the tunnel.
 */
import type net from 'node:net'
import { LocalListener } from '../lib/local-listener.ts'
import type { ProxyCredential } from './proxy-credential.ts'
import type { TunnelDialer } from './tunnel-dialer.ts'

export interface LocalProxyOptions {
  credential: ProxyCredential
  dialer: TunnelDialer
  host?: string
  port?: number
}

export abstract class LocalProxy {
  protected readonly listener: LocalListener
  protected readonly credential: ProxyCredential
  protected readonly dialer: TunnelDialer

  protected constructor(server: net.Server, opts: LocalProxyOptions) {
    this.credential = opts.credential
    this.dialer = opts.dialer
    this.listener = new LocalListener(server, opts.host ?? '127.0.0.1', opts.port ?? 0)
  }

  /** "127.0.0.1:PORT" once open. */
  get address(): string {
    return this.listener.address
  }

  get port(): number {
    return this.listener.port
  }

  open(): Promise<void> {
    return this.listener.open()
  }

  close(): Promise<void> {
    return this.listener.close()
  }
}
