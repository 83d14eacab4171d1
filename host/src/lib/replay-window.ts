/**
 * A sliding anti-replay window over 64-bit (here: safe-integer) sequence numbers, as WireGuard
 * and IPsec keep one (RFC 6479): a ring of 32-bit words, so moving the window forward clears
 * whole words instead of shifting bits. Cells travel as unordered datagrams, so a sequence
 * number may arrive late; it is accepted once while it is inside the window and never again.
 *
 * Use: `check(seq)` before authenticating, `mark(seq)` only after the cell authenticated (so a
 * forged cell cannot burn sequence numbers). No allocation per call.
 */
import { CodedError } from './coded-error.ts'
import { LibError } from './lib-errors.ts'

export const DEFAULT_REPLAY_WINDOW_BITS = 2048

export class ReplayWindow {
  /** Sequence numbers this far or further below the highest accepted one are rejected. */
  readonly size: number
  private readonly words: Uint32Array
  private readonly mask: number
  private top = -1

  constructor(bits = DEFAULT_REPLAY_WINDOW_BITS) {
    const words = bits / 32
    if (!Number.isInteger(words) || words < 2 || (words & (words - 1)) !== 0) {
      throw new CodedError(LibError.BAD_ARGUMENT, `Replay window of ${bits} bits: use a power of two of at least 64.`)
    }
    this.words = new Uint32Array(words)
    this.mask = words - 1
    // One word is the one being filled; the window covers the others.
    this.size = (words - 1) * 32
  }

  /** The highest sequence number marked so far (-1 before the first). */
  get highest(): number {
    return this.top
  }

  /** Would `seq` be accepted? Does not change state. */
  check(seq: number): boolean {
    if (seq > this.top) return true
    if (this.top - seq >= this.size) return false
    return (this.words[Math.floor(seq / 32) & this.mask]! & (1 << (seq & 31))) === 0
  }

  /** Record `seq` as seen. Call only after `check(seq)` returned true and the cell authenticated. */
  mark(seq: number): void {
    if (seq > this.top) {
      const current = Math.floor(this.top / 32)
      let advance = Math.floor(seq / 32) - current
      if (advance > this.words.length) advance = this.words.length
      for (let i = 1; i <= advance; i++) this.words[(current + i) & this.mask] = 0
      this.top = seq
    }
    const index = Math.floor(seq / 32) & this.mask
    this.words[index] = this.words[index]! | (1 << (seq & 31))
  }

  /** check + mark in one step, for callers that have already authenticated the cell. */
  accept(seq: number): boolean {
    if (!this.check(seq)) return false
    this.mark(seq)
    return true
  }
}
