/**
 * An in-process circuit testbed: hyperdht's testnet on 127.0.0.1 (10 nodes), providers that are
 * the real RelayRole (CircuitSwitch) on their own DHT node and server, each publishing its signed
 * descriptor as a mutable record (relays check it with the real ProviderVerifier before they
 * extend a circuit to a key), and one stand-in: a fake
 * exit terminus in place of the exit's wireguard-go (as wireguard-go tests its device against
 * in-memory binds). No root, no namespaces, no wireguard-go.
 *
 *   const bed = await CircuitTestbed.create()
 *   const entry = await bed.relay('entry', '198.19.0.30')
 *   const exit = await bed.exit('exit', '198.18.0.10')
 *   const { dialer } = bed.consumer()
 *   ... new ConsumerCircuit({ dialer, path: [entry.info, …, exit.info], … })
 *   await bed.close()
 *
 * What a provider offers the tests: its CountingMeter, the circuit ids of the forward DATA cells
 * that reached it, the keys its dialer was asked for, optionally every byte its connections
 * carried after the secret-stream layer (`tap`), and a forging switch that corrupts the backward
 * DATA cells it sends towards the consumer (as tests/net/misbehaving-relay.ts does, but per
 * provider and in-process: it wraps the inbound connection's trySend).
 */
import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import DHT, { type KeyPair, type NoiseSocket, type Server } from 'hyperdht'
import createTestnet, { type HyperdhtTestnet } from 'hyperdht/testnet.js'
import { PeerStore } from '../../host/src/consumer/peer-store.ts'
import { CodedError } from '../../host/src/lib/coded-error.ts'
import { PeerDialer, type DialOptions, type DialResult } from '../../host/src/overlay/peer-dialer.ts'
import { ProviderVerifier } from '../../host/src/overlay/provider-verifier.ts'
import type { ProviderInfo } from '../../host/src/overlay/provider-discovery.ts'
import { CELL_HEADER_BYTES, CellType, createCellHeader, readCellHeader } from '../../host/src/protocol/circuit-cell.ts'
import { encodeTunnelAnswer, RESUME_TOKEN_BYTES, type ExitTunnelAsk } from '../../host/src/protocol/circuit-messages.ts'
import {
  decodeDescriptor,
  DESCRIPTOR_VERSION,
  encodeDescriptor,
  type ProviderDescriptor,
  type ProviderRole
} from '../../host/src/protocol/provider-descriptor.ts'
import { SESSION_VERSION, type TunnelGrant } from '../../host/src/protocol/session-protocol.ts'
import { DestroyCode, TunnelRefusalCode } from '../../host/src/protocol/wire-codes.ts'
import type { CircuitTerminus, TerminusAnswer, TerminusTunnel, TunnelOutlet } from '../../host/src/provider/relay/circuit-terminus.ts'
import { CountingMeter } from '../../host/src/payments/hop-meter.ts'
import type { PaidMeter } from '../../host/src/payments/paid-meter.ts'
import { Payments } from '../../host/src/payments/payments.ts'
import { RelayRole } from '../../host/src/provider/relay/relay-role.ts'

export const FAKE_GATEWAY = '10.77.0.1'
export const FAKE_MTU = 1328

/** A datagram the fake exit received, and the outlet (the circuit's last hop) it came through. */
export interface Delivered {
  bytes: Buffer
  outlet: TunnelOutlet
  at: number
}

/** One tunnel at the fake exit: records what arrives, echoes it back through the outlet it came through. */
export class FakeTunnel implements TerminusTunnel {
  readonly grant: TunnelGrant
  readonly wgPublicKey: Buffer
  readonly resumeToken = crypto.randomBytes(RESUME_TOKEN_BYTES)
  /** The outlets (circuits' last hops) attached now. */
  readonly outlets = new Set<TunnelOutlet>()
  readonly delivered: Delivered[] = []
  /** When each outlet was detached (the circuit ended at the exit). */
  readonly detachedAt = new Map<TunnelOutlet, number>()
  /** Where replies go: the outlet that delivered or probed last. */
  current: TunnelOutlet | null = null
  echo = true

  constructor(grant: TunnelGrant, wgPublicKey: Buffer) {
    this.grant = grant
    this.wgPublicKey = Buffer.from(wgPublicKey)
  }

  deliver(buf: Buffer, offset: number, length: number, outlet: TunnelOutlet): void {
    const bytes = Buffer.from(buf.subarray(offset, offset + length))
    this.delivered.push({ bytes, outlet, at: performance.now() })
    this.current = outlet
    if (this.echo) outlet.sendDatagram(bytes)
  }

  use(outlet: TunnelOutlet): void {
    this.current = outlet
  }

  attach(outlet: TunnelOutlet): void {
    this.outlets.add(outlet)
    this.current = outlet
  }

  detach(outlet: TunnelOutlet): void {
    if (!this.outlets.delete(outlet)) return
    this.detachedAt.set(outlet, performance.now())
    if (this.current === outlet) this.current = this.outlets.values().next().value ?? null
  }
}

/** The one stand-in: an exit terminus that grants tunnels (and resumes them by token) without wireguard-go. */
export class FakeExit implements CircuitTerminus {
  readonly wgPublicKey = crypto.randomBytes(32)
  readonly asks: ExitTunnelAsk[] = []
  readonly tunnels: FakeTunnel[] = []
  resumes = 0

  async openTunnel(ask: ExitTunnelAsk, outlet: TunnelOutlet): Promise<TerminusAnswer> {
    this.asks.push(ask)
    const refuse = (code: string, message: string): TerminusAnswer => ({ reply: encodeTunnelAnswer({ ok: false, refusal: { code, message } }), tunnel: null })
    if (ask.version !== SESSION_VERSION) return refuse(TunnelRefusalCode.UNSUPPORTED_VERSION, 'Wrong session version.')
    if (ask.resumeToken !== null) {
      const token = ask.resumeToken
      const existing = this.tunnels.find((t) => t.resumeToken.equals(token) && t.wgPublicKey.equals(ask.wgPublicKey))
      if (!existing) return refuse(TunnelRefusalCode.UNKNOWN_TUNNEL, 'No such tunnel to resume.')
      existing.attach(outlet)
      this.resumes++
      return { reply: encodeTunnelAnswer({ ok: true, grant: existing.grant, resumeToken: existing.resumeToken }), tunnel: existing }
    }
    const grant: TunnelGrant = {
      version: SESSION_VERSION,
      wgPublicKey: this.wgPublicKey,
      address: `10.77.0.${this.tunnels.length + 2}`,
      gateway: FAKE_GATEWAY,
      mtu: FAKE_MTU
    }
    const tunnel = new FakeTunnel(grant, ask.wgPublicKey)
    this.tunnels.push(tunnel)
    tunnel.attach(outlet)
    return { reply: encodeTunnelAnswer({ ok: true, grant, resumeToken: tunnel.resumeToken }), tunnel }
  }
}

/** Bytes one connection carried after the secret-stream layer, both directions. */
export interface ConnTap {
  remoteKey: Buffer
  /** Reliable-stream bytes (protomux: the circuit channel's create/created/cell/destroy messages). */
  streamIn: Buffer[]
  streamOut: Buffer[]
  /** Unordered datagrams (DATA cells). */
  messagesIn: Buffer[]
  messagesOut: Buffer[]
}

type Writable = { write: (...args: unknown[]) => boolean; trySend: (buf: Buffer | Uint8Array) => void }

function tapConnection(conn: NoiseSocket): ConnTap {
  const tap: ConnTap = { remoteKey: Buffer.from(conn.remotePublicKey), streamIn: [], streamOut: [], messagesIn: [], messagesOut: [] }
  // Registered before the circuit switch's own listeners: it peels layers in place, so copy first.
  conn.on('message', (buf: Buffer) => tap.messagesIn.push(Buffer.from(buf)))
  // Stream bytes as secret-stream pushes them (a 'data' listener would start the flow before
  // protomux is attached and steal its first messages).
  const r = conn as unknown as { push: (data: Buffer | null) => boolean }
  const push = r.push.bind(conn)
  r.push = (data) => {
    if (data !== null) tap.streamIn.push(Buffer.from(data))
    return push(data)
  }
  const w = conn as unknown as Writable
  const write = w.write.bind(conn)
  w.write = (...args: unknown[]) => {
    if (args[0] instanceof Uint8Array) tap.streamOut.push(Buffer.from(args[0]))
    return write(...args)
  }
  const trySend = w.trySend.bind(conn)
  w.trySend = (buf) => {
    tap.messagesOut.push(Buffer.from(buf))
    trySend(buf)
  }
  return tap
}

/** While `p.frozen`, the connection's datagrams reach none of its listeners (a hung relay). */
function freezable(conn: NoiseSocket, p: { frozen: boolean }): void {
  const e = conn as unknown as { emit: (event: string | symbol, ...args: unknown[]) => boolean }
  const emit = e.emit.bind(conn)
  e.emit = (event, ...args) => (event === 'message' && p.frozen ? false : emit(event, ...args))
}

/** Does `needle` occur in anything the taps saw (stream bytes joined per connection and direction, datagrams one by one)? */
export function tapsContain(taps: ConnTap[], needle: Buffer): boolean {
  for (const t of taps) {
    if (Buffer.concat(t.streamIn).includes(needle) || Buffer.concat(t.streamOut).includes(needle)) return true
    if ([...t.messagesIn, ...t.messagesOut].some((m) => m.includes(needle))) return true
  }
  return false
}

/** The real PeerDialer; it only notes the keys it is asked for and can tap the connections it makes. */
class NotingDialer extends PeerDialer {
  readonly dialled: Buffer[] = []
  onconn: ((conn: NoiseSocket) => void) | null = null

  override async dial(publicKey: Buffer, opts: DialOptions): Promise<DialResult> {
    this.dialled.push(Buffer.from(publicKey))
    const result = await super.dial(publicKey, opts)
    this.onconn?.(result.conn)
    return result
  }
}

export interface TestProvider {
  name: string
  keyPair: KeyPair
  publicKey: Buffer
  dht: DHT
  server: Server
  role: RelayRole
  /** Counts what the provider carried (the payments' meter when it has payments). */
  meter: CountingMeter | PaidMeter
  /** Its payments (wallet, earnings, spending) with `payments`, else null. */
  payments: Payments | null
  /** The keys this provider's dialer was asked to reach (its next hops). */
  dialled: Buffer[]
  /** The fake terminus (exits only). */
  exit: FakeExit | null
  info: ProviderInfo
  /** Circuit ids of the forward DATA cells that arrived on this provider's inbound links. */
  inboundIds: Set<number>
  /** Per connection, what it carried (only with `tap`). */
  taps: ConnTap[]
  /** Corrupt this many more backward DATA cells sent towards the consumer (Infinity: all). */
  forgeCount: number
  forged: number
  /** Hung: every datagram reaching this provider is dropped (it forwards nothing, says nothing). */
  frozen: boolean
  killed: boolean
  /**
   * Vanish without closing anything gracefully: the DHT node is destroyed at once (no server
   * close, no circuit destroys). In-process its UDX streams are torn down, so the neighbours see
   * their links close at once; a peer that goes quiet without a word is `frozen` instead.
   */
  kill(): Promise<void>
}

export interface ProviderOptions {
  /** Record every byte this provider's connections carry. */
  tap?: boolean
  /**
   * Real payments on the ledger at `rpcUrl` (payments/payments.ts): a wallet funded with
   * `fundSol` (default 2), the price (a tier) in its descriptor with its payout address.
   */
  payments?: { rpcUrl: string; priceLamportsPerMiB: number; fundSol?: number }
}

/** A descriptor as path selection sees it, validated by a round trip through its wire encoding. */
export function makeDescriptor(roles: ProviderRole[], host: string, wgPublicKey: Buffer, priceLamportsPerMiB = 0, payoutAddress = ''): ProviderDescriptor {
  return decodeDescriptor(
    encodeDescriptor({
      version: DESCRIPTOR_VERSION,
      roles,
      blindRelay: false,
      region: 'test',
      host,
      priceLamportsPerMiB,
      bandwidthMbps: 100,
      exitPolicy: { blockedCidrs: [], blockedTcpPorts: [] },
      wgPublicKey,
      payoutAddress,
      seq: Date.now()
    })
  )
}

export class CircuitTestbed {
  readonly testnet: HyperdhtTestnet
  readonly providers: TestProvider[] = []
  private readonly consumers: Array<{ dht: DHT; dialer: PeerDialer }> = []
  private readonly dirs: string[] = []
  private readonly stores: PeerStore[] = []
  private readonly wallets: Payments[] = []

  private constructor(testnet: HyperdhtTestnet) {
    this.testnet = testnet
  }

  /** Ten nodes: with fewer, a fresh node's NAT classification does not settle and connections carry nothing. */
  static async create(): Promise<CircuitTestbed> {
    return new CircuitTestbed(await createTestnet(10))
  }

  relay(name: string, host: string, opts: ProviderOptions = {}): Promise<TestProvider> {
    return this.provider(name, host, null, opts)
  }

  exit(name: string, host: string, opts: ProviderOptions = {}): Promise<TestProvider> {
    return this.provider(name, host, new FakeExit(), opts)
  }

  private async provider(name: string, host: string, exit: FakeExit | null, opts: ProviderOptions): Promise<TestProvider> {
    const keyPair = DHT.keyPair()
    const dht = new DHT({ bootstrap: this.testnet.bootstrap, ephemeral: true, keyPair })
    const dialer = new NotingDialer({ dht, relays: () => [] })
    const payments = opts.payments ? await this.payments(opts.payments.rpcUrl, true, opts.payments.fundSol ?? 2) : null
    const price = opts.payments?.priceLamportsPerMiB ?? 0
    const meter = payments ? payments.meter : new CountingMeter()
    // Relays extend only to keys whose signed descriptor the DHT holds: the real verifier, and each provider publishes its descriptor.
    const verifier = new ProviderVerifier(dht)
    const role = new RelayRole({
      keyPair,
      dialer,
      extend: exit === null,
      terminus: exit,
      maxCircuits: 64,
      bandwidthMbps: 0,
      circuitBandwidthMbps: 0,
      priceLamportsPerMiB: price,
      meter,
      describe: (key) => verifier.describe(key)
    })
    const header = createCellHeader()
    const wgPublicKey = exit?.wgPublicKey ?? crypto.randomBytes(32)
    const p: TestProvider = {
      name,
      keyPair,
      publicKey: keyPair.publicKey,
      dht,
      server: null as unknown as Server,
      role,
      meter,
      payments,
      dialled: dialer.dialled,
      exit,
      info: { publicKey: keyPair.publicKey, descriptor: makeDescriptor(exit ? ['exit'] : ['relay'], host, wgPublicKey, price, payments?.wallet.address ?? '') },
      inboundIds: new Set(),
      taps: [],
      forgeCount: 0,
      forged: 0,
      frozen: false,
      killed: false,
      kill: async () => {
        p.killed = true
        await dht.destroy({ force: true })
      }
    }
    dialer.onconn = (conn) => {
      freezable(conn, p)
      if (opts.tap) p.taps.push(tapConnection(conn))
    }
    p.server = dht.createServer({}, (conn) => {
      conn.on('error', () => {})
      freezable(conn, p)
      if (opts.tap) p.taps.push(tapConnection(conn))
      conn.on('message', (buf: Buffer) => {
        const h = readCellHeader(buf, header)
        if (h !== null && h.type === CellType.DATA) p.inboundIds.add(h.circuitId)
      })
      // Backward DATA cells towards the consumer leave through the inbound link's trySend.
      const w = conn as unknown as Writable
      const trySend = w.trySend.bind(conn)
      w.trySend = (buf) => {
        if (p.forgeCount > 0) {
          p.forgeCount--
          p.forged++
          crypto.randomFillSync(buf, CELL_HEADER_BYTES)
        }
        trySend(buf)
      }
      role.accept(conn)
    })
    await p.server.listen(keyPair)
    await dht.mutablePut(keyPair, encodeDescriptor(p.info.descriptor), { seq: p.info.descriptor.seq })
    this.providers.push(p)
    return p
  }

  /** A consumer's DHT node and dialer (a fresh key pair per circuit comes from ConsumerCircuit). */
  consumer(): { dht: DHT; dialer: PeerDialer } {
    const dht = new DHT({ bootstrap: this.testnet.bootstrap, ephemeral: true })
    const dialer = new PeerDialer({ dht, relays: () => [] })
    const c = { dht, dialer }
    this.consumers.push(c)
    return c
  }

  /**
   * Payments in a fresh state folder on the ledger at `rpcUrl`, the wallet funded with `fundSol`
   * (0: none); `earn` for a provider. Closed (settling what it holds) by close().
   */
  async payments(rpcUrl: string, earn: boolean, fundSol = 2): Promise<Payments> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'circuit-testbed-pay-'))
    this.dirs.push(dir)
    const payments = new Payments({ stateDir: dir, rpcUrl, earn })
    await payments.open()
    this.wallets.push(payments)
    if (fundSol > 0) await payments.ledger.airdrop(payments.wallet.address, BigInt(Math.round(fundSol * 1e9)))
    return payments
  }

  /** A PeerStore in a fresh temporary state directory (removed by close()). */
  async peerStore(): Promise<PeerStore> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'circuit-testbed-'))
    this.dirs.push(dir)
    const store = new PeerStore({ stateDir: dir })
    await store.open()
    this.stores.push(store)
    return store
  }

  async close(): Promise<void> {
    for (const s of this.stores.splice(0)) await s.close().catch(() => {})
    for (const c of this.consumers.splice(0)) {
      c.dialer.destroy()
      await c.dht.destroy().catch(() => {})
    }
    for (const p of this.providers.splice(0)) {
      p.role.close()
      if (!p.dht.destroyed) await p.dht.destroy().catch(() => {})
    }
    for (const w of this.wallets.splice(0)) await w.close(2000).catch(() => {})
    await this.testnet.destroy()
    for (const dir of this.dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true })
  }
}

/** Poll `cond` every 20 ms; throws `what` after timeoutMs. */
export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = performance.now() + timeoutMs
  while (!cond()) {
    if (performance.now() > until) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** A WireGuard-like datagram (type 4, transport data): byte 0 = 4, bytes 1..4 = n, then random. */
export function datagram(n: number, size: number): Buffer {
  const buf = crypto.randomBytes(Math.max(size, 5))
  buf[0] = 4
  buf.writeUInt32LE(n >>> 0, 1)
  return buf.subarray(0, Math.max(size, 5))
}

/** The number datagram() put into a datagram. */
export function datagramNumber(buf: Buffer): number {
  return buf.readUInt32LE(1)
}
