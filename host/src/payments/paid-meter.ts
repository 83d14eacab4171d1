/**
 * The meter of a node with payments (payments/hop-meter.ts): inbound links collect from the
 * peer that pays us (payments/payee-link.ts, when this node earns), outbound links pay the next
 * hop's payout address (payments/payer-link.ts, when this node has a wallet to pay from), and
 * circuits at rate 0 only count. Without a wallet a node can neither earn nor pay: use
 * CountingMeter.
 */
import type { NoiseSocket } from 'hyperdht'
import { CodedError, errorMessage } from '../lib/coded-error.ts'
import { DestroyCode } from '../protocol/wire-codes.ts'
import type { Earnings } from './earnings.ts'
import { cannotPay, CountingCircuit, type HopMeter, type LinkMeter, type LinkPeer, type MeterTotals } from './hop-meter.ts'
import { PayeeLink } from './payee-link.ts'
import { PayerLink } from './payer-link.ts'
import type { Spending } from './spending.ts'

export class PaidMeter implements HopMeter {
  readonly totals: MeterTotals = { links: 0, circuits: 0, forwardBytes: 0, backwardBytes: 0 }
  private readonly earnings: Earnings | null
  private readonly spending: Spending | null
  private readonly inbound = new WeakMap<NoiseSocket, PayeeLink>()

  constructor(opts: { earnings: Earnings | null; spending: Spending | null }) {
    this.earnings = opts.earnings
    this.spending = opts.spending
  }

  openLink(peer: LinkPeer): LinkMeter {
    if (peer.inbound) {
      if (this.earnings === null) return this.countingLink(true)
      let link = this.inbound.get(peer.conn)
      if (!link) {
        link = new PayeeLink(peer.conn, this.earnings, this.totals)
        this.inbound.set(peer.conn, link)
      }
      return link.handle(peer.onrefuse)
    }
    if (this.spending === null || peer.payee === '') return this.countingLink(false)
    return new PayerLink(peer.conn, peer.payee, this.spending, this.totals, peer.onrefuse)
  }

  private countingLink(inbound: boolean): LinkMeter {
    const totals = this.totals
    totals.links++
    let open = true
    return {
      admit: async (rate) => {
        if (!inbound && rate > 0) throw cannotPay(rate)
      },
      openCircuit: () => new CountingCircuit(inbound ? totals : null),
      close() {
        if (open) totals.links--
        open = false
      }
    }
  }

  async checkCanPay(rate: number): Promise<void> {
    if (rate === 0) return
    if (this.spending === null) throw cannotPay(rate)
    try {
      await this.spending.checkFunds(rate)
    } catch (err) {
      throw new CodedError(DestroyCode.CANNOT_PAY_NEXT_HOP, `This relay cannot pay its next hop now: ${errorMessage(err)}`, { cause: err })
    }
  }
}
