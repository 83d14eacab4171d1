/**
 * The metering seam: every byte a hop carries, per circuit and per link, goes through a meter,
 * whether a provider relays it (provider/relay/circuit-switch.ts), delivers it at the exit or
 * carries a one-hop session (provider/exit/session-server.ts), and whether the consumer sends
 * it to its entry. Payments plug in here (payments/paid-meter.ts): an inbound link's meter
 * collects from the peer that pays us, an outbound link's meter pays the next hop, and a meter
 * that is not paid refuses to carry (`carry` returns false: the cell is dropped, as over a
 * bandwidth cap). The default meter only counts.
 *
 *   const link = meter.openLink({ inbound: true, conn, payee: '', onrefuse })  // a connection to a neighbour
 *   await link.admit(rate)                       // may a circuit paid `rate` lamports/MiB open here?
 *   const circuit = link.openCircuit(rate)        // a circuit (or session) on it
 *   if (!circuit.carry(FORWARD, bytes)) drop()    // hot path: numbers only, no allocation
 *   circuit.close(); link.close()
 *
 * Directions: FORWARD is towards the exit (and the web), BACKWARD towards the consumer.
 */
import type { NoiseSocket } from 'hyperdht'
import { CodedError } from '../lib/coded-error.ts'
import { DestroyCode } from '../protocol/wire-codes.ts'

export const FORWARD = 0
export const BACKWARD = 1
export type Direction = typeof FORWARD | typeof BACKWARD

export interface CircuitMeter {
  /** Hot path: `bytes` of one cell or datagram in `direction`; false: do not carry it. */
  carry(direction: Direction, bytes: number): boolean
  close(): void
}

export interface LinkPeer {
  /** Dialled by the peer (it pays us, if anything) or by us (we pay it, if anything). */
  inbound: boolean
  /** The link's connection: payments attach their channel to it. */
  conn: NoiseSocket
  /** Outbound links: the peer's payout address from its descriptor ('' when it takes no payment). */
  payee: string
  /** The meter gave up on the peer: end the link's circuits with this DestroyCode. */
  onrefuse: (code: string) => void
}

export interface LinkMeter {
  /**
   * May a circuit paid `rate` lamports per MiB open on this link (inbound: the peer pays us;
   * outbound: we pay the peer)? Resolves, or throws a CodedError whose code is a DestroyCode.
   */
  admit(rate: number): Promise<void>
  openCircuit(rate: number): CircuitMeter
  close(): void
}

export interface HopMeter {
  openLink(peer: LinkPeer): LinkMeter
  /** Can we pay next hops `rate` per MiB (a wallet, and funds)? Throws CodedError(DestroyCode.CANNOT_PAY_NEXT_HOP). */
  checkCanPay(rate: number): Promise<void>
}

export interface MeterTotals {
  links: number
  circuits: number
  forwardBytes: number
  backwardBytes: number
}

/**
 * Counts into `totals` (shared by the counting meter and the paid one). Totals count what a hop
 * carried, once: circuits and bytes of inbound links (a relay's outbound meter of the same
 * circuit passes null and counts nothing).
 */
export class CountingCircuit implements CircuitMeter {
  private counting: boolean
  constructor(private readonly totals: MeterTotals | null) {
    this.counting = totals !== null
    if (totals) totals.circuits++
  }

  carry(direction: Direction, bytes: number): boolean {
    const totals = this.totals
    if (totals === null) return true
    if (direction === FORWARD) totals.forwardBytes += bytes
    else totals.backwardBytes += bytes
    return true
  }

  close(): void {
    if (this.counting) this.totals!.circuits--
    this.counting = false
  }
}

/** The refusal of a meter without a wallet asked to pay. */
export function cannotPay(rate: number): CodedError {
  return new CodedError(
    DestroyCode.CANNOT_PAY_NEXT_HOP,
    `This hop has no wallet to pay its next hop ${rate} lamports per MiB; choose a path whose later hops are free, or a relay that pays.`
  )
}

/** The default meter: aggregate counters; collects nothing and pays nothing (a volunteer without a wallet). */
export class CountingMeter implements HopMeter {
  readonly totals: MeterTotals = { links: 0, circuits: 0, forwardBytes: 0, backwardBytes: 0 }

  openLink(peer: Pick<LinkPeer, 'inbound'>): LinkMeter {
    const totals = this.totals
    totals.links++
    let open = true
    return {
      admit: async (rate) => {
        if (!peer.inbound && rate > 0) throw cannotPay(rate)
      },
      openCircuit: () => new CountingCircuit(peer.inbound ? totals : null),
      close() {
        if (open) totals.links--
        open = false
      }
    }
  }

  async checkCanPay(rate: number): Promise<void> {
    if (rate > 0) throw cannotPay(rate)
  }
}
