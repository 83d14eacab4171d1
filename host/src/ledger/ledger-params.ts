/**
 * The parameters of each RPC method, one schema per method, as the real RPC takes them: a
 * positional array, the trailing config object optional (null counts as absent). Options a
 * single node has no use for (commitment, minContextSlot, maxRetries, …) are checked for type and
 * otherwise ignored; unknown config keys are dropped, as the real RPC does.
 */
import { isAddress, isSignature } from '@solana/kit'
import { z } from 'zod'
import { invalidParams } from './rpc-error.ts'

const Address = z.string().refine(isAddress, { message: 'not a valid address (base58 of 32 bytes)' })
const Signature = z.string().refine(isSignature, { message: 'not a valid signature (base58 of 64 bytes)' })
const Commitment = z.enum(['processed', 'confirmed', 'finalized'])
/** A u64 as JSON gives it to JavaScript: exact only up to 2^53. */
const U64 = z.number().int().nonnegative().refine(Number.isSafeInteger, { message: 'too large (at most 2^53 - 1)' })
const Slot = U64

const ContextConfig = z.object({ commitment: Commitment.optional(), minContextSlot: Slot.optional() }).nullish()
const CommitmentConfig = z.object({ commitment: Commitment.optional() }).nullish()
const AccountEncoding = z.enum(['base58', 'base64', 'base64+zstd', 'jsonParsed'])
const DataSlice = z.object({ offset: z.number().int().nonnegative(), length: z.number().int().nonnegative() })
const AccountConfig = z
  .object({ commitment: Commitment.optional(), minContextSlot: Slot.optional(), encoding: AccountEncoding.optional(), dataSlice: DataSlice.optional() })
  .nullish()
const TransactionEncoding = z.enum(['base58', 'base64'])

export const PARAMS = {
  getHealth: z.tuple([]),
  getVersion: z.tuple([]),
  getSlot: z.tuple([ContextConfig]),
  getBlockHeight: z.tuple([ContextConfig]),
  getEpochInfo: z.tuple([ContextConfig]),
  getLatestBlockhash: z.tuple([ContextConfig]),
  getBalance: z.tuple([Address, ContextConfig]),
  getAccountInfo: z.tuple([Address, AccountConfig]),
  getMultipleAccounts: z.tuple([z.array(Address).max(100, { message: 'Too many inputs provided; max 100' }), AccountConfig]),
  getMinimumBalanceForRentExemption: z.tuple([
    z
      .number()
      .int()
      .nonnegative()
      .max(10 * 1024 * 1024),
    CommitmentConfig
  ]),
  getFeeForMessage: z.tuple([z.string(), ContextConfig]),
  sendTransaction: z.tuple([
    z.string(),
    z
      .object({
        encoding: TransactionEncoding.optional(),
        skipPreflight: z.boolean().optional(),
        preflightCommitment: Commitment.optional(),
        maxRetries: U64.optional(),
        minContextSlot: Slot.optional()
      })
      .nullish()
  ]),
  simulateTransaction: z.tuple([
    z.string(),
    z
      .object({
        encoding: TransactionEncoding.optional(),
        sigVerify: z.boolean().optional(),
        replaceRecentBlockhash: z.boolean().optional(),
        commitment: Commitment.optional(),
        minContextSlot: Slot.optional(),
        innerInstructions: z.boolean().optional(),
        accounts: z
          .object({ addresses: z.array(Address).max(100, { message: 'Too many accounts provided; max 100' }), encoding: AccountEncoding.optional() })
          .optional()
      })
      .nullish()
  ]),
  getSignatureStatuses: z.tuple([
    z.array(Signature).max(256, { message: 'Too many inputs provided; max 256' }),
    z.object({ searchTransactionHistory: z.boolean().optional() }).nullish()
  ]),
  getSignaturesForAddress: z.tuple([
    Address,
    z
      .object({
        limit: z.number().int().min(1, { message: 'Invalid limit; max 1000' }).max(1000, { message: 'Invalid limit; max 1000' }).optional(),
        before: Signature.optional(),
        until: Signature.optional(),
        commitment: Commitment.optional(),
        minContextSlot: Slot.optional()
      })
      .nullish()
  ]),
  getTransaction: z.tuple([
    Signature,
    z
      .object({
        encoding: z.enum(['json', 'jsonParsed', 'base58', 'base64']).optional(),
        maxSupportedTransactionVersion: z.literal(0).optional(),
        commitment: Commitment.optional()
      })
      .nullish()
  ]),
  requestAirdrop: z.tuple([Address, U64.min(1, { message: 'must be at least 1 lamport' }), CommitmentConfig])
} as const

export type MethodName = keyof typeof PARAMS
export type MethodParams<M extends MethodName> = z.infer<(typeof PARAMS)[M]>

/** The call's params checked against the method's schema; -32602 naming the first problem. */
export function parseParams<M extends MethodName>(method: M, params: unknown): MethodParams<M> {
  const result = PARAMS[method].safeParse(params === undefined || params === null ? [] : params)
  if (result.success) return result.data as MethodParams<M>
  const issue = result.error.issues[0]!
  if (issue.path.length === 0) {
    if (!Array.isArray(params)) throw invalidParams('params must be an array')
    throw invalidParams(`expected at most ${PARAMS[method].def.items.length} parameters, got ${(params as unknown[]).length}`)
  }
  throw invalidParams(`parameter ${issue.path.map(String).join('.')}: ${issue.message}`)
}
