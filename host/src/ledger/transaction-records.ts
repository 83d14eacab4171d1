/**
 * What the ledger remembers of every transaction it handled (LiteSVM's own history does not give
 * the message back): the outcome, the balances around it, the logs and the wire bytes, indexed by
 * signature and by every account key. getTransaction, getSignatureStatuses and
 * getSignaturesForAddress read from here; the snapshot keeps it across restarts.
 */
import { z } from 'zod'
import { TransactionErrorJsonSchema, type TransactionErrorJson } from './transaction-error-names.ts'

export interface InnerInstructionsJson {
  index: number
  instructions: Array<{ programIdIndex: number; accounts: number[]; data: string; stackHeight: number | null }>
}

export interface TransactionRecord {
  signature: string
  slot: bigint
  /** Unix seconds of the slot it ran in. */
  blockTime: number
  err: TransactionErrorJson | null
  /**
   * The runtime ran it: the fee was charged and its changes (none when it failed) were kept. A
   * transaction sent with skipPreflight can fail before that (a stale blockhash, no funds for the
   * fee); it is remembered with fee 0 so that its status says why.
   */
  executed: boolean
  fee: bigint
  /** Of the message's account keys, in order. */
  preBalances: bigint[]
  postBalances: bigint[]
  logs: string[]
  computeUnitsConsumed: bigint
  innerInstructions: InnerInstructionsJson[]
  /** Base64 data. */
  returnData: { programId: string; data: string } | null
  accountKeys: string[]
  wire: Uint8Array
}

export interface AddressHistoryQuery {
  limit: number
  /** Only transactions older than this one. */
  before?: string
  /** Only transactions newer than this one. */
  until?: string
}

const U64 = z.string().regex(/^\d{1,20}$/)
const RecordJson = z.object({
  signature: z.string().min(1).max(100),
  slot: U64,
  blockTime: z.number().int(),
  err: TransactionErrorJsonSchema.nullable(),
  executed: z.boolean(),
  fee: U64,
  preBalances: z.array(U64),
  postBalances: z.array(U64),
  logs: z.array(z.string()),
  computeUnitsConsumed: U64,
  innerInstructions: z.array(
    z.object({
      index: z.number().int(),
      instructions: z.array(
        z.object({ programIdIndex: z.number().int(), accounts: z.array(z.number().int()), data: z.string(), stackHeight: z.number().int().nullable() })
      )
    })
  ),
  returnData: z.object({ programId: z.string(), data: z.string() }).nullable(),
  accountKeys: z.array(z.string().min(1).max(50)),
  wire: z.string()
})
export const RecordsJson = z.array(RecordJson)
export type RecordsJson = z.infer<typeof RecordsJson>

export class TransactionRecords {
  private readonly bySignature = new Map<string, { record: TransactionRecord; seq: number }>()
  private readonly byAddress = new Map<string, string[]>()
  private seq = 0
  private executedCount = 0

  get size(): number {
    return this.bySignature.size
  }

  /** Records of transactions the runtime ran (getEpochInfo's transactionCount). */
  get executed(): number {
    return this.executedCount
  }

  get(signature: string): TransactionRecord | undefined {
    return this.bySignature.get(signature)?.record
  }

  /**
   * Remember a transaction. A signature the runtime already executed keeps its record (the same
   * signature is the same transaction: a replay changes nothing); one that failed before execution
   * is replaced by the newer outcome. False when nothing changed.
   */
  add(record: TransactionRecord): boolean {
    const old = this.bySignature.get(record.signature)
    if (old?.record.executed) return false
    if (old) {
      for (const key of old.record.accountKeys) {
        const list = this.byAddress.get(key)
        if (list) list.splice(list.indexOf(record.signature), 1)
      }
    }
    this.bySignature.set(record.signature, { record, seq: this.seq++ })
    if (record.executed) this.executedCount++
    for (const key of new Set(record.accountKeys)) {
      let list = this.byAddress.get(key)
      if (!list) this.byAddress.set(key, (list = []))
      list.push(record.signature)
    }
    return true
  }

  /** Transactions that name `address`, newest first. */
  forAddress(address: string, query: AddressHistoryQuery): TransactionRecord[] {
    const list = this.byAddress.get(address) ?? []
    const beforeSeq = query.before === undefined ? Infinity : this.bySignature.get(query.before)?.seq
    const untilSeq = query.until === undefined ? -1 : (this.bySignature.get(query.until)?.seq ?? -1)
    if (beforeSeq === undefined) return []
    const out: TransactionRecord[] = []
    for (let i = list.length - 1; i >= 0 && out.length < query.limit; i--) {
      const entry = this.bySignature.get(list[i]!)!
      if (entry.seq >= beforeSeq) continue
      if (entry.seq <= untilSeq) break
      out.push(entry.record)
    }
    return out
  }

  /** Every record, oldest first, as JSON for the snapshot. */
  toJson(): RecordsJson {
    const entries = [...this.bySignature.values()].sort((a, b) => a.seq - b.seq)
    return entries.map(({ record: r }) => ({
      ...r,
      slot: r.slot.toString(),
      fee: r.fee.toString(),
      preBalances: r.preBalances.map(String),
      postBalances: r.postBalances.map(String),
      computeUnitsConsumed: r.computeUnitsConsumed.toString(),
      wire: Buffer.from(r.wire).toString('base64')
    }))
  }

  /** The records of a snapshot (already checked against RecordsJson). */
  static fromJson(list: RecordsJson): TransactionRecords {
    const records = new TransactionRecords()
    for (const r of list) {
      records.add({
        ...r,
        slot: BigInt(r.slot),
        fee: BigInt(r.fee),
        preBalances: r.preBalances.map(BigInt),
        postBalances: r.postBalances.map(BigInt),
        computeUnitsConsumed: BigInt(r.computeUnitsConsumed),
        wire: new Uint8Array(Buffer.from(r.wire, 'base64'))
      })
    }
    return records
  }
}
