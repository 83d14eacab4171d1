/**
 * One payee as its payer holds it: the nonce account bound to the payee, the running total
 * since the last settlement (durable in payments/payer-book.ts before a voucher leaves), and
 * what the payer owes for the bytes its links to the payee carried in this process. Meters add
 * to `owed`; when it comes within a voucher step of what was paid, the next cumulative voucher
 * is signed (payments/voucher.ts) and sent on a link to the payee, so the payer stays ahead of
 * the bytes by VOUCHER_AHEAD_BYTES at the link's rate.
 *
 * When the payee settles, it says so (`settled`): the running total drops by the amount
 * settled and continues on the new nonce; the chain is asked in the background whether that is
 * true (a payee that lies is left). When the payee says it counts more than was paid
 * (`behind`: cells lost on the way still count for the hop that carried them), the payer makes
 * up the difference, up to 2% of what it owes plus one step.
 *
 * Hot path (`carry`): numbers only; signing runs off it.
 */
import type { Address, KeyPairSigner } from '@solana/kit'
import type { LedgerClient } from './ledger-client.ts'
import type { PayerBook } from './payer-book.ts'
import { voucherAhead, voucherStep } from './payment-terms.ts'
import { PaymentsError } from './payments-errors.ts'
import { signVoucher } from './voucher.ts'

/** What the account needs of a link to its payee. */
export interface PayerLinkEnd {
  readonly ready: boolean
  sendVoucher(wire: Uint8Array): void
  /** The payee cannot be paid any more (it lied, or the cap is reached): end the link's circuits with `code`. */
  giveUp(code: string, message: string): void
}

export interface PayerAccountOptions {
  payee: string
  signer: KeyPairSigner
  book: PayerBook
  ledger: LedgerClient
  /** May `increment` more lamports be signed now (the monthly cap)? */
  allow: (increment: number) => boolean
  /** The cap stopped a voucher. */
  oncapped?: () => void
}

const MAX_EXTRA_SHARE = 0.02
/** Vouchers cost both sides a signature and a durable write: at most 20 a second per payee. */
const MIN_VOUCHER_INTERVAL_MS = 50

export class PayerAccount {
  readonly payee: string
  readonly links = new Set<PayerLinkEnd>()
  /** Lamports owed for bytes carried to this payee in this process. */
  owed = 0
  /** Lamports signed in this process (what `owed` is measured against). */
  paid = 0
  /** Made up for the payee's own count. */
  private extra = 0
  /** Sign when `owed` reaches this. */
  private nextAt = 0
  private readonly rates = new Map<number, number>()
  private step = 1
  private ahead = 0
  private signing: Promise<void> | null = null
  private again = false
  private scheduled = false
  /** A settlement voided what was signed after the voucher it used: sign the rest again on the new nonce. */
  private resign = false
  private lastSignedAt = 0
  capped = false
  failed: string | null = null
  readonly counts = { vouchers: 0, settlements: 0 }
  private readonly opts: PayerAccountOptions

  constructor(opts: PayerAccountOptions) {
    this.opts = opts
    this.payee = opts.payee
    this.recompute()
  }

  private get record() {
    return this.opts.book.payee(this.payee)!
  }

  get nonceAccount(): string {
    return this.record.nonceAccount
  }

  /** Hot path: `lamports` worth of one cell sent or received. */
  carry(lamports: number): void {
    this.owed += lamports
    if (this.owed >= this.nextAt && !this.scheduled) this.schedule()
  }

  rateOpened(rate: number): void {
    this.rates.set(rate, (this.rates.get(rate) ?? 0) + 1)
    this.recompute()
    // Be ahead before the first byte: a voucher for the margin at once.
    this.schedule()
  }

  rateClosed(rate: number): void {
    const n = (this.rates.get(rate) ?? 0) - 1
    if (n <= 0) this.rates.delete(rate)
    else this.rates.set(rate, n)
  }

  private recompute(): void {
    const rate = this.rates.size === 0 ? 0 : Math.max(...this.rates.keys())
    this.step = voucherStep(rate)
    this.ahead = voucherAhead(rate)
    this.nextAt = this.paid - this.ahead + this.step
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    // Scheduled until the voucher is signed (the bytes carried meanwhile do not schedule another at
    // once); then again if the bytes went past the next step while it was signed.
    const run = (): void => {
      void this.sign().finally(() => {
        this.scheduled = false
        if (this.owed >= this.nextAt) this.schedule()
      })
    }
    // At most one voucher per MIN_VOUCHER_INTERVAL_MS: on a fast link each then covers more than a
    // step (what it signs is all that is owed, plus the margin).
    const wait = this.lastSignedAt + MIN_VOUCHER_INTERVAL_MS - Date.now()
    if (wait > 0) setTimeout(run, wait).unref()
    else setImmediate(run)
  }

  /** Sign (one at a time) a voucher that brings what was paid to `owed` plus the margin. */
  sign(): Promise<void> {
    if (this.signing) {
      this.again = true
      return this.signing
    }
    this.signing = this.signOnce()
      .catch(() => {})
      .finally(() => {
        this.signing = null
        if (this.again) {
          this.again = false
          void this.sign()
        }
      })
    return this.signing
  }

  private async signOnce(): Promise<void> {
    if (this.failed || this.capped) return
    const target = Math.ceil(this.owed + this.ahead + this.extra)
    let increment = Math.max(0, target - this.paid)
    // A voucher after a settlement carries the rest over to the new nonce; it tops the margin up
    // only when a step is due (else the payee, just settled, would hold a prepayment at once).
    if (this.resign && this.owed < this.nextAt) increment = 0
    const record = this.record
    if (increment === 0 && !(this.resign && record.latest > 0)) return
    if (increment > 0 && !this.opts.allow(increment)) {
      // No more vouchers: the owner decides (free providers only, or disconnect); the payee throttles meanwhile.
      this.capped = true
      this.opts.oncapped?.()
      return
    }
    this.resign = false
    const amount = record.latest + increment
    const voucher = await signVoucher({
      payer: this.opts.signer,
      payee: this.payee as Address,
      nonceAccount: record.nonceAccount as Address,
      nonce: record.nonce,
      amount: BigInt(amount)
    })
    // Durable before it leaves: a restart continues from it, never below it.
    await this.opts.book.signed(this.payee, { amount, signature: voucher.signature, increment })
    this.paid += increment
    this.lastSignedAt = Date.now()
    this.counts.vouchers++
    this.nextAt = this.paid - this.ahead + this.step
    this.send(voucher.wire)
  }

  private send(wire: Uint8Array): void {
    for (const link of this.links) {
      if (link.ready) {
        link.sendVoucher(wire)
        return
      }
    }
  }

  /**
   * The payee settled `amount` of the running total on chain; the rest continues on `nonce`. A
   * payee tells its latest settlement again to each new link (we may have had none open when it
   * settled): on that nonce already, it is nothing new.
   */
  async onSettled(m: { signature: string; amount: number; nonce: string }): Promise<void> {
    const record = this.record
    if (m.nonce === record.nonce) return
    if (m.amount > record.latest) return this.giveUp(PaymentsError.PAYEE_LIED, 'The payee claims to have settled more than this wallet signed.')
    await this.opts.book.settled(this.payee, { amount: m.amount, nonce: m.nonce })
    this.counts.settlements++
    this.resign = this.record.latest > 0
    void this.sign()
    void this.verify(m)
  }

  /** The chain must agree with the payee's word; a payee that lies is not paid again. */
  private async verify(m: { signature: string; amount: number; nonce: string }): Promise<void> {
    try {
      const [nonce, transfer] = await Promise.all([this.opts.ledger.nonce(this.record.nonceAccount as Address), this.opts.ledger.transferOf(m.signature)])
      const ok =
        transfer !== null &&
        transfer.destination === this.payee &&
        transfer.source === this.opts.signer.address &&
        Number(transfer.amount) === m.amount &&
        transfer.nonceAccount === this.record.nonceAccount &&
        // The nonce moved past the voucher's (the payee may have settled again since: then it is newer still).
        nonce !== null &&
        nonce.nonce !== transfer.nonceValue
      if (!ok) this.giveUp(PaymentsError.PAYEE_LIED, 'The chain does not show the settlement the payee reported.')
    } catch {
      // The ledger is unreachable now; the next settlement is checked again.
    }
  }

  /** The payee counts `lamports` more carried than covered: make up the difference, within bounds. */
  onBehind(lamports: number): void {
    const drift = this.paid + lamports - (this.owed + this.extra)
    if (drift <= 0) return
    const cap = this.owed * MAX_EXTRA_SHARE + this.step
    const extra = Math.min(this.extra + drift, cap)
    if (extra <= this.extra) return
    this.extra = extra
    void this.sign()
  }

  giveUp(code: string, message: string): void {
    if (this.failed) return
    this.failed = code
    for (const link of [...this.links]) link.giveUp(code, message)
  }

  /** The cap was raised (or a new month began): sign again. */
  uncap(): void {
    if (!this.capped) return
    this.capped = false
    void this.sign()
  }
}
