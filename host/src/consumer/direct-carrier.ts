/**
 * The consumer's session with one exit: dial it by key with a fresh key pair (sessions cannot be
 * linked by key), ask for a tunnel over the session channel, and prove with an echoed probe
 * datagram that the connection carries unordered messages both ways — "opened" alone does not.
 */
import DHT, { type NoiseSocket } from 'hyperdht'
import sodium from 'sodium-native'
import type { PeerDialer, RelayCandidate } from '../overlay/peer-dialer.ts'
import { PROBE_REQUEST, SESSION_VERSION, SessionChannel, type TunnelGrant } from '../protocol/session-protocol.ts'

export class ExitSession {
  conn: NoiseSocket | null = null
  grant: TunnelGrant | null = null
  private channel: SessionChannel | null = null
  private closed = false
  private readonly dialer: PeerDialer
  private relay: RelayCandidate | null = null
  private readonly publicKey: Buffer
  private readonly wgPublicKey: Buffer
  private readonly timeoutMs: number
  private pendingProbe: { sent: Array<{ bytes: Buffer; at: number }>; resolve: (rttMs: number) => void } | null = null
  /** Called once when the connection to the exit ends after open() succeeded. */
  onclose: (() => void) | null = null

  constructor(opts: { dialer: PeerDialer; publicKey: Buffer; wgPublicKey: Buffer; timeoutMs?: number }) {
    this.dialer = opts.dialer
    this.publicKey = opts.publicKey
    this.wgPublicKey = opts.wgPublicKey
    this.timeoutMs = opts.timeoutMs ?? 10000
  }

  /** How the consumer reaches the exit right now: directly, or through a blind relay. */
  get route(): 'direct' | 'relayed' {
    return this.conn ? this.dialer.route(this.conn, this.relay) : 'direct'
  }

  async open(): Promise<TunnelGrant> {
    // A direct dial that cannot punch is retried through a relay: two time windows for the dial.
    const { conn, relay } = await this.dialer.dial(this.publicKey, { keyPair: DHT.keyPair(), deadlineMs: this.timeoutMs * 2 })
    if (this.closed) {
      conn.destroy()
      throw codeError('CONNECT_FAILED', 'The session was closed while connecting.')
    }
    this.conn = conn
    this.relay = relay
    conn.on('error', () => {})
    conn.on('close', () => {
      if (!this.closed) this.onclose?.()
    })
    return await withTimeout(
      new Promise<TunnelGrant>((resolve, reject) => {
        conn.once('close', () => reject(codeError('CONNECT_FAILED', 'The exit closed the connection before granting a tunnel.')))
        this.channel = new SessionChannel(conn, {
          onopen: () => this.channel?.sendRequest({ version: SESSION_VERSION, wgPublicKey: this.wgPublicKey }),
          ongrant: (grant) => {
            this.grant = grant
            resolve(grant)
          },
          onrefusal: (r) => reject(codeError('EXIT_REFUSED', `The exit refused the tunnel (${r.code}): ${r.message}`))
        })
        this.channel.open()
      }),
      this.timeoutMs,
      'CONNECT_TIMEOUT',
      'The exit did not answer in time.'
    )
  }

  /** The bridge hands probe replies here: any probe of the current round counts. */
  readonly onProbeReply = (buf: Buffer): void => {
    const p = this.pendingProbe
    if (!p) return
    for (const sent of p.sent) {
      if (buf.length === sent.bytes.length && buf.subarray(1).equals(sent.bytes.subarray(1))) {
        this.pendingProbe = null
        p.resolve(performance.now() - sent.at)
        return
      }
    }
  }

  /**
   * Echo a probe datagram through the exit. Tries again with a doubling wait (200 ms, 400 ms, …
   * about 5 s in all): the first datagram on a fresh relayed connection is sometimes lost, and a
   * late answer to an earlier try still counts.
   */
  async probe(tries = 5, firstTimeoutMs = 200): Promise<number> {
    const conn = this.conn
    if (!conn) throw codeError('CONNECT_FAILED', 'No connection to probe.')
    let resolve!: (rttMs: number) => void
    const answered = new Promise<number>((r) => (resolve = r))
    const round = { sent: [] as Array<{ bytes: Buffer; at: number }>, resolve }
    this.pendingProbe = round
    let timeoutMs = firstTimeoutMs
    for (let i = 0; i < tries; i++) {
      const bytes = Buffer.alloc(17)
      sodium.randombytes_buf(bytes)
      bytes[0] = PROBE_REQUEST
      round.sent.push({ bytes, at: performance.now() })
      conn.send(Buffer.from(bytes))
      const rtt = await Promise.race([answered, sleep(timeoutMs).then(() => null)])
      if (rtt !== null) return rtt
      timeoutMs = Math.min(timeoutMs * 2, 2000)
    }
    if (this.pendingProbe === round) this.pendingProbe = null
    throw codeError('CONNECT_FAILED', 'The connection to the exit opened but carries no datagrams.')
  }

  async close(): Promise<void> {
    this.closed = true
    this.pendingProbe = null
    const conn = this.conn
    if (!conn || conn.destroyed) return
    await new Promise<void>((resolve) => {
      conn.once('close', () => resolve())
      conn.destroy()
      setTimeout(resolve, 2000).unref()
    })
  }
}

function codeError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

async function withTimeout<T>(p: Promise<T>, ms: number, code: string, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(codeError(code, message)), ms)))])
  } finally {
    clearTimeout(timer)
  }
}
