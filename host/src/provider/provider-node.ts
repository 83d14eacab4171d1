/**
 * A provider (`macro-vpn serve --role relay|exit|relay,exit`): a long-lived identity on the DHT,
 * announced on the providers topic with a signed descriptor, accepting connections from
 * consumers and other relays.
 *
 * On each incoming connection the peer opens one of two channels:
 *   - `macro-vpn/session` (exits only): a consumer's direct one-hop tunnel (Speed mode); its
 *     WireGuard datagrams then arrive as unordered secret-stream messages;
 *   - `macro-vpn/circuit`: a hop of a multi-hop circuit (circuit-switch.ts), as relay or exit.
 *
 * A provider also offers a blind relay (blind-relay-service.ts; relays by default, `--no-blind-relay`
 * turns it off, `--blind-relay` turns it on for an exit): peers whose NATs both randomize ports
 * meet through it. When this provider itself must dial a next hop that it cannot hole-punch, it
 * asks another provider's blind relay (peer-dialer.ts).
 *
 * Privacy: nothing here logs a consumer's key, address or traffic; only aggregate counters.
 */
import DHT, { type NoiseSocket, type Server } from 'hyperdht'
import { chooseBlindRelays } from '../overlay/blind-relay-choice.ts'
import { BlindRelayService, type BlindRelayStats } from '../overlay/blind-relay-service.ts'
import { CircuitSwitch, type CircuitSwitchStats } from './relay/circuit-switch.ts'
import { DEFAULT_EXIT_POLICY } from '../system/exit-firewall.ts'
import { ExitGateway, type ExitGatewayStats, type ExitTunnel, type TunnelOutlet, TunnelRefused } from './exit/exit-gateway.ts'
import { DESCRIPTOR_VERSION, encodeDescriptor, type ProviderDescriptor, type ProviderRole } from '../protocol/provider-descriptor.ts'
import { PeerDialer, type RelayCandidate } from '../overlay/peer-dialer.ts'
import { ProviderDiscovery, type ProviderInfo } from '../overlay/provider-discovery.ts'
import { loadProviderIdentity, type ProviderIdentity } from './provider-identity.ts'
import { PROVIDERS_TOPIC } from '../protocol/provider-topic.ts'
import { MAX_PROBE_BYTES, PROBE_REPLY, PROBE_REQUEST, SessionChannel, type TunnelRequest } from '../protocol/session-protocol.ts'
import { DEFAULT_TUNNEL_MTU } from '../protocol/tunnel-mtu.ts'

/** A connection that neither opens a tunnel nor carries a circuit within this time is closed. */
const IDLE_CONNECTION_MS = 30_000
/** How long a provider list looked up for choosing a blind relay is reused. */
const RELAY_LIST_MAX_AGE_MS = 60_000

export interface ProviderNodeOptions {
  stateDir: string
  roles: ProviderRole[]
  region: string
  bootstrap: Array<{ host: string; port: number }>
  ifname?: string
  mtu?: number
  maxConsumers?: number
  priceLamportsPerMiB?: number
  /** Total bandwidth this provider offers, Mbit/s; 0 = unlimited. Enforced on circuits and published. */
  bandwidthMbps?: number
  /** Per-circuit cap, Mbit/s; 0 = none. */
  circuitBandwidthMbps?: number
  maxCircuits?: number
  /** How often the announcement and the descriptor are refreshed, default 5 minutes. */
  refreshIntervalMs?: number
  /** Port of the DNS resolver on the gateway, default 53 (tests only change it). */
  dnsPort?: number
  /** Offer a blind relay to peers that cannot hole-punch each other (default: true for relays, false for exits alone). */
  blindRelay?: boolean
  /** Peers using the blind relay at once (default 64). */
  maxRelayedPeers?: number
}

export interface ProviderNodeStats {
  sessions: number
  blindRelay: BlindRelayStats | null
  dials: ReturnType<PeerDialer['stats']> | null
  exit: ExitGatewayStats | null
  circuits: CircuitSwitchStats | null
}

interface Session extends TunnelOutlet {
  conn: NoiseSocket
  channel: SessionChannel | null
  tunnel: ExitTunnel | null
  requested: boolean
  closed: boolean
  timer: NodeJS.Timeout | null
}

function providerError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

const MBIT = 1_000_000 / 8

export class ProviderNode {
  readonly opts: Required<Omit<ProviderNodeOptions, 'bootstrap'>> & { bootstrap: Array<{ host: string; port: number }> }
  private identity: ProviderIdentity | null = null
  private gateway: ExitGateway | null = null
  private circuits: CircuitSwitch | null = null
  private dht: DHT | null = null
  private dialer: PeerDialer | null = null
  private blindRelay: BlindRelayService | null = null
  private relayList: { at: number; providers: Promise<ProviderInfo[]> } | null = null
  private server: Server | null = null
  private refreshTimer: NodeJS.Timeout | null = null
  private readonly sessions = new Set<Session>()
  private opening: Promise<void> | null = null
  private closing = false
  private closed: Promise<void> | null = null

  constructor(opts: ProviderNodeOptions) {
    const roles = [...new Set(opts.roles)]
    if (roles.length === 0 || roles.some((r) => r !== 'relay' && r !== 'exit')) throw providerError('BAD_ARGUMENT', `Invalid --role ${JSON.stringify(opts.roles.join(','))}: use relay, exit or relay,exit.`)
    if (!/^[a-z0-9-]{1,16}$/.test(opts.region)) throw providerError('BAD_ARGUMENT', `Invalid --region ${JSON.stringify(opts.region)}: use 1-16 characters of a-z, 0-9 and -.`)
    if (!Array.isArray(opts.bootstrap) || opts.bootstrap.length === 0) throw providerError('BAD_ARGUMENT', 'A provider needs at least one --bootstrap HOST:PORT.')
    const mtu = opts.mtu ?? DEFAULT_TUNNEL_MTU
    if (!Number.isInteger(mtu) || mtu < 1280 || mtu > 1500) throw providerError('BAD_ARGUMENT', `Invalid --mtu ${mtu}: use 1280..1500 (1392 fits one hop on a 1500-byte path).`)
    const maxConsumers = opts.maxConsumers ?? 250
    if (!Number.isInteger(maxConsumers) || maxConsumers < 1 || maxConsumers > 65000) throw providerError('BAD_ARGUMENT', `Invalid maxConsumers ${maxConsumers}: use 1..65000.`)
    const maxCircuits = opts.maxCircuits ?? 1000
    if (!Number.isInteger(maxCircuits) || maxCircuits < 1 || maxCircuits > 100000) throw providerError('BAD_ARGUMENT', `Invalid --max-circuits ${maxCircuits}: use 1..100000.`)
    for (const [name, value] of [['--bandwidth', opts.bandwidthMbps], ['--circuit-bandwidth', opts.circuitBandwidthMbps]] as const) {
      if (value !== undefined && (!Number.isFinite(value) || value < 0 || value > 1_000_000)) throw providerError('BAD_ARGUMENT', `Invalid ${name} ${value}: use Mbit/s between 0 (unlimited) and 1000000.`)
    }
    this.opts = {
      stateDir: opts.stateDir,
      roles: roles.sort(),
      region: opts.region,
      bootstrap: opts.bootstrap,
      ifname: opts.ifname ?? 'mvpnx0',
      mtu,
      maxConsumers,
      maxCircuits,
      priceLamportsPerMiB: opts.priceLamportsPerMiB ?? 0,
      bandwidthMbps: opts.bandwidthMbps ?? 0,
      circuitBandwidthMbps: opts.circuitBandwidthMbps ?? 0,
      refreshIntervalMs: opts.refreshIntervalMs ?? 5 * 60_000,
      dnsPort: opts.dnsPort ?? 53,
      blindRelay: opts.blindRelay ?? roles.includes('relay'),
      maxRelayedPeers: opts.maxRelayedPeers ?? 64
    }
    if (!Number.isInteger(this.opts.maxRelayedPeers) || this.opts.maxRelayedPeers < 1 || this.opts.maxRelayedPeers > 100_000) {
      throw providerError('BAD_ARGUMENT', `Invalid --max-relayed ${this.opts.maxRelayedPeers}: use 1..100000.`)
    }
  }

  get isExit(): boolean {
    return this.opts.roles.includes('exit')
  }

  get isRelay(): boolean {
    return this.opts.roles.includes('relay')
  }

  /** Our hyperdht public key, hex (what `serve` prints as `ready <key>`). */
  get publicKey(): string {
    if (!this.identity) throw providerError('NOT_OPEN', 'provider not open')
    return this.identity.keyPair.publicKey.toString('hex')
  }

  stats(): ProviderNodeStats {
    return {
      sessions: this.sessions.size,
      exit: this.gateway?.stats() ?? null,
      circuits: this.circuits?.stats() ?? null,
      blindRelay: this.blindRelay?.stats() ?? null,
      dials: this.dialer?.stats() ?? null
    }
  }

  async open(): Promise<void> {
    if (this.opening || this.closing) throw providerError('ALREADY_OPEN', 'provider already opened')
    this.opening = this.openSteps()
    await this.opening
  }

  private async openSteps(): Promise<void> {
    // close() may run while we are still opening: check after every step and undo what exists.
    const step = <T>(value: T): T => {
      if (this.closing) throw providerError('CLOSED', 'provider closed while opening')
      return value
    }
    try {
      const identity = step(await loadProviderIdentity(this.opts.stateDir))
      this.identity = identity

      if (this.isExit) {
        const gateway = new ExitGateway({
          ifname: this.opts.ifname, mtu: this.opts.mtu, maxConsumers: this.opts.maxConsumers,
          wgPrivateKey: identity.wgPrivateKey, wgPublicKey: identity.wgPublicKey, dnsPort: this.opts.dnsPort
        })
        this.gateway = gateway
        step(await gateway.open(() => this.closing))
      }

      const dht = new DHT({ bootstrap: this.opts.bootstrap, ephemeral: true, keyPair: identity.keyPair })
      this.dht = dht
      step(await dht.ready())
      if (this.opts.blindRelay) this.blindRelay = new BlindRelayService({ dht, maxSessions: this.opts.maxRelayedPeers })
      this.dialer = new PeerDialer({ dht, relays: (exclude) => this.blindRelays(exclude) })
      this.circuits = new CircuitSwitch({
        dialer: this.dialer,
        keyPair: identity.keyPair,
        relay: this.isRelay,
        gateway: this.gateway,
        maxCircuits: this.opts.maxCircuits,
        totalBytesPerSecond: this.opts.bandwidthMbps * MBIT,
        circuitBytesPerSecond: this.opts.circuitBandwidthMbps * MBIT
      })
      const server = dht.createServer({}, (conn) => this.onConnection(conn))
      this.server = server
      step(await server.listen(identity.keyPair))
      try {
        await this.publish()
      } catch (err) {
        step(null)
        const where = this.opts.bootstrap.map((b) => `${b.host}:${b.port}`).join(', ')
        throw Object.assign(providerError('ANNOUNCE_FAILED', `Could not announce this provider on the DHT (${(err as Error).message}). Check that the bootstrap node(s) ${where} are reachable, then retry.`), { cause: err })
      }
      step(null)
      this.refreshTimer = setInterval(() => {
        this.publish().catch(() => {}) // retried at the next interval
      }, this.opts.refreshIntervalMs)
      this.refreshTimer.unref()
    } catch (err) {
      await this.teardown()
      throw err
    }
  }

  private descriptor(): ProviderDescriptor {
    if (!this.identity) throw providerError('NOT_OPEN', 'provider not open')
    return {
      version: DESCRIPTOR_VERSION,
      roles: this.opts.roles,
      blindRelay: this.opts.blindRelay,
      region: this.opts.region,
      host: this.dht?.host ?? '',
      priceLamportsPerMiB: this.opts.priceLamportsPerMiB,
      bandwidthMbps: Math.round(this.opts.bandwidthMbps),
      exitPolicy: this.isExit
        ? { blockedCidrs: [...DEFAULT_EXIT_POLICY.blockedCidrs], blockedTcpPorts: [...DEFAULT_EXIT_POLICY.blockedTcpPorts] }
        : { blockedCidrs: [], blockedTcpPorts: [] },
      wgPublicKey: this.identity.wgPublicKey,
      payoutAddress: '',
      seq: Date.now()
    }
  }

  /** Put the descriptor and announce on the providers topic. */
  private async publish(): Promise<void> {
    const dht = this.dht
    const server = this.server
    const identity = this.identity
    if (!dht || !server || !identity || this.closing) return
    const descriptor = this.descriptor()
    await dht.mutablePut(identity.keyPair, encodeDescriptor(descriptor), { seq: descriptor.seq })
    const query = dht.announce(PROVIDERS_TOPIC, identity.keyPair, server.relayAddresses)
    await query.finished()
  }

  /** Providers offering a blind relay, for a next hop this provider cannot hole-punch (looked up at most once a minute). */
  private async blindRelays(exclude: ReadonlySet<string>): Promise<RelayCandidate[]> {
    const dht = this.dht
    if (!dht || this.closing) return []
    if (!this.relayList || Date.now() - this.relayList.at > RELAY_LIST_MAX_AGE_MS) {
      this.relayList = { at: Date.now(), providers: new ProviderDiscovery(dht).findAll(5000).then((r) => r.providers, () => []) }
    }
    const providers = await this.relayList.providers
    return chooseBlindRelays({ providers, exclude: new Set([...exclude, this.publicKey]) })
  }

  private onConnection(conn: NoiseSocket): void {
    const circuits = this.circuits
    if (this.closing || !circuits) {
      conn.destroy()
      return
    }
    conn.on('error', () => {})
    // Any of the channels may open; a connection that opens none (or never asks) is closed.
    const link = circuits.acceptLink(conn)
    let session: Session | null = null
    if (this.gateway) session = this.acceptSession(conn)
    this.blindRelay?.accept(conn)
    const timer = setTimeout(() => {
      if (!link.opened && !session?.tunnel && !this.blindRelay?.serves(conn)) conn.destroy()
    }, IDLE_CONNECTION_MS)
    timer.unref()
    conn.on('close', () => clearTimeout(timer))
  }

  private acceptSession(conn: NoiseSocket): Session {
    const session: Session = {
      conn, channel: null, tunnel: null, requested: false, closed: false, timer: null,
      // Hot path: wireguard-go -> consumer, as one unordered message.
      sendDatagram: (buf: Buffer) => conn.trySend(buf)
    }
    this.sessions.add(session)
    conn.on('close', () => this.endSession(session))

    // Datagrams: probes are echoed in place; the rest go to wireguard-go once granted.
    conn.on('message', (buf: Buffer) => {
      const tunnel = session.tunnel
      if (tunnel !== null) {
        if (buf[0] === PROBE_REQUEST) return this.echoProbe(conn, buf)
        tunnel.deliver(buf, 0, buf.byteLength, session)
        return
      }
      if (session.channel !== null && buf[0] === PROBE_REQUEST) this.echoProbe(conn, buf)
    })

    try {
      const channel = new SessionChannel(conn, {
        onopen: () => { session.channel = channel },
        onrequest: (request) => { this.onRequest(session, request).catch(() => conn.destroy()) },
        onclose: () => { if (session.requested) conn.destroy() }
      })
      channel.open()
    } catch {
      conn.destroy()
    }
    return session
  }

  private echoProbe(conn: NoiseSocket, buf: Buffer): void {
    if (buf.length <= MAX_PROBE_BYTES) {
      buf[0] = PROBE_REPLY
      conn.trySend(buf)
    }
  }

  private async onRequest(session: Session, request: TunnelRequest): Promise<void> {
    const gateway = this.gateway
    if (session.closed || !gateway || !session.channel) return
    if (session.requested) {
      session.channel.sendRefusal({ code: 'DUPLICATE_REQUEST', message: 'This connection already has a tunnel.' })
      return
    }
    session.requested = true
    try {
      const { tunnel, grant } = await gateway.openTunnel({ version: request.version, wgPublicKey: request.wgPublicKey, resumeToken: null }, session, { resumable: false })
      if (session.closed) {
        tunnel.detach(session)
        return
      }
      session.tunnel = tunnel
      session.channel.sendGrant(grant)
    } catch (err) {
      session.requested = false
      const e = err instanceof TunnelRefused ? err : new TunnelRefused('EXIT_ERROR', 'This exit could not set up the tunnel; try another exit.')
      session.channel.sendRefusal({ code: e.code, message: e.message })
    }
  }

  private endSession(session: Session): void {
    if (session.closed) return
    session.closed = true
    this.sessions.delete(session)
    session.tunnel?.detach(session)
    session.tunnel = null
  }

  /** Unannounce, leave the DHT, and remove the resolver, firewall rules and interface. Safe during open(). */
  close(): Promise<void> {
    if (this.closed) return this.closed
    this.closing = true
    this.closed = (async () => {
      if (this.opening) {
        // Unblock a pending DHT step, then let open() notice and undo its part.
        if (this.dht && !this.dht.destroyed) this.dht.destroy().catch(() => {})
        await this.opening.catch(() => {})
      }
      await this.teardown()
    })()
    return this.closed
  }

  private async teardown(): Promise<void> {
    if (this.refreshTimer) clearInterval(this.refreshTimer)
    this.refreshTimer = null
    for (const session of [...this.sessions]) {
      session.conn.destroy()
      this.endSession(session)
    }
    this.circuits?.close()
    this.dialer?.destroy()
    await this.blindRelay?.close()
    const dht = this.dht
    const identity = this.identity
    if (dht && identity && !dht.destroyed) {
      await Promise.race([
        dht.unannounce(PROVIDERS_TOPIC, identity.keyPair).catch(() => {}),
        new Promise((resolve) => setTimeout(resolve, 3000).unref())
      ])
    }
    if (this.server) await this.server.close().catch(() => {})
    if (dht) await dht.destroy().catch(() => {})
    if (this.gateway) await this.gateway.close()
    this.server = null
    this.dht = null
    this.gateway = null
    this.circuits = null
    this.dialer = null
    this.blindRelay = null
  }
}
