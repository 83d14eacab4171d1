/**
 * Dials a peer by key over hyperdht, through a blind relay when hole punching cannot work.
 *
 * hyperdht hole-punches between NATs by itself. What it cannot do is connect two peers whose
 * NATs both give every destination a new source port ("randomizing" NATs): then the connection
 * goes through a blind relay (blind-relay-service.ts) offered by a provider, and hyperdht keeps
 * punching in the background and moves the connection off the relay when it can.
 *
 * The policy, as Hyperswarm's:
 *   - our own NAT randomizes (`dht.randomized`), or this peer needed a relay in the last 10
 *     minutes: dial through a relay at once (hyperdht still upgrades to direct when it can), or
 *     directly when no relay is on offer (the peer may be open);
 *   - otherwise dial directly, and when that fails for a hole-punching reason, again through a
 *     relay (the first two relays offered; the second starts when the first fails or has not
 *     paired us within 3 s, and the first to open wins); from behind a NAT, a direct dial
 *     still not open after 3 s gets a relayed one racing it, and the first to open wins (hyperdht
 *     classifies our NAT only after a few DHT round trips, so `randomized` may not be known yet);
 *   - a failed punch with no relay on offer is tried once more after 1 s: a fresh DHT node's view
 *     of its own NAT is not settled at first, and a punch that starts too early aborts.
 *
 *   const dialer = new PeerDialer({ dht, relays: (exclude) => [...] })
 *   const { conn, relay } = await dialer.dial(key, { keyPair, exclude: [circuit hop keys] })
 *   dialer.route(conn, relay)   // 'direct' | 'relayed' right now
 *
 * Which relay: `relays(exclude)` lists candidates, best first, never the target nor a key in
 * `exclude` (the consumer passes every hop of the circuit: a relay that is also a hop would see
 * the consumer's address next to a later hop). The relay learns both peers' addresses and the
 * volume, not the contents: the connection is the two peers' own secret-stream.
 *
 * Errors carry stable codes: NEEDS_RELAY (hole punching impossible and no relay offered),
 * CONNECT_TIMEOUT, and hyperdht's own codes (PEER_NOT_FOUND, HOLEPUNCH_ABORTED, ...).
 */
import type DHT from 'hyperdht'
import type { KeyPair, NoiseSocket } from 'hyperdht'
import { withDeadline } from '../lib/deadline.ts'
import { HOLEPUNCH_FAILURES, OverlayError } from './overlay-errors.ts'
import { CodedError } from '../lib/coded-error.ts'

const REMEMBER_RELAY_MS = 10 * 60_000
const RELAYS_PER_DIAL = 2
/** From behind a NAT, a direct dial not open after this long gets a relayed one racing it. */
const DIRECT_HEAD_START_MS = 3000
/** A relay that has not paired us after this long gets the next relay racing it. */
const RELAY_HEAD_START_MS = 3000
/** With no relay on offer, a failed punch is tried once more after this long. */
const DIRECT_RETRY_MS = 1000

export interface RelayCandidate {
  publicKey: Buffer
  /** The relay's public IPv4 address as published ('' when unknown): tells a relayed route from a direct one. */
  host: string
}

export interface PeerDialerOptions {
  dht: DHT
  /** Blind relays to try, best first; must leave out the keys (hex) in `exclude`. */
  relays: (exclude: ReadonlySet<string>) => RelayCandidate[] | Promise<RelayCandidate[]>
  /** Per attempt (default 15 s; hyperdht gives a relay pairing 15 s of its own). */
  timeoutMs?: number
}

export interface DialOptions {
  keyPair: KeyPair
  /** Keys that must not relay this connection (the circuit's hops). */
  exclude?: Buffer[]
  /** Give up after this long (CONNECT_TIMEOUT); a connection that opens later is closed. */
  deadlineMs?: number
}

export interface DialResult {
  conn: NoiseSocket
  /** The relay the connection was made through (it may have moved off it since), or null. */
  relay: RelayCandidate | null
}

export interface PeerDialerStats {
  direct: number
  relayed: number
  /** Direct dials that failed to punch and were retried through a relay. */
  fallbacks: number
}

/**
 * No direct path and no relay on offer; `punchCode` is hyperdht's reason the punch failed,
 * `weRandomize` whether our own NAT gives every destination a new port.
 */
function needsRelay(punchCode: string, weRandomize: boolean): CodedError {
  const why =
    punchCode === 'HOLEPUNCH_DOUBLE_RANDOMIZED_NATS' || weRandomize
      ? 'both sides are behind NATs that change ports for every connection'
      : `hole punching through the NATs failed (${punchCode})`
  return new CodedError(
    OverlayError.NEEDS_RELAY,
    `This peer cannot be reached directly from your network (${why}), and no provider offering a relay was found. Try again in a minute, or from another network.`
  )
}

export class PeerDialer {
  private readonly opts: Required<PeerDialerOptions>
  private readonly neededRelay = new Map<string, number>()
  private readonly pending = new Set<NoiseSocket>()
  private readonly counters: PeerDialerStats = { direct: 0, relayed: 0, fallbacks: 0 }
  private destroyed = false

  constructor(opts: PeerDialerOptions) {
    this.opts = { timeoutMs: 15_000, ...opts }
  }

  stats(): PeerDialerStats {
    return { ...this.counters }
  }

  /** Connect to `publicKey`; resolves once the connection is open (the remote proved its key). */
  async dial(publicKey: Buffer, opts: DialOptions): Promise<DialResult> {
    const dialing = this.connect(publicKey, opts)
    if (opts.deadlineMs === undefined) return await dialing
    const deadlineMs = opts.deadlineMs
    try {
      return await withDeadline(
        dialing,
        deadlineMs,
        () => new CodedError(OverlayError.CONNECT_TIMEOUT, `The peer did not answer within ${Math.round(deadlineMs / 1000)} s.`)
      )
    } catch (err) {
      dialing.then(
        (d) => d.conn.destroy(),
        () => {}
      )
      throw err
    }
  }

  private async connect(publicKey: Buffer, opts: DialOptions): Promise<DialResult> {
    if (this.destroyed) throw new CodedError(OverlayError.DIALER_CLOSED, 'The dialer is closed.')
    const hex = publicKey.toString('hex')
    const remembered = this.neededRelay.get(hex)
    if (this.opts.dht.randomized || (remembered !== undefined && remembered > Date.now())) {
      try {
        return await this.viaRelay(publicKey, opts)
      } catch (err) {
        // No relay on offer: the peer may still be open, or behind a NAT that keeps ports; try directly.
        if ((err as { code?: string }).code !== 'NEEDS_RELAY') throw err
      }
    }
    return await new Promise<DialResult>((resolve, reject) => {
      let settled = false
      let directTries = 0
      let directPending = false
      let retryScheduled = false
      let relay: 'idle' | 'pending' | 'failed' = 'idle'
      let directError: { code?: string } | null = null
      let relayError: { code?: string } | null = null
      const conns: NoiseSocket[] = []
      const timers: NodeJS.Timeout[] = []
      const settle = (): void => {
        settled = true
        for (const t of timers) clearTimeout(t)
      }
      const win = (result: DialResult): void => {
        if (settled) {
          result.conn.destroy()
          return
        }
        settle()
        for (const other of conns) if (other !== result.conn) other.destroy() // stop the dials that lost
        if (result.relay === null) this.counters.direct++
        resolve(result)
      }
      // Nothing left in flight: fail with the error that says the most.
      const maybeFail = (): void => {
        if (settled || directPending || retryScheduled || relay === 'pending') return
        settle()
        for (const conn of conns) conn.destroy()
        const directIsNat = HOLEPUNCH_FAILURES.has(directError?.code ?? '')
        if (directError && !directIsNat)
          reject(directError) // peer gone, refused: not a NAT problem
        else if (relayError?.code === 'NEEDS_RELAY' && directError) reject(needsRelay(directError.code ?? '', this.opts.dht.randomized))
        else reject(relayError ?? directError)
      }
      const startRelay = (): void => {
        if (settled || relay !== 'idle') return
        relay = 'pending'
        this.viaRelay(publicKey, opts).then(win, (err) => {
          relay = 'failed'
          relayError = err
          maybeRetryDirect()
          maybeFail()
        })
      }
      // A punch can fail because our own NAT view was not settled yet (a fresh DHT node): with no
      // relay to fall back on, one more direct try a second later.
      const maybeRetryDirect = (): void => {
        if (settled || directPending || retryScheduled || directTries >= 2 || relay !== 'failed' || !HOLEPUNCH_FAILURES.has(directError?.code ?? '')) return
        retryScheduled = true
        timers.push(
          setTimeout(() => {
            retryScheduled = false
            startDirect()
          }, DIRECT_RETRY_MS)
        )
      }
      const startDirect = (): void => {
        if (settled) return
        directTries++
        directPending = true
        const attempt = this.attempt(publicKey, opts.keyPair, null)
        conns.push(attempt.conn)
        attempt.opened.then(
          (conn) => win({ conn, relay: null }),
          (err: { code?: string }) => {
            directPending = false
            directError = err
            if (HOLEPUNCH_FAILURES.has(err?.code ?? '')) {
              this.counters.fallbacks++
              this.neededRelay.set(hex, Date.now() + REMEMBER_RELAY_MS)
              startRelay()
              maybeRetryDirect()
            }
            maybeFail()
          }
        )
      }
      startDirect()
      // A dial that has not opened after a head start, from behind a NAT, gets a relayed one racing it
      // (our NAT may randomize before hyperdht has classified it).
      timers.push(
        setTimeout(() => {
          if (this.opts.dht.firewalled) startRelay()
        }, DIRECT_HEAD_START_MS)
      )
    })
  }

  /** Dial through the first of the offered relays that pairs us. */
  private async viaRelay(publicKey: Buffer, opts: DialOptions): Promise<DialResult> {
    const hex = publicKey.toString('hex')
    const exclude = new Set([hex, ...(opts.exclude ?? []).map((k) => k.toString('hex'))])
    const relays = (await this.opts.relays(exclude)).slice(0, RELAYS_PER_DIAL)
    if (relays.length === 0) throw needsRelay('HOLEPUNCH_DOUBLE_RANDOMIZED_NATS', true)
    // The first relay gets a head start; if it has not paired us by then, the next one races it.
    return await new Promise<DialResult>((resolve, reject) => {
      let settled = false
      let failed = 0
      let started = 0
      let last: unknown = null
      const attempts: NoiseSocket[] = []
      let timer: NodeJS.Timeout | null = null
      const start = (): void => {
        if (settled || started >= relays.length) return
        const relay = relays[started++]!
        const attempt = this.attempt(publicKey, opts.keyPair, relay.publicKey)
        attempts.push(attempt.conn)
        attempt.opened.then(
          (conn) => {
            if (settled) {
              conn.destroy()
              return
            }
            settled = true
            if (timer) clearTimeout(timer)
            for (const other of attempts) if (other !== conn) other.destroy()
            this.counters.relayed++
            resolve({ conn, relay })
          },
          (err) => {
            last = err
            if (++failed === relays.length) {
              settled = true
              if (timer) clearTimeout(timer)
              reject(last)
            } else {
              start() // this relay failed: the next one at once
            }
          }
        )
        if (started < relays.length) {
          if (timer) clearTimeout(timer)
          timer = setTimeout(start, RELAY_HEAD_START_MS)
        }
      }
      start()
    })
  }

  /** Whether `conn` goes through `relay` right now (hyperdht moves it off when a punch succeeds). */
  route(conn: NoiseSocket, relay: RelayCandidate | null): 'direct' | 'relayed' {
    if (!relay || !relay.host) return 'direct'
    return conn.rawStream?.remoteHost === relay.host ? 'relayed' : 'direct'
  }

  /** Abort dials in flight. */
  destroy(): void {
    this.destroyed = true
    for (const conn of this.pending) conn.destroy()
    this.pending.clear()
  }

  private attempt(publicKey: Buffer, keyPair: KeyPair, relayThrough: Buffer | null): { conn: NoiseSocket; opened: Promise<NoiseSocket> } {
    const conn = this.opts.dht.connect(publicKey, relayThrough ? { keyPair, relayThrough } : { keyPair })
    this.pending.add(conn)
    conn.on('error', () => {})
    if (this.destroyed) conn.destroy()
    const opened = new Promise<NoiseSocket>((resolve, reject) => {
      let error: unknown = null
      const finish = (err: unknown): void => {
        clearTimeout(timer)
        conn.off('open', onopen)
        conn.off('error', onerror)
        conn.off('close', onclose)
        this.pending.delete(conn)
        if (err) {
          conn.destroy()
          reject(err)
        } else {
          resolve(conn)
        }
      }
      const onopen = (): void => finish(null)
      const onerror = (err: unknown): void => {
        error = err
      }
      const onclose = (): void => finish(error ?? new CodedError(OverlayError.CONNECT_FAILED, 'The peer closed the connection while it was being set up.'))
      const timer = setTimeout(
        () => finish(new CodedError(OverlayError.CONNECT_TIMEOUT, `The peer did not answer within ${Math.round(this.opts.timeoutMs / 1000)} s.`)),
        this.opts.timeoutMs
      )
      conn.on('open', onopen)
      conn.on('error', onerror)
      conn.on('close', onclose)
    })
    return { conn, opened }
  }
}
