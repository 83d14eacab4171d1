/**
 * Bypass rules: which hosts skip the VPN and go DIRECT.
 *
 * Rule syntax (one rule per entry, case-insensitive, stored lowercase):
 *   example.com      the host example.com and every subdomain of it
 *   *.example.com    every subdomain of example.com, not example.com itself
 *   192.168.1.20     one IPv4 address
 *   10.0.0.0/8       an IPv4 network (CIDR; host bits must be zero)
 *
 * Two evaluators share these parsed rules and must agree: matchesBypass() (in memory, for the
 * extension and the host) and compilePac() (a PAC script for the browser). The PAC never
 * resolves names: hostnames are compared as strings and IP rules apply only to IP literals,
 * matched with integer arithmetic, so no PAC helper that could trigger DNS is used.
 *
 * To add a rule kind (IPv6, <local>, IDN): add a variant to ParsedBypassRule, a branch to
 * parseBypassRule(), a case to matchesBypass() and a table plus a check to compilePac().
 */

export const BYPASS_RULE_ERROR = 'INVALID_BYPASS_RULE'
export const PROXY_ADDRESS_ERROR = 'INVALID_PROXY_ADDRESS'

/** Longest hostname (RFC 1035), also the longest rule accepted. */
const MAX_HOST_LENGTH = 253
const MAX_LABEL_LENGTH = 63

export type ParsedBypassRule =
  /** `example.com`: the domain itself and its subdomains. */
  | { kind: 'domain'; text: string; domain: string }
  /** `*.example.com`: subdomains only. */
  | { kind: 'subdomains'; text: string; domain: string }
  /** `192.168.1.20`: one address; `address` is the unsigned 32-bit value. */
  | { kind: 'ipv4'; text: string; address: number }
  /** `10.0.0.0/8`: `network` and `mask` are unsigned 32-bit values. */
  | { kind: 'ipv4-cidr'; text: string; network: number; mask: number; prefix: number }

export type BypassRuleKind = ParsedBypassRule['kind']

export interface BypassRuleError {
  index: number
  rule: string
  message: string
}

/** Parse one rule. Throws an Error with code INVALID_BYPASS_RULE and a message naming the fix. */
export function parseBypassRule(input: string): ParsedBypassRule {
  if (typeof input !== 'string') throw ruleError(String(input), 'A bypass rule must be text.')
  const trimmed = input.trim().toLowerCase()
  // A fully qualified name's trailing dot names the same host.
  const text = trimmed.endsWith('.') && !trimmed.endsWith('..') ? trimmed.slice(0, -1) : trimmed
  if (text === '') throw ruleError(input, 'The rule is empty. Enter a host such as example.com, *.example.com, 192.168.1.20 or 10.0.0.0/8.')
  if (text.length > MAX_HOST_LENGTH) throw ruleError(input, `The rule is longer than ${MAX_HOST_LENGTH} characters.`)
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(text)) {
    throw ruleError(input, 'Leave out the scheme: write the host only, e.g. example.com instead of https://example.com.')
  }
  if (/\s/.test(text)) throw ruleError(input, 'A rule cannot contain spaces. Add one host per rule.')
  if (text.includes(',') || text.includes(';')) throw ruleError(input, 'Add one host per rule; do not separate several with commas or semicolons.')
  if (text.includes('[') || (text.match(/:/g)?.length ?? 0) > 1) {
    throw ruleError(input, 'IPv6 addresses are not supported in bypass rules yet. Use a hostname or an IPv4 address.')
  }
  if (text.includes(':')) throw ruleError(input, 'Leave out the port: a rule applies to every port of a host.')

  const slash = text.indexOf('/')
  if (slash !== -1) {
    const address = parseIPv4(text.slice(0, slash))
    if (address === null) throw ruleError(input, 'Leave out the path: write the host only, e.g. example.com. A "/" is only allowed in IPv4 networks such as 10.0.0.0/8.')
    return parseCidr(input, text, address, text.slice(slash + 1))
  }

  const address = parseIPv4(text)
  if (address !== null) return { kind: 'ipv4', text, address }
  if (/^[0-9.]+$/.test(text)) {
    throw ruleError(input, 'This is not a valid IPv4 address: use four numbers from 0 to 255 without leading zeros, e.g. 192.168.1.20.')
  }

  if (text === '*') throw ruleError(input, 'Name a domain after the wildcard, as in *.example.com.')
  if (text.startsWith('*.')) {
    const domain = text.slice(2)
    checkHostname(input, domain)
    return { kind: 'subdomains', text, domain }
  }
  if (text.includes('*')) {
    throw ruleError(input, 'A wildcard is only allowed as a whole first label, as in *.example.com.')
  }
  checkHostname(input, text)
  return { kind: 'domain', text, domain: text }
}

/** Parse a list; valid rules are returned in order (duplicates dropped), every invalid one gets an error. */
export function parseBypassRules(inputs: readonly string[]): { rules: ParsedBypassRule[]; errors: BypassRuleError[] } {
  const rules: ParsedBypassRule[] = []
  const errors: BypassRuleError[] = []
  const seen = new Set<string>()
  inputs.forEach((input, index) => {
    try {
      const rule = parseBypassRule(input)
      if (seen.has(rule.text)) return
      seen.add(rule.text)
      rules.push(rule)
    } catch (err) {
      errors.push({ index, rule: String(input), message: (err as Error).message })
    }
  })
  return { rules, errors }
}

/** Normalise a host as the browser gives it: lowercase, no trailing dot. */
export function normalizeHost(host: string): string {
  const lower = host.toLowerCase()
  return lower.endsWith('.') ? lower.slice(0, -1) : lower
}

/** True when `host` (a hostname or IP literal from a URL) is bypassed by any of `rules`. */
export function matchesBypass(rules: readonly ParsedBypassRule[], host: string): boolean {
  const h = normalizeHost(host)
  const ip = parseIPv4(h)
  for (const rule of rules) {
    switch (rule.kind) {
      case 'domain':
        if (ip === null && (h === rule.domain || h.endsWith('.' + rule.domain))) return true
        break
      case 'subdomains':
        if (ip === null && h.endsWith('.' + rule.domain)) return true
        break
      case 'ipv4':
        if (ip === rule.address) return true
        break
      case 'ipv4-cidr':
        if (ip !== null && (ip & rule.mask) >>> 0 === rule.network) return true
        break
    }
  }
  return false
}

/**
 * A PAC script: bypassed hosts DIRECT, everything else `PROXY <proxyHostPort>` with no DIRECT
 * fallback (a dead proxy fails closed). Plain ES5, no PAC helpers, no DNS.
 */
export function compilePac(rules: readonly ParsedBypassRule[], proxyHostPort: string): string {
  const proxy = checkProxyHostPort(proxyHostPort)
  const domains: string[] = []
  const subdomains: string[] = []
  const addresses: number[] = []
  const networks: [number, number][] = []
  for (const rule of rules) {
    switch (rule.kind) {
      case 'domain':
        domains.push(rule.domain)
        break
      case 'subdomains':
        subdomains.push(rule.domain)
        break
      case 'ipv4':
        addresses.push(rule.address)
        break
      case 'ipv4-cidr':
        networks.push([rule.network, rule.mask])
        break
    }
  }
  // Rule texts are validated to [a-z0-9.-] and numbers, so JSON embedding cannot break out.
  return `// Macro VPN: bypassed hosts go DIRECT, all other traffic through the local VPN proxy.
var DOMAINS = ${JSON.stringify(domains)};
var SUBDOMAINS = ${JSON.stringify(subdomains)};
var ADDRESSES = ${JSON.stringify(addresses)};
var NETWORKS = ${JSON.stringify(networks)};

function macroVpnIPv4(h) {
  var parts = h.split('.');
  if (parts.length !== 4) return -1;
  var value = 0;
  for (var i = 0; i < 4; i++) {
    var p = parts[i];
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return -1;
    var n = parseInt(p, 10);
    if (n > 255) return -1;
    value = value * 256 + n;
  }
  return value;
}

function macroVpnEndsWith(h, suffix) {
  return h.length >= suffix.length && h.substring(h.length - suffix.length) === suffix;
}

function FindProxyForURL(url, host) {
  var h = String(host).toLowerCase();
  if (h.charAt(h.length - 1) === '.') h = h.substring(0, h.length - 1);
  var ip = macroVpnIPv4(h);
  var i;
  if (ip >= 0) {
    for (i = 0; i < ADDRESSES.length; i++) if (ip === ADDRESSES[i]) return 'DIRECT';
    for (i = 0; i < NETWORKS.length; i++) if (((ip & NETWORKS[i][1]) >>> 0) === NETWORKS[i][0]) return 'DIRECT';
  } else {
    for (i = 0; i < DOMAINS.length; i++) if (h === DOMAINS[i] || macroVpnEndsWith(h, '.' + DOMAINS[i])) return 'DIRECT';
    for (i = 0; i < SUBDOMAINS.length; i++) if (macroVpnEndsWith(h, '.' + SUBDOMAINS[i])) return 'DIRECT';
  }
  return ${JSON.stringify('PROXY ' + proxy)};
}
`
}

/** The unsigned 32-bit value of a dotted-quad IPv4 literal (no leading zeros), or null. */
export function parseIPv4(text: string): number | null {
  const parts = text.split('.')
  if (parts.length !== 4) return null
  let value = 0
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null
    const n = Number(part)
    if (n > 255) return null
    value = value * 256 + n
  }
  return value
}

function parseCidr(input: string, text: string, address: number, prefixText: string): ParsedBypassRule {
  if (!/^(0|[1-9][0-9]?)$/.test(prefixText) || Number(prefixText) > 32) {
    throw ruleError(input, 'The network prefix must be a number from 0 to 32, as in 10.0.0.0/8.')
  }
  const prefix = Number(prefixText)
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  const network = (address & mask) >>> 0
  if (network !== address) {
    throw ruleError(input, `The address has bits set outside the /${prefix} prefix; did you mean ${formatIPv4(network)}/${prefix}?`)
  }
  return { kind: 'ipv4-cidr', text, network, mask, prefix }
}

function checkHostname(input: string, host: string): void {
  if (host === '' || host === '*') throw ruleError(input, 'Name a domain after the wildcard, as in *.example.com.')
  if (host.includes('*')) throw ruleError(input, 'A wildcard is only allowed as a whole first label, as in *.example.com.')
  if (host.endsWith('.')) throw ruleError(input, 'A hostname cannot end in two dots.')
  if (host.startsWith('.')) throw ruleError(input, 'A rule cannot start with a dot: write example.com (it already covers subdomains) or *.example.com.')
  const labels = host.split('.')
  for (const label of labels) {
    if (label === '') throw ruleError(input, 'A hostname cannot contain two dots in a row.')
    if (label.length > MAX_LABEL_LENGTH) throw ruleError(input, `Each part of a hostname between dots can be at most ${MAX_LABEL_LENGTH} characters long.`)
    if (!/^[a-z0-9-]+$/.test(label)) {
      throw ruleError(input, 'A hostname may only contain letters a-z, digits, hyphens and dots. Write international names in their xn-- form.')
    }
    if (label.startsWith('-') || label.endsWith('-')) throw ruleError(input, 'A part of a hostname cannot start or end with a hyphen.')
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) {
    throw ruleError(input, 'A hostname cannot end in a number; for an address write four numbers, e.g. 192.168.1.20.')
  }
}

function checkProxyHostPort(hostPort: string): string {
  const m = /^([a-z0-9.-]+):([0-9]{1,5})$/i.exec(typeof hostPort === 'string' ? hostPort : '')
  const port = m ? Number(m[2]) : 0
  if (!m || port < 1 || port > 65535) {
    throw Object.assign(new Error(`Invalid proxy address ${JSON.stringify(hostPort)}: expected host:port such as 127.0.0.1:8080.`), {
      code: PROXY_ADDRESS_ERROR
    })
  }
  return `${m[1]!.toLowerCase()}:${port}`
}

function formatIPv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.')
}

function ruleError(rule: string, message: string): Error {
  return Object.assign(new Error(`Invalid bypass rule "${rule.slice(0, 80)}": ${message}`), { code: BYPASS_RULE_ERROR, rule })
}
