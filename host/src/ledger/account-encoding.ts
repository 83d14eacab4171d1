/**
 * Accounts as getAccountInfo, getMultipleAccounts and simulateTransaction write them:
 * { data, executable, lamports, owner, rentEpoch, space }, or null for an account that does not
 * exist. Encodings as the real RPC: none given = legacy "binary" (a bare base58 string), base58
 * and base64 as [data, encoding]; jsonParsed falls back to base64 (what the RPC does for an
 * account it has no parser for; this ledger has none). base58 refuses data over 128 bytes, as
 * the real RPC does.
 */
import { getBase58Decoder, type MaybeEncodedAccount } from '@solana/kit'
import { invalidParams, RpcCode, RpcError } from './rpc-error.ts'

export type AccountEncoding = 'binary' | 'base58' | 'base64' | 'base64+zstd' | 'jsonParsed'

export interface DataSlice {
  offset: number
  length: number
}

/** Every account is rent exempt now; the RPC writes u64::MAX as its rent epoch. */
const RENT_EXEMPT_EPOCH = 18446744073709551615n
const MAX_BASE58_BYTES = 128

export function accountInfoJson(account: MaybeEncodedAccount, encoding: AccountEncoding, dataSlice?: DataSlice): Record<string, unknown> | null {
  if (!account.exists) return null
  const full = account.data as Uint8Array
  const data = dataSlice ? full.subarray(Math.min(dataSlice.offset, full.length), Math.min(dataSlice.offset + dataSlice.length, full.length)) : full
  return {
    data: encodeData(data, encoding),
    executable: account.executable,
    lamports: BigInt(account.lamports),
    owner: account.programAddress,
    rentEpoch: RENT_EXEMPT_EPOCH,
    space: BigInt(full.length)
  }
}

/** Checks an encoding before any account is read (the real RPC refuses them up front too). */
export function checkAccountEncoding(encoding: AccountEncoding): void {
  if (encoding === 'base64+zstd') throw invalidParams('base64+zstd is not supported by this ledger; use base64')
}

function encodeData(data: Uint8Array, encoding: AccountEncoding): string | [string, string] {
  switch (encoding) {
    case 'binary':
    case 'base58':
      if (data.length > MAX_BASE58_BYTES) {
        throw new RpcError(RpcCode.INVALID_REQUEST, `Encoded binary (base 58) data should be less than ${MAX_BASE58_BYTES} bytes, please use Base64 encoding.`)
      }
      return encoding === 'binary' ? getBase58Decoder().decode(data) : [getBase58Decoder().decode(data), 'base58']
    default:
      return [Buffer.from(data).toString('base64'), 'base64']
  }
}
