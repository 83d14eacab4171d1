import crypto from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ProxyCredential } from '../../host/src/consumer/proxy-credential.ts'

afterEach(() => vi.restoreAllMocks())

describe('proxy credential', () => {
  it('accepts only the exact user and password, as a pair', () => {
    const c = new ProxyCredential('mvpn-user', 'pa:ss')
    expect(c.verify('mvpn-user', 'pa:ss')).toBe(true)
    expect(c.verify('mvpn-user', 'pa:sS')).toBe(false)
    expect(c.verify('mvpn-user:pa', 'ss')).toBe(false) // the split point matters
    expect(c.verify('', '')).toBe(false)
    expect(c.verify('mvpn-user', 'pa:ss'.repeat(1000))).toBe(false)
    expect(c.verifyBasicHeader(`Basic ${Buffer.from('mvpn-user:pa:ss').toString('base64')}`)).toBe(true)
    expect(c.verifyBasicHeader(`Basic ${Buffer.from('mvpn-user:wrong').toString('base64')}`)).toBe(false)
    expect(c.verifyBasicHeader('Bearer x')).toBe(false)
    expect(c.verifyBasicHeader(undefined)).toBe(false)
  })

  it('compares in constant time: fixed-size digests through timingSafeEqual, whatever the length offered', () => {
    const c = new ProxyCredential()
    const spy = vi.spyOn(crypto, 'timingSafeEqual')
    for (const offered of ['', 'x', c.password, c.password + 'x', 'y'.repeat(4096)]) c.verify(c.username, offered)
    expect(spy).toHaveBeenCalledTimes(5)
    for (const [a, b] of spy.mock.calls) expect([(a as Buffer).byteLength, (b as Buffer).byteLength]).toEqual([32, 32])
  })

  it('fresh credentials differ every session', () => {
    const a = new ProxyCredential()
    const b = new ProxyCredential()
    expect(a.username).not.toBe(b.username)
    expect(a.password).not.toBe(b.password)
    expect(a.password.length).toBeGreaterThanOrEqual(24)
  })
})
