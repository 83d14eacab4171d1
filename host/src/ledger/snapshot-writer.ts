/**
 * Coalesced snapshot writes: one write in flight at a time; changes made meanwhile are all
 * covered by the next write (which captures the state when it starts). `changed()` resolves once a
 * write that includes that change is on disk, so a caller can hold its answer until then.
 *
 *   const writer = new SnapshotWriter(() => writeSnapshot(file, encode(state)))  // encode() runs synchronously
 *   state.apply(tx); await writer.changed()   // the change is durable now
 */
export class SnapshotWriter {
  private version = 0
  /** The last version a write was started for (whatever its outcome). */
  private attempted = 0
  private running: Promise<void> | null = null
  private readonly waiters: Array<{ version: number; resolve: () => void; reject: (err: unknown) => void }> = []
  private written = 0
  private failed = 0

  /** `write` must capture the state synchronously, before its first await. */
  constructor(private readonly write: () => Promise<void>) {}

  /** The state changed; resolves when a snapshot containing the change is on disk, rejects when that write failed. */
  changed(): Promise<void> {
    const version = ++this.version
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ version, resolve, reject }))
    this.kick()
    return done
  }

  stats(): { written: number; failed: number; pending: number } {
    return { written: this.written, failed: this.failed, pending: this.waiters.length }
  }

  private kick(): void {
    if (this.running) return
    this.running = (async () => {
      try {
        await this.loop()
      } finally {
        this.running = null
        // A change made after the loop's last look (between its end and this line) starts the next one.
        if (this.attempted < this.version) this.kick()
      }
    })()
  }

  private async loop(): Promise<void> {
    while (this.attempted < this.version) {
      const target = this.version
      this.attempted = target
      let error: unknown = null
      try {
        await this.write()
        this.written++
      } catch (err) {
        this.failed++
        error = err
      }
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        const waiter = this.waiters[i]!
        if (waiter.version > target) continue
        this.waiters.splice(i, 1)
        if (error === null) waiter.resolve()
        else waiter.reject(error)
      }
    }
  }
}
