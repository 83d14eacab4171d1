/**
 * The payer side of a node: per payee one account (payments/payer-account.ts) with the nonce
 * account bound to it, reconciled with the chain when it is first used in this process (a
 * settlement while we were away shortens the running total by what it settled); a spare nonce
 * account kept ready so that a new payee costs no wait; the funds check before a paid circuit;
 * and the monthly spending cap (no voucher beyond it).
 *
 *   const spending = new Spending({ signer, ledger, book })
 *   await spending.checkFunds(rate)            // throws INSUFFICIENT_FUNDS
 *   const account = await spending.account(payeeAddress)
 */
import type { Address, KeyPairSigner } from '@solana/kit'
import { CodedError, errorMessage } from '../lib/coded-error.ts'
import type { LedgerClient } from './ledger-client.ts'
import type { PayerBook } from './payer-book.ts'
import { PayerAccount } from './payer-account.ts'
import { creditWindow, FEE_LAMPORTS, formatSol } from './payment-terms.ts'
import { PaymentsError } from './payments-errors.ts'

export interface SpendingOptions {
  signer: KeyPairSigner
  ledger: LedgerClient
  book: PayerBook
  /** Lamports per calendar month (UTC) at most; null: no cap. */
  monthlyCap?: number | null
  /** A voucher was held back by the cap. */
  oncapped?: () => void
  /** Keep this many nonce accounts ready for new payees (default 1). */
  spares?: number
}

/** Rent of a nonce account (80 bytes) on Solana; refunded when the account is closed. */
const NONCE_RENT_LAMPORTS = 1_447_680
const BALANCE_FRESH_MS = 5000

export class Spending {
  private readonly opts: SpendingOptions
  private readonly accounts = new Map<string, Promise<PayerAccount>>()
  private readonly live = new Map<string, PayerAccount>()
  private monthlyCap: number | null
  private balance = { lamports: 0, at: 0 }
  private sparing: Promise<void> | null = null

  constructor(opts: SpendingOptions) {
    this.opts = opts
    this.monthlyCap = opts.monthlyCap ?? null
  }

  get address(): Address {
    return this.opts.signer.address
  }

  /** Keep a spare nonce account ready (in the background; a failure is retried next time). */
  keepSpare(): Promise<void> {
    if (this.sparing) return this.sparing
    const want = this.opts.spares ?? 1
    if (this.opts.book.spareCount >= want) return Promise.resolve()
    this.sparing = (async () => {
      const spare = await this.opts.ledger.createNonceAccount(this.opts.signer)
      await this.opts.book.addSpare(spare)
    })()
      .catch(() => {})
      .finally(() => {
        this.sparing = null
      })
    return this.sparing
  }

  setCap(monthlyCap: number | null): void {
    this.monthlyCap = monthlyCap
    if (this.withinCap(0)) for (const a of this.live.values()) a.uncap()
  }

  get cap(): number | null {
    return this.monthlyCap
  }

  private withinCap(increment: number): boolean {
    return this.monthlyCap === null || this.opts.book.monthSpent() + increment <= this.monthlyCap
  }

  get capReached(): boolean {
    return [...this.live.values()].some((a) => a.capped)
  }

  /** Lamports signed in this process, over all payees. */
  get sessionSpent(): number {
    let n = 0
    for (const a of this.live.values()) n += a.paid
    return n
  }

  monthSpent(): number {
    return this.opts.book.monthSpent()
  }

  /** Enough funds to pay a circuit at `rate` per MiB: a credit window, fees, and a nonce account's rent when a new one is needed. */
  async checkFunds(rate: number, payee?: string): Promise<void> {
    const needsNonce = payee !== undefined && this.opts.book.payee(payee) === undefined && this.opts.book.spareCount === 0
    const need = creditWindow(rate) + 4 * FEE_LAMPORTS + (needsNonce ? NONCE_RENT_LAMPORTS : 0)
    const now = Date.now()
    if (now - this.balance.at > BALANCE_FRESH_MS || this.balance.lamports < need) {
      this.balance = { lamports: Number(await this.opts.ledger.balance(this.address)), at: now }
    }
    if (this.balance.lamports < need) {
      throw new CodedError(
        PaymentsError.INSUFFICIENT_FUNDS,
        `The wallet ${this.address} holds ${formatSol(this.balance.lamports)}; paying this path needs at least ${formatSol(need)} (one credit window and fees). Fund the wallet, or use free providers only.`
      )
    }
    if (!this.withinCap(1)) {
      throw new CodedError(
        PaymentsError.SPENDING_CAP_REACHED,
        `This month's spending cap (${formatSol(this.monthlyCap ?? 0)}) is reached. Raise it, or use free providers only.`
      )
    }
  }

  /** The account of `payee`, its nonce account bound and reconciled with the chain. */
  account(payee: string): Promise<PayerAccount> {
    let pending = this.accounts.get(payee)
    if (!pending) {
      pending = this.open(payee)
      this.accounts.set(payee, pending)
      pending.catch(() => this.accounts.delete(payee))
    }
    return pending
  }

  private async open(payee: string): Promise<PayerAccount> {
    const { book, ledger } = this.opts
    let record = book.payee(payee)
    if (record) {
      const onChain = await ledger.nonce(record.nonceAccount as Address)
      if (onChain === null) {
        record = undefined // the nonce account is gone: bind another
      } else if (onChain.nonce !== record.nonce) {
        // The payee settled while we were away: find what it settled.
        const settled = await this.findSettlement(payee, record.nonceAccount)
        await book.settled(payee, { amount: settled ?? record.latest, nonce: onChain.nonce })
      }
    }
    if (!record) {
      const spare = book.takeSpare()
      let nonce: { address: string; nonce: string } | null = null
      try {
        if (spare) {
          const onChain = await ledger.nonce(spare.address as Address).catch(() => null)
          if (onChain && onChain.authority === this.address) nonce = { address: spare.address, nonce: onChain.nonce }
        }
        nonce ??= await ledger.createNonceAccount(this.opts.signer)
        await book.bind(payee, nonce)
      } catch (err) {
        // The spare was not used up (the ledger or the disk failed): keep it, and its rent, for the next payee.
        if (spare && (nonce === null || nonce.address === spare.address)) await book.addSpare(spare).catch(() => {})
        throw err
      }
      void this.keepSpare()
    }
    const account = new PayerAccount({
      payee,
      signer: this.opts.signer,
      book,
      ledger,
      allow: (increment) => this.withinCap(increment),
      oncapped: this.opts.oncapped
    })
    this.live.set(payee, account)
    return account
  }

  /** The amount of our latest transfer to `payee` on its nonce account (a settlement we did not hear of). */
  private async findSettlement(payee: string, nonceAccount: string): Promise<number | null> {
    try {
      for (const signature of await this.opts.ledger.signaturesFor(nonceAccount as Address, 10)) {
        const t = await this.opts.ledger.transferOf(signature)
        if (t && t.source === this.address && t.destination === payee && t.nonceAccount === nonceAccount) return Number(t.amount)
      }
    } catch (err) {
      throw new CodedError(PaymentsError.RPC_ERROR, `Could not read the settlements of a nonce account: ${errorMessage(err)}`)
    }
    return null
  }

  stats(): { payees: number; sessionSpent: number; monthSpent: number; cap: number | null; capReached: boolean; vouchers: number } {
    let vouchers = 0
    for (const a of this.live.values()) vouchers += a.counts.vouchers
    return {
      payees: this.live.size,
      sessionSpent: this.sessionSpent,
      monthSpent: this.monthSpent(),
      cap: this.monthlyCap,
      capReached: this.capReached,
      vouchers
    }
  }
}
