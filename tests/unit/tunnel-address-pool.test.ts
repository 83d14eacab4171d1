import { describe, expect, it } from 'vitest'
import { TunnelAddressPool } from '../../host/src/provider/exit/tunnel-address-pool.ts'

describe('tunnel address pool', () => {
  it('hands out 10.77.0.2 first and never the gateway', () => {
    const pool = new TunnelAddressPool()
    expect(pool.allocate()).toBe('10.77.0.2')
    expect(pool.allocate()).toBe('10.77.0.3')
    expect(pool.has('10.77.0.2')).toBe(true)
    expect(pool.has('10.77.0.1')).toBe(false)
  })

  it('covers 10.77.0.2 .. 10.77.255.254 without duplicates', () => {
    const pool = new TunnelAddressPool()
    const seen = new Set<string>()
    for (;;) {
      const a = pool.allocate()
      if (a === null) break
      if (seen.has(a)) throw new Error(`duplicate ${a}`)
      seen.add(a)
    }
    expect(seen.size).toBe(65533)
    expect(seen.has('10.77.0.1')).toBe(false)
    expect(seen.has('10.77.0.0')).toBe(false)
    expect(seen.has('10.77.255.255')).toBe(false)
    expect(seen.has('10.77.255.254')).toBe(true)
    expect(pool.full).toBe(true)
    expect(pool.release('10.77.10.10')).toBe(true)
    expect(pool.allocate()).toBe('10.77.10.10')
  })

  it('respects the limit and reuses released addresses only after the others', () => {
    const pool = new TunnelAddressPool({ limit: 3 })
    const a = pool.allocate()
    const b = pool.allocate()
    const c = pool.allocate()
    expect([a, b, c]).toEqual(['10.77.0.2', '10.77.0.3', '10.77.0.4'])
    expect(pool.allocate()).toBe(null)
    expect(pool.release('10.77.0.3')).toBe(true)
    expect(pool.release('10.77.0.3')).toBe(false)
    expect(pool.release('garbage')).toBe(false)
    expect(pool.size).toBe(2)
    expect(pool.allocate()).toBe('10.77.0.5')
    expect(pool.allocate()).toBe(null)
  })

  it('works on a small subnet with a gateway in the middle', () => {
    const pool = new TunnelAddressPool({ subnet: '192.168.5.0/29', gateway: '192.168.5.3' })
    const got = []
    for (let a = pool.allocate(); a !== null; a = pool.allocate()) got.push(a)
    expect(got).toEqual(['192.168.5.1', '192.168.5.2', '192.168.5.4', '192.168.5.5', '192.168.5.6'])
  })

  it('rejects bad configuration', () => {
    expect(() => new TunnelAddressPool({ subnet: '10.77.0.1/16' })).toThrow()
    expect(() => new TunnelAddressPool({ subnet: '10.77.0.0/31' })).toThrow()
    expect(() => new TunnelAddressPool({ gateway: '10.78.0.1' })).toThrow()
  })
})
