/**
 * The consumer daemon: holds the tunnel across browser sessions and answers the control socket.
 * State machine: off -> connecting -> connected -> disconnecting -> off, and error (with a
 * reason) from connecting or connected. Every change is broadcast to subscribed clients.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import DHT from 'hyperdht'
import { chooseBlindRelays } from '../overlay/blind-relay-choice.ts'
import { PeerDialer } from '../overlay/peer-dialer.ts'
// The parser alone: the daemon has no use for the public-suffix list that siteRuleFor loads (~10 MiB).
import { parseBypassRules } from '../../../shared/bypass-rule-parser.ts'
import { ErrorCode, statusEvent, type CircuitInfo, type ConnState, type ErrorInfo, type Hop, type PeersResult, type RegionsResult, type Request, type Status } from '../../../shared/native-protocol.ts'
import type { BootstrapAddress } from '../control/default-paths.ts'
import { ConsumerTunnel } from '../consumer/consumer-tunnel.ts'
import { ControlServer } from '../control/control-server.ts'
import { DaemonConfigStore } from './daemon-config.ts'
import { HOST_VERSION } from '../control/host-version.ts'
import { NetworkMonitor } from '../system/network-monitor.ts'
import { NetworkStateRecord } from '../system/network-state-record.ts'
import { ProviderDiscovery, type ProviderInfo } from '../overlay/provider-discovery.ts'
import { selectPath } from '../consumer/path-selection.ts'
import { PeerStore } from '../consumer/peer-store.ts'
import { DEFAULT_TUNNEL_MTU } from '../protocol/tunnel-mtu.ts'

export interface DaemonOptions {
  stateDir: string
  controlPath: string
  bootstrap: BootstrapAddress[]
  ifname?: string
  mtu?: number
  table?: number
  rulePriority?: number
  /** Group (numeric id) allowed to use the control socket besides the daemon's user. */
  controlGid?: number
  /** Fixed local proxy ports (0 = any free port). */
  httpPort?: number
  socksPort?: number
  /** How long a circuit lives before it is rebuilt in the background (default 10 minutes). */
  circuitLifetimeMs?: number
}

/** How often the provider list is refreshed while a circuit is up (for rebuilds). */
const CANDIDATE_REFRESH_MS = 30_000
const BAD_DESCRIPTOR_BLOCK_MS = 24 * 3600 * 1000

export class Daemon {
  readonly opts: Required<DaemonOptions>
  private readonly record: NetworkStateRecord
  private readonly configStore: DaemonConfigStore
  private readonly peers: PeerStore
  private candidates: ProviderInfo[] = []
  private candidateTimer: NodeJS.Timeout | null = null
  private control: ControlServer | null = null
  private dht: DHT | null = null
  private dialer: PeerDialer | null = null
  private tunnel: ConsumerTunnel | null = null
  private state: ConnState = 'off'
  private error: ErrorInfo | null = null
  private offReason: 'start' | 'request' = 'start'
  private circuit: Hop[] = []
  private connectedAt: number | null = null
  private connectMs: number | null = null
  private connecting: Promise<Status> | null = null
  private cancelConnect = false
  private closing = false
  private readonly network = new NetworkMonitor({ onchange: () => this.broadcast() })

  constructor(opts: DaemonOptions) {
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as DaemonOptions
    this.opts = { ifname: 'mvpn0', mtu: DEFAULT_TUNNEL_MTU, table: 51820, rulePriority: 5182, httpPort: 0, socksPort: 0, controlGid: -1, circuitLifetimeMs: 10 * 60_000, ...given }
    this.record = new NetworkStateRecord(opts.stateDir)
    this.configStore = new DaemonConfigStore(opts.stateDir)
    this.peers = new PeerStore({ stateDir: opts.stateDir })
  }

  async open(): Promise<void> {
    await fs.mkdir(this.opts.stateDir, { recursive: true, mode: 0o700 })
    await fs.chmod(this.opts.stateDir, 0o700)
    await this.configStore.load()
    await this.peers.open()
    await this.record.recover()
    const gid = this.opts.controlGid >= 0 ? this.opts.controlGid : undefined
    this.control = new ControlServer({ path: this.opts.controlPath, gid, handler: (req) => this.handle(req) })
    await this.control.open()
    await this.network.open()
    await fs.writeFile(path.join(this.opts.stateDir, 'daemon.pid'), `${process.pid}\n`, { mode: 0o600 })
  }

  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    this.cancelConnect = true
    await this.connecting?.catch(() => {})
    await this.teardown()
    this.network.close()
    await this.control?.close()
    await this.peers.close().catch(() => {})
    this.dialer?.destroy()
    await this.dht?.destroy({ force: true })
    await fs.rm(path.join(this.opts.stateDir, 'daemon.pid'), { force: true })
  }

  status(): Status {
    const t = this.tunnel
    const connected = this.state === 'connected' && t !== null
    return {
      state: this.state,
      error: this.error,
      proxy:
        connected && t.credential && t.httpAddress && t.socksAddress
          ? { http: t.httpAddress, socks: t.socksAddress, username: t.credential.username, password: t.credential.password }
          : null,
      offReason: this.state === 'off' ? this.offReason : null,
      circuit: connected ? this.hops() : [],
      circuitInfo: connected ? this.circuitInfo() : null,
      connectedAt: connected ? this.connectedAt : null,
      connectMs: this.connectMs,
      mtu: connected ? t.mtu : null,
      bytes: t ? t.bytes : { rx: 0, tx: 0 },
      bypass: this.configStore.config.bypass,
      network: this.network.current,
      nat: this.natType(),
      hostVersion: HOST_VERSION
    }
  }

  private async handle(req: Request): Promise<unknown> {
    switch (req.type) {
      case 'hello':
        return { protocol: 1, hostVersion: HOST_VERSION, status: this.status() }
      case 'status':
        return this.status()
      case 'connect':
        return await this.connect({ hops: req.hops ?? 1, region: req.region })
      case 'disconnect':
        return await this.disconnect()
      case 'regions':
        return await this.regions()
      case 'peers':
        return this.peerList()
      case 'blockPeer':
        this.peers.block(req.key, req.reason ?? 'blocked by the user', req.durationMs)
        return this.peerList()
      case 'unblockPeer':
        this.peers.unblock(req.key)
        return this.peerList()
      case 'setBypass': {
        const { errors } = parseBypassRules(req.rules)
        const first = errors[0]
        if (first) {
          throw Object.assign(new Error(`Bypass rule ${first.index + 1} ("${first.rule.slice(0, 60)}") is not valid: ${first.message}`), { code: ErrorCode.BAD_MESSAGE })
        }
        await this.configStore.update({ bypass: req.rules })
        this.broadcast()
        return this.status()
      }
    }
  }

  private peerList(): PeersResult {
    return { peers: this.peers.list() }
  }

  /** The hops of the live circuit, entry first, with the round trip measured to each. */
  private hops(): Hop[] {
    const tunnel = this.tunnel
    const snapshot = tunnel?.circuit
    if (!tunnel || !snapshot) {
      // One hop: the exit carries every tunnel byte.
      const bytes = tunnel?.bytes
      return bytes ? this.circuit.map((h) => ({ ...h, bytes: { rx: bytes.rx, tx: bytes.tx } })) : this.circuit
    }
    return snapshot.hops.map((h) => ({ role: h.role, region: h.peer.descriptor.region, key: h.peer.publicKey.toString('hex'), rttMs: h.rttMs, bytes: { rx: snapshot.bytes.rx, tx: snapshot.bytes.tx } }))
  }

  private circuitInfo(): CircuitInfo | null {
    const t = this.tunnel
    if (!t) return null
    const snapshot = t.circuit
    const info = snapshot
      ? { hops: snapshot.hops.length, builtAt: snapshot.builtAt, rebuilds: snapshot.rebuilds, rttMs: snapshot.rttMs, probeLoss: snapshot.probeLoss, standby: snapshot.standby }
      : { hops: 1, builtAt: this.connectedAt ?? Date.now(), rebuilds: 0, rttMs: Math.round(t.probeRttMs * 100) / 100, probeLoss: 0, standby: false }
    const rtt = info.rttMs ?? 0
    const quality = rtt < 150 && info.probeLoss < 0.05 ? 'good' : rtt < 400 && info.probeLoss < 0.2 ? 'fair' : 'poor'
    return { ...info, quality, route: t.entryRoute }
  }

  /** Look the providers up, remember them, and blacklist those whose descriptor does not validate. */
  private async discover(timeoutMs = 8000): Promise<ProviderInfo[]> {
    const { providers, invalid } = await new ProviderDiscovery(this.ensureDht()).findAll(timeoutMs)
    for (const key of invalid) {
      if (!this.peers.isBlocked(key)) this.peers.block(key, 'BAD_DESCRIPTOR: published a descriptor that does not validate', BAD_DESCRIPTOR_BLOCK_MS)
    }
    for (const p of providers) this.peers.noteProvider(p.publicKey, { roles: p.descriptor.roles, region: p.descriptor.region })
    this.candidates = providers
    return providers
  }

  /** Exit regions online now, with how many exits each. */
  async regions(): Promise<RegionsResult> {
    const exits = await new ProviderDiscovery(this.ensureDht()).find({ role: 'exit', timeoutMs: 5000 })
    const counts = new Map<string, number>()
    for (const e of exits) counts.set(e.descriptor.region, (counts.get(e.descriptor.region) ?? 0) + 1)
    return { regions: [...counts].map(([region, n]) => ({ region, exits: n })).sort((a, b) => a.region.localeCompare(b.region)) }
  }

  private ensureDht(): DHT {
    this.dht ??= new DHT({ bootstrap: this.opts.bootstrap, ephemeral: true })
    return this.dht
  }

  /** This device's NAT as our DHT node has measured it (nothing is measured before the first connect). */
  private natType(): 'open' | 'port-keeping' | 'randomizing' | 'unknown' {
    const dht = this.dht
    if (!dht || dht.destroyed || !dht.host) return 'unknown'
    if (!dht.firewalled) return 'open'
    if (dht.randomized) return 'randomizing'
    return dht.port ? 'port-keeping' : 'unknown'
  }

  /** Dials first hops; a peer behind a randomizing NAT like ours is reached through a provider's blind relay. */
  private ensureDialer(): PeerDialer {
    this.dialer ??= new PeerDialer({
      dht: this.ensureDht(),
      relays: (exclude) => chooseBlindRelays({ providers: this.candidates, exclude, isBlocked: (k) => this.peers.isBlocked(k), score: (k) => this.peers.score(k) })
    })
    return this.dialer
  }

  private setState(state: ConnState, error: ErrorInfo | null = null): void {
    this.state = state
    this.error = error
    this.broadcast()
  }

  private broadcast(): void {
    this.control?.broadcast(statusEvent(this.status()))
  }

  async connect(opts: { hops: number; region?: string }): Promise<Status> {
    if (this.state === 'connected') return this.status()
    if (this.connecting) return await this.connecting
    if (!Number.isInteger(opts.hops) || opts.hops < 1 || opts.hops > 3) {
      throw Object.assign(new Error(`A circuit has 1 to 3 hops, not ${opts.hops}.`), { code: ErrorCode.BAD_MESSAGE })
    }
    this.cancelConnect = false
    this.connecting = this.runConnect(opts.hops, opts.region).finally(() => {
      this.connecting = null
    })
    return await this.connecting
  }

  private async runConnect(hops: number, region: string | undefined): Promise<Status> {
    const started = performance.now()
    this.setState('connecting')
    try {
      const providers = await this.discover()
      if (!providers.some((p) => p.descriptor.roles.includes('exit') && (!region || p.descriptor.region === region))) {
        throw Object.assign(
          new Error(region ? `No exit in region "${region}" is online right now. Choose another region, or try again in a minute.` : 'No exit is online right now. Check the network connection and try again in a minute.'),
          { code: ErrorCode.NO_PROVIDERS }
        )
      }
      let lastError: unknown = null
      const triedExits = new Set<string>()
      for (let attempt = 0; attempt < 3 && !this.cancelConnect; attempt++) {
        let exit: ProviderInfo
        try {
          // Choose the exit together with a whole path, so an exit without enough relays around it is not picked.
          const path = selectPath({ hops, candidates: providers, region, exclude: triedExits, score: (key) => this.peers.score(key) })
          exit = path[path.length - 1]!
        } catch (err) {
          if (lastError === null) throw Object.assign(err as Error, { code: ErrorCode.NO_PROVIDERS })
          break
        }
        triedExits.add(exit.publicKey.toString('hex'))
        const tunnel = new ConsumerTunnel({
          dialer: this.ensureDialer(),
          provider: exit,
          hops,
          candidates: () => this.candidates,
          peers: this.peers,
          circuitLifetimeMs: this.opts.circuitLifetimeMs,
          onchange: () => this.broadcast(),
          ifname: this.opts.ifname,
          mtu: this.opts.mtu,
          table: this.opts.table,
          priority: this.opts.rulePriority,
          record: this.record,
          httpPort: this.opts.httpPort,
          socksPort: this.opts.socksPort
        })
        try {
          await tunnel.open()
        } catch (err) {
          lastError = err
          if (hops === 1) {
            const code = (err as { code?: string }).code
            if (code === 'EXIT_MISBEHAVED') this.peers.block(exit.publicKey, `${code}: ${(err as Error).message}`)
            else this.peers.recordFailure(exit.publicKey, code ?? 'CONNECT_FAILED')
          }
          await tunnel.close()
          continue
        }
        if (this.cancelConnect) {
          await tunnel.close()
          break
        }
        if (hops === 1) this.peers.recordSuccess(exit.publicKey, { rttMs: tunnel.probeRttMs })
        this.tunnel = tunnel
        tunnel.onlost = () => void this.onTunnelLost()
        this.circuit = [{ role: 'exit', region: exit.descriptor.region, key: exit.publicKey.toString('hex'), rttMs: Math.round(tunnel.probeRttMs * 10) / 10 }]
        this.connectedAt = Date.now()
        this.connectMs = Math.round(performance.now() - started)
        if (hops > 1) this.startCandidateRefresh()
        this.setState('connected')
        return this.status()
      }
      if (this.cancelConnect) {
        this.offReason = 'request'
        this.setState('off')
        throw Object.assign(new Error('The connection was cancelled.'), { code: ErrorCode.CONNECT_FAILED })
      }
      const detail = lastError instanceof Error ? lastError.message : 'unknown failure'
      throw Object.assign(new Error(`Could not build a tunnel through any exit (last: ${detail}). Try again, or choose another region or connection mode.`), {
        code: (lastError as { code?: string } | null)?.code === 'WG_START_FAILED' || (lastError as { code?: string } | null)?.code === 'COMMAND_FAILED' ? ErrorCode.TUNNEL_FAILED : ErrorCode.CONNECT_FAILED
      })
    } catch (err) {
      const e = err as Error & { code?: string }
      if (this.state === 'connecting') this.setState('error', { code: e.code ?? ErrorCode.CONNECT_FAILED, message: e.message })
      throw err
    }
  }

  /** Keep the candidate list fresh for circuit rebuilds while connected. */
  private startCandidateRefresh(): void {
    this.stopCandidateRefresh()
    this.candidateTimer = setInterval(() => {
      this.discover(5000).catch(() => {})
    }, CANDIDATE_REFRESH_MS)
    this.candidateTimer.unref()
  }

  private stopCandidateRefresh(): void {
    if (this.candidateTimer) clearInterval(this.candidateTimer)
    this.candidateTimer = null
  }

  private async onTunnelLost(): Promise<void> {
    if (this.state !== 'connected') return
    await this.teardown()
    this.setState('error', { code: ErrorCode.TUNNEL_FAILED, message: 'The connection to the exit was lost (no circuit to it could be rebuilt). Turn the VPN off and on again to reconnect through another exit.' })
  }

  async disconnect(): Promise<Status> {
    if (this.connecting) {
      this.cancelConnect = true
      await this.connecting.catch(() => {})
    }
    if (this.state === 'off') return this.status()
    this.offReason = 'request'
    this.setState('disconnecting')
    await this.teardown()
    this.setState('off')
    return this.status()
  }

  private async teardown(): Promise<void> {
    this.stopCandidateRefresh()
    const t = this.tunnel
    this.tunnel = null
    this.circuit = []
    this.connectedAt = null
    if (t) await t.close()
  }
}
