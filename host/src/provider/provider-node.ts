/**
 * A provider (`macro-vpn serve --role relay|exit|relay,exit`): a long-lived identity on the DHT,
 * announced on the providers topic with a signed descriptor, accepting connections from
 * consumers and other relays. It composes:
 *
 *   - RelayRole (relay/relay-role.ts): circuits, extended to next hops when this is a relay and
 *     ended at the exit's terminus when this is an exit;
 *   - ExitRole (exit/exit-role.ts, exits only): the gateway and Speed mode's one-hop sessions;
 *   - BlindRelayService (overlay/): peers whose NATs both randomize ports meet through it (on by
 *     default for relays); when this provider must dial a next hop it cannot hole-punch, it asks
 *     another provider's blind relay (overlay/blind-relay-directory.ts);
 *   - ProviderAnnouncer: the descriptor and the announcement, refreshed.
 *
 * Every incoming connection is offered to each role; the peer opens the channel it wants. One
 * that opens none within 30 s is closed. Every byte carried goes through one meter
 * (payments/hop-meter.ts). With an RPC URL the provider has payments (payments/payments.ts): a
 * wallet whose address its descriptor publishes, vouchers collected from whoever pays it, its
 * own next hops paid from that wallet, and every voucher held settled at close (within 10 s).
 * Without one it is a volunteer: price 0, no wallet. The caller validates its options (the CLI does).
 *
 * Privacy: nothing here logs a consumer's key, address or traffic; only aggregate counters.
 */
import DHT, { type NoiseSocket, type Server } from 'hyperdht'
import { CodedError } from '../lib/coded-error.ts'
import { LibError } from '../lib/lib-errors.ts'
import { withDefaults, type Defaulted } from '../lib/option-defaults.ts'
import { BlindRelayDirectory } from '../overlay/blind-relay-directory.ts'
import { BlindRelayService, type BlindRelayStats } from '../overlay/blind-relay-service.ts'
import { PeerDialer } from '../overlay/peer-dialer.ts'
import { ProviderVerifier } from '../overlay/provider-verifier.ts'
import { DESCRIPTOR_VERSION, type ProviderDescriptor, type ProviderRole } from '../protocol/provider-descriptor.ts'
import { DEFAULT_TUNNEL_MTU } from '../protocol/tunnel-mtu.ts'
import { CountingMeter, type HopMeter, type MeterTotals } from '../payments/hop-meter.ts'
import { FEE_LAMPORTS, formatSol } from '../payments/payment-terms.ts'
import { Payments, type WalletSummary } from '../payments/payments.ts'
import { PaymentsError } from '../payments/payments-errors.ts'
import { DEFAULT_EXIT_POLICY } from '../system/exit-firewall.ts'
import { ExitRole, type ExitRoleStats } from './exit/exit-role.ts'
import { ProviderAnnouncer } from './provider-announcer.ts'
import { loadProviderIdentity, type ProviderIdentity } from './provider-identity.ts'
import type { CircuitSwitchStats } from './relay/circuit-switch.ts'
import { RelayRole } from './relay/relay-role.ts'

/** A connection that neither opens a tunnel nor carries a circuit within this time is closed. */
const IDLE_CONNECTION_MS = 30_000

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
  /** The Solana ledger's JSON-RPC URL: payments on (needed for a price above 0). */
  rpcUrl?: string
  /** Counts every byte carried; default: the payments' meter with an RPC URL, else counting only. */
  meter?: HopMeter
}

export interface ProviderNodeStats {
  sessions: number
  blindRelay: BlindRelayStats | null
  dials: ReturnType<PeerDialer['stats']> | null
  exit: ExitRoleStats | null
  circuits: CircuitSwitchStats | null
  metered: MeterTotals | null
  earnings: ReturnType<NonNullable<Payments['earnings']>['stats']> | null
}

/** A payee's wallet must exist on chain (rent-exempt) before transfers to it can land. */
const MIN_PAYEE_BALANCE = 890_880 + 2 * FEE_LAMPORTS

const DEFAULTS = {
  ifname: 'mvpnx0',
  mtu: DEFAULT_TUNNEL_MTU,
  maxConsumers: 250,
  maxCircuits: 1000,
  priceLamportsPerMiB: 0,
  bandwidthMbps: 0,
  circuitBandwidthMbps: 0,
  refreshIntervalMs: 5 * 60_000,
  dnsPort: 53,
  maxRelayedPeers: 64
}

export class ProviderNode {
  readonly opts: Defaulted<ProviderNodeOptions, typeof DEFAULTS> & { blindRelay: boolean }
  /** Null for a volunteer without a wallet. */
  readonly payments: Payments | null
  private meter: HopMeter
  private identity: ProviderIdentity | null = null
  private dht: DHT | null = null
  private dialer: PeerDialer | null = null
  private directory: BlindRelayDirectory | null = null
  private blindRelay: BlindRelayService | null = null
  private relay: RelayRole | null = null
  private exit: ExitRole | null = null
  private announcer: ProviderAnnouncer | null = null
  private server: Server | null = null
  private opening: Promise<void> | null = null
  private closing = false
  private closed: Promise<void> | null = null

  constructor(opts: ProviderNodeOptions) {
    const roles = [...new Set(opts.roles)].sort()
    const merged = withDefaults({ ...opts, roles }, DEFAULTS)
    this.opts = { ...merged, blindRelay: opts.blindRelay ?? roles.includes('relay') }
    if (this.opts.priceLamportsPerMiB > 0 && !opts.rpcUrl) {
      throw new CodedError(PaymentsError.PAYMENTS_OFF, 'A provider with a price needs a ledger to be paid on: give it --rpc URL.')
    }
    this.payments = opts.rpcUrl ? new Payments({ stateDir: opts.stateDir, rpcUrl: opts.rpcUrl, earn: true }) : null
    this.meter = opts.meter ?? new CountingMeter()
  }

  get isExit(): boolean {
    return this.opts.roles.includes('exit')
  }

  get isRelay(): boolean {
    return this.opts.roles.includes('relay')
  }

  /** Our hyperdht public key, hex (what `serve` prints as `ready <key>`). */
  get publicKey(): string {
    if (!this.identity) throw new CodedError(LibError.NOT_OPEN, 'The provider is not open.')
    return this.identity.keyPair.publicKey.toString('hex')
  }

  stats(): ProviderNodeStats {
    const meter = this.meter
    return {
      sessions: this.exit?.stats().sessions ?? 0,
      exit: this.exit?.stats() ?? null,
      circuits: this.relay?.stats() ?? null,
      blindRelay: this.blindRelay?.stats() ?? null,
      dials: this.dialer?.stats() ?? null,
      metered: 'totals' in meter ? { ...(meter as { totals: MeterTotals }).totals } : null,
      earnings: this.payments?.earnings?.stats() ?? null
    }
  }

  /** The wallet as `macro-vpn wallet` shows it (null for a volunteer). */
  async wallet(): Promise<WalletSummary | null> {
    return (await this.payments?.summary()) ?? null
  }

  async open(): Promise<void> {
    if (this.opening || this.closing) throw new CodedError(LibError.ALREADY_OPEN, 'The provider was already opened.')
    this.opening = this.openSteps()
    await this.opening
  }

  private async openSteps(): Promise<void> {
    // close() may run while we are still opening: check after every step and undo what exists.
    const step = <T>(value: T): T => {
      if (this.closing) throw new CodedError(LibError.CLOSED, 'The provider was closed while opening.')
      return value
    }
    const { opts } = this
    try {
      const identity = step(await loadProviderIdentity(opts.stateDir))
      this.identity = identity
      if (this.payments) {
        step(await this.payments.open())
        if (!opts.meter) this.meter = this.payments.meter
        if (opts.priceLamportsPerMiB > 0) await this.checkPayee(this.payments)
      }
      if (this.isExit) {
        const exit = new ExitRole({
          ifname: opts.ifname,
          mtu: opts.mtu,
          maxConsumers: opts.maxConsumers,
          wgPrivateKey: identity.wgPrivateKey,
          wgPublicKey: identity.wgPublicKey,
          dnsPort: opts.dnsPort,
          meter: this.meter,
          priceLamportsPerMiB: opts.priceLamportsPerMiB
        })
        this.exit = exit
        step(await exit.open(() => this.closing))
      }
      const dht = new DHT({ bootstrap: opts.bootstrap, ephemeral: true, keyPair: identity.keyPair })
      this.dht = dht
      step(await dht.ready())
      if (opts.blindRelay) this.blindRelay = new BlindRelayService({ dht, maxSessions: opts.maxRelayedPeers })
      const directory = new BlindRelayDirectory({ dht, self: identity.keyPair.publicKey })
      this.directory = directory
      this.dialer = new PeerDialer({ dht, relays: (exclude) => directory.relays(exclude) })
      const verifier = new ProviderVerifier(dht)
      this.relay = new RelayRole({
        keyPair: identity.keyPair,
        dialer: this.dialer,
        extend: this.isRelay,
        terminus: this.exit,
        maxCircuits: opts.maxCircuits,
        bandwidthMbps: opts.bandwidthMbps,
        circuitBandwidthMbps: opts.circuitBandwidthMbps,
        priceLamportsPerMiB: opts.priceLamportsPerMiB,
        meter: this.meter,
        describe: (key) => verifier.describe(key)
      })
      const server = dht.createServer({}, (conn) => this.onConnection(conn))
      this.server = server
      step(await server.listen(identity.keyPair))
      this.announcer = new ProviderAnnouncer({
        dht,
        server,
        keyPair: identity.keyPair,
        descriptor: () => this.descriptor(),
        refreshIntervalMs: opts.refreshIntervalMs,
        bootstrap: opts.bootstrap
      })
      await this.announcer.open()
      step(null)
    } catch (err) {
      await this.teardown()
      throw err
    }
  }

  /** A priced provider's wallet must be able to receive: funded above the rent-exempt minimum. */
  private async checkPayee(payments: Payments): Promise<void> {
    const { address } = payments.wallet
    const balance = Number(await payments.ledger.balance(address))
    if (balance < MIN_PAYEE_BALANCE) {
      throw new CodedError(
        PaymentsError.INSUFFICIENT_FUNDS,
        `The wallet ${address} holds ${formatSol(balance)}: a paid provider's wallet must hold at least ${formatSol(MIN_PAYEE_BALANCE)} before it can be paid (and more to pay its next hops). Fund it: macro-vpn wallet airdrop 1 --state ${this.opts.stateDir} --rpc ${payments.opts.rpcUrl} (local ledger and test clusters), or send SOL to ${address}.`
      )
    }
  }

  private descriptor(): ProviderDescriptor {
    if (!this.identity) throw new CodedError(LibError.NOT_OPEN, 'The provider is not open.')
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
      payoutAddress: this.payments?.wallet.address ?? '',
      seq: Date.now()
    }
  }

  private onConnection(conn: NoiseSocket): void {
    const relay = this.relay
    if (this.closing || !relay) {
      conn.destroy()
      return
    }
    conn.on('error', () => {})
    // Any of the channels may open; a connection that opens none (or never asks) is closed.
    const uses = [relay.accept(conn)]
    if (this.exit) uses.push(this.exit.accept(conn))
    const blindRelay = this.blindRelay
    blindRelay?.accept(conn)
    const timer = setTimeout(() => {
      if (!uses.some((u) => u.inUse()) && !blindRelay?.serves(conn)) conn.destroy()
    }, IDLE_CONNECTION_MS)
    timer.unref()
    conn.on('close', () => clearTimeout(timer))
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
    this.relay?.close()
    // Cash what payers owe before leaving (at most 10 s): the links are gone, the ledger is not.
    await this.payments?.close(10_000).catch(() => {})
    this.dialer?.destroy()
    this.directory?.close()
    await this.blindRelay?.close()
    await this.announcer?.close()
    if (this.server) await this.server.close().catch(() => {})
    if (this.dht) await this.dht.destroy().catch(() => {})
    if (this.exit) await this.exit.close()
    this.server = null
    this.dht = null
    this.exit = null
    this.relay = null
    this.dialer = null
    this.directory = null
    this.blindRelay = null
    this.announcer = null
  }
}
