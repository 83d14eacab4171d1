import { describe, expect, it } from 'vitest'
import { BYPASS_RULE_ERROR, parseBypassRule, parseBypassRules } from '../../shared/bypass-rules.ts'

/** [input, canonical text, kind] */
const VALID: [string, string, string][] = [
  ['example.com', 'example.com', 'domain'],
  ['  Example.COM.  ', 'example.com', 'domain'],
  ['*.Example.com', '*.example.com', 'subdomains'],
  ['*.example.com.', '*.example.com', 'subdomains'],
  ['bücher.de', 'xn--bcher-kva.de', 'domain'],
  ['BÜCHER.DE', 'xn--bcher-kva.de', 'domain'],
  ['*.bücher.de', '*.xn--bcher-kva.de', 'subdomains'],
  ['xn--bcher-kva.de', 'xn--bcher-kva.de', 'domain'],
  ['ｅｘａｍｐｌｅ．com', 'example.com', 'domain'],
  ['intranet', 'intranet', 'domain'],
  ['_dmarc.example.com', '_dmarc.example.com', 'domain'],
  ['192.168.1.20', '192.168.1.20', 'ipv4'],
  ['192.168.1.20.', '192.168.1.20', 'ipv4'],
  ['10.0.0.0/8', '10.0.0.0/8', 'ipv4-cidr'],
  ['0.0.0.0/0', '0.0.0.0/0', 'ipv4-cidr'],
  ['1.2.3.4/32', '1.2.3.4/32', 'ipv4-cidr'],
  ['::1', '::1', 'ipv6'],
  ['[::1]', '::1', 'ipv6'],
  ['2001:DB8:0:0:0:0:0:1', '2001:db8::1', 'ipv6'],
  ['[2001:0db8::0001]', '2001:db8::1', 'ipv6'],
  ['::ffff:10.0.0.1', '::ffff:a00:1', 'ipv6'],
  ['fd00::/8', 'fd00::/8', 'ipv6-cidr'],
  ['[fd00::]/8', 'fd00::/8', 'ipv6-cidr'],
  ['FE80::/10', 'fe80::/10', 'ipv6-cidr'],
  ['::/0', '::/0', 'ipv6-cidr'],
  ['2001:db8::1/128', '2001:db8::1/128', 'ipv6-cidr'],
  ['<local>', '<local>', 'local'],
  ['<LOCAL>', '<local>', 'local']
]

/** [input, message pattern] for rules users plausibly type that must be refused. */
const INVALID: [string, RegExp][] = [
  ['<localhost>', /only special rule is <local>/],
  ['<-loopback>', /only special rule is <local>/],
  ['http://example.com/', /scheme/],
  ['*://example.com/*', /wildcard|scheme|path/],
  ['user@example.com', /user names/],
  ['example.com:8080', /port/],
  ['localhost:3000', /port/],
  ['[::1]:8080', /port/],
  ['[::1', /closing "\]" is missing/],
  ['[::1]x', /Nothing may follow/],
  ['fe80::1%eth0', /zone/],
  ['[fe80::1%25eth0]', /zone/],
  ['2001:db8::g', /not a valid IPv6/],
  ['1::2::3', /not a valid IPv6/],
  ['1:2:3:4:5:6:7:8:9', /not a valid IPv6/],
  ['fd00::/129', /from 0 to 128/],
  ['fd00::/', /from 0 to 128/],
  ['fd00::/08', /from 0 to 128/],
  ['fd00::1/8', /did you mean fd00::\/8/],
  ['2001:db8::1/32', /did you mean 2001:db8::\/32/],
  ['192.168.1.1/24', /did you mean 192\.168\.1\.0\/24/],
  ['10.0.0.0/-1', /prefix/],
  ['1.2.3.4.5', /not a valid IPv4/],
  ['999.1.1.1', /not a valid IPv4/],
  ['*.*.example.com', /wildcard/],
  ['www.*.example.com', /wildcard/],
  ['*', /domain after the wildcard/],
  ['example.com/', /path/],
  ['.example.com', /start with a dot/],
  ['example..com', /two dots/],
  ['exam!ple.com', /letters, digits/],
  ['bü\u200dcher.de', /international domain name/],
  ['-bücher.de', /hyphen/],
  ['ex ample.com', /spaces/],
  ['a.com;b.com', /one host per rule/],
  [`${'ü'.repeat(70)}.de`, /at most 63/],
  [`${'a'.repeat(250)}.com`, /at most 63|longer than 253/],
  [`${'abc.'.repeat(70)}com`, /longer than 253/],
  ['x'.repeat(600), /longer than/]
]

describe('bypass rule parser', () => {
  it('accepts the syntax users know and canonicalises it', () => {
    for (const [input, text, kind] of VALID) {
      const rule = parseBypassRule(input)
      expect({ input, text: rule.text, kind: rule.kind }).toEqual({ input, text, kind })
      // The canonical text parses to itself.
      expect(parseBypassRule(rule.text).text).toBe(rule.text)
    }
  })

  it(`refuses ${INVALID.length} kinds of invalid rules, each with a message naming the fix`, () => {
    expect(INVALID.length).toBeGreaterThanOrEqual(20)
    for (const [input, message] of INVALID) {
      let error: (Error & { code?: string; rule?: string }) | null = null
      try {
        const rule = parseBypassRule(input)
        error = Object.assign(new Error(`accepted as ${rule.kind} ${rule.text}`), { code: 'ACCEPTED' })
      } catch (err) {
        error = err as Error & { code?: string }
      }
      expect({ input, code: error.code }).toEqual({ input, code: BYPASS_RULE_ERROR })
      expect({ input, message: error.message }).toEqual({ input, message: expect.stringMatching(message) })
      expect(error.message.startsWith('Invalid bypass rule "')).toBe(true)
    }
  })

  it('non-strings are refused, not thrown past the parser', () => {
    const result = parseBypassRules([42 as unknown as string, null as unknown as string, 'ok.example'])
    expect(result.rules.map((r) => r.text)).toEqual(['ok.example'])
    expect(result.errors.map((e) => e.index)).toEqual([0, 1])
  })

  it('drops duplicates by canonical text, across spellings', () => {
    const result = parseBypassRules(['bücher.de', 'XN--BCHER-KVA.DE.', '[::1]', '0:0:0:0:0:0:0:1', '<LOCAL>', '<local>', '10.0.0.0/8', '10.0.0.0/8'])
    expect(result.errors).toEqual([])
    expect(result.rules.map((r) => r.text)).toEqual(['xn--bcher-kva.de', '::1', '<local>', '10.0.0.0/8'])
  })
})
