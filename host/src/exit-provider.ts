/**
 * The exit provider (`macro-vpn serve --role exit`): a WireGuard interface whose consumers reach
 * the internet through NAT under the exit policy, announced on the DHT with a signed descriptor.
 *
 * Per consumer connection (a hyperdht connection to our long-lived key): the session channel
 * carries one tunnel request; we answer with an address from the pool and our WireGuard key.
 * WireGuard datagrams then arrive as unordered secret-stream messages and go to wireguard-go
 * through a UDP socket of that consumer's own on 127.0.0.1 (so wireguard-go sees one endpoint
 * per peer); its replies come back on that socket and go out on the connection.
 *
 * Privacy: nothing here logs a consumer's key, address or traffic; only aggregate counters.
 */
import dgram from 'node:dgram'
import DHT, { type NoiseSocket, type Server } from 'hyperdht'
import { ExitDnsServer } from './exit-dns-server.ts'
import { DEFAULT_EXIT_POLICY, ExitFirewall } from './exit-firewall.ts'
import { DESCRIPTOR_VERSION, encodeDescriptor, type ProviderDescriptor } from './provider-descriptor.ts'
import { loadProviderIdentity, type ProviderIdentity } from './provider-identity.ts'
import { PROVIDERS_TOPIC } from './provider-topic.ts'
import {
  MAX_PROBE_BYTES, PROBE_REPLY, PROBE_REQUEST, SESSION_VERSION, SessionChannel, type TunnelRequest
} from './session-protocol.ts'
import { TunnelAddressPool } from './tunnel-address-pool.ts'
import { WireGuardDevice } from './wireguard-device.ts'
import { DEFAULT_TUNNEL_MTU } from './tunnel-mtu.ts'

export const EXIT_SUBNET = '10.77.0.0/16'
export const EXIT_GATEWAY = '10.77.0.1'
const REQUEST_TIMEOUT_MS = 30_000

export interface ExitProviderOptions {
  stateDir: string
  region: string
  bootstrap: Array<{ host: string; port: number }>
  ifname?: string
  mtu?: number
  maxConsumers?: number
  priceLamportsPerMiB?: number
  bandwidthMbps?: number
  /** How often the announcement and the descriptor are refreshed, default 5 minutes. */
  refreshIntervalMs?: number
  /** Port of the DNS resolver on the gateway, default 53 (tests only change it). */
  dnsPort?: number
}

export interface ExitProviderStats {
  consumers: number
  sessionsTotal: number
  refusals: number
  bytesFromConsumers: number
  bytesToConsumers: number
}

interface Session {
  conn: NoiseSocket
  channel: SessionChannel | null
  udp: dgram.Socket | null
  address: string | null
  wgKeyHex: string | null
  wgPublicKey: Buffer | null
  granted: boolean
  requested: boolean
  closed: boolean
  timer: NodeJS.Timeout | null
}

function providerError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

export class ExitProvider {
  readonly opts: Required<Omit<ExitProviderOptions, 'bootstrap'>> & { bootstrap: Array<{ host: string; port: number }> }
  private identity: ProviderIdentity | null = null
  private device: WireGuardDevice | null = null
  private firewall: ExitFirewall | null = null
  private dns: ExitDnsServer | null = null
  private dht: DHT | null = null
  private server: Server | null = null
  private pool: TunnelAddressPool
  private refreshTimer: NodeJS.Timeout | null = null
  private readonly sessions = new Set<Session>()
  private readonly keysInUse = new Set<string>()
  private opening: Promise<void> | null = null
  private closing = false
  private closed: Promise<void> | null = null
  private readonly counters: ExitProviderStats = { consumers: 0, sessionsTotal: 0, refusals: 0, bytesFromConsumers: 0, bytesToConsumers: 0 }

  constructor(opts: ExitProviderOptions) {
    if (!/^[a-z0-9-]{1,16}$/.test(opts.region)) throw providerError('BAD_ARGUMENT', `Invalid --region ${JSON.stringify(opts.region)}: use 1-16 characters of a-z, 0-9 and -.`)
    if (!Array.isArray(opts.bootstrap) || opts.bootstrap.length === 0) throw providerError('BAD_ARGUMENT', 'An exit needs at least one --bootstrap HOST:PORT.')
    const mtu = opts.mtu ?? DEFAULT_TUNNEL_MTU
    if (!Number.isInteger(mtu) || mtu < 1280 || mtu > 1500) throw providerError('BAD_ARGUMENT', `Invalid --mtu ${mtu}: use 1280..1500 (1392 fits one hop on a 1500-byte path).`)
    const maxConsumers = opts.maxConsumers ?? 250
    if (!Number.isInteger(maxConsumers) || maxConsumers < 1 || maxConsumers > 65000) throw providerError('BAD_ARGUMENT', `Invalid maxConsumers ${maxConsumers}: use 1..65000.`)
    this.opts = {
      stateDir: opts.stateDir,
      region: opts.region,
      bootstrap: opts.bootstrap,
      ifname: opts.ifname ?? 'mvpnx0',
      mtu,
      maxConsumers,
      priceLamportsPerMiB: opts.priceLamportsPerMiB ?? 0,
      bandwidthMbps: opts.bandwidthMbps ?? 0,
      refreshIntervalMs: opts.refreshIntervalMs ?? 5 * 60_000,
      dnsPort: opts.dnsPort ?? 53
    }
    this.pool = new TunnelAddressPool({ subnet: EXIT_SUBNET, gateway: EXIT_GATEWAY, limit: maxConsumers })
  }

  /** Our hyperdht public key, hex (what `serve` prints as `ready <key>`). */
  get publicKey(): string {
    if (!this.identity) throw providerError('NOT_OPEN', 'exit provider not open')
    return this.identity.keyPair.publicKey.toString('hex')
  }

  get wgPublicKey(): Buffer {
    if (!this.identity) throw providerError('NOT_OPEN', 'exit provider not open')
    return this.identity.wgPublicKey
  }

  stats(): ExitProviderStats {
    return { ...this.counters, consumers: this.sessions.size }
  }

  async open(): Promise<void> {
    if (this.opening || this.closing) throw providerError('ALREADY_OPEN', 'exit provider already opened')
    this.opening = this.openSteps()
    await this.opening
  }

  private async openSteps(): Promise<void> {
    // close() may run while we are still opening: check after every step and undo what exists.
    const step = <T>(value: T): T => {
      if (this.closing) throw providerError('CLOSED', 'exit provider closed while opening')
      return value
    }
    try {
      const identity = step(await loadProviderIdentity(this.opts.stateDir))
      this.identity = identity

      const device = new WireGuardDevice({ ifname: this.opts.ifname, privateKey: identity.wgPrivateKey, listenPort: 0, mtu: this.opts.mtu })
      this.device = device
      step(await device.open())
      step(await device.addAddress(`${EXIT_GATEWAY}/16`))

      const firewall = new ExitFirewall({ ifname: this.opts.ifname, subnet: EXIT_SUBNET, gateway: EXIT_GATEWAY, policy: DEFAULT_EXIT_POLICY, wgListenPort: device.listenPort })
      this.firewall = firewall
      step(await firewall.open())

      const dns = new ExitDnsServer({ address: EXIT_GATEWAY, port: this.opts.dnsPort })
      this.dns = dns
      step(await dns.open())

      const dht = new DHT({ bootstrap: this.opts.bootstrap, ephemeral: true, keyPair: identity.keyPair })
      this.dht = dht
      step(await dht.ready())
      const server = dht.createServer({}, (conn) => this.onConnection(conn))
      this.server = server
      step(await server.listen(identity.keyPair))
      try {
        await this.publish()
      } catch (err) {
        step(null)
        const where = this.opts.bootstrap.map((b) => `${b.host}:${b.port}`).join(', ')
        throw Object.assign(providerError('ANNOUNCE_FAILED', `Could not announce this exit on the DHT (${(err as Error).message}). Check that the bootstrap node(s) ${where} are reachable, then retry.`), { cause: err })
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
    if (!this.identity) throw providerError('NOT_OPEN', 'exit provider not open')
    return {
      version: DESCRIPTOR_VERSION,
      roles: ['exit'],
      region: this.opts.region,
      priceLamportsPerMiB: this.opts.priceLamportsPerMiB,
      bandwidthMbps: this.opts.bandwidthMbps,
      exitPolicy: { blockedCidrs: [...DEFAULT_EXIT_POLICY.blockedCidrs], blockedTcpPorts: [...DEFAULT_EXIT_POLICY.blockedTcpPorts] },
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

  private onConnection(conn: NoiseSocket): void {
    if (this.closing) {
      conn.destroy()
      return
    }
    const session: Session = {
      conn, channel: null, udp: null, address: null, wgKeyHex: null, wgPublicKey: null,
      granted: false, requested: false, closed: false, timer: null
    }
    this.sessions.add(session)
    conn.on('error', () => {})
    conn.on('close', () => this.endSession(session))
    session.timer = setTimeout(() => { if (!session.granted) conn.destroy() }, REQUEST_TIMEOUT_MS)
    session.timer.unref()

    // Datagrams: probes are echoed in place; the rest go to wireguard-go once granted.
    conn.on('message', (buf: Buffer) => {
      if (buf.length === 0) return
      if (buf[0] === PROBE_REQUEST) {
        if (buf.length <= MAX_PROBE_BYTES) {
          buf[0] = PROBE_REPLY
          conn.trySend(buf)
        }
        return
      }
      const udp = session.udp
      if (udp === null || !session.granted) return
      this.counters.bytesFromConsumers += buf.length
      udp.send(buf)
    })

    try {
      const channel = new SessionChannel(conn, {
        onrequest: (request) => { this.onRequest(session, request).catch(() => conn.destroy()) },
        onclose: () => conn.destroy()
      })
      session.channel = channel
      channel.open()
    } catch {
      conn.destroy()
    }
  }

  private refuse(session: Session, code: string, message: string): void {
    this.counters.refusals++
    session.channel?.sendRefusal({ code, message })
  }

  private async onRequest(session: Session, request: TunnelRequest): Promise<void> {
    if (session.closed) return
    if (session.requested) return this.refuse(session, 'DUPLICATE_REQUEST', 'This connection already has a tunnel.')
    if (request.version !== SESSION_VERSION) {
      return this.refuse(session, 'UNSUPPORTED_VERSION', `This exit speaks session version ${SESSION_VERSION}; update macro-vpn.`)
    }
    const device = this.device
    const identity = this.identity
    if (!device || !identity || this.closing) return this.refuse(session, 'EXIT_CLOSING', 'This exit is shutting down; choose another.')
    const keyHex = request.wgPublicKey.toString('hex')
    if (this.keysInUse.has(keyHex) || request.wgPublicKey.equals(identity.wgPublicKey)) {
      return this.refuse(session, 'DUPLICATE_KEY', 'This WireGuard key already has a tunnel at this exit; use a fresh key per session.')
    }
    const address = this.pool.allocate()
    if (address === null) return this.refuse(session, 'EXIT_FULL', 'This exit has no free tunnel address; choose another exit.')
    session.requested = true
    session.address = address
    session.wgKeyHex = keyHex
    session.wgPublicKey = Buffer.from(request.wgPublicKey)
    this.keysInUse.add(keyHex)
    try {
      const udp = dgram.createSocket({ type: 'udp4' })
      session.udp = udp
      udp.on('error', () => {})
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject)
        udp.bind(0, '127.0.0.1', () => { udp.off('error', reject); resolve() })
      })
      // Connected: the kernel delivers only wireguard-go's datagrams, and send() needs no address.
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject)
        udp.connect(device.listenPort, '127.0.0.1', () => { udp.off('error', reject); resolve() })
      })
      const conn = session.conn
      udp.on('message', (buf: Buffer) => {
        this.counters.bytesToConsumers += buf.length
        conn.trySend(buf)
      })
      if (session.closed) return
      await device.setPeer({
        publicKey: session.wgPublicKey,
        endpoint: `127.0.0.1:${udp.address().port}`,
        allowedIps: [`${address}/32`],
        replaceAllowedIps: true
      })
      if (session.closed) {
        await device.removePeer(session.wgPublicKey).catch(() => {})
        return
      }
      session.granted = true
      this.counters.sessionsTotal++
      session.channel?.sendGrant({ version: SESSION_VERSION, wgPublicKey: identity.wgPublicKey, address, gateway: EXIT_GATEWAY, mtu: this.opts.mtu })
    } catch {
      this.refuse(session, 'EXIT_ERROR', 'This exit could not set up the tunnel; try another exit.')
      session.conn.destroy()
    }
  }

  private endSession(session: Session): void {
    if (session.closed) return
    session.closed = true
    this.sessions.delete(session)
    if (session.timer) clearTimeout(session.timer)
    if (session.udp) {
      try { session.udp.close() } catch {}
      session.udp = null
    }
    if (session.wgPublicKey && this.device && session.requested) {
      this.device.removePeer(session.wgPublicKey).catch(() => {})
    }
    if (session.wgKeyHex) this.keysInUse.delete(session.wgKeyHex)
    if (session.address) this.pool.release(session.address)
    session.granted = false
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
    if (this.dns) await this.dns.close().catch(() => {})
    if (this.firewall) await this.firewall.close().catch(() => {})
    if (this.device) await this.device.close().catch(() => {})
    this.server = null
    this.dht = null
    this.dns = null
    this.firewall = null
    this.device = null
  }
}
