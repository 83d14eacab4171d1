import { describe, expect, it } from 'vitest'
import { isBlockedAddress, isBlockedDestination } from '../../host/src/protocol/exit-policy.ts'

describe('exit policy', () => {
  it('keeps private, loopback, link-local, CGNAT and multicast addresses from consumers; public ones pass', () => {
    for (const a of [
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '127.0.0.1',
      '169.254.1.1',
      '100.64.0.1',
      '224.0.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fd00::1',
      'fe80::1',
      'ff02::1',
      '::ffff:8.8.8.8',
      '2001:db8::1'
    ]) {
      expect({ a, blocked: isBlockedAddress(a) }).toEqual({ a, blocked: true })
    }
    for (const a of ['8.8.8.8', '198.18.0.5', '1.1.1.1', '2606:4700::1111']) expect({ a, blocked: isBlockedAddress(a) }).toEqual({ a, blocked: false })
    expect(isBlockedAddress('not an address')).toBe(true)
  })

  it('refuses port 25 and blocked or non-IPv4 destinations for the tunnel', () => {
    expect(isBlockedDestination('198.18.0.5', 80)).toBe(false)
    expect(isBlockedDestination('198.18.0.5', 25)).toBe(true)
    expect(isBlockedDestination('10.0.0.1', 443)).toBe(true)
    expect(isBlockedDestination('2606:4700::1111', 443)).toBe(true)
  })
})
