/**
 * The prices a provider may publish, in lamports per MiB carried (1 SOL = 10^9 lamports). A
 * descriptor's price must be one of these tiers: with few possible prices, the per-MiB amount a
 * relay is told to pass on (the sum of the prices after it) fits many paths, not one provider.
 *
 * 0 is a volunteer provider. 1 000 lamports/MiB is about 0.001 SOL per GiB.
 */
export const PRICE_TIERS: readonly number[] = [0, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000]

export const MAX_PRICE_TIER = PRICE_TIERS[PRICE_TIERS.length - 1]!

export function isPriceTier(n: unknown): n is number {
  return typeof n === 'number' && PRICE_TIERS.includes(n)
}

/** The tiers as the CLI and errors list them. */
export function priceTierList(): string {
  return PRICE_TIERS.join(', ')
}
