import { describe, expect, it } from 'vitest'
import { selectPath, type PathCandidate, type PathRequest } from '../../host/src/consumer/path-selection.ts'
import { DESCRIPTOR_VERSION, type ProviderDescriptor } from '../../host/src/protocol/provider-descriptor.ts'

/** Deterministic uniform [0, 1) (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function peer(id: number, over: Partial<ProviderDescriptor> = {}): PathCandidate {
  return {
    publicKey: Buffer.alloc(32, id),
    descriptor: {
      version: DESCRIPTOR_VERSION,
      roles: ['relay'],
      blindRelay: false,
      region: 'eu',
      host: `10.${id}.0.1`,
      priceLamportsPerMiB: 0,
      bandwidthMbps: 100,
      exitPolicy: { blockedCidrs: [], blockedTcpPorts: [] },
      wgPublicKey: Buffer.alloc(32, 200),
      payoutAddress: '',
      seq: 1,
      ...over
    }
  }
}
const exit = (id: number, over: Partial<ProviderDescriptor> = {}) => peer(id, { roles: ['exit'], ...over })
const relay = (id: number, over: Partial<ProviderDescriptor> = {}) => peer(id, { roles: ['relay'], ...over })
const id = (c: PathCandidate | undefined) => c?.publicKey[0]
const hex = (n: number) => Buffer.alloc(32, n).toString('hex')
const neutral = () => 0.5

function select(over: Partial<PathRequest> & Pick<PathRequest, 'candidates'>, seed = 1): PathCandidate[] {
  return selectPath({ hops: 3, score: neutral, random: seeded(seed), ...over })
}

function failure(fn: () => unknown): { code?: string; message: string } {
  try {
    fn()
  } catch (err) {
    return err as { code?: string; message: string }
  }
  throw new Error('expected an error')
}

describe('selectPath', () => {
  it('validates the hop count', () => {
    for (const hops of [0, 4, 1.5, Number.NaN, '2' as unknown as number]) {
      expect(failure(() => select({ hops, candidates: [exit(1)] })).code).toBe('INVALID_HOPS')
    }
  })

  it('builds entry, middle, exit in that order with the right roles', () => {
    const candidates = [exit(1), relay(2), relay(3), exit(4, { region: 'us' })]
    for (let seed = 1; seed <= 50; seed++) {
      const path = select({ candidates }, seed)
      expect(path).toHaveLength(3)
      expect(path[2]?.descriptor.roles).toContain('exit')
      expect(path[0]?.descriptor.roles).toContain('relay')
      expect(path[1]?.descriptor.roles).toContain('relay')
      expect(new Set(path.map(id)).size).toBe(3)
    }
    expect(selectPath({ hops: 1, candidates: [relay(2), exit(1)], score: neutral }).map(id)).toEqual([1])
    const two = selectPath({ hops: 2, candidates: [relay(2), exit(1)], score: neutral })
    expect(two.map(id)).toEqual([2, 1])
  })

  it('never uses an exit-only peer as a relay, and uses a relay+exit peer once at most', () => {
    const candidates = [exit(1), exit(2), peer(3, { roles: ['relay', 'exit'] }), relay(4)]
    for (let seed = 1; seed <= 200; seed++) {
      const path = select({ candidates }, seed)
      expect(path.slice(0, 2).every((p) => p.descriptor.roles.includes('relay'))).toBe(true)
      expect(new Set(path.map(id)).size).toBe(3)
      // Both relays are needed as relays, so the exit is one of the exit-only peers.
      expect([1, 2]).toContain(id(path[2]))
    }
  })

  it('honours the region and the pinned exit', () => {
    const candidates = [exit(1, { region: 'eu' }), exit(2, { region: 'us' }), exit(3, { region: 'us' }), relay(4), relay(5)]
    for (let seed = 1; seed <= 50; seed++) {
      expect(id(select({ candidates, region: 'us' }, seed)[2])).not.toBe(1)
      expect(id(select({ candidates, exit: Buffer.alloc(32, 3) }, seed)[2])).toBe(3)
    }
    const err = failure(() => select({ candidates, region: 'us', exit: Buffer.alloc(32, 1) }))
    expect(err.code).toBe('NO_PATH')
    expect(err.message).toMatch(/no longer online in region us/)
    expect(failure(() => select({ candidates, exit: Buffer.alloc(32, 9) })).message).toMatch(/^The exit 09090909… is no longer online/)
  })

  it('never chooses excluded or zero-score peers', () => {
    const candidates = [exit(1), exit(2), relay(3), relay(4), relay(5), relay(6)]
    const exclude = [hex(3), hex(4).toUpperCase()]
    const score = (k: Buffer) => (k[0] === 2 ? 0 : 0.5)
    for (let seed = 1; seed <= 100; seed++) {
      const path = select({ candidates, exclude, score }, seed)
      expect(path.map(id).sort()).toEqual([1, 5, 6])
    }
    const pinned = failure(() => select({ candidates, exit: Buffer.alloc(32, 2), score }))
    expect(pinned.code).toBe('NO_PATH')
    expect(pinned.message).toMatch(/blocked or unusable/)
  })

  it('never picks a blocked relay over 1000 random draws', () => {
    const candidates = [exit(1), relay(2), relay(3), relay(4)]
    const score = (k: Buffer) => (k[0] === 3 ? 0 : 0.9)
    const random = seeded(42)
    const seen = new Set<number | undefined>()
    for (let i = 0; i < 1000; i++) {
      const path = selectPath({ hops: 3, candidates, score, random })
      for (const p of path) seen.add(id(p))
    }
    expect(seen.has(3)).toBe(false)
    expect([...seen].sort()).toEqual([1, 2, 4])
  })

  it('keeps every peer of a path in its own /16; host-less peers conflict with nobody', () => {
    // 10.1/16 holds the exit and relay 2; relays 3 and 4 share 10.3/16.
    const candidates = [
      exit(1, { host: '10.1.0.1' }),
      relay(2, { host: '10.1.200.7' }),
      relay(3, { host: '10.3.0.1' }),
      relay(4, { host: '10.3.99.1' }),
      relay(5, { host: '10.5.0.1' })
    ]
    const seen = new Set<number | undefined>()
    for (let seed = 1; seed <= 300; seed++) {
      const path = select({ candidates }, seed)
      const nets = path.map((p) => p.descriptor.host.split('.').slice(0, 2).join('.'))
      expect(new Set(nets).size).toBe(3)
      expect(path.map(id)).not.toContain(2)
      for (const p of path) seen.add(id(p))
    }
    expect(seen).toEqual(new Set([1, 3, 4, 5]))

    // Two host-less relays may share a path, and may sit beside the exit's network.
    const hostless = [exit(1, { host: '10.1.0.1' }), relay(2, { host: '' }), relay(3, { host: '' })]
    expect(select({ candidates: hostless }).map(id).sort()).toEqual([1, 2, 3])

    // Only relays in the exit's /16: no path.
    const err = failure(() => select({ hops: 2, candidates: [exit(1, { host: '10.1.0.1' }), relay(2, { host: '10.1.5.5' })] }))
    expect(err.code).toBe('NO_PATH')
  })

  it('looks ahead so that the exit and middle chosen leave room for the rest', () => {
    // Exit 1 shares 10.7/16 with the only other /16 of relays; exit 2 does not.
    const candidates = [
      exit(1, { host: '10.7.0.1' }),
      exit(2, { host: '10.8.0.1' }),
      relay(3, { host: '10.7.1.1' }),
      relay(4, { host: '10.9.0.1' }),
      relay(5, { host: '10.9.0.2' })
    ]
    for (let seed = 1; seed <= 200; seed++) {
      const path = select({ candidates, score: (k) => (k[0] === 1 ? 1 : 0.01) }, seed)
      expect(id(path[2])).toBe(2)
      expect(id(path[0]) === 3 || id(path[1]) === 3).toBe(true)
    }
  })

  it('weights by score and price', () => {
    const random = seeded(7)
    const count = (candidates: PathCandidate[], score: PathRequest['score']) => {
      const tally = new Map<number | undefined, number>()
      for (let i = 0; i < 2000; i++) {
        const entry = id(selectPath({ hops: 2, candidates, score, random })[0])
        tally.set(entry, (tally.get(entry) ?? 0) + 1)
      }
      return tally
    }
    // Score 0.9 against 0.1: expected 90% / 10%.
    const byScore = count([exit(1), relay(2), relay(3)], (k) => (k[0] === 2 ? 0.9 : 0.1))
    expect(byScore.get(2)).toBeGreaterThan(1600)
    expect(byScore.get(3)).toBeGreaterThan(50)
    // Same score, price 0 against 9000 lamports/MiB: factors 1 and 0.1.
    const byPrice = count([exit(1), relay(2, { priceLamportsPerMiB: 0 }), relay(3, { priceLamportsPerMiB: 9000 })], neutral)
    expect(byPrice.get(2)).toBeGreaterThan(1600)
    expect(byPrice.get(3)).toBeGreaterThan(50)
  })

  it('says what is missing when no path exists', () => {
    const noExit = failure(() => select({ candidates: [relay(2), relay(3)] }))
    expect(noExit).toMatchObject({ code: 'NO_PATH', message: 'No exit is online. Try again later.' })

    const noRegion = failure(() => select({ candidates: [exit(1, { region: 'us' }), relay(2), relay(3)], region: 'eu' }))
    expect(noRegion.code).toBe('NO_PATH')
    expect(noRegion.message).toMatch(/^No exit in region eu is online\./)

    const allBlocked = failure(() => select({ candidates: [exit(1), exit(4), relay(2), relay(3)], score: (k) => (k[0] === 1 || k[0] === 4 ? 0 : 1) }))
    expect(allBlocked.message).toMatch(/^All 2 exits online are blocked or unusable\./)

    const oneRelay = failure(() => select({ candidates: [exit(1), relay(2)] }))
    expect(oneRelay.code).toBe('NO_PATH')
    expect(oneRelay.message).toBe(
      "Only 1 relay outside the exit's network is available; Balanced needs 1 and Privacy needs 2. Choose a lower connection mode or try again later."
    )
    // The same candidates do make a Balanced path.
    expect(select({ hops: 2, candidates: [exit(1), relay(2)] }).map(id)).toEqual([2, 1])

    const noRelay = failure(() => select({ hops: 2, candidates: [exit(1), relay(2, { host: '10.1.9.9' })] }))
    expect(noRelay.message).toMatch(/^No relay outside the exit's network is available; .* Choose Speed mode or try again later\.$/)
  })

  it('ignores malformed candidates and counts a repeated key once', () => {
    const bad: PathCandidate[] = [
      { publicKey: Buffer.alloc(31, 9), descriptor: exit(9).descriptor },
      exit(8, { host: 'not-an-ip' }),
      exit(7, { priceLamportsPerMiB: -1 })
    ]
    expect(failure(() => select({ hops: 1, candidates: bad })).message).toMatch(/^No exit is online/)
    // Relay 2 listed twice is still one relay: Privacy needs two.
    const twice = failure(() => select({ candidates: [exit(1), relay(2), relay(2, { seq: 2 })] }))
    expect(twice.message).toMatch(/^Only 1 relay/)
  })
})
