/**
 * The consumer daemon: holds the tunnel across browser sessions and answers the control socket.
 * State machine: off -> connecting -> connected -> disconnecting -> off, and error (with a
 * reason) from connecting or connected. Every change is broadcast to subscribed clients.
 *
 * Payments (with --rpc): a wallet in the state folder pays the entry of priced paths
 * (payments/payments.ts); paths above the user's maximum price are never chosen, and at the
 * monthly cap the daemon stops paying: it moves the tunnel to volunteer providers or turns it
 * off, as the user chose. Without --rpc only volunteer (free) providers are used.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import DHT from 'hyperdht'
// The parser alone: the daemon has no use for the public-suffix list that siteRuleFor loads (~10 MiB).
import { parseBypassRules } from '../../../shared/bypass-rule-parser.ts'
import {
  ErrorCode,
  statusEvent,
  type ConnState,
  type ErrorInfo,
  type PaymentLimits,
  type PaymentStatus,
  type PeersResult,
  type RegionsResult,
  type Request,
  type RequestOf,
  type RequestType,
  type ResultOf,
  type Status,
  type WalletResult
} from '../../../shared/native-protocol.ts'
import type { Carrier } from '../consumer/carrier.ts'
import { ConsumerTunnel } from '../consumer/consumer-tunnel.ts'
import { pathPrice } from '../consumer/consumer-circuit.ts'
import { createCarrier } from '../consumer/create-carrier.ts'
import { selectPath } from '../consumer/path-selection.ts'
import { PeerStore } from '../consumer/peer-store.ts'
import { controlError } from '../control/control-error-code.ts'
import { ControlServer } from '../control/control-server.ts'
import { HOST_VERSION } from '../control/host-version.ts'
import { CodedError, errorMessage } from '../lib/coded-error.ts'
import { withDefaults, type Defaulted } from '../lib/option-defaults.ts'
import { ensureDirectory } from '../lib/safe-directory.ts'
import { chooseBlindRelays } from '../overlay/blind-relay-choice.ts'
import type { BootstrapAddress } from '../overlay/bootstrap-address.ts'
import { PeerDialer } from '../overlay/peer-dialer.ts'
import { ProviderDiscovery, type ProviderInfo } from '../overlay/provider-discovery.ts'
import { Payments } from '../payments/payments.ts'
import { PaymentsError } from '../payments/payments-errors.ts'
import { DEFAULT_TUNNEL_MTU } from '../protocol/tunnel-mtu.ts'
import { NetworkMonitor } from '../system/network-monitor.ts'
import { NetworkStateRecord } from '../system/network-state-record.ts'
import { statusCircuitInfo, statusHops } from './circuit-status.ts'
import { DaemonConfigStore } from './daemon-config.ts'

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
  /** The Solana ledger's JSON-RPC URL: payments on (a wallet in the state folder pays priced paths). */
  rpcUrl?: string
}

const DEFAULTS = {
  ifname: 'mvpn0',
  mtu: DEFAULT_TUNNEL_MTU,
  table: 51820,
  rulePriority: 5182,
  httpPort: 0,
  socksPort: 0,
  controlGid: -1,
  circuitLifetimeMs: 10 * 60_000
}
const BAD_DESCRIPTOR_BLOCK_MS = 24 * 3600 * 1000

type Handlers = { [T in RequestType]: (request: RequestOf<T>) => ResultOf<T> | Promise<ResultOf<T>> }

export class Daemon {
  readonly opts: Defaulted<DaemonOptions, typeof DEFAULTS>
  private readonly record: NetworkStateRecord
  private readonly configStore: DaemonConfigStore
  private readonly peers: PeerStore
  private candidates: ProviderInfo[] = []
  private control: ControlServer | null = null
  private dht: DHT | null = null
  private dialer: PeerDialer | null = null
  private tunnel: ConsumerTunnel | null = null
  private state: ConnState = 'off'
  private error: ErrorInfo | null = null
  private offReason: 'start' | 'request' = 'start'
  private connectedAt: number | null = null
  private connectMs: number | null = null
  private connecting: Promise<Status> | null = null
  private cancelConnect = false
  private closing = false
  private readonly network = new NetworkMonitor({ onchange: () => this.broadcast() })
  private readonly pidFile: string
  private readonly payments: Payments | null
  /** The connection the user asked for (reused when the cap moves it to volunteers). */
  private lastConnect: { hops: number; region?: string } | null = null
  /** Spent before this connection began (status shows what it spent since). */
  private spentAtConnect = 0
  /** The live tunnel is limited to volunteers because the cap was reached. */
  private freeOnly = false

  /** What each control request is answered with (typed by shared/native-protocol.ts's RESULT_SCHEMAS). */
  private readonly handlers: Handlers = {
    hello: () => ({ protocol: 1, hostVersion: HOST_VERSION, status: this.status() }),
    status: () => this.status(),
    connect: (req) => this.connect({ hops: req.hops ?? 1, region: req.region, limits: req.limits }),
    disconnect: () => this.disconnect(),
    regions: () => this.regions(),
    peers: () => this.peerList(),
    blockPeer: (req) => {
      this.peers.block(req.key, req.reason ?? 'blocked by the user', req.durationMs)
      return this.peerList()
    },
    unblockPeer: (req) => {
      this.peers.unblock(req.key)
      return this.peerList()
    },
    setBypass: (req) => this.setBypass(req.rules),
    setLimits: async (req) => {
      await this.setLimits(req.limits)
      return this.status()
    },
    wallet: () => this.walletSummary(),
    airdrop: async (req) => {
      const payments = this.needPayments()
      await payments.ledger.airdrop(payments.wallet.address, BigInt(req.lamports))
      return this.walletSummary()
    }
  }

  constructor(opts: DaemonOptions) {
    this.opts = withDefaults(opts, DEFAULTS)
    this.record = new NetworkStateRecord(opts.stateDir)
    this.configStore = new DaemonConfigStore(opts.stateDir)
    this.peers = new PeerStore({ stateDir: opts.stateDir })
    this.pidFile = path.join(opts.stateDir, 'daemon.pid')
    this.payments = opts.rpcUrl ? new Payments({ stateDir: opts.stateDir, rpcUrl: opts.rpcUrl, earn: false, oncapped: () => void this.onCapReached() }) : null
  }

  async open(): Promise<void> {
    // Created 0700; an existing folder keeps its mode, and is refused when others may write to it.
    await ensureDirectory(this.opts.stateDir, { mode: 0o700, label: 'state folder', option: '--state' })
    await this.configStore.load()
    await this.peers.open()
    if (this.payments) {
      await this.payments.open()
      this.payments.spending.setCap(this.configStore.config.limits.monthlyCapLamports)
      // A nonce account ready for the first entry, so that a paid connect waits for no transaction (needs funds; retried later).
      void this.payments.prepare()
    }
    await this.record.recover()
    // Before the control socket answers: whoever can talk to the daemon can find its pid.
    await fs.writeFile(this.pidFile, `${process.pid}\n`, { mode: 0o600 })
    try {
      const gid = this.opts.controlGid >= 0 ? this.opts.controlGid : undefined
      this.control = new ControlServer({ path: this.opts.controlPath, gid, handler: (req) => this.handle(req) })
      await this.control.open()
      await this.network.open()
    } catch (err) {
      await fs.rm(this.pidFile, { force: true })
      throw err
    }
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
    await this.payments?.close().catch(() => {})
    this.dialer?.destroy()
    await this.dht?.destroy({ force: true })
    await fs.rm(this.pidFile, { force: true })
  }

  status(): Status {
    const t = this.tunnel
    const snapshot = this.state === 'connected' ? (t?.snapshot ?? null) : null
    return {
      state: this.state,
      error: this.error,
      proxy:
        snapshot && t?.credential && t.httpAddress && t.socksAddress
          ? { http: t.httpAddress, socks: t.socksAddress, username: t.credential.username, password: t.credential.password }
          : null,
      offReason: this.state === 'off' ? this.offReason : null,
      circuit: snapshot ? statusHops(snapshot) : [],
      circuitInfo: snapshot ? statusCircuitInfo(snapshot) : null,
      connectedAt: snapshot ? this.connectedAt : null,
      connectMs: this.connectMs,
      mtu: snapshot && t ? t.mtu : null,
      bytes: t ? t.bytes : { rx: 0, tx: 0 },
      bypass: this.configStore.config.bypass,
      network: this.network.current,
      nat: this.natType(),
      payment: this.paymentStatus(snapshot ? pathPrice(snapshot.hops.map((h) => h.peer)) : null),
      hostVersion: HOST_VERSION
    }
  }

  private paymentStatus(pathPriceLamportsPerMiB: number | null): PaymentStatus {
    const spending = this.payments?.spending
    const spent = spending?.sessionSpent ?? 0
    return {
      enabled: this.payments !== null,
      wallet: this.payments?.wallet.address ?? null,
      pathPriceLamportsPerMiB,
      sessionSpent: Math.max(0, spent - this.spentAtConnect),
      monthSpent: spending?.monthSpent() ?? 0,
      capReached: this.freeOnly || (spending?.capReached ?? false),
      limits: this.configStore.config.limits
    }
  }

  private needPayments(): Payments {
    if (!this.payments) {
      throw new CodedError(
        PaymentsError.PAYMENTS_OFF,
        'This daemon has no wallet: start it with --rpc URL (the Solana ledger to pay on) to use paid providers.'
      )
    }
    return this.payments
  }

  private async walletSummary(): Promise<WalletResult> {
    return await this.needPayments().summary()
  }

  private async setLimits(limits: Partial<PaymentLimits> | undefined): Promise<void> {
    if (!limits || Object.keys(limits).length === 0) return
    await this.configStore.update({ limits: { ...this.configStore.config.limits, ...limits } })
    this.payments?.spending.setCap(this.configStore.config.limits.monthlyCapLamports)
    if (this.freeOnly && this.payments && !this.payments.spending.capReached) this.freeOnly = false
    this.broadcast()
  }

  /** The most a path may cost per MiB now: the user's limit, 0 without payments or at the cap. */
  private maxPricePerMiB(): number | undefined {
    if (!this.payments || this.freeOnly) return 0
    const perGiB = this.configStore.config.limits.maxPriceLamportsPerGiB
    return perGiB === null ? undefined : Math.floor(perGiB / 1024)
  }

  /** The cap stopped a voucher: move to volunteers, or turn off, as the user chose. */
  private async onCapReached(): Promise<void> {
    if (this.state !== 'connected' || this.freeOnly) return
    const { atCap } = this.configStore.config.limits
    this.freeOnly = true
    const again = this.lastConnect
    await this.teardown()
    if (atCap === 'disconnect' || !again) {
      this.setState('error', {
        code: ErrorCode.SPENDING_CAP,
        message: 'The monthly spending cap is reached: the VPN was turned off (as set). Raise the cap, or choose "volunteer providers only" at the cap.'
      })
      return
    }
    this.setState('off')
    await this.connect({ ...again, keepFreeOnly: true }).catch(() => {})
  }

  /** Answer one control request (the control server maps thrown errors to the protocol's codes). */
  handle<T extends RequestType>(request: RequestOf<T>): Promise<ResultOf<T>>
  handle(request: Request): Promise<unknown>
  async handle(request: Request): Promise<unknown> {
    const handler = this.handlers[request.type] as (request: Request) => unknown
    return await handler(request)
  }

  private async setBypass(rules: string[]): Promise<Status> {
    const { errors } = parseBypassRules(rules)
    const first = errors[0]
    if (first) throw new CodedError(ErrorCode.BAD_MESSAGE, `Bypass rule ${first.index + 1} ("${first.rule.slice(0, 60)}") is not valid: ${first.message}`)
    await this.configStore.update({ bypass: rules })
    this.broadcast()
    return this.status()
  }

  private peerList(): PeersResult {
    return { peers: this.peers.list() }
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
      relays: (exclude) =>
        chooseBlindRelays({ providers: this.candidates, exclude, isBlocked: (k) => this.peers.isBlocked(k), score: (k) => this.peers.score(k) })
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

  async connect(opts: { hops: number; region?: string; limits?: Partial<PaymentLimits>; keepFreeOnly?: boolean }): Promise<Status> {
    if (this.state === 'connected') return this.status()
    if (this.connecting) return await this.connecting
    if (!Number.isInteger(opts.hops) || opts.hops < 1 || opts.hops > 3) {
      throw new CodedError(ErrorCode.BAD_MESSAGE, `A circuit has 1 to 3 hops, not ${opts.hops}.`)
    }
    await this.setLimits(opts.limits)
    if (!opts.keepFreeOnly) this.freeOnly = this.payments?.spending.capReached === true || this.capReachedNow()
    this.lastConnect = { hops: opts.hops, region: opts.region }
    this.spentAtConnect = this.payments?.spending.sessionSpent ?? 0
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
        throw new CodedError(
          ErrorCode.NO_PROVIDERS,
          region
            ? `No exit in region "${region}" is online right now. Choose another region, or try again in a minute.`
            : 'No exit is online right now. Check the network connection and try again in a minute.'
        )
      }
      let lastError: unknown = null
      const triedExits = new Set<string>()
      for (let attempt = 0; attempt < 3 && !this.cancelConnect; attempt++) {
        let exit: ProviderInfo
        try {
          // Choose the exit together with a whole path, so an exit without enough relays around it is not picked.
          const path = selectPath({
            hops,
            candidates: providers,
            region,
            exclude: triedExits,
            score: (key) => this.peers.score(key),
            maxPricePerMiB: this.maxPricePerMiB()
          })
          exit = path[path.length - 1]!
        } catch (err) {
          if (lastError === null) throw err
          break
        }
        triedExits.add(exit.publicKey.toString('hex'))
        const tunnel = new ConsumerTunnel({
          carrier: (wgPublicKey) => this.carrierFor(hops, exit, wgPublicKey),
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
          await tunnel.close()
          continue
        }
        if (this.cancelConnect) {
          await tunnel.close()
          break
        }
        this.tunnel = tunnel
        tunnel.onlost = () => void this.onTunnelLost()
        this.connectedAt = Date.now()
        this.connectMs = Math.round(performance.now() - started)
        this.setState('connected')
        return this.status()
      }
      if (this.cancelConnect) {
        this.offReason = 'request'
        this.setState('off')
        throw new CodedError(ErrorCode.CONNECT_FAILED, 'The connection was cancelled.')
      }
      const last = controlError(lastError, ErrorCode.CONNECT_FAILED)
      throw new CodedError(
        last.code === ErrorCode.TUNNEL_FAILED ? ErrorCode.TUNNEL_FAILED : ErrorCode.CONNECT_FAILED,
        `Could not build a tunnel through any exit (last: ${errorMessage(lastError ?? 'unknown failure')}). Try again, or choose another region or connection mode.`,
        { cause: lastError }
      )
    } catch (err) {
      if (this.state === 'connecting') this.setState('error', controlError(err, ErrorCode.CONNECT_FAILED))
      throw err
    }
  }

  /** The carrier for one tunnel: the exit alone, or a circuit through relays (consumer/create-carrier.ts). */
  private carrierFor(hops: number, exit: ProviderInfo, wgPublicKey: Buffer): Carrier {
    return createCarrier({
      hops,
      exit,
      wgPublicKey,
      dialer: this.ensureDialer(),
      peers: this.peers,
      candidates: () => this.candidates,
      refreshCandidates: () => this.discover(5000),
      circuitLifetimeMs: this.opts.circuitLifetimeMs,
      payer: this.payments?.meter ?? null,
      maxPricePerMiB: this.maxPricePerMiB()
    })
  }

  /** The cap already spent this month (before anything is signed in this process). */
  private capReachedNow(): boolean {
    const cap = this.configStore.config.limits.monthlyCapLamports
    return this.payments !== null && cap !== null && this.payments.spending.monthSpent() >= cap
  }

  private async onTunnelLost(): Promise<void> {
    if (this.state !== 'connected') return
    await this.teardown()
    this.setState('error', {
      code: ErrorCode.TUNNEL_FAILED,
      message: 'The connection to the exit was lost (no circuit to it could be rebuilt). Turn the VPN off and on again to reconnect through another exit.'
    })
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
    const t = this.tunnel
    this.tunnel = null
    this.connectedAt = null
    if (t) await t.close()
  }
}
