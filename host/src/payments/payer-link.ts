/**
 * The outbound side of a paid link (we pay the peer): the pay channel on the connection, the
 * payee's account (payments/spending.ts), and the meters of the circuits we pay for on it,
 * which add what each cell is worth at its circuit's rate to the account (never refusing: the
 * payee decides). Before the first paid circuit the payer says who it is (`payer`), once.
 */
import type { NoiseSocket } from 'hyperdht'
import { CodedError, errorCode, errorMessage } from '../lib/coded-error.ts'
import { withDeadline } from '../lib/deadline.ts'
import { payChannel, type PayChannelEnd } from '../protocol/pay-channel.ts'
import { DestroyCode } from '../protocol/wire-codes.ts'
import { cannotPay, CountingCircuit, type CircuitMeter, type Direction, type LinkMeter, type MeterTotals } from './hop-meter.ts'
import type { PayerAccount, PayerLinkEnd } from './payer-account.ts'
import { PAYER_HELLO_TIMEOUT_MS, perByte } from './payment-terms.ts'
import type { Spending } from './spending.ts'

/** What one circuit we pay for adds to the payee's account (totals count only what we carried inbound). */
class PayerCircuit implements CircuitMeter {
  private readonly account: PayerAccount
  private readonly lamportsPerByte: number
  private readonly rate: number
  private open = true

  constructor(account: PayerAccount, rate: number) {
    this.account = account
    this.rate = rate
    this.lamportsPerByte = perByte(rate)
    account.rateOpened(rate)
  }

  carry(_direction: Direction, bytes: number): boolean {
    this.account.carry(bytes * this.lamportsPerByte)
    return true
  }

  close(): void {
    if (!this.open) return
    this.open = false
    this.account.rateClosed(this.rate)
  }
}

export class PayerLink implements LinkMeter, PayerLinkEnd {
  private readonly conn: NoiseSocket
  private readonly payee: string
  private readonly spending: Spending
  private readonly totals: MeterTotals
  private readonly onrefuse: (code: string) => void
  private readonly channel: PayChannelEnd
  private account: PayerAccount | null = null
  private readonly opened: Promise<void>
  private introduced = false
  private closed = false

  constructor(conn: NoiseSocket, payee: string, spending: Spending, totals: MeterTotals, onrefuse: (code: string) => void) {
    this.conn = conn
    this.payee = payee
    this.spending = spending
    this.totals = totals
    this.onrefuse = onrefuse
    totals.links++
    let opened!: () => void
    this.opened = new Promise((resolve) => (opened = resolve))
    this.channel = payChannel.attach(conn, {
      onopen: () => opened(),
      on: {
        settled: (m) => void this.account?.onSettled(m).catch(() => {}),
        behind: (m) => this.account?.onBehind(m.lamports),
        refusal: (r) => this.onrefuse(r.code)
      }
    })
    this.channel.open()
  }

  get ready(): boolean {
    return this.introduced && this.channel.opened && !this.closed
  }

  async admit(rate: number): Promise<void> {
    if (rate === 0) return
    if (this.payee === '') throw cannotPay(rate)
    try {
      await this.spending.checkFunds(rate, this.payee)
      const account = await this.spending.account(this.payee)
      this.account = account
      account.links.add(this)
      await withDeadline(this.opened, PAYER_HELLO_TIMEOUT_MS, () => new CodedError(DestroyCode.PAYMENT_REQUIRED, 'The next hop did not open the pay channel.'))
    } catch (err) {
      throw new CodedError(errorCode(err) ?? DestroyCode.CANNOT_PAY_NEXT_HOP, errorMessage(err), { cause: err })
    }
    if (this.account.failed) throw new CodedError(this.account.failed, `Payments to this hop stopped (${this.account.failed}).`)
    if (!this.introduced && !this.closed) {
      const record = this.account.nonceAccount
      this.channel.send.payer({ payer: this.spending.address, nonceAccount: record })
      this.introduced = true
    }
  }

  openCircuit(rate: number): CircuitMeter {
    return rate === 0 || this.account === null ? new CountingCircuit(null) : new PayerCircuit(this.account, rate)
  }

  sendVoucher(wire: Uint8Array): void {
    if (this.ready) this.channel.send.voucher({ transaction: Buffer.from(wire) })
  }

  giveUp(code: string): void {
    this.onrefuse(code)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.totals.links--
    this.account?.links.delete(this)
  }
}
