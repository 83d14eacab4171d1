/**
 * The in-memory matcher and the compiled PAC (run in a sandbox with Chrome's PAC helpers, DNS
 * helpers throwing) must agree with an expected value on every case of one table.
 */
import { describe, expect, it } from 'vitest'
import { BypassMatcher, compilePac, matchesBypass, normalizeHost, parseBypassRules, parseIPv6 } from '../../shared/bypass-rules.ts'
import { pacSandbox } from './bypass-pac-sandbox.ts'

const PROXY = '127.0.0.1:18080'
const LONG_RULE = `${'l'.repeat(63)}.${'m'.repeat(63)}.${'n'.repeat(63)}.org`

const GENERAL_RULES = [
  'Example.com',
  '*.wild.test',
  'intranet',
  '192.168.1.20',
  '10.0.0.0/8',
  '100.64.0.0/10',
  'bücher.de',
  'xn--mnchen-3ya.example',
  '[2001:db8::1]',
  '2001:db8:1::/48',
  '2001:db8:ff00::/40',
  'a_b.example.org',
  LONG_RULE
]

/** [host, expected bypassed] for GENERAL_RULES. */
const GENERAL_CASES: [string, boolean][] = [
  // bare domain: itself and subdomains, case, trailing dot, suffix tricks
  ['example.com', true],
  ['EXAMPLE.COM', true],
  ['example.com.', true],
  ['www.example.com', true],
  ['WWW.Example.Com.', true],
  ['a.b.c.example.com', true],
  ['notexample.com', false],
  ['wwwexample.com', false],
  ['example.com.evil.net', false],
  ['example.co', false],
  ['com', false],
  // wildcard: subdomains only
  ['wild.test', false],
  ['a.wild.test', true],
  ['A.WILD.TEST.', true],
  ['deep.a.wild.test', true],
  ['xwild.test', false],
  // dotless rule
  ['intranet', true],
  ['INTRANET.', true],
  ['host.intranet', true],
  ['intranet.com', false],
  ['printer', false],
  // IPv4 and CIDR
  ['192.168.1.20', true],
  ['192.168.1.21', false],
  ['192.168.1.2', false],
  ['192.168.1.200', false],
  ['10.0.0.1', true],
  ['10.255.255.255', true],
  ['11.0.0.1', false],
  ['9.255.255.255', false],
  ['100.64.0.1', true],
  ['100.127.255.255', true],
  ['100.128.0.0', false],
  ['010.0.0.1', false],
  ['256.0.0.1', false],
  ['10.0.0.1.example.org', false],
  ['10.0.0', false],
  // IDN: rules and hosts meet in punycode
  ['bücher.de', true],
  ['BÜCHER.DE', true],
  ['bücher.de.', true],
  ['xn--bcher-kva.de', true],
  ['shop.bücher.de', true],
  ['shop.xn--bcher-kva.de', true],
  ['bucher.de', false],
  ['bücher.de.evil.com', false],
  ['münchen.example', true],
  ['MÜNCHEN.example.', true],
  ['münchen.other', false],
  // IPv6 (each also checked with the other bracket form below)
  ['2001:db8::1', true],
  ['[2001:db8::1]', true],
  ['2001:DB8:0:0:0:0:0:1', true],
  ['[2001:0db8::0001]', true],
  ['2001:db8::2', false],
  ['2001:db8:1::5', true],
  ['[2001:db8:1:ffff::1]', true],
  ['2001:db8:2::1', false],
  ['2001:db8:ff12::1', true],
  ['2001:db8:feff::1', false],
  ['::1', false],
  ['::ffff:10.0.0.1', true],
  ['[::ffff:a00:1]', true],
  ['::ffff:11.0.0.1', false],
  ['::10.0.0.1', false],
  ['fe80::1%eth0', false],
  ['1::2::3', false],
  // underscores, long names, empty
  ['a_b.example.org', true],
  ['x.a_b.example.org', true],
  [LONG_RULE, true],
  [`sub.${LONG_RULE}`, true],
  [LONG_RULE.slice(1), false],
  [`${'x'.repeat(63)}.${'y'.repeat(63)}.${'z'.repeat(63)}.example.com`, true],
  [`${'x.'.repeat(200)}example.net`, false],
  ['', false]
]

/** [host, expected bypassed] for ['<local>']. */
const LOCAL_CASES: [string, boolean][] = [
  ['localhost', true],
  ['LOCALHOST.', true],
  ['a.localhost', true],
  ['localhost.com', false],
  ['mylocalhost', true], // dotless
  ['mylocalhost.net', false],
  ['printer', true],
  ['PRINTER.', true],
  ['printer.lan', false],
  ['bücher', true],
  ['127.0.0.1', true],
  ['127.255.255.254', true],
  ['128.0.0.1', false],
  ['10.1.2.3', true],
  ['172.16.0.1', true],
  ['172.31.255.255', true],
  ['172.32.0.1', false],
  ['172.15.0.1', false],
  ['192.168.0.1', true],
  ['192.169.0.1', false],
  ['169.254.1.1', true],
  ['169.253.1.1', false],
  ['100.64.0.1', false],
  ['8.8.8.8', false],
  ['0.0.0.0', false],
  ['::1', true],
  ['[::1]', true],
  ['::2', false],
  ['::', false],
  ['fd12:3456::1', true],
  ['fc00::1', true],
  ['fe00::1', false],
  ['fe80::1', true],
  ['[FE80::ABCD]', true],
  ['febf::1', true],
  ['fec0::1', false],
  ['2001:db8::1', false],
  ['::ffff:127.0.0.1', true],
  ['::ffff:192.168.1.1', true],
  ['::ffff:8.8.8.8', false],
  ['example.com', false],
  ['', false]
]

/** The host in both IPv6 spellings (Chrome passes either, depending on version). */
function spellings(host: string): string[] {
  if (host.startsWith('[')) return [host, host.slice(1, -1)]
  if (parseIPv6(host) !== null) return [host, `[${host}]`]
  return [host]
}

function urlFor(host: string): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  return `https://${h}:8443/path?q=1`
}

function checkTable(ruleTexts: string[], cases: [string, boolean][]): void {
  const { rules, errors } = parseBypassRules(ruleTexts)
  expect(errors).toEqual([])
  const pac = pacSandbox(compilePac(rules, PROXY))
  const matcher = new BypassMatcher(rules)
  const mismatches: string[] = []
  for (const [host, expected] of cases) {
    for (const h of spellings(host)) {
      const viaMatcher = matcher.matches(h)
      const viaFunction = matchesBypass(rules, h)
      const viaPac = pac.find(urlFor(h), h)
      const want = expected ? 'DIRECT' : `PROXY ${PROXY}`
      if (viaMatcher !== expected || viaFunction !== expected || viaPac !== want) {
        mismatches.push(`${JSON.stringify(h)}: expected ${expected}, matcher ${viaMatcher}, matchesBypass ${viaFunction}, PAC ${viaPac}`)
      }
    }
  }
  expect(mismatches).toEqual([])
  expect(pac.calls).toEqual([])
}

describe('bypass matcher and PAC equivalence', () => {
  it('the tables are large enough', () => {
    expect(GENERAL_CASES.length + LOCAL_CASES.length).toBeGreaterThanOrEqual(60)
    expect(GENERAL_CASES.length).toBeGreaterThanOrEqual(60)
  })

  it('agree on the general rule table', () => checkTable(GENERAL_RULES, GENERAL_CASES))

  it('agree on the <local> table', () => checkTable(['<local>'], LOCAL_CASES))

  it('agree on both tables with all rules combined', () => {
    const combined = [...GENERAL_RULES, '<local>']
    // Hosts of the general table that <local> bypasses too (dotless names, private and loopback IPs).
    const alsoLocal = new Set(['com', 'printer', '192.168.1.21', '192.168.1.2', '192.168.1.200', '::1'])
    const cases: [string, boolean][] = GENERAL_CASES.map(([h, e]) => [h, e || alsoLocal.has(h)])
    cases.push(...LOCAL_CASES.filter(([h]) => !GENERAL_CASES.some(([g]) => g === h)))
    checkTable(combined, cases)
  })

  it('an empty rule list proxies everything', () => {
    checkTable(
      [],
      [...GENERAL_CASES, ...LOCAL_CASES].map(([h]) => [h, false])
    )
  })

  it('0.0.0.0/0 and ::/0 bypass every IP literal but no hostname', () => {
    checkTable(
      ['0.0.0.0/0', '::/0'],
      [
        ['1.2.3.4', true],
        ['255.255.255.255', true],
        ['::', true],
        ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true],
        ['example.com', false],
        ['intranet', false]
      ]
    )
  })

  it('the PAC normalises hosts exactly like normalizeHost (IDN, case, brackets, trailing dot)', () => {
    const pac = pacSandbox(compilePac([], PROXY))
    const mvHost = (pac.context.FindProxyForURL as { normalizeHost: (h: string) => string }).normalizeHost
    const hosts = [
      'bücher.de',
      'BÜCHER.de.',
      'münchen.example',
      'faß.de',
      'ελληνικά.gr',
      'яндекс.рф',
      '日本語.jp',
      '中国。cn',
      'ｅｘａｍｐｌｅ．com',
      'i̇stanbul.tr',
      '😀.example',
      'xn--bcher-kva.de',
      '[::1]',
      'café.fr.',
      'straße.de'
    ]
    for (const h of hosts) expect({ h, pac: mvHost(h) }).toEqual({ h, pac: normalizeHost(h) })
  })

  it('the PAC IPv6 parser accepts exactly what parseIPv6 (ipaddr.js) accepts', () => {
    const pac = pacSandbox(compilePac([], PROXY))
    const mvIPv6 = (pac.context.FindProxyForURL as { parseIPv6: (h: string) => string | null }).parseIPv6
    const samples = [
      '::',
      '::1',
      '1::',
      '1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7::',
      '::2:3:4:5:6:7:8',
      '1::8',
      '2001:db8::1',
      '2001:0db8:0000::0001',
      '::ffff:1.2.3.4',
      '::1.2.3.4',
      '1:2:3:4:5:6:1.2.3.4',
      'fe80::abcd',
      'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      ':1::2',
      '1:2:3:4:5:6:7:',
      ':::',
      '12345::',
      '1.2.3.4::',
      '::1.2.3',
      '::01.2.3.4',
      '::256.1.1.1',
      '1:2:3:4:5:6:7:1.2.3.4',
      '::g',
      'fe80::1%eth0',
      ':',
      '',
      '1:2:3:4:5:6:7',
      '::ffff:1.2.3.4.5',
      '1.2::3'
    ]
    for (const s of samples) expect({ s, pac: mvIPv6(s) }).toEqual({ s, pac: parseIPv6(s) })
  })

  it('the compiled PAC for many rules is hash lookups, not a linear chain', () => {
    const texts = Array.from({ length: 2000 }, (_, i) => (i % 2 ? `site${i}.example.com` : `10.${i >> 8}.${i & 255}.0/24`))
    const { rules } = parseBypassRules(texts)
    const source = compilePac(rules, PROXY)
    expect(source).not.toMatch(/site1\.example\.com.*\|\|/)
    const pac = pacSandbox(source)
    expect(pac.find('https://a.site1999.example.com/', 'a.site1999.example.com')).toBe('DIRECT')
    expect(pac.find('https://10.3.206.9/', '10.3.206.9')).toBe('DIRECT')
    expect(pac.find('https://site2000.example.com/', 'site2000.example.com')).toBe(`PROXY ${PROXY}`)
  })
})
