/** Summary of repeated measurements: every sample kept, plus median, min and max. */
export interface SampleSummary {
  n: number
  median: number
  min: number
  max: number
  samples: number[]
}

export function summarize(samples: readonly number[]): SampleSummary {
  const sorted = [...samples].sort((a, b) => a - b)
  const n = sorted.length
  if (n === 0) return { n: 0, median: Number.NaN, min: Number.NaN, max: Number.NaN, samples: [] }
  const mid = Math.floor(n / 2)
  const median = n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { n, median: round(median), min: round(sorted[0]!), max: round(sorted[n - 1]!), samples: samples.map(round) }
}

/** Three significant decimals are plenty for figures this noisy. */
export function round(x: number): number {
  return Math.round(x * 1000) / 1000
}

/** The p-th percentile (0..100) by nearest rank. */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return round(sorted[rank]!)
}
