/**
 * The numbers of the payment protocol (DESIGN.md section 4), one place, both sides:
 *
 *   window      the most a payee can lose to one payer: max(4 MiB at the link's rate, 500 000
 *               lamports). The payee carries at most half a window beyond the latest valid
 *               voucher (throttles, then ends the payer's circuits), and keeps what is not yet
 *               settled on chain under the whole window (settling at half of it): whatever the
 *               payer does — stops paying, voids its nonce, empties its wallet — the payee loses
 *               at most one window.
 *   threshold   a payee settles when the vouchers it holds reach half a window: at least
 *               250 000 lamports = 50 fees, so fees stay under 2% of what is paid.
 *   vouchers    the payer signs a new cumulative voucher whenever what it owes grew by 512 KiB of
 *               data at the link's rate, and stays 1 MiB ahead of the bytes it counted (each
 *               voucher costs both sides a signature and a durable write: at 256 KiB the bench
 *               measured ~45 vouchers/s per link at 150 Mbit/s, too many for 5%), and at most
 *               20 a second per payee (payer-account.ts): on a fast link each covers more.
 *
 * Amounts are lamports (numbers: a link never carries 2^53 of them); rates are lamports per MiB.
 */
export const MIB = 1024 * 1024
/** Solana's base fee per signature (a voucher has one). */
export const FEE_LAMPORTS = 5000
export const WINDOW_BYTES = 4 * MIB
export const MIN_WINDOW_LAMPORTS = 500_000
export const VOUCHER_STEP_BYTES = 512 * 1024
export const VOUCHER_AHEAD_BYTES = 1024 * 1024
/** A payer throttled for being behind this long is refused. */
export const OVERDUE_GRACE_MS = 5000
/** How long a payee waits for a paid link's payer to say who it is. */
export const PAYER_HELLO_TIMEOUT_MS = 10_000

/** Lamports per byte at a rate in lamports per MiB. */
export function perByte(ratePerMiB: number): number {
  return ratePerMiB / MIB
}

export function creditWindow(ratePerMiB: number): number {
  return Math.max(Math.ceil((WINDOW_BYTES / MIB) * ratePerMiB), MIN_WINDOW_LAMPORTS)
}

export function settleThreshold(ratePerMiB: number): number {
  return Math.floor(creditWindow(ratePerMiB) / 2)
}

/** How much more owed makes the payer sign its next voucher. */
export function voucherStep(ratePerMiB: number): number {
  return Math.max(1, Math.ceil((VOUCHER_STEP_BYTES / MIB) * ratePerMiB))
}

export function voucherAhead(ratePerMiB: number): number {
  return Math.ceil((VOUCHER_AHEAD_BYTES / MIB) * ratePerMiB)
}

/** Lamports to SOL for people: 0.000123 SOL. */
export function formatSol(lamports: number): string {
  return `${(lamports / 1e9).toFixed(9).replace(/0+$/, '').replace(/\.$/, '')} SOL`
}
