/**
 * The provider's side of circuits (DESIGN.md section 3): answers creates with a Noise IK hop
 * handshake, forwards cells between links peeling or adding this hop's onion layer, extends a
 * circuit to the next hop the consumer names in an EXTEND cell only this hop can read, and — when
 * this provider is the circuit's exit — hands the datagrams to the exit's terminus.
 *
 * A relay learns only its two neighbours: the link it was created on and the next hop's key. It
 * never sees the consumer's key (the handshake uses a fresh one) nor, as an entry of a longer
 * circuit, the exit. Relays never open connections to the web.
 *
 * Payments (DESIGN.md section 4): every CREATE names the rate its sender pays per MiB of the
 * circuit's cells on that link, and the consumer's ask inside the handshake tells a relay what it
 * must pay its next hop. A hop accepts a circuit only when the rate covers its own price plus
 * what it passes on, the link's meter admits the payer, and (when it must pass something on) it
 * can pay; it then collects on the inbound link and pays on the outbound one, both through the
 * meter (payments/hop-meter.ts), which may drop the cells of a payer that is behind.
 *
 * Hot path (`onDatagram`): DATA cells. No JSON, no logging, no allocation of ours besides the
 * buffer views sodium needs; cells over a bandwidth cap or for unknown circuits are dropped,
 * never queued (the per-link send is `trySend`: a saturated link drops too).
 */
import type { KeyPair, NoiseSocket } from 'hyperdht'
import { errorCode } from '../../lib/coded-error.ts'
import { BACKWARD, FORWARD, type CircuitMeter, type HopMeter } from '../../payments/hop-meter.ts'
import { TokenBucket } from '../../lib/token-bucket.ts'
import type { PeerDialer } from '../../overlay/peer-dialer.ts'
import {
  CELL_HEADER_BYTES,
  CellType,
  createCellHeader,
  MAX_CELL_BYTES,
  MAX_CIRCUIT_HOPS,
  ONION_LAYER_BYTES,
  readCellHeader,
  setCellCircuitId,
  writeCellHeader
} from '../../protocol/circuit-cell.ts'
import type { CreateMessage, DestroyMessage } from '../../protocol/circuit-channel.ts'
import { decodeExtend, decodeHopAsk, encodeExtended, type ExtendedBody, type HopAsk } from '../../protocol/circuit-messages.ts'
import { HopResponder } from '../../protocol/hop-handshake.ts'
import type { ProviderDescriptor } from '../../protocol/provider-descriptor.ts'
import { HopLayer } from '../../protocol/onion-layers.ts'
import { answerProbe, isProbeRequest } from '../../protocol/probe.ts'
import { DestroyCode, ExtendRefusalCode } from '../../protocol/wire-codes.ts'
import { CircuitLink } from './circuit-link.ts'
import type { CircuitTerminus, TerminusTunnel, TunnelOutlet } from './circuit-terminus.ts'

const LINK_TIMEOUT_MS = 10_000
const IDLE_LINK_MS = 60_000
/** After a meter refused a link's peer, the connection is closed this long after the destroys went out. */
const REFUSED_LINK_LINGER_MS = 1000
/**
 * Circuits one inbound link may hold unless its peer is a provider (a relay aggregates many
 * consumers' circuits on one link; a consumer needs one, and a fresh link for its standby).
 */
export const MAX_CIRCUITS_PER_CONSUMER_LINK = 4
/** EXTEND (forward) or EXTENDED (backward) cells one hop sees per circuit: building 3 hops takes at most 2 each way. */
const MAX_CONTROL_CELLS_PER_DIRECTION = MAX_CIRCUIT_HOPS - 1
/** Malformed, unknown-circuit or over-limit control cells a link may send before it is closed. */
const MAX_LINK_VIOLATIONS = 32

export interface CircuitSwitchOptions {
  /** Dials next hops (through a blind relay when both NATs randomize ports). */
  dialer: PeerDialer
  keyPair: KeyPair
  /** Extend circuits to next hops (a relay); false: only end them here (an exit alone). */
  extend: boolean
  /** Where circuits end when this provider is their exit, or null. */
  terminus: CircuitTerminus | null
  maxCircuits: number
  /** Total bandwidth cap in bytes per second over all circuits, 0 = none. */
  totalBytesPerSecond: number
  /** Per-circuit cap in bytes per second, 0 = none. */
  circuitBytesPerSecond: number
  /** This hop's own price, lamports per MiB (what it keeps of a circuit's rate). */
  priceLamportsPerMiB: number
  /** Counts every byte carried, per link and circuit; collects from payers and pays next hops. */
  meter: HopMeter
  /**
   * The verified provider descriptor of `key` (relay or exit), or null: circuits are extended only
   * to providers (and paid to the payout address they publish), and only providers' links may
   * hold more than MAX_CIRCUITS_PER_CONSUMER_LINK circuits.
   */
  describe: (key: Buffer) => Promise<ProviderDescriptor | null>
}

export interface CircuitSwitchStats {
  circuits: number
  circuitsTotal: number
  refused: number
  cellsForwarded: number
  cellsDropped: number
  badCells: number
  links: number
}

type Link = CircuitLink<HopCircuit>

/** This hop's state of one circuit. */
class HopCircuit implements TunnelOutlet {
  readonly prev: Link
  readonly prevId: number
  readonly layer: HopLayer
  readonly bucket: TokenBucket
  /** Collects on the previous link (at the rate its CREATE named). */
  readonly meter: CircuitMeter
  /** What this hop pays its next hop per MiB (the consumer's ask). */
  readonly downstream: number
  /** Pays on the next link (null until extended). */
  nextMeter: CircuitMeter | null = null
  next: Link | null = null
  nextId = 0
  /** The next backward sequence this hop may use for cells it originates. */
  nextBackwardSeq: number
  tunnel: TerminusTunnel | null = null
  extending = false
  ended = false
  /** EXTEND cells seen on this circuit (own and forwarded), and EXTENDED cells. */
  extendCells = 0
  extendedCells = 0
  private readonly sw: CircuitSwitch

  constructor(sw: CircuitSwitch, prev: Link, create: CreateMessage, layer: HopLayer, downstream: number, bytesPerSecond: number) {
    this.sw = sw
    this.prev = prev
    this.prevId = create.circuitId
    this.layer = layer
    this.nextBackwardSeq = create.seqBase
    this.downstream = downstream
    this.bucket = new TokenBucket(bytesPerSecond)
    this.meter = prev.meter.openCircuit(create.rateLamportsPerMiB)
  }

  /** Exit hop, hot path: a datagram from wireguard-go back into the circuit. */
  sendDatagram(buf: Buffer): void {
    this.sw.sendBackwardData(this, buf, buf.byteLength)
  }
}

export class CircuitSwitch {
  readonly opts: CircuitSwitchOptions
  private readonly links = new Set<Link>()
  private readonly outbound = new Map<string, Promise<Link | null>>()
  private readonly idleTimers = new Map<Link, NodeJS.Timeout>()
  private readonly header = createCellHeader()
  private readonly scratch = Buffer.alloc(MAX_CELL_BYTES + ONION_LAYER_BYTES)
  private readonly scratchPayload = this.scratch.subarray(CELL_HEADER_BYTES)
  private readonly totalBucket: TokenBucket
  private circuitCount = 0
  /** CREATEs being answered now: they hold a place under maxCircuits while their tunnel is set up. */
  private creating = 0
  private closed = false
  readonly counters: CircuitSwitchStats = { circuits: 0, circuitsTotal: 0, refused: 0, cellsForwarded: 0, cellsDropped: 0, badCells: 0, links: 0 }

  constructor(opts: CircuitSwitchOptions) {
    this.opts = opts
    this.totalBucket = new TokenBucket(opts.totalBytesPerSecond)
  }

  stats(): CircuitSwitchStats {
    return { ...this.counters, circuits: this.circuitCount, links: this.links.size }
  }

  /** An incoming connection whose peer opened the circuit channel (the caller routes datagrams here). */
  acceptLink(conn: NoiseSocket): Link {
    const meter = this.opts.meter.openLink({ inbound: true, conn, payee: '', onrefuse: (code) => this.onRefused(link, code) })
    const link: Link = new CircuitLink<HopCircuit>(conn, true, meter, {
      // A peer that speaks only the session channel rejects this one: that closes nothing.
      onclose: () => {
        if (link.opened) conn.destroy()
      },
      on: {
        create: (m) => {
          this.onCreate(link, m).catch(() => {})
        },
        cell: (cell) => this.onForwardControl(link, cell),
        destroy: (m) => this.onDestroy(link, m)
      }
    })
    this.addLink(link)
    return link
  }

  private addLink(link: Link): void {
    this.links.add(link)
    link.conn.on('close', () => this.onLinkClosed(link))
    if (link.inbound) {
      // The connection may carry a direct session instead: cells count only once the circuit channel is open.
      link.conn.on('message', (buf: Buffer) => {
        if (link.opened) this.onDatagram(link, buf)
      })
    }
    link.channel.open()
  }

  /** Hot path: a datagram (a DATA cell) that arrived on `link`. */
  onDatagram(link: Link, buf: Buffer): void {
    const h = readCellHeader(buf, this.header)
    if (h === null || h.type !== CellType.DATA) {
      this.counters.badCells++
      return
    }
    const circuit = link.circuits.get(h.circuitId)
    if (circuit === undefined || circuit.ended) {
      this.counters.cellsDropped++
      return
    }
    const length = buf.byteLength
    // On the previous link the cell is the one that arrived (forward) or ours with one layer more (backward).
    const prevBytes = link.inbound ? length : length + ONION_LAYER_BYTES
    if (!this.totalBucket.take(length) || !circuit.bucket.take(length) || !circuit.meter.carry(link.inbound ? FORWARD : BACKWARD, prevBytes)) {
      this.counters.cellsDropped++
      return
    }
    if (link.inbound) this.forwardData(circuit, buf, h.seq)
    else {
      circuit.nextMeter?.carry(BACKWARD, length)
      this.backwardData(circuit, buf, h.seq)
    }
  }

  private forwardData(circuit: HopCircuit, buf: Buffer, seq: number): void {
    const n = circuit.layer.peelForward(buf.subarray(CELL_HEADER_BYTES), buf.byteLength - CELL_HEADER_BYTES, seq)
    if (n < 0) {
      this.counters.badCells++
      return
    }
    const next = circuit.next
    if (next !== null) {
      setCellCircuitId(buf, circuit.nextId)
      circuit.nextMeter!.carry(FORWARD, CELL_HEADER_BYTES + n)
      next.conn.trySend(buf.subarray(0, CELL_HEADER_BYTES + n))
      this.counters.cellsForwarded++
      return
    }
    const tunnel = circuit.tunnel
    if (tunnel === null) {
      this.counters.cellsDropped++
      return
    }
    if (isProbeRequest(buf, CELL_HEADER_BYTES)) {
      tunnel.use(circuit)
      if (answerProbe(buf, CELL_HEADER_BYTES, n)) this.sendBackwardData(circuit, buf.subarray(CELL_HEADER_BYTES, CELL_HEADER_BYTES + n), n)
      return
    }
    tunnel.deliver(buf, CELL_HEADER_BYTES, n, circuit)
  }

  private backwardData(circuit: HopCircuit, buf: Buffer, seq: number): void {
    const n = circuit.layer.addBackward(buf.subarray(CELL_HEADER_BYTES), buf.byteLength - CELL_HEADER_BYTES, seq, this.scratchPayload)
    if (n < 0) {
      this.counters.badCells++
      return
    }
    writeCellHeader(this.scratch, CellType.DATA, circuit.prevId, seq)
    circuit.prev.conn.trySend(this.scratch.subarray(0, CELL_HEADER_BYTES + n))
    this.counters.cellsForwarded++
  }

  /** A cell this hop originates towards the consumer (exit data, probe replies). */
  sendBackwardData(circuit: HopCircuit, payload: Buffer, length: number): void {
    if (circuit.ended || !circuit.meter.carry(BACKWARD, CELL_HEADER_BYTES + length + ONION_LAYER_BYTES)) return
    const seq = circuit.nextBackwardSeq++
    const n = circuit.layer.addBackward(payload, length, seq, this.scratchPayload)
    if (n < 0) return
    writeCellHeader(this.scratch, CellType.DATA, circuit.prevId, seq)
    circuit.prev.conn.trySend(this.scratch.subarray(0, CELL_HEADER_BYTES + n))
  }

  private async onCreate(link: Link, create: CreateMessage): Promise<void> {
    const { circuitId } = create
    const refuse = (code: string): void => {
      this.counters.refused++
      link.channel.send.destroy({ circuitId, code })
    }
    if (this.closed) return refuse(DestroyCode.RELAY_CLOSING)
    if (link.circuits.has(circuitId) || link.creating.has(circuitId)) return refuse(DestroyCode.DUPLICATE_CIRCUIT)
    // The place is taken before any await: concurrent CREATEs cannot all pass the check.
    if (this.circuitCount + this.creating >= this.opts.maxCircuits) return refuse(DestroyCode.RELAY_FULL)
    this.creating++
    link.creating.add(circuitId)
    try {
      if (link.circuits.size + link.creating.size > MAX_CIRCUITS_PER_CONSUMER_LINK && !(await this.fromProvider(link))) return refuse(DestroyCode.LINK_FULL)
      await this.answerCreate(link, create, refuse)
    } finally {
      this.creating--
      link.creating.delete(circuitId)
    }
  }

  /** Whether the peer of an inbound link is a provider (looked up once per link). */
  private fromProvider(link: Link): Promise<boolean> {
    link.provider ??= this.isProvider(link.remoteKey)
    return link.provider
  }

  private isProvider(key: Buffer): Promise<boolean> {
    return this.opts.describe(key).then(
      (d) => d !== null,
      () => false
    )
  }

  /**
   * The payment terms of a circuit: the rate covers this hop's price plus what it passes on, the
   * link's payer is admitted, and this hop can pay its next hop. Returns the refusal code, or null.
   */
  private async admitPayment(link: Link, rate: number, downstream: number): Promise<string | null> {
    if (rate < this.opts.priceLamportsPerMiB + downstream) return DestroyCode.PRICE_TOO_LOW
    try {
      if (downstream > 0) await this.opts.meter.checkCanPay(downstream)
      await link.meter.admit(rate)
    } catch (err) {
      return errorCode(err) ?? DestroyCode.PAYMENT_REQUIRED
    }
    return null
  }

  private async answerCreate(link: Link, create: CreateMessage, refuse: (code: string) => void): Promise<void> {
    if (this.closed || link.closed) return
    const { circuitId } = create
    const responder = new HopResponder(this.opts.keyPair)
    let ask: HopAsk
    try {
      const { payload } = responder.accept(create.handshake)
      try {
        ask = decodeHopAsk(payload)
      } catch {
        return refuse(DestroyCode.BAD_HOP_ASK)
      }
    } catch {
      return refuse(DestroyCode.HANDSHAKE_FAILED)
    }
    const terminus = this.opts.terminus
    if (ask.kind === 'exit' && terminus === null) return refuse(DestroyCode.NOT_AN_EXIT)
    if (ask.kind === 'relay' && !this.opts.extend) return refuse(DestroyCode.NOT_A_RELAY)
    const downstream = ask.kind === 'relay' ? ask.downstreamLamportsPerMiB : 0
    const unpaid = await this.admitPayment(link, create.rateLamportsPerMiB, downstream)
    if (unpaid !== null) return refuse(unpaid)
    if (this.closed || link.closed) return

    if (ask.kind === 'relay') {
      const { message, keys } = responder.reply()
      this.addCircuit(link, circuitId, new HopCircuit(this, link, create, new HopLayer(keys), downstream, this.opts.circuitBytesPerSecond))
      link.channel.send.created({ circuitId, handshake: message })
      return
    }

    // Exit hop: the handshake payload asks for a tunnel and the reply payload answers it. The
    // hop keys come with the reply, so the tunnel first gets an outlet that forwards to the
    // circuit once it exists.
    let circuit: HopCircuit | null = null
    const placeholder: TunnelOutlet = { sendDatagram: (buf) => circuit?.sendDatagram(buf) }
    let answer
    try {
      answer = await terminus!.openTunnel(ask.tunnel, placeholder)
    } catch (err) {
      return refuse(errorCode(err) ?? DestroyCode.BAD_TUNNEL_REQUEST)
    }
    const tunnel = answer.tunnel
    let reply
    try {
      reply = responder.reply(answer.reply)
    } catch {
      tunnel?.detach(placeholder)
      return refuse(DestroyCode.HANDSHAKE_FAILED)
    }
    if (link.closed || this.closed) {
      tunnel?.detach(placeholder)
      return
    }
    if (tunnel !== null) {
      circuit = new HopCircuit(this, link, create, new HopLayer(reply.keys), 0, this.opts.circuitBytesPerSecond)
      circuit.tunnel = tunnel
      tunnel.attach(circuit)
      tunnel.detach(placeholder)
      this.addCircuit(link, circuitId, circuit)
    }
    // A refusal is answered too, but keeps no circuit here.
    link.channel.send.created({ circuitId, handshake: reply.message })
  }

  private addCircuit(link: Link, circuitId: number, circuit: HopCircuit): void {
    link.circuits.set(circuitId, circuit)
    this.circuitCount++
    this.counters.circuitsTotal++
    this.touchLink(link)
  }

  /** A control cell that should not have come: counted; a link that keeps sending them is closed. */
  private violation(link: Link): void {
    this.counters.badCells++
    if (++link.violations > MAX_LINK_VIOLATIONS) link.conn.destroy()
  }

  /**
   * Control cells go through the same bandwidth caps and meters as data (a cell over them is
   * dropped; on the previous link it is the cell as it arrived forward or as it leaves backward,
   * one layer larger), and a circuit takes no more of them than building it takes: past that it ends.
   */
  private admitControl(link: Link, circuit: HopCircuit, bytes: number): boolean {
    const forward = link.inbound
    const seen = forward ? ++circuit.extendCells : ++circuit.extendedCells
    if (seen > MAX_CONTROL_CELLS_PER_DIRECTION) {
      this.violation(link)
      this.endCircuit(circuit, DestroyCode.TOO_MANY_CONTROL_CELLS, 'both')
      return false
    }
    const prevBytes = forward ? bytes : bytes + ONION_LAYER_BYTES
    if (!this.totalBucket.take(bytes) || !circuit.bucket.take(bytes) || !circuit.meter.carry(forward ? FORWARD : BACKWARD, prevBytes)) {
      this.counters.cellsDropped++
      return false
    }
    if (!forward) circuit.nextMeter?.carry(BACKWARD, bytes)
    return true
  }

  /** An EXTEND cell from the previous hop (control channel). */
  private onForwardControl(link: Link, cell: Buffer): void {
    const h = readCellHeader(cell, createCellHeader())
    if (h === null || h.type !== CellType.EXTEND) return this.violation(link)
    const circuit = link.circuits.get(h.circuitId)
    if (!circuit || circuit.ended) return this.violation(link)
    if (!this.admitControl(link, circuit, cell.byteLength)) return
    const n = circuit.layer.peelForward(cell.subarray(CELL_HEADER_BYTES), cell.byteLength - CELL_HEADER_BYTES, h.seq)
    if (n < 0) {
      this.counters.badCells++
      this.endCircuit(circuit, DestroyCode.BAD_CELL, 'both')
      return
    }
    if (circuit.next) {
      setCellCircuitId(cell, circuit.nextId)
      circuit.nextMeter?.carry(FORWARD, CELL_HEADER_BYTES + n)
      circuit.next.channel.send.cell(cell.subarray(0, CELL_HEADER_BYTES + n))
      return
    }
    this.extend(circuit, Buffer.from(cell.subarray(CELL_HEADER_BYTES, CELL_HEADER_BYTES + n))).catch(() => {})
  }

  private async extend(circuit: HopCircuit, body: Buffer): Promise<void> {
    const seq = circuit.nextBackwardSeq++
    const answer = (m: ExtendedBody): void => {
      circuit.extending = false
      if (circuit.ended) return
      const encoded = encodeExtended(m)
      const cell = Buffer.alloc(CELL_HEADER_BYTES + encoded.byteLength + ONION_LAYER_BYTES)
      encoded.copy(cell, CELL_HEADER_BYTES)
      const n = circuit.layer.addBackward(cell.subarray(CELL_HEADER_BYTES), encoded.byteLength, seq)
      if (n < 0 || !circuit.meter.carry(BACKWARD, CELL_HEADER_BYTES + n)) return
      writeCellHeader(cell, CellType.EXTENDED, circuit.prevId, seq)
      circuit.prev.channel.send.cell(cell.subarray(0, CELL_HEADER_BYTES + n))
    }
    if (!this.opts.extend || circuit.tunnel !== null || circuit.extending) {
      answer({
        ok: false,
        code: ExtendRefusalCode.CANNOT_EXTEND,
        message: 'This hop does not extend this circuit (not a relay, already an exit, or extending).'
      })
      return
    }
    let ext
    try {
      ext = decodeExtend(body)
    } catch {
      this.counters.badCells++
      this.endCircuit(circuit, DestroyCode.BAD_CELL, 'both')
      return
    }
    if (ext.nextKey.equals(this.opts.keyPair.publicKey) || ext.nextKey.equals(circuit.prev.remoteKey)) {
      answer({ ok: false, code: ExtendRefusalCode.BAD_EXTEND, message: 'A circuit cannot return to this hop or its previous hop.' })
      return
    }
    circuit.extending = true
    // Only providers are dialled: a circuit cannot turn a relay against any other DHT server.
    const descriptor = await this.opts.describe(ext.nextKey).catch(() => null)
    if (circuit.ended) return
    if (descriptor === null) {
      answer({ ok: false, code: ExtendRefusalCode.EXTEND_FAILED, message: 'The next hop is not a provider with a valid descriptor.' })
      return
    }
    if (circuit.downstream > 0 && descriptor.payoutAddress === '') {
      answer({ ok: false, code: ExtendRefusalCode.BAD_EXTEND, message: 'The circuit asks this hop to pay a next hop that has no payout address.' })
      return
    }
    const next = await this.linkTo(ext.nextKey, descriptor.payoutAddress)
    if (circuit.ended) return
    if (next === null) {
      answer({ ok: false, code: ExtendRefusalCode.EXTEND_FAILED, message: 'The next hop could not be reached.' })
      return
    }
    try {
      await next.meter.admit(circuit.downstream)
    } catch (err) {
      if (!circuit.ended)
        answer({ ok: false, code: ExtendRefusalCode.EXTEND_FAILED, message: `This hop cannot pay the next hop (${errorCode(err) ?? 'unknown'}).` })
      this.maybeIdle(next)
      return
    }
    if (circuit.ended) return
    const nextId = next.allocateId()
    next.circuits.set(nextId, circuit)
    const nextMeter = next.meter.openCircuit(circuit.downstream)
    const created = await next.create(nextId, seq + 1, circuit.downstream, ext.handshake, LINK_TIMEOUT_MS)
    if (circuit.ended || created === null) {
      nextMeter.close()
      next.circuits.delete(nextId)
      this.maybeIdle(next)
      if (!circuit.ended) {
        answer({ ok: false, code: ExtendRefusalCode.EXTEND_FAILED, message: 'The next hop refused or did not answer.' })
      }
      return
    }
    circuit.next = next
    circuit.nextId = nextId
    circuit.nextMeter = nextMeter
    answer({ ok: true, handshake: created.handshake })
  }

  /** An EXTENDED cell from the next hop (control channel): add our layer, pass it back. */
  private onBackwardControl(link: Link, cell: Buffer): void {
    const h = readCellHeader(cell, createCellHeader())
    if (h === null || h.type !== CellType.EXTENDED) return this.violation(link)
    const circuit = link.circuits.get(h.circuitId)
    if (!circuit || circuit.ended || circuit.next !== link) return this.violation(link)
    if (!this.admitControl(link, circuit, cell.byteLength)) return
    const length = cell.byteLength - CELL_HEADER_BYTES
    const out = Buffer.alloc(CELL_HEADER_BYTES + length + ONION_LAYER_BYTES)
    const n = circuit.layer.addBackward(cell.subarray(CELL_HEADER_BYTES), length, h.seq, out.subarray(CELL_HEADER_BYTES))
    if (n < 0) {
      this.counters.badCells++
      return
    }
    writeCellHeader(out, CellType.EXTENDED, circuit.prevId, h.seq)
    circuit.prev.channel.send.cell(out.subarray(0, CELL_HEADER_BYTES + n))
  }

  /** The link to a next hop, dialled once and shared by every circuit through it. */
  private linkTo(key: Buffer, payee: string): Promise<Link | null> {
    const hex = key.toString('hex')
    let link = this.outbound.get(hex)
    if (!link) {
      link = this.dial(key, payee)
      this.outbound.set(hex, link)
      link.then(
        (l) => {
          if (l === null) this.outbound.delete(hex)
        },
        () => this.outbound.delete(hex)
      )
    }
    return link
  }

  private async dial(key: Buffer, payee: string): Promise<Link | null> {
    if (this.closed) return null
    let conn: NoiseSocket
    try {
      ;({ conn } = await this.opts.dialer.dial(key, { keyPair: this.opts.keyPair }))
    } catch {
      return null
    }
    if (this.closed) {
      conn.destroy()
      return null
    }
    conn.on('error', () => {})
    const meter = this.opts.meter.openLink({ inbound: false, conn, payee, onrefuse: (code) => this.onRefused(link, code) })
    const link: Link = new CircuitLink<HopCircuit>(conn, false, meter, {
      onclose: () => conn.destroy(),
      on: {
        cell: (cell) => this.onBackwardControl(link, cell),
        destroy: (m) => this.onDestroy(link, m)
      }
    })
    conn.on('message', (buf: Buffer) => this.onDatagram(link, buf))
    conn.on('close', () => this.outbound.delete(key.toString('hex')))
    this.addLink(link)
    const ok = await link.waitOpen(LINK_TIMEOUT_MS)
    if (!ok) {
      conn.destroy()
      return null
    }
    return link
  }

  /** A meter gave up on the link's peer (it stopped paying us, or refused our payments): its circuits end, then the connection. */
  private onRefused(link: Link, code: string): void {
    for (const circuit of [...new Set(link.circuits.values())]) this.endCircuit(circuit, code, 'both')
    setTimeout(() => link.conn.destroy(), REFUSED_LINK_LINGER_MS).unref()
  }

  private onDestroy(link: Link, m: DestroyMessage): void {
    const circuit = link.circuits.get(m.circuitId)
    if (!circuit) return
    // From the previous hop: pass it on forward; from the next hop: pass it back.
    this.endCircuit(circuit, m.code, link.inbound ? 'forward' : 'backward')
  }

  /** Tear a circuit down here and tell the neighbours in `tell` direction(s). */
  private endCircuit(circuit: HopCircuit, code: string, tell: 'forward' | 'backward' | 'both'): void {
    if (circuit.ended) return
    circuit.ended = true
    this.circuitCount--
    circuit.prev.circuits.delete(circuit.prevId)
    if ((tell === 'backward' || tell === 'both') && !circuit.prev.closed) circuit.prev.channel.send.destroy({ circuitId: circuit.prevId, code })
    this.maybeIdle(circuit.prev)
    const next = circuit.next
    if (next) {
      next.circuits.delete(circuit.nextId)
      if ((tell === 'forward' || tell === 'both') && !next.closed) next.channel.send.destroy({ circuitId: circuit.nextId, code })
      this.maybeIdle(next)
    }
    if (circuit.tunnel) circuit.tunnel.detach(circuit)
    circuit.tunnel = null
    circuit.layer.destroy()
    circuit.meter.close()
    circuit.nextMeter?.close()
  }

  private onLinkClosed(link: Link): void {
    link.markClosed()
    this.links.delete(link)
    const timer = this.idleTimers.get(link)
    if (timer) clearTimeout(timer)
    this.idleTimers.delete(link)
    for (const circuit of [...new Set(link.circuits.values())]) {
      this.endCircuit(circuit, link.inbound ? DestroyCode.PREVIOUS_HOP_LOST : DestroyCode.NEXT_HOP_LOST, link.inbound ? 'forward' : 'backward')
    }
    link.circuits.clear()
  }

  private touchLink(link: Link): void {
    const timer = this.idleTimers.get(link)
    if (timer) clearTimeout(timer)
    this.idleTimers.delete(link)
  }

  /** An outbound link without circuits is closed after a minute. */
  private maybeIdle(link: Link): void {
    if (link.inbound || link.circuits.size > 0 || link.closed || this.idleTimers.has(link)) return
    const timer = setTimeout(() => {
      this.idleTimers.delete(link)
      if (link.circuits.size === 0) link.conn.destroy()
    }, IDLE_LINK_MS)
    timer.unref()
    this.idleTimers.set(link, timer)
  }

  close(): void {
    this.closed = true
    for (const link of [...this.links]) {
      link.conn.destroy()
      this.onLinkClosed(link)
    }
    for (const timer of this.idleTimers.values()) clearTimeout(timer)
    this.idleTimers.clear()
    this.outbound.clear()
  }
}
