import { describe, expect, it } from 'vitest'
import {
  DESCRIPTOR_VERSION,
  decodeDescriptor,
  encodeDescriptor,
  MAX_DESCRIPTOR_BYTES,
  type ProviderDescriptor
} from '../../host/src/protocol/provider-descriptor.ts'
import { DEFAULT_EXIT_POLICY } from '../../host/src/system/exit-firewall.ts'
import { PROVIDERS_TOPIC } from '../../host/src/protocol/provider-topic.ts'
import { PRICE_TIERS } from '../../host/src/protocol/price-tiers.ts'

const PAYOUT = '9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin'

function sample(over: Partial<ProviderDescriptor> = {}): ProviderDescriptor {
  return {
    version: DESCRIPTOR_VERSION,
    roles: ['exit'],
    blindRelay: false,
    region: 'eu-west',
    host: '198.18.0.10',
    priceLamportsPerMiB: 1000,
    bandwidthMbps: 100,
    exitPolicy: { blockedCidrs: [...DEFAULT_EXIT_POLICY.blockedCidrs], blockedTcpPorts: [25] },
    wgPublicKey: Buffer.alloc(32, 7),
    payoutAddress: PAYOUT,
    seq: 1_700_000_000_000,
    ...over
  }
}

function code(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}

describe('provider descriptor', () => {
  it('round-trips', () => {
    const d = sample({ roles: ['relay', 'exit'], payoutAddress: '9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin' })
    const buf = encodeDescriptor(d)
    expect(buf.length).toBeLessThanOrEqual(MAX_DESCRIPTOR_BYTES)
    expect(decodeDescriptor(buf)).toEqual(d)
    const relay = sample({ roles: ['relay'], blindRelay: true, exitPolicy: { blockedCidrs: [], blockedTcpPorts: [] }, priceLamportsPerMiB: 0 })
    expect(decodeDescriptor(encodeDescriptor(relay))).toEqual(relay)
    // A volunteer without a wallet.
    const volunteer = sample({ priceLamportsPerMiB: 0, payoutAddress: '' })
    expect(decodeDescriptor(encodeDescriptor(volunteer))).toEqual(volunteer)
  })

  it('takes prices only from the tiers, and a price only with a payout address', () => {
    for (const price of PRICE_TIERS) expect(decodeDescriptor(encodeDescriptor(sample({ priceLamportsPerMiB: price }))).priceLamportsPerMiB).toBe(price)
    expect(code(() => encodeDescriptor(sample({ priceLamportsPerMiB: 1234 })))).toBe('BAD_DESCRIPTOR')
    expect(code(() => encodeDescriptor(sample({ priceLamportsPerMiB: 1000, payoutAddress: '' })))).toBe('BAD_DESCRIPTOR')
    // The same refusals for bytes that arrive: a price off the tiers, a priced descriptor without a payout address.
    const wire = encodeDescriptor(sample({ priceLamportsPerMiB: 0, payoutAddress: '' }))
    const offTier = encodeDescriptor(sample({ priceLamportsPerMiB: 0, payoutAddress: '' }))
    const at = wire.indexOf(Buffer.from('198.18.0.10')) + '198.18.0.10'.length
    offTier[at] = 7 // price 7: a compact uint of one byte, like 0
    expect(code(() => decodeDescriptor(offTier))).toBe('BAD_DESCRIPTOR')
  })

  it('summarises the default exit policy', () => {
    const d = decodeDescriptor(encodeDescriptor(sample()))
    expect(d.exitPolicy.blockedCidrs).toContain('10.0.0.0/8')
    expect(d.exitPolicy.blockedCidrs).not.toContain('198.18.0.0/15')
    expect(d.exitPolicy.blockedTcpPorts).toEqual([25])
  })

  it('refuses to encode bad fields', () => {
    const bads: Array<Partial<ProviderDescriptor>> = [
      { version: DESCRIPTOR_VERSION + 1 },
      { roles: [] },
      { roles: ['exit', 'exit'] },
      { roles: ['bogus' as 'exit'] },
      { blindRelay: 'yes' as unknown as boolean },
      { region: '' },
      { region: 'EU' },
      { region: 'a'.repeat(17) },
      { host: '10.0.0.300' },
      { region: 'eu\nwest' },
      { priceLamportsPerMiB: -1 },
      { priceLamportsPerMiB: 1.5 },
      { bandwidthMbps: 2_000_000 },
      { seq: Number.MAX_SAFE_INTEGER + 2 },
      { wgPublicKey: Buffer.alloc(31) },
      { payoutAddress: 'not-base58-0OIl' },
      { exitPolicy: { blockedCidrs: ['10.0.0.1/8'], blockedTcpPorts: [] } },
      { exitPolicy: { blockedCidrs: ['300.0.0.0/8'], blockedTcpPorts: [] } },
      { exitPolicy: { blockedCidrs: ['10.0.0.0/33'], blockedTcpPorts: [] } },
      { exitPolicy: { blockedCidrs: [], blockedTcpPorts: [0] } },
      { exitPolicy: { blockedCidrs: [], blockedTcpPorts: [70000] } },
      { exitPolicy: { blockedCidrs: Array(33).fill('10.0.0.0/8'), blockedTcpPorts: [] } }
    ]
    for (const over of bads)
      expect(
        code(() => encodeDescriptor(sample(over))),
        JSON.stringify(over)
      ).toBe('BAD_DESCRIPTOR')
  })

  it('rejects every truncation and trailing bytes', () => {
    const buf = encodeDescriptor(sample())
    for (let n = 0; n < buf.length; n++) expect(code(() => decodeDescriptor(buf.subarray(0, n)))).toBe('BAD_DESCRIPTOR')
    expect(code(() => decodeDescriptor(Buffer.concat([buf, Buffer.from([0])])))).toBe('BAD_DESCRIPTOR')
  })

  it('rejects oversized input, wrong versions and unknown roles', () => {
    expect(code(() => decodeDescriptor(Buffer.alloc(MAX_DESCRIPTOR_BYTES + 1)))).toBe('BAD_DESCRIPTOR')
    const buf = encodeDescriptor(sample())
    const v2 = Buffer.from(buf)
    v2[0] = DESCRIPTOR_VERSION + 1
    expect(code(() => decodeDescriptor(v2))).toBe('BAD_DESCRIPTOR')
    const roles = Buffer.from(buf)
    roles[1] = 4 // the blind relay flag alone: neither relay nor exit
    expect(code(() => decodeDescriptor(roles))).toBe('BAD_DESCRIPTOR')
    roles[1] = 8
    expect(code(() => decodeDescriptor(roles))).toBe('BAD_DESCRIPTOR')
    roles[1] = 2 | 4
    expect(decodeDescriptor(roles)).toMatchObject({ roles: ['exit'], blindRelay: true })
    roles[1] = 0
    expect(code(() => decodeDescriptor(roles))).toBe('BAD_DESCRIPTOR')
    // region length byte pointing past the end
    const region = Buffer.from(buf)
    region[2] = 200
    expect(code(() => decodeDescriptor(region))).toBe('BAD_DESCRIPTOR')
  })

  it('never throws anything but BAD_DESCRIPTOR on garbage', () => {
    let seed = 12345
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff
    const valid = encodeDescriptor(sample())
    for (let i = 0; i < 2000; i++) {
      const len = rand() * 4
      const junk = Buffer.alloc(len)
      for (let j = 0; j < len; j++) junk[j] = rand()
      const c1 = code(() => decodeDescriptor(junk))
      expect(c1 === undefined || c1 === 'BAD_DESCRIPTOR').toBe(true)
      // single-byte mutations of a valid descriptor: either valid or BAD_DESCRIPTOR
      const mutated = Buffer.from(valid)
      mutated[rand() % mutated.length] = rand()
      const c2 = code(() => decodeDescriptor(mutated))
      expect(c2 === undefined || c2 === 'BAD_DESCRIPTOR').toBe(true)
    }
    expect(code(() => decodeDescriptor('nope' as unknown as Buffer))).toBe('BAD_DESCRIPTOR')
  })
})

describe('providers topic', () => {
  it('is BLAKE2b-256 of the topic name', () => {
    expect(PROVIDERS_TOPIC.toString('hex')).toBe('c1b7ee80192595153c88010fd53b2ed08afd07fc9c0782aba54a042815d7bd3c')
  })
})
