/**
 * What a payee holds, durably (`<state>/payments/earned.json`, written atomically, and each
 * voucher a line in its journal, earned.json.journal, on disk before the bytes it covers are carried): per payer account (the payer's wallet and the nonce
 * account its vouchers to us use) the latest voucher not yet settled, the nonce it must use, and
 * what was settled; and the payers refused from now on. Only the latest voucher of an account
 * is kept: it is cumulative.
 *
 *   const book = await VoucherBook.open(stateDir)                  // BOOK_UNREADABLE when damaged
 *   await book.begin(key, { payer, nonceAccount, nonce })
 *   await book.hold(key, { amount, signature, wire })               // durable on return
 *   await book.settled(key, { signature, amount, nonce: next })
 *   book.pending()                                                  // unsettled, for settlement at start and close
 *
 * A change whose write fails is taken back in memory too (the caller gets the error), so what
 * the book says is always what the file says.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import { CodedError } from '../lib/coded-error.ts'
import { DurableJsonFile, readDurableJson } from '../lib/durable-json-file.ts'
import { PaymentsError } from './payments-errors.ts'

const Lamports = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
const HeldVoucher = z.object({ amount: Lamports, signature: z.string().max(100), wire: z.string().max(2000) })
const AccountRecord = z.object({
  payer: z.string().max(44),
  nonceAccount: z.string().max(44),
  nonce: z.string().max(44),
  latest: HeldVoucher.nullable(),
  settled: Lamports,
  settlements: z.number().int().nonnegative(),
  /** Vouchers accepted from this payer (counted for `macro-vpn wallet`; absent in older books). */
  vouchers: z.number().int().nonnegative().default(0),
  /** `from`: the nonce the settled voucher used (absent in older books): a voucher still on it crossed the settlement. */
  lastSettlement: z.object({ signature: z.string().max(100), amount: Lamports, at: z.number(), from: z.string().max(44).optional() }).nullable()
})
const BookFile = z.object({
  v: z.literal(1),
  accounts: z.record(z.string(), AccountRecord),
  refused: z.record(z.string(), z.object({ code: z.string().max(40), at: z.number() }))
})
export type AccountRecord = z.infer<typeof AccountRecord>
/** A voucher held, as the journal keeps it (vouchers come many times a second): the account's new latest and count. */
const HeldRecord = z.object({ key: z.string().max(100), latest: HeldVoucher, vouchers: z.number().int().nonnegative() })
export type HeldVoucher = z.infer<typeof HeldVoucher>

export function accountKey(payer: string, nonceAccount: string): string {
  return `${payer}/${nonceAccount}`
}

export class VoucherBook {
  readonly file: string
  private readonly accounts = new Map<string, AccountRecord>()
  private readonly refusedPayers = new Map<string, { code: string; at: number }>()
  private readonly writer: DurableJsonFile

  private constructor(file: string) {
    this.file = file
    this.writer = new DurableJsonFile(file, () => ({
      v: 1,
      accounts: Object.fromEntries(this.accounts),
      refused: Object.fromEntries(this.refusedPayers)
    }))
  }

  /** Open `<stateDir>/payments/earned.json` (none yet: an empty book). BOOK_UNREADABLE when it is damaged. */
  static async open(stateDir: string): Promise<VoucherBook> {
    const dir = path.join(stateDir, 'payments')
    await fs.mkdir(dir, { recursive: true, mode: 0o700 })
    const book = new VoucherBook(path.join(dir, 'earned.json'))
    const damaged = (why: string): CodedError =>
      new CodedError(
        PaymentsError.BOOK_UNREADABLE,
        `The vouchers file ${book.file} is damaged: ${why}. It holds what payers owe this provider: restore it from a backup, or move it away to start with none.`
      )
    const { state, records, lastSeq } = await readDurableJson(
      book.file,
      (value) => BookFile.parse(value),
      (value) => HeldRecord.parse(value),
      damaged
    )
    if (state !== null) {
      for (const [key, record] of Object.entries(state.accounts)) book.accounts.set(key, record)
      for (const [payer, refusal] of Object.entries(state.refused)) book.refusedPayers.set(payer, refusal)
    }
    for (const r of records) {
      const record = book.accounts.get(r.key)
      if (!record) throw damaged('its journal names a payer account it does not hold')
      record.latest = r.latest
      record.vouchers = r.vouchers
    }
    book.writer.resume(lastSeq)
    return book
  }

  account(key: string): AccountRecord | undefined {
    return this.accounts.get(key)
  }

  /** Start (or keep) an account with the nonce its vouchers must use now. */
  async begin(key: string, who: { payer: string; nonceAccount: string; nonce: string }): Promise<AccountRecord> {
    const previous = this.accounts.get(key)
    if (previous && previous.nonce === who.nonce) return previous
    // On another nonce than the one recorded: the voucher held (if any) is dead.
    const record: AccountRecord = { settled: 0, settlements: 0, vouchers: 0, lastSettlement: null, ...previous, ...who, latest: null }
    this.accounts.set(key, record)
    await this.writer.saveOrUndo(() => {
      if (this.accounts.get(key) !== record) return
      if (previous) this.accounts.set(key, previous)
      else this.accounts.delete(key)
    })
    return record
  }

  /** Keep `voucher` as the account's latest; resolves once it is on disk (when the write fails, the previous one stays). */
  async hold(key: string, voucher: HeldVoucher): Promise<void> {
    const record = this.accounts.get(key)
    if (!record) throw new CodedError(PaymentsError.BOOK_UNREADABLE, 'No such payer account in the vouchers file.')
    const previous = record.latest
    record.latest = voucher
    record.vouchers++
    // One journal line (not the whole book): vouchers come many times a second.
    await this.writer.appendOrUndo({ key, latest: voucher, vouchers: record.vouchers }, () => {
      if (record.latest !== voucher) return
      record.latest = previous
      record.vouchers--
    })
  }

  /** A voucher of the account landed: it starts again from 0 on the nonce `next`. */
  async settled(key: string, s: { signature: string; amount: number; nonce: string }): Promise<void> {
    const record = this.accounts.get(key)
    if (!record) return
    const before = { ...record }
    const lastSettlement = { signature: s.signature, amount: s.amount, at: Date.now(), from: record.nonce }
    record.settled += s.amount
    record.settlements++
    record.lastSettlement = lastSettlement
    // A later voucher on the old nonce is dead now; only one held on the new nonce survives.
    if (record.latest?.signature === s.signature || record.nonce !== s.nonce) record.latest = null
    record.nonce = s.nonce
    await this.writer.saveOrUndo(() => {
      if (record.lastSettlement === lastSettlement) Object.assign(record, before)
    })
  }

  /** The account's held voucher will never land (its nonce was advanced by the payer, or it failed). */
  async dropLatest(key: string, nonce: string): Promise<void> {
    const record = this.accounts.get(key)
    if (!record) return
    const before = { latest: record.latest, nonce: record.nonce }
    record.latest = null
    record.nonce = nonce
    await this.writer.saveOrUndo(() => {
      if (record.latest === null && record.nonce === nonce) Object.assign(record, before)
    })
  }

  /** Refuse `payer` from now on. */
  async refuse(payer: string, code: string): Promise<void> {
    const refusal = { code, at: Date.now() }
    this.refusedPayers.set(payer, refusal)
    await this.writer.save()
  }

  refusal(payer: string): { code: string; at: number } | null {
    return this.refusedPayers.get(payer) ?? null
  }

  /** Accounts holding a voucher not yet settled. */
  pending(): Array<{ key: string; record: AccountRecord }> {
    return [...this.accounts].filter(([, r]) => r.latest !== null).map(([key, record]) => ({ key, record }))
  }

  totals(): { pending: number; settled: number; settlements: number; vouchers: number; payers: number; refused: number } {
    let pending = 0
    let settled = 0
    let settlements = 0
    let vouchers = 0
    for (const r of this.accounts.values()) {
      pending += r.latest?.amount ?? 0
      settled += r.settled
      settlements += r.settlements
      vouchers += r.vouchers
    }
    return { pending, settled, settlements, vouchers, payers: this.accounts.size, refused: this.refusedPayers.size }
  }

  /** Wait for writes under way. */
  async flush(): Promise<void> {
    await this.writer.idle()
  }

  /** Wait for writes under way and let go of the journal. */
  async close(): Promise<void> {
    await this.writer.close()
  }
}
