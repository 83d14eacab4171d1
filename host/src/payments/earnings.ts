/**
 * The payee side of a provider: the payers it carries for (payments/payee-account.ts), by payer
 * wallet and nonce account, over all their links; the vouchers held (payments/voucher-book.ts);
 * settlement at the threshold (by the accounts), on demand and at close; and at start the
 * vouchers a crash left unsettled.
 *
 *   const earnings = new Earnings({ wallet, ledger, book })
 *   await earnings.open()                       // settles what a crash left behind (in the background)
 *   const account = await earnings.join(link, { payer, nonceAccount })   // a payer said who it is
 *   await earnings.settleAll(10_000)            // on demand and at close
 */
import type { Address } from '@solana/kit'
import { CodedError, errorMessage } from '../lib/coded-error.ts'
import { DestroyCode } from '../protocol/wire-codes.ts'
import type { LedgerClient } from './ledger-client.ts'
import { PayeeAccount, type PayeeLinkEnd } from './payee-account.ts'
import { accountKey, type VoucherBook } from './voucher-book.ts'

export interface EarningsOptions {
  payee: Address
  ledger: LedgerClient
  book: VoucherBook
}

export interface EarningsStats {
  payers: number
  pending: number
  settled: number
  settlements: number
  refused: number
  throttled: number
  vouchers: number
}

export class Earnings {
  private readonly opts: EarningsOptions
  private readonly accounts = new Map<string, PayeeAccount>()
  private readonly joining = new Map<string, Promise<PayeeAccount>>()
  private recovering: Promise<void> = Promise.resolve()
  private closed = false
  private vouchersSeen = 0

  constructor(opts: EarningsOptions) {
    this.opts = opts
  }

  get payee(): Address {
    return this.opts.payee
  }

  /** Settle, in the background, the vouchers a previous run held and did not settle (a crash). */
  open(): void {
    const left = this.opts.book.pending()
    if (left.length === 0) return
    this.recovering = Promise.allSettled(left.map(({ key, record }) => this.accountFor(key, record).settle())).then(() => {})
  }

  private accountFor(key: string, record = this.opts.book.account(key)!): PayeeAccount {
    let account = this.accounts.get(key)
    if (!account) {
      account = new PayeeAccount({ key, record, payee: this.opts.payee, book: this.opts.book, ledger: this.opts.ledger })
      this.accounts.set(key, account)
    }
    return account
  }

  /**
   * A link's payer said who it is: check it (not refused; the nonce account is its own and
   * initialized) and return its account, with the link attached. Throws CodedError with
   * DestroyCode.PAYER_REFUSED or PAYMENT_REQUIRED.
   */
  async join(link: PayeeLinkEnd, who: { payer: string; nonceAccount: string }): Promise<PayeeAccount> {
    if (this.closed) throw new CodedError(DestroyCode.RELAY_CLOSING, 'This provider is shutting down.')
    const refusal = this.opts.book.refusal(who.payer)
    if (refusal)
      throw new CodedError(DestroyCode.PAYER_REFUSED, `This provider refuses this wallet since ${new Date(refusal.at).toISOString()} (${refusal.code}).`)
    const key = accountKey(who.payer, who.nonceAccount)
    let pending = this.joining.get(key)
    if (!pending) {
      pending = this.begin(key, who).finally(() => this.joining.delete(key))
      this.joining.set(key, pending)
    }
    const account = await pending
    if (account.refused) throw new CodedError(DestroyCode.PAYER_REFUSED, `This provider refuses this wallet (${account.refused}).`)
    account.links.add(link)
    account.greet(link)
    return account
  }

  private async begin(key: string, who: { payer: string; nonceAccount: string }): Promise<PayeeAccount> {
    await this.recovering
    const existing = this.accounts.get(key)
    if (existing) return existing
    let onChain
    try {
      onChain = await this.opts.ledger.nonce(who.nonceAccount as Address)
    } catch (err) {
      throw new CodedError(DestroyCode.PAYMENT_REQUIRED, `The ledger could not be asked about the payer's nonce account: ${errorMessage(err)}`)
    }
    if (onChain === null || onChain.authority !== who.payer) {
      throw new CodedError(DestroyCode.PAYMENT_REQUIRED, 'The payer named a nonce account that is not an initialized nonce account of its own.')
    }
    const record = await this.opts.book.begin(key, { ...who, nonce: onChain.nonce })
    return this.accountFor(key, record)
  }

  leave(account: PayeeAccount, link: PayeeLinkEnd): void {
    account.links.delete(link)
  }

  /** Count of vouchers offered (stats). */
  noteVoucher(): void {
    this.vouchersSeen++
  }

  /** Submit every voucher held; waits at most `timeoutMs`. */
  async settleAll(timeoutMs: number): Promise<void> {
    await this.recovering
    for (const { key, record } of this.opts.book.pending()) this.accountFor(key, record)
    const all = Promise.allSettled([...this.accounts.values()].map((a) => a.settle()))
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())])
  }

  stats(): EarningsStats {
    const totals = this.opts.book.totals()
    let throttled = 0
    for (const a of this.accounts.values()) throttled += a.counts.throttled
    return { ...totals, throttled, vouchers: this.vouchersSeen }
  }

  async close(timeoutMs = 10_000): Promise<void> {
    this.closed = true
    await this.settleAll(timeoutMs)
    for (const a of this.accounts.values()) a.close()
    await this.opts.book.flush()
  }
}
