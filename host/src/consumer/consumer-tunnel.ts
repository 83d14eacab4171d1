/**
 * One live tunnel of the consumer: carrier -> bridge -> wireguard-go -> policy route -> resolver
 * -> local proxies. The carrier is the direct exit session for one hop (Speed) or the circuit
 * manager for two or three hops. open() builds it in that order (each step is recorded so that
 * a crash can be undone), close() takes it down in reverse.
 */
import type { PeerDialer } from '../overlay/peer-dialer.ts'
import { circuitMtu } from '../protocol/circuit-cell.ts'
import { CircuitManager, type CircuitSnapshot } from './circuit-carrier.ts'
import type { CircuitPeer } from './consumer-circuit.ts'
import type { PeerStore } from './peer-store.ts'
import type { TunnelGrant } from '../protocol/session-protocol.ts'
import { OVERLAY_OVERHEAD } from '../protocol/tunnel-mtu.ts'
import { ExitSession } from './direct-carrier.ts'
import { HttpProxyServer } from './http-proxy-server.ts'
import type { NetworkStateRecord } from '../system/network-state-record.ts'
import { PolicyRoute } from '../system/policy-routing.ts'
import type { ProviderInfo } from '../overlay/provider-discovery.ts'
import { ProxyCredential } from './proxy-credential.ts'
import { Socks5ProxyServer } from './socks5-proxy-server.ts'
import { TunnelBridge } from './tunnel-bridge.ts'
import { TunnelDialer } from './tunnel-dialer.ts'
import { TunnelResolver } from './tunnel-resolver.ts'
import { WireGuardDevice } from '../system/wireguard-device.ts'

export interface ConsumerTunnelOptions {
  /** Dials the first hop (the exit in Speed mode), through a blind relay when it must. */
  dialer: PeerDialer
  provider: ProviderInfo
  ifname: string
  mtu: number
  table: number
  priority: number
  record: NetworkStateRecord
  httpPort?: number
  socksPort?: number
  onProgress?: (step: string) => void
  /** 1 = the exit alone (direct session); 2 or 3 = a circuit through relays. */
  hops?: number
  /** For circuits: the providers known now, the peer store, the circuit lifetime. */
  candidates?: () => CircuitPeer[]
  peers?: PeerStore
  circuitLifetimeMs?: number
  /** Something in the circuit snapshot changed (rebuild, standby). */
  onchange?: () => void
}

export class ConsumerTunnel {
  readonly opts: ConsumerTunnelOptions
  private session: ExitSession | null = null
  private circuits: CircuitManager | null = null
  private bridge: TunnelBridge | null = null
  private device: WireGuardDevice | null = null
  private route: PolicyRoute | null = null
  private resolver: TunnelResolver | null = null
  private http: HttpProxyServer | null = null
  private socks: Socks5ProxyServer | null = null
  credential: ProxyCredential | null = null
  address: string | null = null
  mtu = 0
  probeRttMs = 0
  /** Called when the exit connection drops while the tunnel is up. */
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

  /** How the consumer reaches the first hop right now: directly, or through a blind relay. */
  get entryRoute(): 'direct' | 'relayed' {
    return this.circuits?.snapshot?.entryRoute ?? this.session?.route ?? 'direct'
  }

  get circuit(): CircuitSnapshot | null {
    return this.circuits?.snapshot ?? null
  }

  get bytes(): { rx: number; tx: number } {
    return { rx: this.bridge?.rxBytes ?? 0, tx: this.bridge?.txBytes ?? 0 }
  }

  async open(): Promise<void> {
    const { opts } = this
    const progress = opts.onProgress ?? (() => {})
    const keys = WireGuardDevice.generateKeyPair()

    const hops = opts.hops ?? 1
    let grant: TunnelGrant
    this.bridge = new TunnelBridge()
    await this.bridge.open()
    if (hops === 1) {
      progress('dialling exit')
      this.session = new ExitSession({ dialer: opts.dialer, publicKey: opts.provider.publicKey, wgPublicKey: keys.publicKey })
      grant = await this.session.open()
      if (!grant.wgPublicKey.equals(opts.provider.descriptor.wgPublicKey)) {
        throw Object.assign(new Error('The exit answered with a WireGuard key other than the one it published.'), { code: 'EXIT_MISBEHAVED' })
      }
      progress('checking the path')
      this.bridge.attach(this.session.conn!, this.session.onProbeReply)
      this.probeRttMs = await this.session.probe()
      this.session.onclose = () => this.onlost?.()
      this.mtu = Math.min(grant.mtu, opts.mtu)
    } else {
      if (!opts.candidates || !opts.peers) throw Object.assign(new Error('A circuit needs candidates and a peer store.'), { code: 'BAD_ARGUMENT' })
      const bridge = this.bridge
      this.circuits = new CircuitManager({
        dialer: opts.dialer,
        hops,
        exit: opts.provider,
        candidates: opts.candidates,
        peers: opts.peers,
        wgPublicKey: keys.publicKey,
        lifetimeMs: opts.circuitLifetimeMs,
        ondatagram: bridge.deliver,
        onlost: () => this.onlost?.(),
        onchange: () => opts.onchange?.()
      })
      grant = await this.circuits.open(progress)
      this.bridge.attachCarrier(this.circuits.send)
      this.mtu = Math.min(grant.mtu, circuitMtu(opts.mtu + OVERLAY_OVERHEAD, hops))
    }

    progress('starting WireGuard')
    this.address = grant.address
    const recordBase = { v: 1 as const, ifname: opts.ifname, address: grant.address, table: opts.table, priority: opts.priority }
    await opts.record.save({ ...recordBase, wgPid: null })
    this.device = new WireGuardDevice({ ifname: opts.ifname, privateKey: keys.privateKey, mtu: this.mtu })
    await this.device.open()
    await opts.record.save({ ...recordBase, wgPid: this.device.pid })
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
          throw Object.assign(new Error('WireGuard did not come up through the exit (no handshake or no DNS answer within 10 s).'), { code: 'TUNNEL_FAILED' })
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
      () => this.bridge?.close(),
      () => this.circuits?.close(),
      () => this.session?.close(),
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
    this.device = null
    this.bridge = null
    this.circuits = null
    this.session = null
  }
}
