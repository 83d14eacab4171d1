import { describe, expect, it } from 'vitest'
import { BYPASS_PRESETS, findBypassPreset } from '../../shared/bypass-presets.ts'
import { matchesBypass, parseBypassRules, siteRuleFor } from '../../shared/bypass-rules.ts'

describe('bypass presets', () => {
  it('has banking, streaming and local with unique ids', () => {
    expect(BYPASS_PRESETS.map((p) => p.id)).toEqual(['banking', 'streaming', 'local'])
    expect(findBypassPreset('banking')?.name).toBe('Banking sites')
    expect(findBypassPreset('streaming')?.name).toBe('Streaming services')
    expect(findBypassPreset('local')).toMatchObject({ name: 'Local network', rules: ['<local>'] })
    expect(findBypassPreset('nope')).toBeUndefined()
    expect(findBypassPreset('banking')!.rules.length).toBeGreaterThanOrEqual(20)
  })

  it('every preset rule parses, in canonical form, without duplicates', () => {
    for (const preset of BYPASS_PRESETS) {
      expect(preset.description.length).toBeGreaterThan(10)
      const { rules, errors } = parseBypassRules(preset.rules)
      expect({ id: preset.id, errors }).toEqual({ id: preset.id, errors: [] })
      expect(rules.map((r) => r.text)).toEqual(preset.rules)
    }
  })

  it('covers the sites it promises and leaves YouTube alone', () => {
    const banking = parseBypassRules(findBypassPreset('banking')!.rules).rules
    const streaming = parseBypassRules(findBypassPreset('streaming')!.rules).rules
    for (const host of ['www.paypal.com', 'secure.chase.com', 'www.barclays.co.uk', 'wise.com']) expect(matchesBypass(banking, host)).toBe(true)
    for (const host of ['www.netflix.com', 'ipv4-c001.1.oca.nflxvideo.net', 'www.bbc.co.uk', 'open.spotify.com', 'www.twitch.tv'])
      expect(matchesBypass(streaming, host)).toBe(true)
    expect(matchesBypass(streaming, 'www.youtube.com')).toBe(false)
    expect(matchesBypass(banking, 'example.com')).toBe(false)
  })

  it('presets are frozen', () => {
    expect(Object.isFrozen(BYPASS_PRESETS)).toBe(true)
    expect(() => (BYPASS_PRESETS[0]!.rules as string[]).push('x.com')).toThrow()
  })
})

describe('siteRuleFor', () => {
  const CASES: [string, string | null][] = [
    ['www.example.co.uk', 'example.co.uk'],
    ['example.com', 'example.com'],
    ['a.b.c.example.com', 'example.com'],
    ['WWW.Example.COM.', 'example.com'],
    ['user.github.io', 'user.github.io'],
    ['shop.bücher.de', 'xn--bcher-kva.de'],
    ['www.xn--bcher-kva.de', 'xn--bcher-kva.de'],
    ['site.test', 'site.test'],
    ['a.site.test', 'site.test'],
    ['intranet', 'intranet'],
    ['localhost', 'localhost'],
    ['192.168.1.20', '192.168.1.20'],
    ['[2001:DB8::1]', '2001:db8::1'],
    ['::1', '::1'],
    ['co.uk', null],
    ['github.io', null],
    ['', null],
    ['1::2::3', null]
  ]
  it('gives the registrable domain or the IP literal', () => {
    for (const [host, rule] of CASES) expect({ host, rule: siteRuleFor(host) }).toEqual({ host, rule })
  })
  it('the rule it gives bypasses the host it was made for', () => {
    for (const [host, rule] of CASES) {
      if (rule === null) continue
      expect({ host, bypassed: matchesBypass(parseBypassRules([rule]).rules, host) }).toEqual({ host, bypassed: true })
    }
  })
})
