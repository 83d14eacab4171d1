/**
 * The metering seam of a provider: every byte a hop carries, per circuit and per link, goes
 * through a meter, whether the hop relays it (relay/circuit-switch.ts), delivers it at the exit
 * (the circuit's last hop) or carries a one-hop session (exit/session-server.ts). Payments plug
 * in here: a meter that is not paid may refuse to carry (`carry` returns false: the cell is
 * dropped, as over a bandwidth cap). The default meter only counts.
 *
 *   const link = meter.openLink({ inbound: true })   // a connection to a neighbour
 *   const circuit = link.openCircuit()                 // a circuit (or session) on it
 *   if (!circuit.carry(FORWARD, bytes)) drop()         // hot path: numbers only, no allocation
 *   circuit.close(); link.close()
 *
 * Directions: FORWARD is towards the exit (and the web), BACKWARD towards the consumer.
 */
export const FORWARD = 0
export const BACKWARD = 1
export type Direction = typeof FORWARD | typeof BACKWARD

export interface CircuitMeter {
  /** Hot path: `bytes` of one cell or datagram in `direction`; false: do not carry it. */
  carry(direction: Direction, bytes: number): boolean
  close(): void
}

export interface LinkMeter {
  openCircuit(): CircuitMeter
  close(): void
}

export interface HopMeter {
  /** A link to a neighbour: inbound (dialled by the previous hop, or a consumer) or outbound (we dialled the next hop). */
  openLink(link: { inbound: boolean }): LinkMeter
}

export interface MeterTotals {
  links: number
  circuits: number
  forwardBytes: number
  backwardBytes: number
}

/** The default meter: aggregate counters, never refuses. */
export class CountingMeter implements HopMeter {
  readonly totals: MeterTotals = { links: 0, circuits: 0, forwardBytes: 0, backwardBytes: 0 }

  openLink(): LinkMeter {
    const totals = this.totals
    totals.links++
    let open = true
    return {
      openCircuit(): CircuitMeter {
        totals.circuits++
        let counting = true
        return {
          carry(direction, bytes) {
            if (direction === FORWARD) totals.forwardBytes += bytes
            else totals.backwardBytes += bytes
            return true
          },
          close() {
            if (counting) totals.circuits--
            counting = false
          }
        }
      },
      close() {
        if (open) totals.links--
        open = false
      }
    }
  }
}
