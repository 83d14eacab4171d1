/**
 * The consumer's local knowledge of providers: roles and region from verified descriptors,
 * measured quality (success/failure counts, moving averages of round trip and throughput) and
 * the blacklist (a reason and an expiry per blocked peer). Kept in `<stateDir>/peers.json`
 * (mode 0600, written atomically, `v: 1`), at most MAX_PEERS entries.
 *
 * Lifecycle: open() loads the file (missing = empty; a file that fails validation is moved to
 * `peers.json.corrupt` and the store starts empty, so one bad file never blocks connecting);
 * changes are written at most flushDelayMs after the first unsaved change (the timer does not
 * keep the process alive) and on close(). Reads work at any time; changes need an open store.
 * Nothing is ever logged.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import type { PeerRecord } from '../../../shared/native-protocol.ts'
import { readFileIfExists, writeFileAtomic } from '../lib/atomic-file.ts'
import { ConsumerError } from './consumer-errors.ts'
import { CodedError } from '../lib/coded-error.ts'
import { LibError } from '../lib/lib-errors.ts'

export const PEERS_FILE = 'peers.json'
export const MAX_PEERS = 5000
export const MAX_REASON_CHARS = 200
export const DEFAULT_BLOCK_MS = 24 * 3600 * 1000
export const MIN_BLOCK_MS = 1000
export const MAX_BLOCK_MS = 365 * 24 * 3600 * 1000
export const DEFAULT_FLUSH_DELAY_MS = 1000
/** Score of a peer we know nothing about (and of one whose measurements are all neutral). */
export const NEUTRAL_SCORE = 0.5
/** Weight of a new sample in the moving averages of round trip and throughput. */
export const EWMA_ALPHA = 0.3
/** Bounds for measurements: larger values are nonsense and rejected. */
export const MAX_RTT_MS = 10 * 60 * 1000
export const MAX_THROUGHPUT_MBPS = 1_000_000

export type PeerRole = 'relay' | 'exit'
export type PeerKeyInput = Uint8Array | string

const HEX_KEY = /^[0-9a-f]{64}$/
const REGION = /^[a-z0-9-]{1,16}$/

const Reason = z.string().min(1).max(MAX_REASON_CHARS)
const Time = z.number().int().nonnegative()
const StoredPeer = z.object({
  key: z.string().regex(HEX_KEY),
  roles: z.array(z.enum(['relay', 'exit'])).max(2),
  /** '' until a descriptor was noted (e.g. a peer blocked before it was ever seen). */
  region: z.string().regex(/^[a-z0-9-]{0,16}$/),
  rttMs: z.number().nonnegative().max(MAX_RTT_MS).nullable(),
  throughputMbps: z.number().nonnegative().max(MAX_THROUGHPUT_MBPS).nullable(),
  successes: z.number().int().nonnegative(),
  failures: z.number().int().nonnegative(),
  lastSeen: Time,
  blocked: z.object({ reason: Reason, until: Time }).nullable(),
  lastFailure: z.object({ reason: Reason, at: Time }).nullable()
})
type StoredPeer = z.infer<typeof StoredPeer>

export const PeersFileSchema = z.object({
  v: z.literal(1),
  peers: z.array(StoredPeer).max(MAX_PEERS)
})
export type PeersFile = z.infer<typeof PeersFileSchema>

export interface PeerStoreOptions {
  stateDir: string
  /** Clock in milliseconds (default Date.now), injectable for tests. */
  now?: () => number
  /** Longest time an unsaved change waits before it is written (default 1000 ms). */
  flushDelayMs?: number
}

/** A 32-byte key as 64 lowercase hex characters; throws BAD_PEER_KEY for anything else. */
export function peerKeyHex(key: PeerKeyInput): string {
  if (typeof key === 'string' && HEX_KEY.test(key)) return key
  if (key instanceof Uint8Array && key.byteLength === 32) return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex')
  throw new CodedError(
    ConsumerError.BAD_PEER_KEY,
    'A peer key must be a 32-byte public key (a Buffer or 64 lowercase hex characters); check the key passed in.'
  )
}

/** Trim whitespace, cut to MAX_REASON_CHARS without splitting a surrogate pair; empty is an error. */
function cleanReason(reason: unknown): string {
  if (typeof reason !== 'string') throw new CodedError(LibError.BAD_ARGUMENT, 'A reason must be text describing what the peer did.')
  let text = reason.trim().slice(0, MAX_REASON_CHARS)
  if (/[\uD800-\uDBFF]$/.test(text)) text = text.slice(0, -1)
  text = text.trimEnd()
  if (text === '') throw new CodedError(LibError.BAD_ARGUMENT, 'A reason must not be empty; say what the peer did.')
  return text
}

function checkMeasurement(value: unknown, what: string, max: number): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max)
    throw new CodedError(LibError.BAD_ARGUMENT, `${what} must be a number from 0 to ${max}.`)
  return value
}

function ewma(previous: number | null, sample: number | undefined): number | null {
  if (sample === undefined) return previous
  return previous === null ? sample : EWMA_ALPHA * sample + (1 - EWMA_ALPHA) * previous
}

/**
 * The quality score of a peer, in (0, 1):
 *
 *   success = (successes + 1) / (successes + failures + 2)       Laplace-smoothed success rate
 *   rtt     = 1 / (1 + rttMs / 100)                              1 at 0 ms, 0.5 at 100 ms, 0.25 at 300 ms
 *   speed   = throughputMbps / (throughputMbps + 10)              0 at 0, 0.5 at 10 Mbit/s, saturates towards 1
 *   quality = (rtt + speed) / 2    with 0.5 standing in for a measurement not made yet
 *   score   = sqrt(success × quality)                            geometric mean
 *
 * A peer with no history scores exactly 0.5 (NEUTRAL_SCORE). The geometric mean lets neither
 * part hide the other: a fast peer that keeps failing still scores low. success > 0 and
 * rtt > 0, so the score is never 0 — 0 is reserved for blocked peers (see PeerStore.score).
 */
export function qualityScore(p: { successes: number; failures: number; rttMs: number | null; throughputMbps: number | null }): number {
  const success = (p.successes + 1) / (p.successes + p.failures + 2)
  const rtt = p.rttMs === null ? 0.5 : 1 / (1 + p.rttMs / 100)
  const speed = p.throughputMbps === null ? 0.5 : p.throughputMbps / (p.throughputMbps + 10)
  return Math.sqrt(success * ((rtt + speed) / 2))
}

export class PeerStore {
  readonly file: string
  private movedCorrupt: string | null = null
  private readonly now: () => number
  private readonly flushDelayMs: number
  private peers = new Map<string, StoredPeer>()
  private state: 'new' | 'open' | 'closed' = 'new'
  private dirty = false
  private timer: NodeJS.Timeout | null = null
  private writing: Promise<void> | null = null

  constructor(opts: PeerStoreOptions) {
    if (typeof opts?.stateDir !== 'string' || opts.stateDir === '')
      throw new CodedError(LibError.BAD_ARGUMENT, 'The peer store needs the state directory path.')
    const delay = opts.flushDelayMs ?? DEFAULT_FLUSH_DELAY_MS
    if (!Number.isInteger(delay) || delay < 0 || delay > 3_600_000)
      throw new CodedError(LibError.BAD_ARGUMENT, 'flushDelayMs must be an integer from 0 to 3600000.')
    this.file = path.join(opts.stateDir, PEERS_FILE)
    this.now = opts.now ?? Date.now
    this.flushDelayMs = delay
  }

  async open(): Promise<void> {
    if (this.state === 'open') return
    if (this.state === 'closed') throw new CodedError(ConsumerError.PEER_STORE_CLOSED, 'The peer store was closed; create a new PeerStore to open it again.')
    let text: string | null
    try {
      text = await readFileIfExists(this.file)
    } catch (err) {
      throw new CodedError(
        ConsumerError.PEER_STORE_UNREADABLE,
        `The peer list ${this.file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); check its permissions or delete it.`
      )
    }
    const peers = new Map<string, StoredPeer>()
    if (text !== null) {
      const parsed = parseFile(text)
      if (parsed === null) {
        const moved = `${this.file}.corrupt`
        try {
          await fs.rename(this.file, moved)
          this.movedCorrupt = moved
        } catch {
          // Left in place: the next write replaces it. Starting empty matters more than keeping it.
        }
      } else {
        for (const p of parsed.peers) peers.set(p.key, p)
      }
    }
    this.peers = peers
    this.state = 'open'
    if (this.dropExpiredBlocks()) this.changed()
  }

  /** Write pending changes and stop. Further changes throw PEER_STORE_NOT_OPEN. */
  async close(): Promise<void> {
    if (this.state !== 'open') return
    this.state = 'closed'
    await this.flush()
  }

  /** Write pending changes now (waits for a write already under way). */
  async flush(): Promise<void> {
    this.clearTimer()
    for (;;) {
      if (this.writing) {
        await this.writing.catch(() => {})
        continue
      }
      if (!this.dirty) return
      this.dirty = false
      const data = JSON.stringify(this.snapshot())
      const write = writeFileAtomic(this.file, data, 0o600)
      this.writing = write
      try {
        await write
      } catch (err) {
        this.dirty = true
        throw new CodedError(
          ConsumerError.PEER_STORE_WRITE_FAILED,
          `The peer list ${this.file} could not be saved (${(err as NodeJS.ErrnoException).code ?? 'error'}); check free space and permissions of the state directory.`
        )
      } finally {
        this.writing = null
      }
    }
  }

  /** Remember the roles and region of a verified descriptor. */
  noteProvider(key: PeerKeyInput, info: { roles: PeerRole[]; region: string }): void {
    const hex = peerKeyHex(key)
    if (!Array.isArray(info?.roles) || info.roles.length === 0 || info.roles.some((r) => r !== 'relay' && r !== 'exit'))
      throw new CodedError(LibError.BAD_ARGUMENT, 'roles must be a non-empty list of "relay" and "exit".')
    if (typeof info.region !== 'string' || !REGION.test(info.region))
      throw new CodedError(LibError.BAD_ARGUMENT, 'region must be 1-16 characters of a-z, 0-9 and -.')
    this.assertOpen()
    const p = this.touch(hex)
    p.roles = (['relay', 'exit'] as const).filter((r) => info.roles.includes(r))
    p.region = info.region
    this.changed()
  }

  /** A circuit through the peer worked; fold in what was measured. */
  recordSuccess(key: PeerKeyInput, m: { rttMs?: number; throughputMbps?: number } = {}): void {
    const hex = peerKeyHex(key)
    const rtt = checkMeasurement(m?.rttMs, 'rttMs', MAX_RTT_MS)
    const throughput = checkMeasurement(m?.throughputMbps, 'throughputMbps', MAX_THROUGHPUT_MBPS)
    this.assertOpen()
    const p = this.touch(hex)
    p.successes = Math.min(p.successes + 1, Number.MAX_SAFE_INTEGER)
    p.rttMs = ewma(p.rttMs, rtt)
    p.throughputMbps = ewma(p.throughputMbps, throughput)
    this.changed()
  }

  /** A connection or circuit through the peer failed. The reason is kept as the last failure. */
  recordFailure(key: PeerKeyInput, reason: string): void {
    const hex = peerKeyHex(key)
    const text = cleanReason(reason)
    this.assertOpen()
    const p = this.touch(hex)
    p.failures = Math.min(p.failures + 1, Number.MAX_SAFE_INTEGER)
    p.lastFailure = { reason: text, at: this.now() }
    this.changed()
  }

  /** Blacklist a peer until now + durationMs (integer, 1 s .. 1 year). Blocking again replaces the block. */
  block(key: PeerKeyInput, reason: string, durationMs: number = DEFAULT_BLOCK_MS): void {
    const hex = peerKeyHex(key)
    const text = cleanReason(reason)
    if (!Number.isInteger(durationMs) || durationMs < MIN_BLOCK_MS || durationMs > MAX_BLOCK_MS)
      throw new CodedError(
        LibError.BAD_ARGUMENT,
        `The block duration must be a whole number of milliseconds from ${MIN_BLOCK_MS} to ${MAX_BLOCK_MS} (one year).`
      )
    this.assertOpen()
    const p = this.peers.get(hex) ?? this.touch(hex)
    p.blocked = { reason: text, until: this.now() + durationMs }
    this.changed()
  }

  unblock(key: PeerKeyInput): void {
    const hex = peerKeyHex(key)
    this.assertOpen()
    const p = this.peers.get(hex)
    if (!p?.blocked) return
    p.blocked = null
    this.changed()
  }

  isBlocked(key: PeerKeyInput): boolean {
    return this.activeBlock(peerKeyHex(key)) !== null
  }

  /** The reason of an active block, else null. */
  blockReason(key: PeerKeyInput): string | null {
    return this.activeBlock(peerKeyHex(key))?.reason ?? null
  }

  /** The reason of the latest recorded failure, else null. */
  lastFailure(key: PeerKeyInput): string | null {
    return this.peers.get(peerKeyHex(key))?.lastFailure?.reason ?? null
  }

  /** 0 for a blocked peer, NEUTRAL_SCORE for an unknown one, else qualityScore (see there). */
  score(key: PeerKeyInput): number {
    const hex = peerKeyHex(key)
    if (this.activeBlock(hex)) return 0
    const p = this.peers.get(hex)
    return p ? qualityScore(p) : NEUTRAL_SCORE
  }

  /** Every known peer: blocked ones first, then by score, best first (ties by key). */
  list(): PeerRecord[] {
    if (this.dropExpiredBlocks() && this.state === 'open') this.changed()
    const records: PeerRecord[] = []
    for (const p of this.peers.values()) {
      records.push({
        key: p.key,
        roles: [...p.roles],
        region: p.region,
        rttMs: p.rttMs,
        throughputMbps: p.throughputMbps,
        successes: p.successes,
        failures: p.failures,
        score: p.blocked ? 0 : qualityScore(p),
        blocked: p.blocked ? { ...p.blocked } : null
      })
    }
    return records.sort((a, b) => Number(b.blocked !== null) - Number(a.blocked !== null) || b.score - a.score || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  /** Where open() moved a file that failed validation, else null (for the UI to mention). */
  get movedCorruptFile(): string | null {
    return this.movedCorrupt
  }

  get size(): number {
    return this.peers.size
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw new CodedError(ConsumerError.PEER_STORE_NOT_OPEN, 'The peer store is not open; call open() before recording anything.')
  }

  private activeBlock(hex: string): { reason: string; until: number } | null {
    const b = this.peers.get(hex)?.blocked ?? null
    return b && b.until > this.now() ? b : null
  }

  /** Clear blocks whose time is up; true when any was cleared. */
  private dropExpiredBlocks(): boolean {
    const now = this.now()
    let dropped = false
    for (const p of this.peers.values()) {
      if (p.blocked && p.blocked.until <= now) {
        p.blocked = null
        dropped = true
      }
    }
    return dropped
  }

  /** The record for hex (created when new) with lastSeen = now; keeps the store at MAX_PEERS. */
  private touch(hex: string): StoredPeer {
    let p = this.peers.get(hex)
    if (!p) {
      p = { key: hex, roles: [], region: '', rttMs: null, throughputMbps: null, successes: 0, failures: 0, lastSeen: 0, blocked: null, lastFailure: null }
      this.peers.set(hex, p)
      if (this.peers.size > MAX_PEERS) this.evictOne(hex)
    }
    p.lastSeen = Math.max(p.lastSeen, this.now())
    return p
  }

  /**
   * Drop the least recently seen peer other than `keep`. Peers under an active block go last,
   * so that a flood of new keys cannot push a cheating peer off the blacklist.
   */
  private evictOne(keep: string): void {
    const now = this.now()
    let victim: StoredPeer | null = null
    for (const p of this.peers.values()) {
      if (p.key === keep) continue
      if (victim === null) {
        victim = p
        continue
      }
      const pBlocked = p.blocked !== null && p.blocked.until > now
      const vBlocked = victim.blocked !== null && victim.blocked.until > now
      if (pBlocked !== vBlocked ? vBlocked : p.lastSeen < victim.lastSeen) victim = p
    }
    if (victim) this.peers.delete(victim.key)
  }

  private changed(): void {
    this.dirty = true
    if (this.timer || this.state !== 'open') return
    this.timer = setTimeout(() => {
      this.timer = null
      // A failed write leaves the changes pending; close() or the next change tries again.
      this.flush().catch(() => {})
    }, this.flushDelayMs)
    this.timer.unref()
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  private snapshot(): PeersFile {
    return { v: 1, peers: [...this.peers.values()].map((p) => ({ ...p, roles: [...p.roles] })) }
  }
}

function parseFile(text: string): PeersFile | null {
  try {
    const result = PeersFileSchema.safeParse(JSON.parse(text))
    return result.success ? result.data : null
  } catch {
    return null
  }
}
