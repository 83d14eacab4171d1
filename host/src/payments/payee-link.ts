/**
 * The inbound side of a paid link (the peer pays us): the pay channel on the connection, the
 * payer's account once it said who it is (payments/earnings.ts), and the meters of the link's
 * circuits, which add what each cell is worth at its circuit's rate to the account and refuse
 * cells once the payer is too far behind. One per connection, shared by the roles that meter it
 * (a provider's relay and exit both see every incoming connection): `handle()` gives each its
 * own LinkMeter.
 */
import type { NoiseSocket } from 'hyperdht'
import { CodedError } from '../lib/coded-error.ts'
import { withDeadline } from '../lib/deadline.ts'
import { payChannel, type PayChannelEnd } from '../protocol/pay-channel.ts'
import { DestroyCode } from '../protocol/wire-codes.ts'
import type { Earnings } from './earnings.ts'
import { CountingCircuit, FORWARD, type CircuitMeter, type Direction, type LinkMeter, type MeterTotals } from './hop-meter.ts'
import type { PayeeAccount, PayeeLinkEnd } from './payee-account.ts'
import { PAYER_HELLO_TIMEOUT_MS, perByte } from './payment-terms.ts'

/** One paid circuit's meter on the payee side: counts, and asks the account. */
class PayeeCircuit implements CircuitMeter {
  private readonly account: PayeeAccount
  private readonly lamportsPerByte: number
  private readonly rate: number
  private readonly totals: MeterTotals
  private open = true

  constructor(account: PayeeAccount, rate: number, totals: MeterTotals) {
    this.account = account
    this.rate = rate
    this.lamportsPerByte = perByte(rate)
    this.totals = totals
    totals.circuits++
    account.rateOpened(rate)
  }

  carry(direction: Direction, bytes: number): boolean {
    if (!this.account.carry(bytes * this.lamportsPerByte)) return false
    if (direction === FORWARD) this.totals.forwardBytes += bytes
    else this.totals.backwardBytes += bytes
    return true
  }

  close(): void {
    if (!this.open) return
    this.open = false
    this.totals.circuits--
    this.account.rateClosed(this.rate)
  }
}

export class PayeeLink implements PayeeLinkEnd {
  private readonly conn: NoiseSocket
  private readonly earnings: Earnings
  private readonly totals: MeterTotals
  private channel: PayChannelEnd | null = null
  private readonly responder: { close(): void }
  private readonly refusers = new Set<(code: string) => void>()
  private account: PayeeAccount | null = null
  private joined: Promise<PayeeAccount>
  private resolveJoin!: (a: PayeeAccount) => void
  private rejectJoin!: (err: Error) => void
  private heard = false
  private handles = 0

  constructor(conn: NoiseSocket, earnings: Earnings, totals: MeterTotals) {
    this.conn = conn
    this.earnings = earnings
    this.totals = totals
    this.joined = new Promise((resolve, reject) => {
      this.resolveJoin = resolve
      this.rejectJoin = reject
    })
    this.joined.catch(() => {})
    // The payer opens the pay channel when it first pays on this link (maybe long after the link opened): answer then.
    this.responder = payChannel.respond(
      conn,
      {
        on: {
          payer: (m) => this.onPayer(m),
          voucher: (m) => {
            this.earnings.noteVoucher()
            // A voucher right behind the payer's hello waits for its account (in order: one then() chain).
            void this.joined.then((account) => account.offer(m.transaction)).catch(() => {})
          }
        }
      },
      (end) => (this.channel = end)
    )
    conn.once('close', () => {
      this.responder.close()
      if (this.account) this.earnings.leave(this.account, this)
      this.rejectJoin(new CodedError(DestroyCode.PREVIOUS_HOP_LOST, 'The link closed.'))
    })
  }

  private onPayer(m: { payer: string; nonceAccount: string }): void {
    if (this.heard) return // one payer per link
    this.heard = true
    this.earnings.join(this, m).then(
      (account) => {
        this.account = account
        this.resolveJoin(account)
      },
      (err: Error) => {
        this.rejectJoin(err)
        this.refuse((err as CodedError).code ?? DestroyCode.PAYMENT_REQUIRED, err.message)
      }
    )
  }

  /** A LinkMeter for one role on this connection. */
  handle(onrefuse: (code: string) => void): LinkMeter {
    this.handles++
    this.refusers.add(onrefuse)
    this.totals.links++
    let open = true
    return {
      admit: async (rate) => {
        if (rate === 0) return
        const account = await withDeadline(
          this.joined,
          PAYER_HELLO_TIMEOUT_MS,
          () => new CodedError(DestroyCode.PAYMENT_REQUIRED, 'A paid circuit, but the link’s payer did not say who pays in time.')
        )
        if (account.refused) throw new CodedError(DestroyCode.PAYER_REFUSED, `This payer is refused (${account.refused}).`)
      },
      openCircuit: (rate) => (rate === 0 || this.account === null ? new CountingCircuit(this.totals) : new PayeeCircuit(this.account, rate, this.totals)),
      close: () => {
        if (!open) return
        open = false
        this.totals.links--
        this.refusers.delete(onrefuse)
        this.handles--
      }
    }
  }

  sendSettled(m: { signature: string; amount: number; nonce: string }): void {
    if (this.channel?.opened) this.channel.send.settled(m)
  }

  sendBehind(lamports: number): void {
    if (this.channel?.opened) this.channel.send.behind({ lamports })
  }

  refuse(code: string, message: string): void {
    if (this.channel?.opened) this.channel.send.refusal({ code, message: message.slice(0, 300) })
    for (const onrefuse of [...this.refusers]) onrefuse(code)
  }
}
