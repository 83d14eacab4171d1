/**
 * getTransaction's answer for a record, in the real RPC's shape: { slot, blockTime, meta,
 * transaction[, version] }. "json" spells the message out (accountKeys, header, recentBlockhash,
 * instructions with programIdIndex, accounts and base58 data); "base64"/"base58" give the wire
 * bytes as [data, encoding]. As on a real node, a version-0 transaction needs the caller's
 * maxSupportedTransactionVersion: 0 (-32015 otherwise), and `version` and meta.loadedAddresses
 * appear only when it was given.
 */
import { RpcCode, RpcError } from './rpc-error.ts'
import type { TransactionRecord } from './transaction-records.ts'
import { decodeWireTransaction, encodeBase58 } from './wire-transaction.ts'

export type TransactionEncoding = 'json' | 'base64' | 'base58'

export function transactionJson(
  record: TransactionRecord,
  encoding: TransactionEncoding,
  maxSupportedTransactionVersion: 0 | undefined
): Record<string, unknown> {
  const wire = decodeWireTransaction(record.wire)
  const { message } = wire
  if (message.version === 0 && maxSupportedTransactionVersion === undefined) {
    throw new RpcError(
      RpcCode.UNSUPPORTED_TRANSACTION_VERSION,
      'Transaction version (0) is not supported by the requesting client. Please try the request again with the following configuration parameter: "maxSupportedTransactionVersion": 0'
    )
  }
  const versioned = maxSupportedTransactionVersion !== undefined
  const meta = {
    err: record.err,
    status: record.err === null ? { Ok: null } : { Err: record.err },
    fee: record.fee,
    preBalances: record.preBalances,
    postBalances: record.postBalances,
    innerInstructions: record.innerInstructions,
    logMessages: record.logs,
    preTokenBalances: [],
    postTokenBalances: [],
    rewards: [],
    ...(versioned ? { loadedAddresses: { writable: [], readonly: [] } } : {}),
    computeUnitsConsumed: record.computeUnitsConsumed,
    ...(record.returnData ? { returnData: { programId: record.returnData.programId, data: [record.returnData.data, 'base64'] } } : {})
  }
  let transaction: unknown
  if (encoding === 'base64') transaction = [Buffer.from(record.wire).toString('base64'), 'base64']
  else if (encoding === 'base58') transaction = [encodeBase58(record.wire), 'base58']
  else {
    transaction = {
      signatures: wire.signatures,
      message: {
        accountKeys: message.accountKeys,
        header: message.header,
        recentBlockhash: message.recentBlockhash,
        instructions: message.instructions.map((ix) => ({
          programIdIndex: ix.programIdIndex,
          accounts: ix.accounts,
          data: encodeBase58(ix.data),
          stackHeight: null
        })),
        ...(message.version === 0 ? { addressTableLookups: message.addressTableLookups } : {})
      }
    }
  }
  return { slot: record.slot, blockTime: record.blockTime, ...(versioned ? { version: message.version } : {}), meta, transaction }
}
