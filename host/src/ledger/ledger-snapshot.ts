/**
 * The ledger's snapshot file (`<state>/ledger.snapshot`): LiteSVM's full state (accounts,
 * sysvars, the latest blockhash, its history; `svm.toBytes()`) and the ledger's own part (the
 * faucet key, every transaction record) in one file, replaced atomically (tmp + fsync + rename).
 *
 *   0   8   magic "MVLEDGER"
 *   8   4   format version (1), u32 big-endian
 *   12  4   length M of the ledger part, u32 BE
 *   16  4   length S of the LiteSVM part, u32 BE
 *   20  M   ledger part: JSON { faucetSeed: base64, records: [...], recentBlockhashes: [...] }
 *   20+M S  LiteSVM part
 *   end 32  SHA-256 of everything before it
 *
 * A file that does not check out is an error naming the file and what to do, never a silent
 * fresh start (that would drop every balance the ledger ever answered for).
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import { z } from 'zod'
import { writeFileAtomic } from '../lib/atomic-file.ts'
import { CodedError } from '../lib/coded-error.ts'
import { LedgerError } from './ledger-errors.ts'
import { RecentBlockhashesJson } from './recent-blockhashes.ts'
import { RecordsJson } from './transaction-records.ts'
import { decodeWireTransaction } from './wire-transaction.ts'

export const SNAPSHOT_FILE = 'ledger.snapshot'
const MAGIC = Buffer.from('MVLEDGER', 'ascii')
const FORMAT_VERSION = 1
const HEADER = 20
const DIGEST = 32

const LedgerPart = z.object({
  faucetSeed: z.string().regex(/^[A-Za-z0-9+/]{43}=$/),
  records: RecordsJson,
  /** Absent in snapshots written before blockhashes stayed valid for 150 blocks. */
  recentBlockhashes: RecentBlockhashesJson.optional()
})
export type LedgerPart = z.infer<typeof LedgerPart>

export interface SnapshotContents {
  ledger: LedgerPart
  svm: Uint8Array
}

export function encodeSnapshot({ ledger, svm }: SnapshotContents): Uint8Array {
  const meta = Buffer.from(JSON.stringify(ledger), 'utf8')
  const header = Buffer.alloc(HEADER)
  MAGIC.copy(header, 0)
  header.writeUInt32BE(FORMAT_VERSION, 8)
  header.writeUInt32BE(meta.length, 12)
  header.writeUInt32BE(svm.length, 16)
  const body = Buffer.concat([header, meta, svm])
  return Buffer.concat([body, createHash('sha256').update(body).digest()])
}

/** The contents of a snapshot file's bytes; LEDGER_BAD_SNAPSHOT naming `file` when they are not one. */
export function decodeSnapshot(bytes: Uint8Array, file: string): SnapshotContents {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (buf.length < HEADER + DIGEST || !buf.subarray(0, 8).equals(MAGIC)) throw badSnapshot(file, 'it is not a ledger snapshot')
  const version = buf.readUInt32BE(8)
  if (version !== FORMAT_VERSION) throw badSnapshot(file, `it has format ${version}, this ledger reads format ${FORMAT_VERSION}`)
  const metaLength = buf.readUInt32BE(12)
  const svmLength = buf.readUInt32BE(16)
  const expected = HEADER + metaLength + svmLength + DIGEST
  if (buf.length !== expected) throw badSnapshot(file, `it is ${buf.length} bytes, its header says ${expected} (a truncated or partly written file)`)
  const body = buf.subarray(0, expected - DIGEST)
  if (
    !createHash('sha256')
      .update(body)
      .digest()
      .equals(buf.subarray(expected - DIGEST))
  )
    throw badSnapshot(file, 'its checksum does not match')
  let ledger: LedgerPart
  try {
    ledger = LedgerPart.parse(JSON.parse(buf.subarray(HEADER, HEADER + metaLength).toString('utf8')))
  } catch {
    throw badSnapshot(file, 'its transaction records do not parse')
  }
  for (const record of ledger.records) {
    if (signatureOf(record.wire) !== record.signature) throw badSnapshot(file, `the record of transaction ${record.signature} does not hold that transaction`)
  }
  return { ledger, svm: new Uint8Array(buf.subarray(HEADER + metaLength, HEADER + metaLength + svmLength)) }
}

/** The signature of a record's base64 wire transaction, or undefined when it holds none. */
function signatureOf(wire: string): string | undefined {
  try {
    return decodeWireTransaction(new Uint8Array(Buffer.from(wire, 'base64'))).signatures[0]
  } catch {
    return undefined
  }
}

/** The snapshot in `file`, or null when there is none yet. */
export async function readSnapshot(file: string): Promise<SnapshotContents | null> {
  let bytes: Buffer
  try {
    bytes = await fs.readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new CodedError(LedgerError.LEDGER_BAD_SNAPSHOT, `Cannot read the ledger snapshot ${file}: ${(err as Error).message}.`, { cause: err })
  }
  return decodeSnapshot(bytes, file)
}

export async function writeSnapshot(file: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeFileAtomic(file, bytes)
  } catch (err) {
    throw new CodedError(LedgerError.LEDGER_SNAPSHOT_FAILED, `Cannot write the ledger snapshot ${file}: ${(err as Error).message}.`, { cause: err })
  }
}

export function badSnapshot(file: string, why: string, cause?: unknown): CodedError {
  return new CodedError(
    LedgerError.LEDGER_BAD_SNAPSHOT,
    `The ledger snapshot ${file} is damaged: ${why}. Restore the file from a backup, or move it away to start an empty ledger (every account and transaction it holds is then lost).`,
    { cause }
  )
}
