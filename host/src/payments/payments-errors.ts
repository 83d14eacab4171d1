/**
 * Codes of paying and being paid (payments/): the wallet file, vouchers, and the ledger's RPC.
 * A voucher is refused with exactly one of the VOUCHER_* codes; the message says what is wrong
 * with it, never anything secret.
 */
export const PaymentsError = {
  /** Not a Solana wire transaction at all: garbage, truncated, trailing bytes, over 1232 bytes. */
  VOUCHER_MALFORMED: 'VOUCHER_MALFORMED',
  /** The payer's signature is missing or does not verify over the message. */
  VOUCHER_BAD_SIGNATURE: 'VOUCHER_BAD_SIGNATURE',
  /**
   * A well-formed transaction that is not exactly [AdvanceNonceAccount, TransferSol] signed by
   * the payer alone: other or extra instructions, extra signers, lookup tables, a zero amount,
   * a blockhash lifetime.
   */
  VOUCHER_NOT_A_TRANSFER: 'VOUCHER_NOT_A_TRANSFER',
  /** A transfer to someone other than the expected payee. */
  VOUCHER_WRONG_PAYEE: 'VOUCHER_WRONG_PAYEE',
  /** Paid by a wallet other than the one expected of this link. */
  VOUCHER_WRONG_PAYER: 'VOUCHER_WRONG_PAYER',
  /** On a nonce account, or a nonce value, other than the one expected of this link. */
  VOUCHER_WRONG_NONCE: 'VOUCHER_WRONG_NONCE',
  /** The wallet file is not a Solana CLI keypair (64 numbers whose public half matches the secret half). */
  WALLET_BAD_FILE: 'WALLET_BAD_FILE',
  /** The wallet file may be read or written by others than its owner, or belongs to someone else. */
  WALLET_UNSAFE_FILE: 'WALLET_UNSAFE_FILE',
  /** Nothing answers at the ledger's RPC URL (refused, unresolvable, timed out). */
  RPC_UNREACHABLE: 'RPC_UNREACHABLE',
  /** The ledger answered with an error, or with something that is not the expected answer. */
  RPC_ERROR: 'RPC_ERROR',
  /** The ledger refused a transaction; `detail.reason` is the chain's error name (BlockhashNotFound, AlreadyProcessed, …). */
  TX_REJECTED: 'TX_REJECTED',
  /** A transaction was accepted but not confirmed in time. */
  TX_TIMEOUT: 'TX_TIMEOUT',
  /** The cluster gives no airdrops (only a local ledger and test clusters do). */
  AIRDROP_UNAVAILABLE: 'AIRDROP_UNAVAILABLE',
  /** The payer cannot pay what a transaction costs (amount, rent and fee). */
  INSUFFICIENT_FUNDS: 'INSUFFICIENT_FUNDS',
  /** A voucher whose amount is not above the latest one held (an old one again, or a lower one). */
  VOUCHER_DECREASING: 'VOUCHER_DECREASING',
  /** The very voucher already held, sent again. */
  VOUCHER_REPLAYED: 'VOUCHER_REPLAYED',
  /** A voucher signed on the nonce that a settlement just used up (it crossed the settlement; not the payer's fault). */
  VOUCHER_STALE: 'VOUCHER_STALE',
  /** A voucher that leaves more unpaid than the credit window. */
  VOUCHER_TOO_LOW: 'VOUCHER_TOO_LOW',
  /** The payer's wallet holds less than the voucher pays (it would fail on chain). */
  VOUCHER_UNFUNDED: 'VOUCHER_UNFUNDED',
  /** A vouchers or spending file that does not parse. */
  BOOK_UNREADABLE: 'BOOK_UNREADABLE',
  /** The monthly spending cap the user set is reached: no more vouchers this month. */
  SPENDING_CAP_REACHED: 'SPENDING_CAP_REACHED',
  /** The payee said it settled what it did not (the chain disagrees). */
  PAYEE_LIED: 'PAYEE_LIED',
  /** Payments are not set up here (no RPC URL, no wallet). */
  PAYMENTS_OFF: 'PAYMENTS_OFF'
} as const
