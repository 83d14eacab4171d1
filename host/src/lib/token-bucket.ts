/**
 * A byte-rate limiter for the cell path: `take(n)` says whether n bytes may pass now. Refills
 * continuously at `bytesPerSecond` up to `burstBytes` (default: a quarter second of the rate, at
 * least 128 KiB; with 100 ms a TCP download inside WireGuard reached only ~60% of the rate, with
 * 250 ms ~93%, tests/net/relay-limits.test.ts). A rate of 0 means unlimited. Hot path:
 * numbers only, no allocation. Cells over the rate are dropped by the caller, never queued:
 * WireGuard and the TCP inside recover, and memory stays bounded.
 */
import { CodedError } from './coded-error.ts'
import { LibError } from './lib-errors.ts'

export class TokenBucket {
  private readonly rate: number
  private readonly now: () => number
  private readonly burst: number
  private tokens: number
  private last: number

  /** `now`: a millisecond clock (default performance.now), injectable so tests need not race the wall clock. */
  constructor(bytesPerSecond: number, burstBytes = Math.max(128 * 1024, bytesPerSecond / 4), now: () => number = () => performance.now()) {
    if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0)
      throw new CodedError(LibError.BAD_ARGUMENT, `Invalid rate ${bytesPerSecond}: use bytes per second, 0 for unlimited.`)
    this.rate = bytesPerSecond / 1000
    this.burst = burstBytes
    this.tokens = burstBytes
    this.now = now
    this.last = now()
  }

  get unlimited(): boolean {
    return this.rate === 0
  }

  take(bytes: number): boolean {
    if (this.rate === 0) return true
    const now = this.now()
    const tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.rate)
    this.last = now
    if (tokens < bytes) {
      this.tokens = tokens
      return false
    }
    this.tokens = tokens - bytes
    return true
  }
}
