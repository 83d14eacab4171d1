/**
 * Speed mode's carrier: the exit alone. Dial it by key with a fresh key pair (sessions cannot be
 * linked by key), ask for a tunnel over the session channel, and prove with an echoed probe that
 * the connection carries unordered messages both ways ("opened" alone does not). WireGuard
 * datagrams then travel as one unordered secret-stream message each (`conn.trySend`: no promise
 * per datagram). The exit's success or failure is recorded in the peer store. A priced exit is
 * paid by the consumer itself, over the pay channel of the same connection (payments/).
 */
import DHT, { type NoiseSocket } from 'hyperdht'
import { CodedError, errorCode, errorMessage } from '../lib/coded-error.ts'
import { withDeadline } from '../lib/deadline.ts'
import { BACKWARD, FORWARD, type CircuitMeter, type HopMeter, type LinkMeter } from '../payments/hop-meter.ts'
import type { PeerDialer, RelayCandidate } from '../overlay/peer-dialer.ts'
import type { ProviderInfo } from '../overlay/provider-discovery.ts'
import { isProbeReply } from '../protocol/probe.ts'
import { SESSION_VERSION, sessionChannel, type TunnelGrant } from '../protocol/session-protocol.ts'
import type { Carrier, CarrierSnapshot } from './carrier.ts'
import { ConsumerError } from './consumer-errors.ts'
import type { PeerStore } from './peer-store.ts'
import { ProbeRound } from './probe-round.ts'

export interface DirectCarrierOptions {
  dialer: PeerDialer
  exit: ProviderInfo
  wgPublicKey: Buffer
  peers: PeerStore
  /** Pays a priced exit (null: only free exits). */
  payer?: HopMeter | null
  timeoutMs?: number
}

export class DirectCarrier implements Carrier {
  readonly overhead = 0
  ondatagram: (buf: Buffer, offset: number, length: number) => void = () => {}
  onlost: (err: Error) => void = () => {}
  onchange: () => void = () => {}
  private readonly opts: DirectCarrierOptions
  private readonly timeoutMs: number
  private conn: NoiseSocket | null = null
  private payLink: LinkMeter | null = null
  private meter: CircuitMeter | null = null
  private relay: RelayCandidate | null = null
  private readonly probes = new ProbeRound()
  private openedAt = 0
  private rttMs = 0
  private rxBytes = 0
  private txBytes = 0
  private closed = false

  constructor(opts: DirectCarrierOptions) {
    this.opts = opts
    this.timeoutMs = opts.timeoutMs ?? 10_000
  }

  get route(): 'direct' | 'relayed' {
    return this.conn ? this.opts.dialer.route(this.conn, this.relay) : 'direct'
  }

  get bytes(): { rx: number; tx: number } {
    return { rx: this.rxBytes, tx: this.txBytes }
  }

  snapshot(): CarrierSnapshot {
    return {
      hops: [{ peer: this.opts.exit, role: 'exit', rttMs: Math.round(this.rttMs * 10) / 10 }],
      builtAt: this.openedAt,
      rebuilds: 0,
      rttMs: Math.round(this.rttMs * 100) / 100,
      probeLoss: 0,
      standby: false,
      route: this.route,
      bytes: this.bytes
    }
  }

  async open(onProgress: (step: string) => void = () => {}): Promise<TunnelGrant> {
    const { exit, peers } = this.opts
    try {
      onProgress('dialling exit')
      const grant = await this.requestTunnel()
      if (!grant.wgPublicKey.equals(exit.descriptor.wgPublicKey)) {
        throw new CodedError(ConsumerError.EXIT_MISBEHAVED, 'The exit answered with a WireGuard key other than the one it published.')
      }
      onProgress('checking the path')
      this.rttMs = await this.probe()
      this.openedAt = Date.now()
      peers.recordSuccess(exit.publicKey, { rttMs: this.rttMs })
      return grant
    } catch (err) {
      const code = errorCode(err) ?? ConsumerError.CONNECT_FAILED
      if (code === ConsumerError.EXIT_MISBEHAVED) peers.block(exit.publicKey, `${code}: ${errorMessage(err)}`)
      else peers.recordFailure(exit.publicKey, code)
      throw err
    }
  }

  private async requestTunnel(): Promise<TunnelGrant> {
    // A direct dial that cannot punch is retried through a relay: two time windows for the dial.
    const { conn, relay } = await this.opts.dialer.dial(this.opts.exit.publicKey, { keyPair: DHT.keyPair(), deadlineMs: this.timeoutMs * 2 })
    if (this.closed) {
      conn.destroy()
      throw new CodedError(ConsumerError.CONNECT_FAILED, 'The session was closed while connecting.')
    }
    this.conn = conn
    this.relay = relay
    conn.on('error', () => {})
    conn.on('message', this.onMessage)
    const rate = this.opts.exit.descriptor.priceLamportsPerMiB
    // The session channel is made at once: the exit opens its end when the connection opens, and
    // protomux turns away an open that finds no channel here (the payment takes a moment first).
    let channelOpen!: () => void
    const opened = new Promise<void>((resolve) => (channelOpen = resolve))
    let channel!: ReturnType<typeof sessionChannel.attach>
    const granted = new Promise<TunnelGrant>((resolve, reject) => {
      conn.once('close', () => reject(new CodedError(ConsumerError.CONNECT_FAILED, 'The exit closed the connection before granting a tunnel.')))
      channel = sessionChannel.attach(conn, {
        onopen: () => channelOpen(),
        on: {
          grant: resolve,
          refusal: (r) => reject(new CodedError(ConsumerError.EXIT_REFUSED, `The exit refused the tunnel (${r.code}): ${r.message}`))
        }
      })
      channel.open()
    })
    granted.catch(() => {})
    if (rate > 0) await this.openPayment(conn, rate)
    await withDeadline(opened, this.timeoutMs, () => new CodedError(ConsumerError.CONNECT_TIMEOUT, 'The exit did not answer in time.'))
    channel.send.request({ version: SESSION_VERSION, wgPublicKey: this.opts.wgPublicKey, rateLamportsPerMiB: rate })
    const grant = await withDeadline(granted, this.timeoutMs, () => new CodedError(ConsumerError.CONNECT_TIMEOUT, 'The exit did not answer in time.'))
    conn.on('close', () => {
      if (!this.closed) this.onlost(new CodedError(ConsumerError.LINK_LOST, 'The connection to the exit was lost.'))
    })
    return grant
  }

  /** The exit's pay link, admitted before the tunnel is asked for (the meter counts from the grant on). */
  private async openPayment(conn: NoiseSocket, rate: number): Promise<void> {
    const payer = this.opts.payer ?? null
    if (payer === null) throw new CodedError(ConsumerError.PAYMENTS_OFF, 'This exit costs money but payments are not set up (start the daemon with --rpc URL).')
    this.payLink = payer.openLink({
      inbound: false,
      conn,
      payee: this.opts.exit.descriptor.payoutAddress,
      onrefuse: (code) => {
        if (!this.closed) this.onlost(new CodedError(code, `The exit ended the session over payment (${code}).`))
      }
    })
    await withDeadline(
      this.payLink.admit(rate),
      this.timeoutMs,
      () => new CodedError(ConsumerError.CONNECT_TIMEOUT, 'Setting up the payment for the exit took too long.')
    )
    this.meter = this.payLink.openCircuit(rate)
  }

  probe(): Promise<number> {
    const conn = this.conn
    if (!conn) return Promise.reject(new CodedError(ConsumerError.CONNECT_FAILED, 'No connection to probe.'))
    return this.probes.run((bytes) => conn.send(bytes), 'the exit')
  }

  /** Hot path: the exit's datagrams (and probe replies). */
  private readonly onMessage = (buf: Buffer): void => {
    if (isProbeReply(buf)) {
      this.probes.onReply(buf, 0, buf.byteLength)
      return
    }
    this.rxBytes += buf.byteLength
    this.meter?.carry(BACKWARD, buf.byteLength)
    this.ondatagram(buf, 0, buf.byteLength)
  }

  /** Hot path: one WireGuard datagram as one unordered message. */
  send(buf: Buffer): void {
    const conn = this.conn
    if (conn === null) return
    this.txBytes += buf.byteLength
    this.meter?.carry(FORWARD, buf.byteLength)
    conn.trySend(buf)
  }

  async close(): Promise<void> {
    this.closed = true
    this.probes.cancel()
    this.meter?.close()
    this.payLink?.close()
    const conn = this.conn
    if (!conn || conn.destroyed) return
    await new Promise<void>((resolve) => {
      conn.once('close', () => resolve())
      conn.destroy()
      setTimeout(resolve, 2000).unref()
    })
  }
}
