/**
 * The automatic reconnect while the user wants the VPN on and the tunnel is off or failed:
 * one timer at a time, waiting 0 s, 3 s, 10 s, 30 s, then 60 s between attempts. The count
 * starts over once the tunnel is up or the user asks for a connect.
 */
export const RECONNECT_BACKOFF_MS = [0, 3000, 10000, 30000, 60000] as const

export class ReconnectBackoff {
  private timer: ReturnType<typeof setTimeout> | null = null
  private attempts = 0

  /** Whether an attempt is waiting for its timer. */
  get armed(): boolean {
    return this.timer !== null
  }

  /** Run `attempt` after the next delay, unless one is already waiting. */
  schedule(attempt: () => void): void {
    if (this.timer) return
    const delay = RECONNECT_BACKOFF_MS[Math.min(this.attempts, RECONNECT_BACKOFF_MS.length - 1)]!
    this.attempts++
    this.timer = setTimeout(() => {
      this.timer = null
      attempt()
    }, delay)
  }

  /** The next attempt waits the shortest delay again. */
  reset(): void {
    this.attempts = 0
  }

  /** Drop the waiting attempt, if any (the count is kept). */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }
}
