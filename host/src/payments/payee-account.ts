/**
 * One payer as a payee holds it in this process: the payer's wallet and the nonce account its
 * vouchers to us use, what it owes for the bytes we carried for it (over all its links), the
 * latest voucher we hold (durably, payments/voucher-book.ts) and what was settled. Its meters'
 * `carry` refuses once the payer is too far behind (payments/payment-terms.ts): more than half a
 * window beyond the latest voucher (then, after a grace, the payer is refused), or a whole
 * window beyond what is settled on chain (then we wait for the settlement under way).
 *
 * Vouchers are checked one at a time, in order; a voucher that fails a check changes nothing.
 * Forged or wrong ones (bad signature, another payer, payee or nonce account, a nonce that is
 * neither the current one nor the one a settlement just used, a payer that cannot pay it) get
 * the payer refused; older, repeated, stale or too low ones are only ignored, and so are those
 * that could not be checked or kept for a failure of ours (the ledger unreachable, a disk error).
 *
 * Hot path (`carry`): numbers only.
 */
import type { Address } from '@solana/kit'
import { CodedError, errorCode, errorMessage } from '../lib/coded-error.ts'
import { DestroyCode } from '../protocol/wire-codes.ts'
import type { LedgerClient, RejectionDetail, SignatureOutcome } from './ledger-client.ts'
import { creditWindow, FEE_LAMPORTS, OVERDUE_GRACE_MS, settleThreshold } from './payment-terms.ts'
import { PaymentsError } from './payments-errors.ts'
import { readVoucher } from './voucher.ts'
import type { AccountRecord, VoucherBook } from './voucher-book.ts'

/** What an account tells the links of its payer. */
export interface PayeeLinkEnd {
  sendSettled(m: { signature: string; amount: number; nonce: string }): void
  sendBehind(lamports: number): void
  /** The payer is refused: tell it, and end its circuits with `code`. */
  refuse(code: string, message: string): void
}

export interface PayeeAccountOptions {
  key: string
  record: AccountRecord
  /** Our payout address: every voucher must pay it. */
  payee: Address
  book: VoucherBook
  ledger: LedgerClient
  onrefused?: (account: PayeeAccount, code: string) => void
}

/**
 * Codes for which the payer is refused: its voucher is forged or wrong. Any other failure
 * (VOUCHER_DECREASING, _REPLAYED, _STALE, _TOO_LOW, or one of ours: RPC_*, a disk error) only
 * has the voucher ignored.
 */
const REFUSING: ReadonlySet<string> = new Set([
  PaymentsError.VOUCHER_MALFORMED,
  PaymentsError.VOUCHER_BAD_SIGNATURE,
  PaymentsError.VOUCHER_NOT_A_TRANSFER,
  PaymentsError.VOUCHER_WRONG_PAYEE,
  PaymentsError.VOUCHER_WRONG_PAYER,
  PaymentsError.VOUCHER_WRONG_NONCE,
  PaymentsError.VOUCHER_UNFUNDED
])
const BALANCE_FRESH_MS = 5000
const NONCE_CHECK_MS = 10_000
const SETTLE_RETRY_MS = 5000
const BEHIND_EVERY_MS = 250

export class PayeeAccount {
  readonly key: string
  readonly payer: string
  readonly nonceAccount: string
  readonly links = new Set<PayeeLinkEnd>()
  /** Lamports owed for what we carried for this payer since this process holds the account. */
  owed = 0
  /** Refuse to carry above this `owed` (recomputed on every voucher, settlement and rate change). */
  limit = 0
  /** Above this `owed` the payer is told it is behind. */
  private behindAt = 0
  refused: string | null = null
  /** Counts, for stats and tests. */
  readonly counts = { accepted: 0, ignored: 0, settlements: 0, throttled: 0 }
  private readonly opts: PayeeAccountOptions
  private nonce: string
  /** The nonce a settlement just used up: vouchers on it crossed the settlement. */
  private previousNonce: string | null = null
  private latest: number
  private latestSignature: string | null
  /** The held amount when this process took the account over (already earned before). */
  private readonly base: number
  private settledHere = 0
  private readonly rates = new Map<number, number>()
  private window = creditWindow(0)
  private settling: Promise<void> | null = null
  private queue: Promise<unknown> = Promise.resolve()
  private balance = { lamports: 0, at: 0 }
  /** What an empty wallet must keep to stay (rent-exempt): a payer left with less than this, but not 0, cannot pay. */
  private rentFloor: number | null = null
  private nonceCheckedAt = 0
  private throttledSince = 0
  private overdueTimer: NodeJS.Timeout | null = null
  private behindSentAt = 0
  private staleToldAt = 0
  private retryTimer: NodeJS.Timeout | null = null

  constructor(opts: PayeeAccountOptions) {
    this.opts = opts
    this.key = opts.key
    this.payer = opts.record.payer
    this.nonceAccount = opts.record.nonceAccount
    this.nonce = opts.record.nonce
    this.previousNonce = opts.record.lastSettlement?.from ?? null
    this.latest = opts.record.latest?.amount ?? 0
    this.latestSignature = opts.record.latest?.signature ?? null
    this.base = this.latest
    this.nonceCheckedAt = Date.now()
    this.recompute()
  }

  /** What the payer has promised for this session's bytes (settled plus held, less what it owed before). */
  get covered(): number {
    return this.settledHere + this.latest - this.base
  }

  get creditWindow(): number {
    return this.window
  }

  /** Hot path: `lamports` worth of one cell; false: over the payer's credit, drop it. */
  carry(lamports: number): boolean {
    const owed = this.owed + lamports
    if (owed > this.limit) {
      if (this.throttledSince === 0) this.onThrottled()
      return false
    }
    this.owed = owed
    if (owed > this.behindAt) this.maybeBehind()
    return true
  }

  /** A circuit paid `rate` per MiB opened (or, with -1, closed): the window follows the highest rate open. */
  rateOpened(rate: number): void {
    this.rates.set(rate, (this.rates.get(rate) ?? 0) + 1)
    this.recompute()
  }

  rateClosed(rate: number): void {
    const n = (this.rates.get(rate) ?? 0) - 1
    if (n <= 0) this.rates.delete(rate)
    else this.rates.set(rate, n)
  }

  private recompute(): void {
    const rate = this.rates.size === 0 ? 0 : Math.max(...this.rates.keys())
    this.window = Math.max(this.window, creditWindow(rate))
    // A refused payer stays refused: a settlement or a new circuit afterwards gives it no credit.
    if (this.refused) {
      this.limit = -1
      return
    }
    const confirmed = Math.max(0, this.settledHere - this.base)
    this.limit = Math.min(this.covered + this.window / 2, confirmed + this.window)
    this.behindAt = this.covered + this.window / 4
    if (this.throttledSince !== 0 && this.owed < this.limit) this.throttledSince = 0
  }

  private onThrottled(): void {
    this.throttledSince = Date.now()
    this.counts.throttled++
    this.maybeBehind()
    // Over the settled bound with vouchers in hand: settle now rather than at the threshold.
    if (this.latest > 0 && this.owed >= Math.max(0, this.settledHere - this.base) + this.window - this.window / 8) void this.settle()
    if (this.overdueTimer) return
    this.overdueTimer = setTimeout(() => {
      this.overdueTimer = null
      if (this.throttledSince === 0 || this.refused) return
      // Still behind the latest voucher by half a window: not paying.
      if (this.owed + this.window / 16 >= this.covered + this.window / 2) {
        this.refuse(DestroyCode.PAYMENT_OVERDUE, 'The payments fell behind the traffic by more than the credit window and did not catch up.', true)
      } else if (Date.now() - this.throttledSince >= OVERDUE_GRACE_MS) {
        this.onThrottled()
      }
    }, OVERDUE_GRACE_MS)
    this.overdueTimer.unref()
  }

  private maybeBehind(): void {
    const now = Date.now()
    if (now - this.behindSentAt < BEHIND_EVERY_MS) return
    this.behindSentAt = now
    const behind = Math.ceil(this.owed - this.covered)
    if (behind > 0) for (const link of this.links) link.sendBehind(behind)
  }

  /** Check one voucher (network input) and hold it. Resolves with the code it was ignored or refused with, or null when held. */
  offer(wire: Uint8Array): Promise<string | null> {
    const run = this.queue.then(() => this.check(wire))
    this.queue = run.catch(() => {})
    return run
  }

  private async check(wire: Uint8Array): Promise<string | null> {
    if (this.refused) return this.refused
    let code: string | null = null
    try {
      await this.accept(wire)
      this.counts.accepted++
    } catch (err) {
      code = errorCode(err) ?? PaymentsError.VOUCHER_MALFORMED
      if (REFUSING.has(code)) this.refuse(DestroyCode.PAYER_REFUSED, `A voucher was refused (${code}): ${errorMessage(err)}`, false)
      else this.counts.ignored++
      // A voucher on the nonce a settlement used: its payer did not hear of the settlement (no link was open then).
      if (code === PaymentsError.VOUCHER_STALE && this.settling === null && Date.now() - this.staleToldAt >= BEHIND_EVERY_MS) {
        this.staleToldAt = Date.now()
        for (const link of this.links) this.greet(link)
      }
    }
    return code
  }

  /**
   * A link of this payer joined (or it signs on a settled nonce): tell it the latest settlement,
   * which it may have missed — the payee settles on its own, when no link of the payer may be
   * open. The payer ignores it when it is on that nonce already.
   */
  greet(link: PayeeLinkEnd): void {
    const last = this.opts.book.account(this.key)?.lastSettlement
    if (this.settling !== null || !last) return
    link.sendSettled({ signature: last.signature, amount: last.amount, nonce: this.nonce })
  }

  private async accept(wire: Uint8Array): Promise<void> {
    const facts = await readVoucher(wire, { payee: this.opts.payee })
    if (facts.payer !== this.payer) throw new CodedError(PaymentsError.VOUCHER_WRONG_PAYER, 'The voucher is paid by another wallet than this link’s payer.')
    if (facts.nonceAccount !== this.nonceAccount)
      throw new CodedError(PaymentsError.VOUCHER_WRONG_NONCE, 'The voucher uses another nonce account than this link’s.')
    if (facts.nonce !== this.nonce || this.settling !== null) {
      if (facts.nonce === this.previousNonce || (this.settling !== null && facts.nonce === this.nonce))
        throw new CodedError(PaymentsError.VOUCHER_STALE, 'The voucher crossed a settlement.')
      throw new CodedError(PaymentsError.VOUCHER_WRONG_NONCE, 'The voucher is signed on a nonce that is not the account’s current one.')
    }
    const amount = Number(facts.amount)
    if (facts.signature === this.latestSignature) throw new CodedError(PaymentsError.VOUCHER_REPLAYED, 'This voucher is already held.')
    if (amount <= this.latest) throw new CodedError(PaymentsError.VOUCHER_DECREASING, 'The voucher pays no more than the one held.')
    if (this.settledHere + amount - this.base < this.owed - this.window)
      throw new CodedError(PaymentsError.VOUCHER_TOO_LOW, 'The voucher leaves more unpaid than the credit window.')
    await this.checkFunds(amount)
    await this.checkNonce()
    if (this.refused || this.settling !== null) throw new CodedError(PaymentsError.VOUCHER_STALE, 'The account changed while the voucher was checked.')
    await this.opts.book.hold(this.key, { amount, signature: facts.signature, wire: Buffer.from(facts.wire).toString('base64') })
    this.latest = amount
    this.latestSignature = facts.signature
    this.recompute()
    if (this.latest >= settleThreshold(this.maxRate())) void this.settle()
  }

  private maxRate(): number {
    return this.rates.size === 0 ? 0 : Math.max(...this.rates.keys())
  }

  /**
   * The payer's wallet must hold what the voucher pays plus its fee, and be left either empty or
   * rent-exempt (else the voucher fails on chain: InsufficientFundsForRent).
   */
  private async checkFunds(amount: number): Promise<void> {
    this.rentFloor ??= Number(await this.opts.ledger.rentExemptMinimum(0))
    const floor = this.rentFloor
    const enough = (lamports: number): boolean => lamports === amount + FEE_LAMPORTS || lamports >= amount + FEE_LAMPORTS + floor
    const now = Date.now()
    if (now - this.balance.at > BALANCE_FRESH_MS || !enough(this.balance.lamports)) {
      this.balance = { lamports: Number(await this.opts.ledger.balance(this.payer as Address)), at: now }
    }
    if (!enough(this.balance.lamports)) {
      throw new CodedError(
        PaymentsError.VOUCHER_UNFUNDED,
        'The payer’s wallet holds less than the voucher pays, its fee and the rent-exempt minimum it must keep.'
      )
    }
  }

  /** Now and then, the nonce account on chain: a payer that advanced it itself voided our vouchers. */
  private async checkNonce(): Promise<void> {
    if (Date.now() - this.nonceCheckedAt < NONCE_CHECK_MS) return
    this.nonceCheckedAt = Date.now()
    const onChain = await this.opts.ledger.nonce(this.nonceAccount as Address)
    if (this.settling !== null) return
    if (onChain === null || onChain.authority !== this.payer || onChain.nonce !== this.nonce) {
      // The voucher held is dead: it would only fail at settlement.
      this.latest = 0
      this.latestSignature = null
      await this.opts.book.dropLatest(this.key, onChain?.nonce ?? this.nonce).catch(() => {})
      throw new CodedError(PaymentsError.VOUCHER_WRONG_NONCE, 'The payer advanced its nonce itself: the vouchers it gave are void.')
    }
  }

  /** Submit the held voucher (threshold, on demand, close). Resolves when it landed, failed, or must wait for a retry. */
  settle(): Promise<void> {
    if (this.settling) return this.settling
    if (this.latest <= 0 || this.latestSignature === null) return Promise.resolve()
    // Never rejects: a failure of ours (the ledger unreachable, a disk error) is tried again later.
    this.settling = this.submit()
      .catch(() => this.retryLater())
      .finally(() => {
        this.settling = null
        this.recompute()
      })
    return this.settling
  }

  get pendingLamports(): number {
    return this.latest
  }

  private async submit(): Promise<void> {
    const held = this.opts.book.account(this.key)?.latest
    if (!held) return
    const { ledger } = this.opts
    let outcome: SignatureOutcome | null
    try {
      await ledger.submit(Buffer.from(held.wire, 'base64'))
      outcome = await ledger.confirm(held.signature, 30_000)
    } catch (err) {
      if (errorCode(err) !== PaymentsError.TX_REJECTED || isPayoutBelowRent(err as CodedError<RejectionDetail>)) {
        this.retryLater()
        return
      }
      // Perhaps it landed already (a settlement before a crash); otherwise it never will. (When
      // the ledger cannot be asked, this throws: tried again later.)
      outcome = await ledger.confirm(held.signature, 1000)
      if (outcome === null) {
        await this.voucherFailed(errorMessage(err))
        return
      }
    }
    if (outcome === null) {
      // Not confirmed in time: it may still land.
      this.retryLater()
      return
    }
    if (outcome.err !== null) {
      // It landed and failed: the nonce moved on, nothing was paid.
      await this.voucherFailed('it landed and failed')
      return
    }
    const next = await ledger.nonce(this.nonceAccount as Address)
    const nonce = next?.nonce ?? this.nonce
    await this.opts.book.settled(this.key, { signature: held.signature, amount: held.amount, nonce })
    this.counts.settlements++
    this.settledHere += held.amount
    if (this.latestSignature === held.signature) {
      this.latest = 0
      this.latestSignature = null
    }
    this.previousNonce = this.nonce
    this.nonce = nonce
    for (const link of this.links) link.sendSettled({ signature: held.signature, amount: held.amount, nonce })
  }

  private retryLater(): void {
    if (this.retryTimer) return
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      void this.settle()
    }, SETTLE_RETRY_MS)
    this.retryTimer.unref()
  }

  /** The held voucher will never land: its nonce was advanced by the payer, or its wallet cannot pay. */
  private async voucherFailed(why: string): Promise<void> {
    const onChain = await this.opts.ledger.nonce(this.nonceAccount as Address).catch(() => null)
    await this.opts.book.dropLatest(this.key, onChain?.nonce ?? this.nonce)
    this.latest = 0
    this.latestSignature = null
    this.refuse(DestroyCode.PAYER_REFUSED, `The payer’s voucher failed on chain (${why}): it voided its nonce or emptied its wallet.`, false)
  }

  /** Refuse the payer from now on (persisted); `settleFirst`: the held voucher is still good, cash it. */
  refuse(code: string, message: string, settleFirst: boolean): void {
    if (this.refused) return
    this.refused = code
    this.limit = -1
    if (this.overdueTimer) clearTimeout(this.overdueTimer)
    void this.opts.book.refuse(this.payer, code).catch(() => {})
    if (settleFirst) void this.settle().catch(() => {})
    for (const link of [...this.links]) link.refuse(code, message)
    this.opts.onrefused?.(this, code)
  }

  close(): void {
    if (this.overdueTimer) clearTimeout(this.overdueTimer)
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.overdueTimer = this.retryTimer = null
  }
}

/** A settlement refused because our own payout account would be left below the rent-exempt minimum (not the payer's doing). */
function isPayoutBelowRent(err: CodedError<RejectionDetail>): boolean {
  const { reason, account } = err.detail
  // Account 0 is the fee payer, the payer; the nonce account's rent does not change.
  return reason === 'InsufficientFundsForRent' && account !== undefined && account !== 0
}
