/**
 * Transactions and messages as clients send them: an encoded string (base58 or base64) of the
 * wire format (compact-u16 signature count, 64-byte signatures, the message), checked the way the
 * real RPC checks it before anything runs. Every failure is an RpcError with the real RPC's code
 * (-32602 for bytes that are not a transaction); nothing here touches the ledger.
 */
import {
  getBase58Decoder,
  getBase58Encoder,
  getCompiledTransactionMessageDecoder,
  getCompiledTransactionMessageEncoder,
  getTransactionDecoder,
  type Blockhash,
  type Transaction
} from '@solana/kit'
import { invalidParams } from './rpc-error.ts'

/** Solana's packet size: the largest wire transaction. */
export const MAX_WIRE_TRANSACTION_BYTES = 1232
const MAX_ENCODED = { base58: 1683, base64: 1644 } as const
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const BASE58 = /^[1-9A-HJ-NP-Za-km-z]*$/

export type BinaryEncoding = 'base58' | 'base64'

export interface MessageHeader {
  numRequiredSignatures: number
  numReadonlySignedAccounts: number
  numReadonlyUnsignedAccounts: number
}

export interface MessageInstruction {
  programIdIndex: number
  accounts: number[]
  data: Uint8Array
}

export interface AddressTableLookup {
  accountKey: string
  writableIndexes: number[]
  readonlyIndexes: number[]
}

/** A message in the terms of the RPC's "json" encoding. */
export interface DecodedMessage {
  version: 'legacy' | 0
  header: MessageHeader
  accountKeys: string[]
  recentBlockhash: string
  instructions: MessageInstruction[]
  addressTableLookups: AddressTableLookup[]
}

export interface WireTransaction {
  /** Exactly the transaction's bytes. */
  bytes: Uint8Array
  /** The form LiteSVM takes. */
  transaction: Transaction
  message: DecodedMessage
  /** Base58, in order; the first is the transaction's signature (its id). */
  signatures: string[]
  /** Any signature all zeros (not signed). */
  unsigned: boolean
}

/** The bytes of a base58 or base64 string parameter; -32602 when the string is not that encoding. */
export function decodeBinary(text: string, encoding: BinaryEncoding): Uint8Array {
  if (encoding === 'base64') {
    if (!BASE64.test(text)) throw invalidParams('invalid base64 encoding')
    return new Uint8Array(Buffer.from(text, 'base64'))
  }
  if (!BASE58.test(text)) throw invalidParams('invalid base58 encoding')
  return new Uint8Array(getBase58Encoder().encode(text))
}

export function encodeBase58(bytes: Uint8Array): string {
  return getBase58Decoder().decode(bytes)
}

/** A sendTransaction/simulateTransaction parameter as a transaction, with the real RPC's size limits. */
export function decodeEncodedTransaction(text: string, encoding: BinaryEncoding): WireTransaction {
  const type = 'solana_transaction::versioned::VersionedTransaction'
  if (text.length > MAX_ENCODED[encoding]) {
    throw invalidParams(`${encoding} encoded ${type} too large: ${text.length} bytes (max: encoded/raw ${MAX_ENCODED[encoding]}/${MAX_WIRE_TRANSACTION_BYTES})`)
  }
  const bytes = decodeBinary(text, encoding)
  if (bytes.length > MAX_WIRE_TRANSACTION_BYTES) {
    throw invalidParams(`decoded ${type} too large: ${bytes.length} bytes (max: ${MAX_WIRE_TRANSACTION_BYTES} bytes)`)
  }
  return decodeWireTransaction(bytes)
}

export function decodeWireTransaction(bytes: Uint8Array): WireTransaction {
  const fail = (why: string): never => {
    throw invalidParams(`failed to deserialize solana_transaction::versioned::VersionedTransaction: ${why}`)
  }
  let read: [Transaction, number]
  try {
    read = getTransactionDecoder().read(bytes, 0)
  } catch {
    return fail('not a transaction')
  }
  const [transaction, end] = read
  if (end !== bytes.length) fail(`${bytes.length - end} bytes after the transaction`)
  const message = decodeMessage(new Uint8Array(transaction.messageBytes))
  const [count, start] = readShortU16(bytes)
  if (count !== message.header.numRequiredSignatures || Object.keys(transaction.signatures).length !== count) {
    throw invalidParams('invalid transaction: Transaction failed to sanitize accounts offsets correctly')
  }
  const signatures: string[] = []
  let unsigned = false
  for (let i = 0; i < count; i++) {
    const sig = bytes.subarray(start + 64 * i, start + 64 * (i + 1))
    if (sig.every((b) => b === 0)) unsigned = true
    signatures.push(encodeBase58(sig))
  }
  if (count === 0) throw invalidParams('invalid transaction: Transaction failed to sanitize accounts offsets correctly')
  return { bytes, transaction, message, signatures, unsigned }
}

/** A message (getFeeForMessage's parameter, a transaction's messageBytes); -32602 when it is not one. */
export function decodeMessage(bytes: Uint8Array): DecodedMessage {
  let compiled: ReturnType<ReturnType<typeof getCompiledTransactionMessageDecoder>['decode']>
  try {
    const [decoded, end] = getCompiledTransactionMessageDecoder().read(bytes, 0)
    if (end !== bytes.length) throw new Error('trailing bytes')
    compiled = decoded
  } catch {
    throw invalidParams('failed to deserialize solana_message::versioned::VersionedMessage: not a message')
  }
  if (compiled.version !== 'legacy' && compiled.version !== 0) {
    throw invalidParams(`failed to deserialize solana_message::versioned::VersionedMessage: transaction version ${String(compiled.version)} is not supported`)
  }
  const header = {
    numRequiredSignatures: compiled.header.numSignerAccounts,
    numReadonlySignedAccounts: compiled.header.numReadonlySignerAccounts,
    numReadonlyUnsignedAccounts: compiled.header.numReadonlyNonSignerAccounts
  }
  const lookups = compiled.version === 0 ? (compiled.addressTableLookups ?? []) : []
  const accountCount = compiled.staticAccounts.length + lookups.reduce((n, l) => n + l.writableIndexes.length + l.readonlyIndexes.length, 0)
  const instructions = compiled.instructions.map((ix) => ({
    programIdIndex: ix.programAddressIndex,
    accounts: [...(ix.accountIndices ?? [])],
    data: new Uint8Array(ix.data ?? new Uint8Array(0))
  }))
  const indexOk = (i: number): boolean => i < accountCount
  if (
    header.numRequiredSignatures > compiled.staticAccounts.length ||
    header.numReadonlySignedAccounts >= Math.max(header.numRequiredSignatures, 1) ||
    instructions.some((ix) => !indexOk(ix.programIdIndex) || !ix.accounts.every(indexOk))
  ) {
    throw invalidParams('invalid transaction: Transaction failed to sanitize accounts offsets correctly')
  }
  return {
    version: compiled.version,
    header,
    accountKeys: [...compiled.staticAccounts],
    recentBlockhash: compiled.lifetimeToken,
    instructions,
    addressTableLookups: lookups.map((l) => ({
      accountKey: l.lookupTableAddress,
      writableIndexes: [...l.writableIndexes],
      readonlyIndexes: [...l.readonlyIndexes]
    }))
  }
}

/** The same transaction with another recent blockhash (simulateTransaction's replaceRecentBlockhash; the signatures no longer match). */
export function withBlockhash(wire: WireTransaction, blockhash: string): Transaction {
  const compiled = getCompiledTransactionMessageDecoder().decode(wire.transaction.messageBytes)
  const messageBytes = getCompiledTransactionMessageEncoder().encode({ ...compiled, lifetimeToken: blockhash as Blockhash })
  return { ...wire.transaction, messageBytes: messageBytes as Transaction['messageBytes'] }
}

/** Solana's compact-u16 at the start of `bytes`: [value, bytes it took]. */
function readShortU16(bytes: Uint8Array): [number, number] {
  let value = 0
  for (let i = 0; i < 3; i++) {
    const b = bytes[i] ?? 0
    value |= (b & 0x7f) << (7 * i)
    if ((b & 0x80) === 0) return [value, i + 1]
  }
  return [value, 3]
}
