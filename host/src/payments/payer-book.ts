/**
 * What a payer has promised, durably (`<state>/payments/spent.json`, written atomically, and each
 * voucher a line in its journal, spent.json.journal, on disk before the voucher leaves): per payee the nonce account bound to it (one per payee: a settlement by one
 * payee must not void another's vouchers), the nonce its vouchers use now and the running total
 * since the last settlement; nonce accounts not bound yet (spares, so a new payee costs no wait);
 * and what was signed per calendar month (UTC), for the spending cap.
 *
 *   const book = await PayerBook.open(stateDir)
 *   book.payee(address)                                // { nonceAccount, nonce, latest, … } | undefined
 *   await book.signed(address, { amount, signature, increment })
 *   await book.settled(address, { amount, nonce })
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import { CodedError } from '../lib/coded-error.ts'
import { DurableJsonFile, readDurableJson } from '../lib/durable-json-file.ts'
import { PaymentsError } from './payments-errors.ts'

const Lamports = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
const PayeeRecord = z.object({
  nonceAccount: z.string().max(44),
  nonce: z.string().max(44),
  /** The amount of the latest voucher signed on `nonce` (the running total since the last settlement). */
  latest: Lamports,
  latestSignature: z.string().max(100).nullable(),
  /** Everything ever signed to this payee (settled or not). */
  signed: Lamports,
  settled: Lamports,
  settlements: z.number().int().nonnegative(),
  /** Vouchers signed to this payee (counted for `macro-vpn wallet`; absent in older books). */
  vouchers: z.number().int().nonnegative().default(0)
})
const SpareNonce = z.object({ address: z.string().max(44), nonce: z.string().max(44) })
const BookFile = z.object({
  v: z.literal(1),
  payees: z.record(z.string(), PayeeRecord),
  spares: z.array(SpareNonce).max(64),
  months: z.record(z.string().regex(/^\d{4}-\d{2}$/), Lamports)
})
export type PayeeRecord = z.infer<typeof PayeeRecord>
/** A voucher signed, as the journal keeps it (payments happen many times a second): the payee's new totals and the month's. */
const SignedRecord = z.object({
  payee: z.string().max(44),
  latest: Lamports,
  latestSignature: z.string().max(100),
  signed: Lamports,
  vouchers: z.number().int().nonnegative(),
  month: z.string().regex(/^\d{4}-\d{2}$/),
  monthSigned: Lamports
})
type SignedRecord = z.infer<typeof SignedRecord>

export function monthOf(at: number): string {
  return new Date(at).toISOString().slice(0, 7)
}

export class PayerBook {
  readonly file: string
  private readonly payees = new Map<string, PayeeRecord>()
  private spares: Array<z.infer<typeof SpareNonce>> = []
  private readonly months = new Map<string, number>()
  private readonly writer: DurableJsonFile

  private constructor(file: string) {
    this.file = file
    this.writer = new DurableJsonFile(file, () => ({
      v: 1,
      payees: Object.fromEntries(this.payees),
      spares: this.spares,
      months: Object.fromEntries(this.months)
    }))
  }

  /** Open `<stateDir>/payments/spent.json` (none yet: an empty book). BOOK_UNREADABLE when it is damaged. */
  static async open(stateDir: string): Promise<PayerBook> {
    const dir = path.join(stateDir, 'payments')
    await fs.mkdir(dir, { recursive: true, mode: 0o700 })
    const book = new PayerBook(path.join(dir, 'spent.json'))
    const damaged = (why: string): CodedError =>
      new CodedError(
        PaymentsError.BOOK_UNREADABLE,
        `The spending file ${book.file} is damaged: ${why}. It holds what this wallet promised to whom: restore it from a backup, or move it away to start with none.`
      )
    const { state, records, lastSeq } = await readDurableJson(
      book.file,
      (value) => BookFile.parse(value),
      (value) => SignedRecord.parse(value),
      damaged
    )
    if (state !== null) {
      for (const [payee, record] of Object.entries(state.payees)) book.payees.set(payee, record)
      book.spares = state.spares
      for (const [month, n] of Object.entries(state.months)) book.months.set(month, n)
    }
    for (const r of records) {
      const record = book.payees.get(r.payee)
      if (!record) throw damaged('its journal names a payee it has no nonce account for')
      book.applySigned(record, r)
    }
    book.writer.resume(lastSeq)
    return book
  }

  payee(address: string): PayeeRecord | undefined {
    return this.payees.get(address)
  }

  /** Nonce accounts bound to payees (in use or waiting for a settlement). */
  boundNonceAccounts(): string[] {
    return [...this.payees.values()].map((r) => r.nonceAccount)
  }

  takeSpare(): { address: string; nonce: string } | null {
    const spare = this.spares.shift() ?? null
    return spare
  }

  get spareCount(): number {
    return this.spares.length
  }

  async addSpare(spare: { address: string; nonce: string }): Promise<void> {
    this.spares.push(spare)
    await this.writer.saveOrUndo(() => {
      const at = this.spares.indexOf(spare)
      if (at >= 0) this.spares.splice(at, 1)
    })
  }

  async bind(payee: string, nonce: { address: string; nonce: string }): Promise<PayeeRecord> {
    const previous = this.payees.get(payee)
    const record: PayeeRecord = {
      nonceAccount: nonce.address,
      nonce: nonce.nonce,
      latest: 0,
      latestSignature: null,
      signed: 0,
      settled: 0,
      settlements: 0,
      vouchers: 0
    }
    this.payees.set(payee, record)
    await this.writer.saveOrUndo(() => {
      if (this.payees.get(payee) !== record) return
      if (previous) this.payees.set(payee, previous)
      else this.payees.delete(payee)
    })
    return record
  }

  /** A voucher for `amount` (the new running total) was signed: durable before it is sent (when the write fails, as if never signed). */
  async signed(payee: string, v: { amount: number; signature: string; increment: number; at?: number }): Promise<void> {
    const record = this.payees.get(payee)
    if (!record) throw new CodedError(PaymentsError.BOOK_UNREADABLE, 'No nonce account is bound to this payee.')
    const before = { latest: record.latest, latestSignature: record.latestSignature, signed: record.signed, vouchers: record.vouchers }
    const month = monthOf(v.at ?? Date.now())
    const monthBefore = this.months.get(month)
    const entry: SignedRecord = {
      payee,
      latest: v.amount,
      latestSignature: v.signature,
      signed: record.signed + v.increment,
      vouchers: record.vouchers + 1,
      month,
      monthSigned: (monthBefore ?? 0) + v.increment
    }
    this.applySigned(record, entry)
    // One journal line (not the whole book): vouchers are signed many times a second.
    await this.writer.appendOrUndo(entry, () => {
      if (record.latestSignature !== v.signature) return
      Object.assign(record, before)
      if (monthBefore === undefined) this.months.delete(month)
      else this.months.set(month, monthBefore)
    })
  }

  private applySigned(record: PayeeRecord, entry: SignedRecord): void {
    record.latest = entry.latest
    record.latestSignature = entry.latestSignature
    record.signed = entry.signed
    record.vouchers = entry.vouchers
    this.months.set(entry.month, entry.monthSigned)
  }

  /** The payee settled `amount` of the running total; the rest carries on, on nonce `nonce`. */
  async settled(payee: string, s: { amount: number; nonce: string }): Promise<void> {
    const record = this.payees.get(payee)
    if (!record) return
    const before = { ...record }
    record.latest = Math.max(0, record.latest - s.amount)
    record.latestSignature = null
    record.nonce = s.nonce
    record.settled += s.amount
    record.settlements++
    await this.writer.saveOrUndo(() => {
      if (record.settlements === before.settlements + 1 && record.nonce === s.nonce) Object.assign(record, before)
    })
  }

  monthSpent(at = Date.now()): number {
    return this.months.get(monthOf(at)) ?? 0
  }

  totals(): { signed: number; settled: number; pending: number; vouchers: number; payees: number } {
    let signed = 0
    let settled = 0
    let pending = 0
    let vouchers = 0
    for (const r of this.payees.values()) {
      signed += r.signed
      settled += r.settled
      pending += r.latest
      vouchers += r.vouchers
    }
    return { signed, settled, pending, vouchers, payees: this.payees.size }
  }

  async flush(): Promise<void> {
    await this.writer.idle()
  }

  /** Wait for writes under way and let go of the journal. */
  async close(): Promise<void> {
    await this.writer.close()
  }
}
