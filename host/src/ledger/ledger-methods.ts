/**
 * The RPC methods, by name, over the bank: each checks its params with its schema
 * (ledger-params.ts) and answers in the real RPC's shape. Methods with a context answer
 * { context: { slot, apiVersion }, value }. sendTransaction and requestAirdrop answer only once
 * the snapshot holding their transaction is on disk (`persist`): a settlement the ledger confirmed
 * survives a crash of the ledger.
 */
import { accountInfoJson, checkAccountEncoding, type AccountEncoding } from './account-encoding.ts'
import { LAMPORTS_PER_SIGNATURE, type LedgerBank } from './ledger-bank.ts'
import { parseParams, PARAMS, type MethodName, type MethodParams } from './ledger-params.ts'
import { invalidParams } from './rpc-error.ts'
import { transactionJson } from './transaction-json.ts'
import type { TransactionRecord } from './transaction-records.ts'
import { decodeBinary, decodeEncodedTransaction, decodeMessage } from './wire-transaction.ts'

/** The Agave release whose RPC this one answers like. */
export const API_VERSION = '2.2.0'
const FEATURE_SET = 3294202862
/** Slots the real status cache remembers: getSignatureStatuses without searchTransactionHistory looks no further back. */
const STATUS_CACHE_SLOTS = 300n

export interface MethodContext {
  bank: LedgerBank
  /** Resolves once the current state is on disk (at once without --state). */
  persist(): Promise<void>
}

export type MethodHandler = (params: unknown) => unknown

export function ledgerMethods({ bank, persist }: MethodContext): ReadonlyMap<string, MethodHandler> {
  const withContext = (value: unknown): { context: { slot: bigint; apiVersion: string }; value: unknown } => ({
    context: { slot: bank.slot, apiVersion: API_VERSION },
    value
  })
  const handlers: { [M in MethodName]: (args: MethodParams<M>) => unknown } = {
    getHealth: () => 'ok',
    getVersion: () => ({ 'solana-core': API_VERSION, 'feature-set': FEATURE_SET }),
    getSlot: () => bank.slot,
    getBlockHeight: () => bank.blockHeight,
    getEpochInfo: () => bank.epochInfo(),
    getLatestBlockhash: () => withContext({ blockhash: bank.latestBlockhash, lastValidBlockHeight: bank.lastValidBlockHeight }),
    getBalance: ([address]) => withContext(bank.balance(address)),
    getAccountInfo: ([address, config]) => {
      const encoding: AccountEncoding = config?.encoding ?? 'binary'
      checkAccountEncoding(encoding)
      return withContext(accountInfoJson(bank.account(address), encoding, config?.dataSlice))
    },
    getMultipleAccounts: ([addresses, config]) => {
      const encoding: AccountEncoding = config?.encoding ?? 'base64'
      checkAccountEncoding(encoding)
      return withContext(addresses.map((address) => accountInfoJson(bank.account(address), encoding, config?.dataSlice)))
    },
    getMinimumBalanceForRentExemption: ([dataLength]) => bank.minimumBalanceForRentExemption(dataLength),
    getFeeForMessage: ([message]) => {
      const { header } = decodeMessage(decodeBinary(message, 'base64'))
      return withContext(LAMPORTS_PER_SIGNATURE * BigInt(header.numRequiredSignatures))
    },
    sendTransaction: async ([encoded, config]) => {
      const wire = decodeEncodedTransaction(encoded, config?.encoding ?? 'base58')
      const outcome = bank.send(wire, { skipPreflight: config?.skipPreflight ?? false })
      if (outcome.changed) await persist()
      return outcome.signature
    },
    simulateTransaction: ([encoded, config]) => {
      const wire = decodeEncodedTransaction(encoded, config?.encoding ?? 'base58')
      const accountsEncoding = config?.accounts?.encoding ?? 'base64'
      if (accountsEncoding !== 'base64' && accountsEncoding !== 'jsonParsed')
        throw invalidParams(`${accountsEncoding} is not supported for simulated accounts; use base64`)
      const sim = bank.simulate(wire, {
        sigVerify: config?.sigVerify ?? false,
        replaceRecentBlockhash: config?.replaceRecentBlockhash ?? false,
        addresses: config?.accounts?.addresses ?? []
      })
      return withContext({
        err: sim.err,
        logs: sim.logs,
        accounts: config?.accounts ? (sim.accounts?.map((a) => accountInfoJson(a, 'base64')) ?? null) : null,
        unitsConsumed: sim.unitsConsumed,
        returnData: sim.returnData,
        innerInstructions: config?.innerInstructions ? sim.innerInstructions : null,
        replacementBlockhash: sim.replacementBlockhash,
        fee: sim.err === null ? sim.fee : null,
        preBalances: null,
        postBalances: null,
        preTokenBalances: null,
        postTokenBalances: null,
        loadedAddresses: null
      })
    },
    getSignatureStatuses: ([signatures, config]) => {
      const oldest = config?.searchTransactionHistory ? -1n : bank.slot - STATUS_CACHE_SLOTS
      return withContext(
        signatures.map((signature) => {
          const record = bank.records.get(signature)
          return record && record.slot >= oldest ? statusJson(record) : null
        })
      )
    },
    getSignaturesForAddress: ([address, config]) =>
      bank.records.forAddress(address, { limit: config?.limit ?? 1000, before: config?.before, until: config?.until }).map((record) => ({
        signature: record.signature,
        slot: record.slot,
        err: record.err,
        memo: null,
        blockTime: record.blockTime,
        confirmationStatus: 'finalized'
      })),
    getTransaction: ([signature, config]) => {
      const encoding = config?.encoding ?? 'json'
      if (encoding === 'jsonParsed') throw invalidParams('jsonParsed is not supported by this ledger; use json, base64 or base58')
      const record = bank.records.get(signature)
      return record ? transactionJson(record, encoding, config?.maxSupportedTransactionVersion) : null
    },
    requestAirdrop: async ([address, amount]) => {
      const outcome = bank.airdrop(address, BigInt(amount))
      if (outcome.changed) await persist()
      return outcome.signature
    }
  }
  const table = new Map<string, MethodHandler>()
  for (const name of Object.keys(PARAMS) as MethodName[]) {
    const handler = handlers[name] as (args: unknown) => unknown
    table.set(name, (params) => handler(parseParams(name, params)))
  }
  return table
}

/** One getSignatureStatuses entry. Every transaction here is final once answered. */
function statusJson(record: TransactionRecord): Record<string, unknown> {
  return {
    slot: record.slot,
    confirmations: null,
    err: record.err,
    status: record.err === null ? { Ok: null } : { Err: record.err },
    confirmationStatus: 'finalized'
  }
}
