/**
 * One link between two adjacent hops as a provider holds it: a hyperdht connection with the
 * circuit channel on it and the circuits it carries, by the circuit id used on this link.
 * `inbound` links were dialled by the previous hop (their cells travel forward to us);
 * outbound links were dialled by us towards a next hop (their cells travel backward to us).
 * Only the dialling side creates circuits on a link, so ids are allocated by outbound links.
 */
import crypto from 'node:crypto'
import type { NoiseSocket } from 'hyperdht'
import { circuitChannel, type CircuitChannelEnd, type CircuitChannelHandlers, type CreatedMessage } from '../../protocol/circuit-channel.ts'
import type { LinkMeter } from '../../payments/hop-meter.ts'

export class CircuitLink<C> {
  readonly conn: NoiseSocket
  readonly inbound: boolean
  readonly circuits = new Map<number, C>()
  /** Circuit ids whose CREATE is being answered (inbound links): they count against the limits. */
  readonly creating = new Set<number>()
  /** Control cells that were malformed, for unknown circuits or over a limit; past a bound the link is closed. */
  violations = 0
  /** Whether the peer has a verified provider descriptor (looked up once, when it asks for more circuits than a consumer's link may hold). */
  provider: Promise<boolean> | null = null
  readonly channel: CircuitChannelEnd
  readonly remoteKey: Buffer
  readonly meter: LinkMeter
  /** Ids start at a random point, so the ids of one circuit on two links do not match (nor hint at how many came before). */
  private nextId = crypto.randomBytes(4).readUInt32LE(0) || 1
  private readonly pendingCreates = new Map<number, (m: CreatedMessage | null) => void>()
  private openWaiters: Array<(ok: boolean) => void> = []
  opened = false
  closed = false

  constructor(conn: NoiseSocket, inbound: boolean, meter: LinkMeter, handlers: CircuitChannelHandlers) {
    this.conn = conn
    this.inbound = inbound
    this.meter = meter
    this.remoteKey = conn.remotePublicKey
    this.channel = circuitChannel.attach(conn, {
      ...handlers,
      onopen: () => {
        this.opened = true
        for (const w of this.openWaiters) w(true)
        this.openWaiters = []
        handlers.onopen?.()
      },
      on: {
        ...handlers.on,
        created: (m) => {
          const pending = this.pendingCreates.get(m.circuitId)
          if (pending) {
            this.pendingCreates.delete(m.circuitId)
            pending(m)
          }
        }
      }
    })
  }

  /** Resolves true once both sides opened the channel, false if the link closed first or timed out. */
  waitOpen(timeoutMs: number): Promise<boolean> {
    if (this.opened) return Promise.resolve(true)
    if (this.closed) return Promise.resolve(false)
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs)
      this.openWaiters.push((ok) => {
        clearTimeout(timer)
        resolve(ok)
      })
    })
  }

  /** A circuit id not in use on this link (outbound links only). */
  allocateId(): number {
    for (;;) {
      const id = this.nextId
      this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1
      if (!this.circuits.has(id) && !this.pendingCreates.has(id)) return id
    }
  }

  /** Send a create (paid `rate` lamports per MiB) and wait for its created (null on timeout or link loss). */
  create(circuitId: number, seqBase: number, rate: number, handshake: Buffer, timeoutMs: number): Promise<CreatedMessage | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pendingCreates.delete(circuitId)
        resolve(null)
      }, timeoutMs)
      this.pendingCreates.set(circuitId, (m) => {
        clearTimeout(timer)
        resolve(m)
      })
      this.channel.send.create({ circuitId, seqBase, rateLamportsPerMiB: rate, handshake })
    })
  }

  /** Fail pending waits; the owner destroys the connection. */
  markClosed(): void {
    if (this.closed) return
    this.closed = true
    this.meter.close()
    for (const w of this.openWaiters) w(false)
    this.openWaiters = []
    for (const pending of this.pendingCreates.values()) pending(null)
    this.pendingCreates.clear()
  }
}
