/**
 * The blockhashes of the last 150 blocks, by the block height each became the latest at: a
 * transaction may name any of them, as on a real cluster (MAX_PROCESSING_AGE), so a blockhash is
 * good until the block height passes its lastValidBlockHeight (issued height + 150), whatever
 * lands in between. LiteSVM itself accepts only the latest one; the bank asks here first and lets
 * LiteSVM skip its own check for a recent one. Durable nonces never match: a nonce value is a hash
 * of a blockhash, not one.
 */
import { z } from 'zod'

/** Blocks a blockhash stays valid after the one it was issued in (the real RPC's lastValidBlockHeight = height + 150). */
export const BLOCKHASH_LIFETIME_BLOCKS = 150n

export const RecentBlockhashesJson = z.array(z.object({ blockhash: z.string().min(1).max(50), height: z.string().regex(/^\d{1,20}$/) }))
export type RecentBlockhashesJson = z.infer<typeof RecentBlockhashesJson>

export class RecentBlockhashes {
  /** In order of issue (a Map keeps insertion order), oldest first. */
  private readonly heights = new Map<string, bigint>()

  /** `blockhash` became the latest at block height `height`; forgets those no longer valid at it. */
  issue(blockhash: string, height: bigint): void {
    this.heights.delete(blockhash)
    this.heights.set(blockhash, height)
    for (const [old, issued] of this.heights) {
      if (issued + BLOCKHASH_LIFETIME_BLOCKS >= height) break
      this.heights.delete(old)
    }
  }

  /** True when a transaction naming `blockhash` may still run at block height `height`. */
  isValid(blockhash: string, height: bigint): boolean {
    const issued = this.heights.get(blockhash)
    return issued !== undefined && issued + BLOCKHASH_LIFETIME_BLOCKS >= height
  }

  toJson(): RecentBlockhashesJson {
    return [...this.heights].map(([blockhash, height]) => ({ blockhash, height: height.toString() }))
  }

  static fromJson(list: RecentBlockhashesJson): RecentBlockhashes {
    const recent = new RecentBlockhashes()
    for (const { blockhash, height } of list) recent.heights.set(blockhash, BigInt(height))
    return recent
  }
}
