/**
 * A node's payments, composed (DESIGN.md section 4): its wallet (`<state>/wallet.json`), the
 * ledger it settles on (any Solana cluster by RPC URL; by default the local ledger,
 * `macro-vpn ledger`), what it earns (payments/earnings.ts, providers) and what it pays
 * (payments/spending.ts: a relay pays its next hops, the consumer its entry), and the meter
 * that puts both on the links (payments/paid-meter.ts).
 *
 *   const payments = new Payments({ stateDir, rpcUrl, earn: true })
 *   await payments.open()              // wallet, books; settles what a crash left behind
 *   payments.meter                     // for RelayRole / ExitRole / the consumer's carriers
 *   await payments.summary()           // address, balance, earned and spent, pending and settled
 *   await payments.close()             // settles every voucher held (at most 10 s)
 */
import path from 'node:path'
import { readFileIfExists, writeFileAtomic } from '../lib/atomic-file.ts'
import { CodedError, errorMessage } from '../lib/coded-error.ts'
import { LibError } from '../lib/lib-errors.ts'
import { Earnings } from './earnings.ts'
import { LedgerClient } from './ledger-client.ts'
import { PaidMeter } from './paid-meter.ts'
import { PayerBook } from './payer-book.ts'
import { Spending } from './spending.ts'
import { VoucherBook } from './voucher-book.ts'
import { Wallet } from './wallet.ts'

export interface PaymentsOptions {
  stateDir: string
  rpcUrl: string
  /** Collect from payers (a provider); false: pay only (the consumer daemon). */
  earn: boolean
  /** Lamports per calendar month this node may sign at most; null: no cap. */
  monthlyCap?: number | null
  /** A voucher was held back by the cap. */
  oncapped?: () => void
}

/** What `macro-vpn wallet` prints (lamports). */
export interface WalletSummary {
  address: string
  rpc: string
  /** On-chain balance, or null when the ledger could not be reached. */
  balance: number | null
  balanceError: string | null
  /** Vouchers held from payers, not yet settled. */
  pending: number
  /** Settled on chain from payers. */
  settled: number
  /** Earned in all: pending + settled. */
  earned: number
  /** Signed to payees in all (settled or not). */
  spent: number
  /** Signed to payees, settled by them on chain. */
  spentSettled: number
  /** Signed this calendar month (the cap counts this). */
  monthSpent: number
  monthlyCap: number | null
  settlements: number
  /** Vouchers accepted from payers / signed to payees, in all. */
  vouchersReceived: number
  vouchersSigned: number
}

const RPC_FILE = path.join('payments', 'ledger-url')

/** The RPC URL a node last opened its payments with (`macro-vpn wallet --state DIR` uses it), or null. */
export async function rememberedRpc(stateDir: string): Promise<string | null> {
  return (await readFileIfExists(path.join(stateDir, RPC_FILE)))?.trim() || null
}

export class Payments {
  readonly opts: PaymentsOptions
  readonly ledger: LedgerClient
  private walletValue: Wallet | null = null
  private vouchers: VoucherBook | null = null
  private payerBook: PayerBook | null = null
  private earningsValue: Earnings | null = null
  private spendingValue: Spending | null = null
  private meterValue: PaidMeter | null = null

  constructor(opts: PaymentsOptions) {
    this.opts = opts
    this.ledger = new LedgerClient({ url: opts.rpcUrl })
  }

  async open(): Promise<void> {
    const { stateDir } = this.opts
    const wallet = await Wallet.open(stateDir)
    this.walletValue = wallet
    this.vouchers = await VoucherBook.open(stateDir)
    this.payerBook = await PayerBook.open(stateDir)
    if ((await rememberedRpc(stateDir)) !== this.opts.rpcUrl) await writeFileAtomic(path.join(stateDir, RPC_FILE), `${this.opts.rpcUrl}\n`)
    this.earningsValue = this.opts.earn ? new Earnings({ payee: wallet.address, ledger: this.ledger, book: this.vouchers }) : null
    this.spendingValue = new Spending({
      signer: wallet.signer,
      ledger: this.ledger,
      book: this.payerBook,
      monthlyCap: this.opts.monthlyCap,
      oncapped: this.opts.oncapped
    })
    this.meterValue = new PaidMeter({ earnings: this.earningsValue, spending: this.spendingValue })
    this.earningsValue?.open()
  }

  get wallet(): Wallet {
    return this.need(this.walletValue)
  }

  get meter(): PaidMeter {
    return this.need(this.meterValue)
  }

  get spending(): Spending {
    return this.need(this.spendingValue)
  }

  get earnings(): Earnings | null {
    return this.earningsValue
  }

  private need<T>(value: T | null): T {
    if (value === null) throw new CodedError(LibError.NOT_OPEN, 'Payments are not open.')
    return value
  }

  /** Keep a nonce account ready for the next new payee (a paid connect then needs no transaction first). */
  prepare(): Promise<void> {
    return this.spending.keepSpare()
  }

  async summary(): Promise<WalletSummary> {
    let balance: number | null = null
    let balanceError: string | null = null
    try {
      balance = Number(await this.ledger.balance(this.wallet.address))
    } catch (err) {
      balanceError = errorMessage(err)
    }
    const earned = this.vouchers!.totals()
    const spent = this.payerBook!.totals()
    return {
      address: this.wallet.address,
      rpc: this.opts.rpcUrl,
      balance,
      balanceError,
      pending: earned.pending,
      settled: earned.settled,
      earned: earned.pending + earned.settled,
      spent: spent.signed,
      spentSettled: spent.settled,
      monthSpent: this.payerBook!.monthSpent(),
      monthlyCap: this.spending.cap,
      settlements: earned.settlements,
      vouchersReceived: earned.vouchers,
      vouchersSigned: spent.vouchers
    }
  }

  /** Settle every voucher held now (on demand). */
  async settleAll(timeoutMs = 10_000): Promise<void> {
    await this.earningsValue?.settleAll(timeoutMs)
  }

  async close(timeoutMs = 10_000): Promise<void> {
    await this.earningsValue?.close(timeoutMs)
    await this.vouchers?.close()
    await this.payerBook?.close()
  }
}
