/**
 * One live tunnel of the consumer: carrier -> bridge -> wireguard-go -> policy route -> resolver
 * -> local proxies. The carrier (consumer/carrier.ts) is the exit alone or a circuit through
 * relays; the tunnel does not care which. open() builds it in that order (each step is recorded
 * so that a crash can be undone), close() takes it down in reverse.
 */
import { CodedError } from '../lib/coded-error.ts'
import type { NetworkStateRecord } from '../system/network-state-record.ts'
import { PolicyRoute } from '../system/policy-routing.ts'
import { TunnelFirewall } from '../system/tunnel-firewall.ts'
import { WireGuardDevice } from '../system/wireguard-device.ts'
import type { Carrier, CarrierSnapshot } from './carrier.ts'
import { ConsumerError } from './consumer-errors.ts'
import { HttpProxyServer } from './http-proxy-server.ts'
import { ProxyCredential } from './proxy-credential.ts'
import { Socks5ProxyServer } from './socks5-proxy-server.ts'
import { TunnelBridge } from './tunnel-bridge.ts'
import { TunnelDialer } from './tunnel-dialer.ts'
import { TunnelResolver } from './tunnel-resolver.ts'

export interface ConsumerTunnelOptions {
  /** Makes the carrier for this tunnel's fresh WireGuard key (consumer/create-carrier.ts). */
  carrier: (wgPublicKey: Buffer) => Carrier
  ifname: string
  /** The configured tunnel MTU for one hop on a 1500-byte path (the carrier's overhead comes off it). */
  mtu: number
  table: number
  priority: number
  record: NetworkStateRecord
  httpPort?: number
  socksPort?: number
  onProgress?: (step: string) => void
  /** Something in the carrier's snapshot changed (rebuild, standby). */
  onchange?: () => void
}

export class ConsumerTunnel {
  readonly opts: ConsumerTunnelOptions
  private carrier: Carrier | null = null
  private bridge: TunnelBridge | null = null
  private device: WireGuardDevice | null = null
  private route: PolicyRoute | null = null
  private firewall: TunnelFirewall | null = null
  private resolver: TunnelResolver | null = null
  private http: HttpProxyServer | null = null
  private socks: Socks5ProxyServer | null = null
  credential: ProxyCredential | null = null
  address: string | null = null
  mtu = 0
  /** Called when the carrier can no longer reach the exit while the tunnel is up. */
  onlost: (() => void) | null = null

  constructor(opts: ConsumerTunnelOptions) {
    this.opts = opts
  }

  get httpAddress(): string | null {
    return this.http?.address ?? null
  }

  get socksAddress(): string | null {
    return this.socks?.address ?? null
  }

  /** The carrier's hops, round trip, route and bytes; null before open(). */
  get snapshot(): CarrierSnapshot | null {
    return this.carrier?.snapshot() ?? null
  }

  get bytes(): { rx: number; tx: number } {
    return { rx: this.bridge?.rxBytes ?? 0, tx: this.bridge?.txBytes ?? 0 }
  }

  async open(): Promise<void> {
    const { opts } = this
    const progress = opts.onProgress ?? (() => {})
    const keys = WireGuardDevice.generateKeyPair()

    this.bridge = new TunnelBridge()
    await this.bridge.open()
    const carrier = opts.carrier(keys.publicKey)
    this.carrier = carrier
    this.bridge.attach(carrier)
    carrier.onlost = () => this.onlost?.()
    carrier.onchange = () => opts.onchange?.()
    const grant = await carrier.open(progress)
    // The carrier's per-datagram overhead comes off the one-hop budget, in steps of 8 bytes.
    this.mtu = Math.min(grant.mtu, Math.floor((opts.mtu - carrier.overhead) / 8) * 8)

    progress('starting WireGuard')
    this.address = grant.address
    const recordBase = { v: 1 as const, ifname: opts.ifname, address: grant.address, table: opts.table, priority: opts.priority }
    await opts.record.save({ ...recordBase, wgPid: null })
    this.device = new WireGuardDevice({ ifname: opts.ifname, privateKey: keys.privateKey, mtu: this.mtu })
    await this.device.open()
    await opts.record.save({ ...recordBase, wgPid: this.device.pid })
    // Before WireGuard has a peer: its port takes datagrams from the bridge alone, the tunnel only replies (system/tunnel-firewall.ts).
    this.firewall = new TunnelFirewall({
      ifname: opts.ifname,
      address: grant.address,
      gateway: grant.gateway,
      wgListenPort: this.device.listenPort,
      bridgePort: this.bridge.port,
      uid: process.getuid?.() ?? 0
    })
    await this.firewall.open()
    this.bridge.setWireGuardPort(this.device.listenPort)
    await this.device.setPeer({ publicKey: grant.wgPublicKey, endpoint: `127.0.0.1:${this.bridge.port}`, allowedIps: ['0.0.0.0/0'], keepalive: 25 })

    progress('routing')
    this.route = new PolicyRoute({ ifname: opts.ifname, address: grant.address, table: opts.table, priority: opts.priority })
    await this.route.open()

    progress('testing the tunnel')
    this.resolver = new TunnelResolver({ server: grant.gateway, localAddress: grant.address })
    await this.waitForTunnel(this.resolver)

    progress('starting the local proxy')
    this.credential = new ProxyCredential()
    const dialer = new TunnelDialer({ resolver: this.resolver, localAddress: grant.address })
    this.http = new HttpProxyServer({ credential: this.credential, dialer, port: opts.httpPort })
    this.socks = new Socks5ProxyServer({ credential: this.credential, dialer, port: opts.socksPort })
    await this.http.open()
    await this.socks.open()
  }

  /** The first WireGuard handshake takes a round trip or two; a DNS answer proves the whole path. */
  private async waitForTunnel(resolver: TunnelResolver): Promise<void> {
    const deadline = Date.now() + 10000
    for (;;) {
      try {
        await resolver.probe()
        return
      } catch (err) {
        if (Date.now() > deadline) {
          throw new CodedError(ConsumerError.TUNNEL_FAILED, 'WireGuard did not come up through the exit (no handshake or no DNS answer within 10 s).', {
            cause: err
          })
        }
      }
    }
  }

  async close(): Promise<void> {
    const steps: Array<() => Promise<void> | void> = [
      () => this.http?.close(),
      () => this.socks?.close(),
      () => this.resolver?.cancel(),
      () => this.route?.close(),
      () => this.device?.close(),
      () => this.firewall?.close(),
      () => this.bridge?.close(),
      () => this.carrier?.close(),
      () => this.opts.record.clear()
    ]
    for (const step of steps) {
      try {
        await step()
      } catch {
        // keep tearing down; a failed step must not leave the rest in place
      }
    }
    this.http = this.socks = null
    this.resolver = null
    this.route = null
    this.firewall = null
    this.device = null
    this.bridge = null
    this.carrier = null
  }
}
