/**
 * The consumer's session with one exit: dial it by key with a fresh key pair (sessions cannot be
 * linked by key), ask for a tunnel over the session channel, and prove with an echoed probe
 * datagram that the connection carries unordered messages both ways — "opened" alone does not.
 */
import DHT, { type NoiseSocket } from 'hyperdht'
import sodium from 'sodium-native'
import { PROBE_REQUEST, SESSION_VERSION, SessionChannel, type TunnelGrant } from './session-protocol.ts'

export class ExitSession {
  conn: NoiseSocket | null = null
  grant: TunnelGrant | null = null
  private channel: SessionChannel | null = null
  private closed = false
  private readonly dht: DHT
  private readonly publicKey: Buffer
  private readonly wgPublicKey: Buffer
  private readonly timeoutMs: number
  private pendingProbe: { bytes: Buffer; resolve: () => void } | null = null
  /** Called once when the connection to the exit ends after open() succeeded. */
  onclose: (() => void) | null = null

  constructor(opts: { dht: DHT; publicKey: Buffer; wgPublicKey: Buffer; timeoutMs?: number }) {
    this.dht = opts.dht
    this.publicKey = opts.publicKey
    this.wgPublicKey = opts.wgPublicKey
    this.timeoutMs = opts.timeoutMs ?? 10000
  }

  async open(): Promise<TunnelGrant> {
    const conn = this.dht.connect(this.publicKey, { keyPair: DHT.keyPair() })
    this.conn = conn
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

  /** The bridge hands probe replies here. */
  readonly onProbeReply = (buf: Buffer): void => {
    const p = this.pendingProbe
    if (p && buf.length === p.bytes.length && buf.subarray(1).equals(p.bytes.subarray(1))) {
      this.pendingProbe = null
      p.resolve()
    }
  }

  /** Echo a probe datagram through the exit; a few tries with a short timeout each. */
  async probe(tries = 4, timeoutMs = 1000): Promise<number> {
    const conn = this.conn
    if (!conn) throw codeError('CONNECT_FAILED', 'No connection to probe.')
    for (let i = 0; i < tries; i++) {
      const bytes = Buffer.alloc(17)
      sodium.randombytes_buf(bytes)
      bytes[0] = PROBE_REQUEST
      const started = performance.now()
      const answered = new Promise<void>((resolve) => {
        this.pendingProbe = { bytes, resolve }
      })
      conn.send(Buffer.from(bytes))
      const ok = await Promise.race([answered.then(() => true), sleep(timeoutMs).then(() => false)])
      if (ok) return performance.now() - started
    }
    this.pendingProbe = null
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
