import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PeerRecord } from '../../shared/native-protocol.ts'
import { MAX_PEERS, NEUTRAL_SCORE, PeerStore, PeersFileSchema, qualityScore } from '../../host/src/consumer/peer-store.ts'

const key = (n: number): Buffer => Buffer.alloc(32, n)
const hex = (n: number): string => key(n).toString('hex')

function code(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}

describe('PeerStore', () => {
  let dir: string
  let clock: number
  const now = () => clock
  const open: PeerStore[] = []

  async function store(opts: { flushDelayMs?: number } = {}): Promise<PeerStore> {
    const s = new PeerStore({ stateDir: dir, now, ...opts })
    await s.open()
    open.push(s)
    return s
  }

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'peer-store-'))
    clock = 1_700_000_000_000
  })

  afterEach(async () => {
    for (const s of open.splice(0)) await s.close().catch(() => {})
    await fs.rm(dir, { recursive: true, force: true })
  })

  it('starts empty without a file and scores unknown peers neutrally', async () => {
    const s = await store()
    expect(s.list()).toEqual([])
    expect(s.score(key(1))).toBe(NEUTRAL_SCORE)
    expect(s.isBlocked(key(1))).toBe(false)
    expect(s.blockReason(key(1))).toBeNull()
  })

  it('accepts Buffer and lowercase hex keys as the same peer, rejects others', async () => {
    const s = await store()
    s.recordSuccess(key(1), { rttMs: 50 })
    s.recordSuccess(hex(1), { rttMs: 50 })
    expect(s.list()).toHaveLength(1)
    expect(s.list()[0]?.successes).toBe(2)
    expect(code(() => s.recordSuccess(Buffer.alloc(31), {}))).toBe('BAD_PEER_KEY')
    expect(code(() => s.recordSuccess(hex(0xab).toUpperCase(), {}))).toBe('BAD_PEER_KEY')
    expect(code(() => s.block('ab', 'x'))).toBe('BAD_PEER_KEY')
    expect(code(() => s.score(hex(1).slice(2)))).toBe('BAD_PEER_KEY')
  })

  it('validates arguments and changes nothing on a bad one', async () => {
    const s = await store()
    expect(code(() => s.block(key(1), 'cheated', 999))).toBe('BAD_ARGUMENT')
    expect(code(() => s.block(key(1), 'cheated', 1500.5))).toBe('BAD_ARGUMENT')
    expect(code(() => s.block(key(1), 'cheated', 366 * 24 * 3600 * 1000))).toBe('BAD_ARGUMENT')
    expect(code(() => s.block(key(1), '   '))).toBe('BAD_ARGUMENT')
    expect(code(() => s.recordSuccess(key(1), { rttMs: -1 }))).toBe('BAD_ARGUMENT')
    expect(code(() => s.recordSuccess(key(1), { throughputMbps: Number.NaN }))).toBe('BAD_ARGUMENT')
    expect(code(() => s.noteProvider(key(1), { roles: ['relay', 'bogus' as 'relay'], region: 'eu' }))).toBe('BAD_ARGUMENT')
    expect(code(() => s.noteProvider(key(1), { roles: ['relay'], region: 'EU WEST' }))).toBe('BAD_ARGUMENT')
    expect(s.list()).toEqual([])
    s.block(key(1), 'cheated', 1000)
    expect(s.isBlocked(key(1))).toBe(true)
  })

  it('trims block reasons to 200 characters', async () => {
    const s = await store()
    s.block(key(1), `  ${'x'.repeat(500)}  `)
    expect(s.blockReason(key(1))).toBe('x'.repeat(200))
    s.block(key(2), '  sent garbage  ')
    expect(s.blockReason(key(2))).toBe('sent garbage')
  })

  it('remembers roles and region, keeps moving averages with alpha 0.3', async () => {
    const s = await store()
    s.noteProvider(key(1), { roles: ['exit', 'relay', 'exit'], region: 'eu' })
    s.recordSuccess(key(1), { rttMs: 100, throughputMbps: 10 })
    s.recordSuccess(key(1), { rttMs: 200 })
    s.recordFailure(key(1), 'handshake timed out')
    const [rec] = s.list()
    expect(rec?.roles).toEqual(['relay', 'exit'])
    expect(rec?.region).toBe('eu')
    expect(rec?.rttMs).toBeCloseTo(0.3 * 200 + 0.7 * 100, 10)
    expect(rec?.throughputMbps).toBe(10)
    expect(rec?.successes).toBe(2)
    expect(rec?.failures).toBe(1)
    expect(s.lastFailure(key(1))).toBe('handshake timed out')
    expect(() => PeerRecord.parse(rec)).not.toThrow()
  })

  it('orders scores by success rate, round trip and throughput; blocked peers score 0', async () => {
    const s = await store()
    for (let i = 0; i < 10; i++) s.recordSuccess(key(1), { rttMs: 20, throughputMbps: 100 }) // good
    for (let i = 0; i < 10; i++) s.recordSuccess(key(2), { rttMs: 400, throughputMbps: 2 }) // slow
    for (let i = 0; i < 10; i++) s.recordFailure(key(3), 'refused') // failing
    s.recordSuccess(key(4), { rttMs: 20, throughputMbps: 100 })
    for (let i = 0; i < 10; i++) s.recordFailure(key(4), 'dropped circuit') // fast but failing
    s.recordSuccess(key(5), { rttMs: 20, throughputMbps: 100 })
    s.block(key(5), 'cheated on payment')

    const good = s.score(key(1))
    expect(good).toBeGreaterThan(NEUTRAL_SCORE)
    expect(good).toBeLessThanOrEqual(1)
    expect(s.score(key(2))).toBeLessThan(good)
    expect(s.score(key(3))).toBeLessThan(NEUTRAL_SCORE)
    expect(s.score(key(3))).toBeGreaterThan(0)
    expect(s.score(key(4))).toBeLessThan(NEUTRAL_SCORE)
    expect(s.score(key(4))).toBeLessThan(s.score(key(2)))
    expect(s.score(key(5))).toBe(0)

    const list = s.list()
    expect(list.map((r) => r.key)).toEqual([hex(5), hex(1), hex(2), hex(4), hex(3)])
    expect(list[0]?.blocked?.reason).toBe('cheated on payment')
    expect(list[0]?.score).toBe(0)
    for (let i = 2; i < list.length; i++) expect(list[i - 1]!.score).toBeGreaterThanOrEqual(list[i]!.score)
  })

  it('keeps scores in (0, 1] at the extremes', () => {
    const extremes = [
      { successes: 0, failures: 1e9, rttMs: 600_000, throughputMbps: 0 },
      { successes: 1e9, failures: 0, rttMs: 0, throughputMbps: 1_000_000 },
      { successes: 0, failures: 0, rttMs: null, throughputMbps: null }
    ]
    for (const p of extremes) {
      const sc = qualityScore(p)
      expect(sc).toBeGreaterThan(0)
      expect(sc).toBeLessThanOrEqual(1)
    }
    expect(qualityScore(extremes[2]!)).toBe(0.5)
  })

  it('blacklist survives restart, with reason and expiry', async () => {
    const a = await store()
    a.noteProvider(key(1), { roles: ['relay'], region: 'us' })
    a.recordSuccess(key(1), { rttMs: 30 })
    a.block(key(2), 'served forged descriptor', 60_000)
    await a.close()

    const b = await store()
    expect(b.isBlocked(key(2))).toBe(true)
    expect(b.blockReason(key(2))).toBe('served forged descriptor')
    expect(b.list().find((r) => r.key === hex(2))?.blocked).toEqual({ reason: 'served forged descriptor', until: clock + 60_000 })
    expect(b.list().find((r) => r.key === hex(1))).toMatchObject({ roles: ['relay'], region: 'us', rttMs: 30, successes: 1 })
    b.unblock(key(2))
    expect(b.isBlocked(key(2))).toBe(false)
    await b.close()

    const c = await store()
    expect(c.isBlocked(key(2))).toBe(false)
    expect(c.score(key(2))).toBeGreaterThan(0)
  })

  it('expires blocks by the injected clock and drops them on load and list', async () => {
    const a = await store()
    a.block(key(1), 'timed out', 10_000)
    a.block(key(2), 'timed out', 100_000)
    expect(a.score(key(1))).toBe(0)
    clock += 10_000
    expect(a.isBlocked(key(1))).toBe(false)
    expect(a.blockReason(key(1))).toBeNull()
    expect(a.score(key(1))).toBe(NEUTRAL_SCORE)
    expect(a.isBlocked(key(2))).toBe(true)
    expect(a.list().find((r) => r.key === hex(1))?.blocked).toBeNull()
    await a.close()
    const saved = PeersFileSchema.parse(JSON.parse(await fs.readFile(path.join(dir, 'peers.json'), 'utf8')))
    expect(saved.peers.find((p) => p.key === hex(1))?.blocked).toBeNull()

    clock += 100_000
    const b = await store()
    expect(b.isBlocked(key(2))).toBe(false)
    expect(b.list().every((r) => r.blocked === null)).toBe(true)
  })

  it('writes peers.json with mode 0600 and a version field', async () => {
    const s = await store()
    s.recordFailure(key(1), 'refused')
    await s.flush()
    const file = path.join(dir, 'peers.json')
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600)
    const data = JSON.parse(await fs.readFile(file, 'utf8'))
    expect(data.v).toBe(1)
    expect(data.peers).toHaveLength(1)
    expect(data.peers[0].lastSeen).toBe(clock)
  })

  it('writes changes after the debounce delay without close()', async () => {
    const s = await store({ flushDelayMs: 20 })
    s.block(key(1), 'cheated')
    const file = path.join(dir, 'peers.json')
    await expect(fs.stat(file)).rejects.toMatchObject({ code: 'ENOENT' })
    await new Promise((resolve) => setTimeout(resolve, 200))
    const data = JSON.parse(await fs.readFile(file, 'utf8'))
    expect(data.peers[0].blocked.reason).toBe('cheated')
  })

  it('moves a corrupt file aside and starts empty', async () => {
    const file = path.join(dir, 'peers.json')
    for (const bad of ['{not json', JSON.stringify({ v: 2, peers: [] }), JSON.stringify({ v: 1, peers: [{ key: 'zz' }] })]) {
      await fs.writeFile(file, bad)
      const s = new PeerStore({ stateDir: dir, now })
      await s.open()
      expect(s.list()).toEqual([])
      expect(s.movedCorruptFile).toBe(`${file}.corrupt`)
      expect(await fs.readFile(`${file}.corrupt`, 'utf8')).toBe(bad)
      await expect(fs.stat(file)).rejects.toMatchObject({ code: 'ENOENT' })
      s.block(key(1), 'cheated')
      await s.close()
      const again = await store()
      expect(again.movedCorruptFile).toBeNull()
      expect(again.isBlocked(key(1))).toBe(true)
      await again.close()
    }
  })

  it('refuses changes before open and after close', async () => {
    const s = new PeerStore({ stateDir: dir, now })
    expect(code(() => s.recordFailure(key(1), 'x'))).toBe('PEER_STORE_NOT_OPEN')
    await s.open()
    await s.close()
    expect(code(() => s.block(key(1), 'x'))).toBe('PEER_STORE_NOT_OPEN')
  })

  it('holds at most 5000 peers, dropping the least recently seen but keeping blocks', async () => {
    const s = await store()
    const k = (i: number) => i.toString(16).padStart(64, '0')
    s.block(k(0), 'cheated', 3600_000)
    for (let i = 1; i <= MAX_PEERS + 10; i++) {
      clock += 1
      s.recordFailure(k(i), 'refused')
    }
    expect(s.size).toBe(MAX_PEERS)
    expect(s.isBlocked(k(0))).toBe(true)
    const keys = new Set(s.list().map((r) => r.key))
    for (let i = 1; i <= 11; i++) expect(keys.has(k(i))).toBe(false)
    expect(keys.has(k(12))).toBe(true)
    expect(keys.has(k(MAX_PEERS + 10))).toBe(true)
    await s.close()
    const data = JSON.parse(await fs.readFile(path.join(dir, 'peers.json'), 'utf8'))
    expect(data.peers).toHaveLength(MAX_PEERS)
    const reopened = await store()
    expect(reopened.size).toBe(MAX_PEERS)
  })
})
