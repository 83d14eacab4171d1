/**
 * The blind relay a provider may offer (`serve`, on by default for relays; `--no-blind-relay`
 * turns it off): two peers whose NATs both randomize ports cannot hole-punch each other, so
 * hyperdht pairs them through a third, reachable node (`relayThrough`, the `blind-relay`
 * protocol on that node's DHT key). The relay matches the two sides by a token they exchanged
 * through the DHT and forwards their UDX packets natively (udx `relayTo`); the packets are the
 * peers' own secret-stream, so the relay sees two addresses and the volume, never the contents.
 * hyperdht keeps hole punching in the background and moves the connection off the relay when it
 * can ("upgrades to direct").
 *
 *   const relay = new BlindRelayService({ dht, maxSessions: 64 })
 *   relay.accept(conn)      // every incoming connection: a peer that never asks is unaffected
 *   relay.stats()           // { sessions, pairings, relayedStreams }
 *   await relay.close()
 *
 * Limits: at most `maxSessions` peers use the relay at once; a peer over the limit has its relay
 * channel closed at once (its dial fails over to another relay). Privacy: nothing is logged.
 */
import type DHT from 'hyperdht'
import type { NoiseSocket } from 'hyperdht'
import { Server as RelayServer, type BlindRelaySession } from 'blind-relay'
import { waitAtMost } from '../lib/deadline.ts'
import { LibError } from '../lib/lib-errors.ts'
import { OverlayError } from './overlay-errors.ts'
import { CodedError } from '../lib/coded-error.ts'

export interface BlindRelayServiceOptions {
  dht: DHT
  /** Peers using the relay at once (default 64). */
  maxSessions?: number
}

export interface BlindRelayStats {
  /** Peers whose relay channel is open now. */
  sessions: number
  /** Pairs of peers connected through us now. */
  pairings: number
  /** Pairs made since start (hyperdht moves a pair off the relay once it can punch through). */
  paired: number
  /** Sessions closed because the limit was reached, since start. */
  refused: number
}

export class BlindRelayService {
  private readonly server: RelayServer
  private readonly maxSessions: number
  private readonly inUse = new WeakSet<NoiseSocket>()
  private openSessions = 0
  private refused = 0
  private closed = false

  constructor(opts: BlindRelayServiceOptions) {
    const maxSessions = opts.maxSessions ?? 64
    if (!Number.isInteger(maxSessions) || maxSessions < 1 || maxSessions > 100_000)
      throw new CodedError(LibError.BAD_ARGUMENT, `Invalid blind relay session limit ${maxSessions}: use 1..100000.`)
    this.maxSessions = maxSessions
    const dht = opts.dht
    this.server = new RelayServer({ createStream: (streamOpts) => dht.createRawStream({ ...streamOpts, framed: true }) })
  }

  /** Offer the relay channel on an incoming connection. */
  accept(conn: NoiseSocket): void {
    if (this.closed) return
    let session: BlindRelaySession
    try {
      session = this.server.accept(conn, { id: conn.remotePublicKey })
    } catch {
      return // the connection is already closing
    }
    let counted = false
    session.on('error', () => {})
    session.on('open', () => {
      if (this.openSessions >= this.maxSessions) {
        this.refused++
        session.destroy(new CodedError(OverlayError.RELAY_BUSY, 'This relay serves as many peers as it allows.'))
        return
      }
      counted = true
      this.openSessions++
      this.inUse.add(conn)
    })
    session.on('close', () => {
      if (!counted) return
      counted = false
      this.openSessions--
      this.inUse.delete(conn)
    })
  }

  /** True while the peer on `conn` uses the relay (its connection must not be closed as idle). */
  serves(conn: NoiseSocket): boolean {
    return this.inUse.has(conn)
  }

  stats(): BlindRelayStats {
    return { sessions: this.openSessions, pairings: this.server.stats.pairings.active, paired: this.server.stats.pairings.matched, refused: this.refused }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const session of [...this.server.sessions]) session.destroy()
    await waitAtMost(this.server.close(), 2000)
  }
}
