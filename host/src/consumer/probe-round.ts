/**
 * One probe round: send a probe through a carrier, and again with a doubling wait (200 ms,
 * 400 ms, … about 5 s in all) until one comes back: the first datagram on a fresh relayed
 * connection is sometimes lost, and a late answer to an earlier try still counts. Replies are
 * matched by all their bytes, so they cannot be guessed.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { CodedError } from '../lib/coded-error.ts'
import { createProbe, echoes, UNTIMED_PROBE_ID } from '../protocol/probe.ts'
import { ConsumerError } from './consumer-errors.ts'

export class ProbeRound {
  private pending: { sent: Array<{ bytes: Buffer; at: number }>; resolve: (rttMs: number) => void } | null = null

  /** Send probes with `send` until one is echoed; resolves with its round trip in ms. */
  async run(send: (probe: Buffer) => void, what: string, tries = 5, firstTimeoutMs = 200): Promise<number> {
    let resolve!: (rttMs: number) => void
    const answered = new Promise<number>((r) => (resolve = r))
    const round = { sent: [] as Array<{ bytes: Buffer; at: number }>, resolve }
    this.pending = round
    let timeoutMs = firstTimeoutMs
    try {
      for (let i = 0; i < tries; i++) {
        const bytes = createProbe(UNTIMED_PROBE_ID)
        round.sent.push({ bytes, at: performance.now() })
        send(Buffer.from(bytes))
        const rtt = await Promise.race([answered, sleep(timeoutMs, null)])
        if (rtt !== null) return rtt
        timeoutMs = Math.min(timeoutMs * 2, 2000)
      }
    } finally {
      if (this.pending === round) this.pending = null
    }
    throw new CodedError(ConsumerError.CONNECT_FAILED, `The connection to ${what} opened but carries no datagrams.`)
  }

  /** A probe reply at buf[offset, offset + length); true when it answered the round. */
  onReply(buf: Buffer, offset: number, length: number): boolean {
    const p = this.pending
    if (!p) return false
    for (const sent of p.sent) {
      if (echoes(buf, offset, length, sent.bytes)) {
        this.pending = null
        p.resolve(performance.now() - sent.at)
        return true
      }
    }
    return false
  }

  cancel(): void {
    this.pending = null
  }
}
