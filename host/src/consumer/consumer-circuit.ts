/**
 * The consumer's end of one telescoping circuit (DESIGN.md section 3): dial the entry by key
 * with a fresh key pair, create the circuit with a Noise IK handshake, then extend it hop by hop
 * with EXTEND cells only the current last hop can read; the last hop's handshake carries the
 * tunnel request to the exit and its reply the grant. Afterwards every WireGuard datagram
 * travels as one DATA cell with one onion layer per hop.
 *
 * Payments (DESIGN.md section 4): the consumer pays only the entry, at the circuit's total price
 * (the CREATE names that rate, and the entry's pay link — `payer`, payments/hop-meter.ts — carries
 * the vouchers); each relay's handshake ask tells it what to pay its next hop (the sum of the
 * prices after it), so no later hop ever learns the consumer's wallet.
 *
 * Failures carry a stable code and the hop to blame (`circuitFailure(…).detail.hop`), so the
 * caller can record the failure against that peer or blacklist it.
 *
 * Hot path (`send`, the message handler): one copy into a preallocated cell buffer, the layers
 * in place, the pay meter's count, no JSON, no logging.
 */
import DHT, { type NoiseSocket } from 'hyperdht'
import sodium from 'sodium-native'
import { errorCode, errorMessage } from '../lib/coded-error.ts'
import { withDeadline } from '../lib/deadline.ts'
import { BACKWARD, FORWARD, type CircuitMeter, type HopMeter, type LinkMeter } from '../payments/hop-meter.ts'
import type { PeerDialer, RelayCandidate } from '../overlay/peer-dialer.ts'
import type { ProviderInfo } from '../overlay/provider-discovery.ts'
import {
  CELL_HEADER_BYTES,
  CellType,
  createCellHeader,
  MAX_CELL_BYTES,
  MAX_CIRCUIT_HOPS,
  ONION_LAYER_BYTES,
  readCellHeader,
  writeCellHeader
} from '../protocol/circuit-cell.ts'
import { circuitChannel, type CircuitChannelEnd } from '../protocol/circuit-channel.ts'
import { decodeExtended, decodeTunnelAnswer, encodeExtend, encodeHopAsk, EXTEND_VERSION } from '../protocol/circuit-messages.ts'
import { HopInitiator, type HopKeys } from '../protocol/hop-handshake.ts'
import { OnionCircuitKeys } from '../protocol/onion-layers.ts'
import { isProbeReply, PROBE_REQUEST } from '../protocol/probe.ts'
import { SESSION_VERSION, type TunnelGrant } from '../protocol/session-protocol.ts'
import { DestroyCode } from '../protocol/wire-codes.ts'
import type { CarrierHop } from './carrier.ts'
import { circuitFailure, ConsumerError, isCircuitFailure, type CircuitFailure } from './consumer-errors.ts'

/** A provider on a circuit's path (its descriptor verified by the DHT). */
export type CircuitPeer = ProviderInfo
export type CircuitHop = CarrierHop

export interface ConsumerCircuitOptions {
  /** Dials the entry (directly, or through a blind relay that is none of the path's peers). */
  dialer: PeerDialer
  /** Entry first, exit last. */
  path: CircuitPeer[]
  wgPublicKey: Buffer
  resumeToken: Buffer | null
  /** Pays the entry when the path has a price (the daemon's payments; null: only free paths). */
  payer?: HopMeter | null
  timeoutMs?: number
}

/** Per hop, entry first: what that hop must pay the hop after it per MiB (the sum of the prices after it). */
export function downstreamPrices(path: readonly CircuitPeer[]): number[] {
  const out: number[] = []
  let after = 0
  for (let i = path.length - 1; i >= 0; i--) {
    out[i] = after
    after += path[i]!.descriptor.priceLamportsPerMiB
  }
  return out
}

/** What the whole path costs per MiB: the rate the consumer pays its entry. */
export function pathPrice(path: readonly CircuitPeer[]): number {
  return path.reduce((sum, p) => sum + p.descriptor.priceLamportsPerMiB, 0)
}

/** A hop's destroy code in plain words (the codes circuit-switch.ts sends). */
function destroyReason(code: string): string {
  switch (code) {
    case DestroyCode.RELAY_FULL:
      return 'A relay of the path is full: it already carries as many circuits as its owner allows.'
    case DestroyCode.RELAY_CLOSING:
      return 'A relay of the path is shutting down.'
    case DestroyCode.NOT_A_RELAY:
      return 'A peer of the path does not relay.'
    case DestroyCode.NOT_AN_EXIT:
      return 'The last peer of the path is not an exit.'
    case DestroyCode.LINK_FULL:
      return 'A relay of the path refused another circuit on this connection.'
    case DestroyCode.TOO_MANY_CONTROL_CELLS:
      return 'A relay of the path ended the circuit: it saw more control cells than building a circuit takes.'
    case DestroyCode.PRICE_TOO_LOW:
      return 'A hop of the path asks more than the circuit offered it (its price changed); another path is tried.'
    case DestroyCode.PAYMENT_OVERDUE:
      return 'The entry ended the circuit: the payments for it fell behind (is the wallet funded and the spending cap not reached?).'
    case DestroyCode.PAYER_REFUSED:
      return 'A hop of the path refuses this wallet (or its next hop refused the relay that pays it).'
    case DestroyCode.PAYMENT_REQUIRED:
      return 'A hop of the path wanted payment that did not arrive in time.'
    case DestroyCode.CANNOT_PAY_NEXT_HOP:
      return 'A relay of the path cannot pay the hop after it (no wallet or no funds).'
    default:
      return `A hop closed the circuit (${code}).`
  }
}

/** Forged backward cells in a row tolerated before the circuit is declared broken (and a hop blamed). */
const MAX_FORGED_IN_A_ROW = 16

export class ConsumerCircuit {
  readonly path: CircuitPeer[]
  hops: CircuitHop[] = []
  grant: TunnelGrant | null = null
  resumeToken: Buffer | null = null
  builtAt = 0
  /** Counted per backward cell accepted (the health check compares it between ticks). */
  rxCells = 0
  txCells = 0
  rxBytes = 0
  txBytes = 0
  badCells = 0
  /** Backward cells in a row whose onion layers did not verify. */
  forgedInARow = 0
  ended = false
  /** Hot path: a datagram from the exit at buf[offset, offset + length). */
  ondatagram: (buf: Buffer, offset: number, length: number) => void = () => {}
  /** The circuit broke after it was built (destroy from a hop, link loss, forged cells). */
  onfail: ((err: CircuitFailure) => void) | null = null
  /** A probe reply arrived (payload without the reply byte). */
  onprobe: ((buf: Buffer, offset: number, length: number) => void) | null = null

  private readonly opts: Required<ConsumerCircuitOptions>
  /** The circuit's total price per MiB (paid to the entry). */
  readonly rate: number
  private payLink: LinkMeter | null = null
  private meter: CircuitMeter | null = null
  private conn: NoiseSocket | null = null
  /** The blind relay the entry link was dialled through, or null. */
  private entryRelay: RelayCandidate | null = null
  private channel: CircuitChannelEnd | null = null
  private readonly circuitId: number
  private keys: OnionCircuitKeys | null = null
  private seq = 0
  private readonly out = Buffer.alloc(MAX_CELL_BYTES + ONION_LAYER_BYTES)
  private readonly outPayload = this.out.subarray(CELL_HEADER_BYTES)
  private readonly header = createCellHeader()
  private waiter: { kind: 'created' | 'extended'; resolve: (buf: Buffer) => void; reject: (err: CircuitFailure) => void } | null = null

  constructor(opts: ConsumerCircuitOptions) {
    if (opts.path.length < 1 || opts.path.length > MAX_CIRCUIT_HOPS)
      throw circuitFailure('INVALID_HOPS', `A circuit has 1 to ${MAX_CIRCUIT_HOPS} hops, not ${opts.path.length}.`, -1)
    this.opts = { timeoutMs: 10_000, ...opts, payer: opts.payer ?? null }
    this.path = opts.path
    this.rate = pathPrice(opts.path)
    const id = Buffer.alloc(4)
    sodium.randombytes_buf(id)
    this.circuitId = id.readUInt32LE(0) || 1
  }

  /** How the consumer reaches the entry right now: directly, or through a blind relay. */
  get entryRoute(): 'direct' | 'relayed' {
    return this.conn ? this.opts.dialer.route(this.conn, this.entryRelay) : 'direct'
  }

  get mtuOverhead(): number {
    return CELL_HEADER_BYTES + ONION_LAYER_BYTES * this.path.length
  }

  /** Build the circuit. Throws a circuit failure (consumer-errors.ts) naming the hop to blame; the caller then destroys it. */
  async open(): Promise<TunnelGrant> {
    const { path } = this.opts
    const entry = path[0]!
    const started = performance.now()
    // A direct dial that cannot punch is retried through a relay: give the dial two time windows.
    const { conn, relay } = await this.opts.dialer
      .dial(entry.publicKey, { keyPair: DHT.keyPair(), exclude: path.map((p) => p.publicKey), deadlineMs: this.opts.timeoutMs * 2 })
      .catch((err: unknown) => {
        throw circuitFailure(errorCode(err) ?? ConsumerError.CONNECT_FAILED, `Could not reach the entry relay: ${errorMessage(err)}`, 0)
      })
    if (this.ended) {
      conn.destroy()
      throw circuitFailure(ConsumerError.CIRCUIT_CLOSED, 'The circuit was closed.', -1)
    }
    this.conn = conn
    this.entryRelay = relay
    conn.on('error', () => {})
    conn.on('close', () => this.fail(circuitFailure(ConsumerError.LINK_LOST, 'The connection to the entry relay was lost.', 0)))
    conn.on('message', this.onMessage)
    const opened = new Promise<void>((resolve, reject) => {
      this.channel = circuitChannel.attach(conn, {
        onopen: () => resolve(),
        onclose: () => reject(circuitFailure(ConsumerError.LINK_LOST, 'The entry relay closed the circuit channel.', 0)),
        on: {
          created: (m) => {
            if (m.circuitId === this.circuitId) this.settle('created', m.handshake)
          },
          cell: (cell) => this.onControlCell(cell),
          destroy: (m) => {
            if (m.circuitId === this.circuitId) this.fail(circuitFailure(m.code, destroyReason(m.code), this.hops.length))
          }
        }
      })
      this.channel.open()
    })
    await this.within(opened, 0, 'The entry relay did not answer.')
    if (this.rate > 0) await this.openPayment(conn, entry)

    const downstream = downstreamPrices(path)
    const keys: HopKeys[] = []
    let exitAnswer: Buffer | null = null
    for (let i = 0; i < path.length; i++) {
      const peer = path[i]!
      const last = i === path.length - 1
      const initiator = new HopInitiator(peer.publicKey)
      const ask = last
        ? encodeHopAsk({ kind: 'exit', tunnel: { version: SESSION_VERSION, wgPublicKey: this.opts.wgPublicKey, resumeToken: this.opts.resumeToken } })
        : encodeHopAsk({ kind: 'relay', downstreamLamportsPerMiB: downstream[i]! })
      const request = initiator.request(ask)
      const t0 = performance.now()
      let reply: Buffer
      if (i === 0) {
        const created = this.expect('created')
        this.channel!.send.create({ circuitId: this.circuitId, seqBase: 0, rateLamportsPerMiB: this.rate, handshake: request })
        reply = await this.within(created, 0, 'The entry relay did not answer the circuit request.')
      } else {
        reply = await this.extend(i, keys, peer.publicKey, request)
      }
      let finished
      try {
        finished = initiator.finish(reply)
      } catch {
        throw circuitFailure(DestroyCode.HANDSHAKE_FAILED, 'A hop answered the circuit handshake with a key other than the one it published.', i, true)
      }
      keys.push(finished.keys)
      this.hops.push({ peer, role: last ? 'exit' : i === 0 ? 'entry' : 'relay', rttMs: Math.round((performance.now() - (i === 0 ? started : t0)) * 10) / 10 })
      if (last) exitAnswer = finished.payload
    }
    this.keys = new OnionCircuitKeys(keys)
    const exitIndex = path.length - 1
    let answer
    try {
      answer = decodeTunnelAnswer(exitAnswer!)
    } catch {
      throw circuitFailure(ConsumerError.EXIT_MISBEHAVED, 'The exit answered the tunnel request with malformed bytes.', exitIndex, true)
    }
    if (!answer.ok)
      throw circuitFailure(ConsumerError.EXIT_REFUSED, `The exit refused the tunnel (${answer.refusal.code}): ${answer.refusal.message}`, exitIndex)
    if (!answer.grant.wgPublicKey.equals(path[exitIndex]!.descriptor.wgPublicKey)) {
      throw circuitFailure(ConsumerError.EXIT_MISBEHAVED, 'The exit answered with a WireGuard key other than the one it published.', exitIndex, true)
    }
    this.grant = answer.grant
    this.resumeToken = answer.resumeToken
    this.builtAt = Date.now()
    return answer.grant
  }

  /** The entry's pay link: the payments admit this circuit's rate (a nonce account ready, funds, the cap) before it is created. */
  private async openPayment(conn: NoiseSocket, entry: CircuitPeer): Promise<void> {
    const payer = this.opts.payer
    if (payer === null) {
      throw circuitFailure(ConsumerError.PAYMENTS_OFF, 'This path costs money but payments are not set up (start the daemon with --rpc URL).', -1)
    }
    this.payLink = payer.openLink({
      inbound: false,
      conn,
      payee: entry.descriptor.payoutAddress,
      onrefuse: (code) => this.fail(circuitFailure(code, destroyReason(code), 0))
    })
    try {
      await this.within(this.payLink.admit(this.rate), -1, 'Setting up the payment for the entry took too long.')
    } catch (err) {
      if (isCircuitFailure(err)) throw err
      throw circuitFailure(errorCode(err) ?? ConsumerError.PAYMENTS_OFF, errorMessage(err), -1)
    }
    this.meter = this.payLink.openCircuit(this.rate)
  }

  /** Send an EXTEND through the `hop` hops built so far and wait for the EXTENDED reply. */
  private async extend(hop: number, keys: HopKeys[], nextKey: Buffer, request: Buffer): Promise<Buffer> {
    const onion = new OnionCircuitKeys(keys)
    const body = encodeExtend({ version: EXTEND_VERSION, nextKey, handshake: request })
    const cell = Buffer.alloc(CELL_HEADER_BYTES + body.byteLength + ONION_LAYER_BYTES * hop)
    body.copy(cell, CELL_HEADER_BYTES)
    const seq = ++this.seq
    const n = onion.wrapForward(cell.subarray(CELL_HEADER_BYTES), body.byteLength, seq)
    writeCellHeader(cell, CellType.EXTEND, this.circuitId, seq)
    const extended = this.expect('extended')
    this.meter?.carry(FORWARD, CELL_HEADER_BYTES + n)
    this.channel!.send.cell(cell.subarray(0, CELL_HEADER_BYTES + n))
    const back = await this.within(extended, hop, 'The circuit could not be extended in time.')
    this.meter?.carry(BACKWARD, back.byteLength)
    const h = readCellHeader(back, createCellHeader())!
    const m = onion.unwrapBackward(back.subarray(CELL_HEADER_BYTES), back.byteLength - CELL_HEADER_BYTES, h.seq)
    onion.destroy()
    if (m < 0) throw circuitFailure(DestroyCode.BAD_CELL, 'A relay returned a forged or corrupted extend reply.', Math.max(onion.lastFailedLayer, 0), true)
    let reply
    try {
      reply = decodeExtended(back.subarray(CELL_HEADER_BYTES, CELL_HEADER_BYTES + m))
    } catch {
      throw circuitFailure(DestroyCode.BAD_CELL, 'A relay returned a malformed extend reply.', hop - 1, true)
    }
    if (!reply.ok) throw circuitFailure(reply.code, `The circuit could not reach its next hop (${reply.code}): ${reply.message}`, hop)
    return reply.handshake
  }

  private onControlCell(cell: Buffer): void {
    const h = readCellHeader(cell, createCellHeader())
    if (h === null || h.type !== CellType.EXTENDED || h.circuitId !== this.circuitId) {
      this.badCells++
      return
    }
    this.settle('extended', cell)
  }

  private expect(kind: 'created' | 'extended'): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.waiter = { kind, resolve, reject }
    })
  }

  private settle(kind: 'created' | 'extended', buf: Buffer): void {
    const w = this.waiter
    if (!w || w.kind !== kind) {
      this.badCells++
      return
    }
    this.waiter = null
    w.resolve(buf)
  }

  private within<T>(p: Promise<T>, hop: number, message: string): Promise<T> {
    return withDeadline(p, this.opts.timeoutMs, () => circuitFailure(ConsumerError.CIRCUIT_TIMEOUT, message, hop))
  }

  /** Hot path: one WireGuard datagram into the circuit. */
  send(buf: Buffer): void {
    const keys = this.keys
    const conn = this.conn
    if (keys === null || conn === null || this.ended) return
    const length = buf.byteLength
    if (length + this.mtuOverhead > MAX_CELL_BYTES) return
    buf.copy(this.out, CELL_HEADER_BYTES)
    const seq = ++this.seq
    const n = keys.wrapForward(this.outPayload, length, seq)
    if (n < 0) return
    writeCellHeader(this.out, CellType.DATA, this.circuitId, seq)
    this.meter?.carry(FORWARD, CELL_HEADER_BYTES + n)
    conn.trySend(this.out.subarray(0, CELL_HEADER_BYTES + n))
    this.txCells++
    this.txBytes += length
  }

  /** A probe through the whole circuit; the exit echoes it (see onprobe). */
  sendProbe(bytes: Buffer): void {
    bytes[0] = PROBE_REQUEST
    this.send(bytes)
  }

  /** Hot path: a datagram from the entry. */
  private readonly onMessage = (buf: Buffer): void => {
    const keys = this.keys
    const h = readCellHeader(buf, this.header)
    if (keys === null || this.ended || h === null || h.type !== CellType.DATA || h.circuitId !== this.circuitId) {
      this.badCells++
      return
    }
    // The entry charged for the cell it sent, whatever its layers say.
    this.meter?.carry(BACKWARD, buf.byteLength)
    const m = keys.unwrapBackward(buf.subarray(CELL_HEADER_BYTES), buf.byteLength - CELL_HEADER_BYTES, h.seq)
    if (m < 0) {
      if (++this.forgedInARow >= MAX_FORGED_IN_A_ROW && keys.lastFailedLayer >= 0) {
        this.fail(circuitFailure(DestroyCode.BAD_CELL, 'A relay of the circuit sent forged or corrupted cells.', keys.lastFailedLayer, true))
      }
      return
    }
    this.forgedInARow = 0
    this.rxCells++
    if (m > 0 && isProbeReply(buf, CELL_HEADER_BYTES)) {
      this.onprobe?.(buf, CELL_HEADER_BYTES, m)
      return
    }
    this.rxBytes += m
    this.ondatagram(buf, CELL_HEADER_BYTES, m)
  }

  private fail(err: CircuitFailure): void {
    if (this.waiter) {
      const w = this.waiter
      this.waiter = null
      w.reject(err)
      return
    }
    if (this.ended || this.keys === null) return
    this.destroy()
    this.onfail?.(err)
  }

  /** Tell the entry (which tells the rest) and close the link. */
  destroy(): void {
    if (this.ended) return
    this.ended = true
    if (this.waiter) {
      const w = this.waiter
      this.waiter = null
      w.reject(circuitFailure(ConsumerError.CIRCUIT_CLOSED, 'The circuit was closed.', -1))
    }
    try {
      if (this.channel?.opened) this.channel.send.destroy({ circuitId: this.circuitId, code: DestroyCode.CLOSED })
    } catch {}
    this.keys?.destroy()
    this.meter?.close()
    this.payLink?.close()
    const conn = this.conn
    if (conn && !conn.destroyed) {
      // Let the destroy message leave before the connection ends.
      setTimeout(() => conn.destroy(), 200).unref()
    }
  }
}
