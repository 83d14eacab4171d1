import { describe, expect, it } from 'vitest'
import vm from 'node:vm'
import { BYPASS_RULE_ERROR, compilePac, matchesBypass, parseBypassRule, parseBypassRules, PROXY_ADDRESS_ERROR } from '../../shared/bypass-rules.ts'

const PROXY = '127.0.0.1:18080'
const RULE_TEXTS = [
  'Example.com',
  '*.wild.test',
  'intranet',
  '192.168.1.20',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '100.64.0.0/10',
  'xn--bcher-kva.example',
  'a-b.c-d.org.'
]
const { rules, errors } = parseBypassRules(RULE_TEXTS)

/** [host, expected bypassed] */
const CASES: [string, boolean][] = [
  ['example.com', true],
  ['EXAMPLE.COM', true],
  ['example.com.', true],
  ['www.example.com', true],
  ['a.b.c.example.com', true],
  ['notexample.com', false],
  ['example.com.evil.net', false],
  ['example.co', false],
  ['com', false],
  ['wild.test', false],
  ['a.wild.test', true],
  ['deep.a.wild.test', true],
  ['xwild.test', false],
  ['intranet', true],
  ['host.intranet', true],
  ['intranet.com', false],
  ['192.168.1.20', true],
  ['192.168.1.21', false],
  ['192.168.1.2', false],
  ['10.0.0.1', true],
  ['10.255.255.255', true],
  ['11.0.0.1', false],
  ['9.255.255.255', false],
  ['172.16.0.1', true],
  ['172.31.255.254', true],
  ['172.32.0.1', false],
  ['172.15.255.255', false],
  ['100.64.0.1', true],
  ['100.127.255.255', true],
  ['100.128.0.0', false],
  ['xn--bcher-kva.example', true],
  ['shop.xn--bcher-kva.example', true],
  ['a-b.c-d.org', true],
  ['x.a-b.c-d.org', true],
  ['b.c-d.org', false],
  ['10.0.0.1.example.org', false],
  ['010.0.0.1', false],
  ['256.0.0.1', false],
  ['::1', false],
  ['2001:db8::1', false],
  ['localhost', false],
  ['8.8.8.8', false]
]

function pacFunction(source: string): (url: string, host: string) => string {
  // No PAC helpers are defined on purpose: the script must not need any (no DNS from the PAC).
  const context = vm.createContext({})
  vm.runInContext(source, context, { timeout: 1000 })
  return context.FindProxyForURL as (url: string, host: string) => string
}

describe('bypass rules', () => {
  it('parses the sample list without errors and normalises case and trailing dots', () => {
    expect(errors).toEqual([])
    expect(rules.map((r) => r.text)).toEqual([
      'example.com',
      '*.wild.test',
      'intranet',
      '192.168.1.20',
      '10.0.0.0/8',
      '172.16.0.0/12',
      '100.64.0.0/10',
      'xn--bcher-kva.example',
      'a-b.c-d.org'
    ])
    expect(rules.map((r) => r.kind)).toEqual(['domain', 'subdomains', 'domain', 'ipv4', 'ipv4-cidr', 'ipv4-cidr', 'ipv4-cidr', 'domain', 'domain'])
  })

  it('has a case table of at least 30 hosts', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30)
  })

  it('matcher and compiled PAC agree with the expected table', () => {
    const find = pacFunction(compilePac(rules, PROXY))
    for (const [host, bypassed] of CASES) {
      expect({ host, matcher: matchesBypass(rules, host) }).toEqual({ host, matcher: bypassed })
      expect({ host, pac: find(`https://${host}/`, host) }).toEqual({ host, pac: bypassed ? 'DIRECT' : `PROXY ${PROXY}` })
    }
  })

  it('an empty rule list proxies everything and never goes DIRECT', () => {
    const find = pacFunction(compilePac([], PROXY))
    for (const [host] of CASES) {
      expect(matchesBypass([], host)).toBe(false)
      expect(find(`http://${host}/`, host)).toBe(`PROXY ${PROXY}`)
    }
  })

  it('0.0.0.0/0 bypasses every IPv4 literal but no hostname', () => {
    const all = [parseBypassRule('0.0.0.0/0')]
    const find = pacFunction(compilePac(all, PROXY))
    for (const host of ['1.2.3.4', '255.255.255.255', '0.0.0.0']) {
      expect(matchesBypass(all, host)).toBe(true)
      expect(find('http://x/', host)).toBe('DIRECT')
    }
    expect(matchesBypass(all, 'example.com')).toBe(false)
    expect(find('http://example.com/', 'example.com')).toBe(`PROXY ${PROXY}`)
  })

  it('the PAC uses no DNS-triggering helpers', () => {
    const pac = compilePac(rules, PROXY)
    for (const helper of ['dnsResolve', 'isResolvable', 'isInNet', 'myIpAddress', 'dnsDomainIs', 'shExpMatch']) {
      expect(pac).not.toContain(helper)
    }
  })

  const INVALID: [string, RegExp][] = [
    ['', /empty/],
    ['   ', /empty/],
    ['https://example.com', /scheme/],
    ['example.com/path', /path/],
    ['example.com:443', /port/],
    ['exa mple.com', /spaces/],
    ['a.com,b.com', /one host per rule/],
    ['ex*ample.com', /wildcard/],
    ['*example.com', /wildcard/],
    ['example.*', /wildcard/],
    ['*', /wildcard|domain/],
    ['*.', /domain after the wildcard/],
    ['.example.com', /start with a dot/],
    ['a..b', /two dots/],
    ['exa$mple.com', /letters, digits/],
    ['bü cher.example', /spaces/],
    ['-bad.com', /hyphen/],
    ['bad-.com', /hyphen/],
    ['a'.repeat(64) + '.com', /at most 63/],
    ['a.'.repeat(127) + 'com', /longer than 253/],
    ['256.1.1.1', /not a valid IPv4/],
    ['1.2.3', /not a valid IPv4/],
    ['01.2.3.4', /not a valid IPv4/],
    ['example.123', /cannot end in a number/],
    ['10.0.0.0/33', /prefix/],
    ['10.0.0.0/', /prefix/],
    ['10.0.0.0/08', /prefix/],
    ['10.0.0.1/8', /did you mean 10\.0\.0\.0\/8/],
    ['::1::', /not a valid IPv6/],
    ['[2001:db8::1', /closing "\]" is missing/]
  ]

  it('rejects junk with a clear error per rule', () => {
    for (const [text, message] of INVALID) {
      let error: (Error & { code?: string }) | null = null
      try {
        parseBypassRule(text)
      } catch (err) {
        error = err as Error & { code?: string }
      }
      expect({ text, code: error?.code }).toEqual({ text, code: BYPASS_RULE_ERROR })
      expect(error?.message).toMatch(message)
    }
  })

  it('parseBypassRules reports each invalid rule by index and drops duplicates', () => {
    const result = parseBypassRules(['a.com', 'bad rule', 'A.com', '1.2.3.4/40', 'b.com'])
    expect(result.rules.map((r) => r.text)).toEqual(['a.com', 'b.com'])
    expect(result.errors.map((e) => [e.index, e.rule])).toEqual([
      [1, 'bad rule'],
      [3, '1.2.3.4/40']
    ])
  })

  it('compilePac validates the proxy address', () => {
    for (const bad of ['', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', "x';alert(1)//:80", '127.0.0.1:80; DIRECT']) {
      expect(() => compilePac([], bad)).toThrow(expect.objectContaining({ code: PROXY_ADDRESS_ERROR }))
    }
  })
})
