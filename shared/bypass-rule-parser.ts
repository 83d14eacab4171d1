/**
 * Bypass rules: which hosts skip the VPN and go DIRECT. The syntax users know from Chrome's proxy
 * bypass list and FoxyProxy (one rule per entry, case-insensitive):
 *   example.com        the host example.com and every subdomain of it
 *   *.example.com      every subdomain of example.com, not example.com itself
 *   bücher.de          international names are stored in punycode (xn--bcher-kva.de)
 *   192.168.1.20       one IPv4 address
 *   10.0.0.0/8         an IPv4 network (CIDR; host bits must be zero)
 *   2001:db8::1        one IPv6 address, with or without brackets ([2001:db8::1])
 *   fd00::/8           an IPv6 network
 *   <local>            localhost, dotless hostnames, and loopback, private and link-local IP
 *                      literals (see shared/bypass-local.ts)
 * Every rule has a canonical `text` (lowercase, ASCII, IPv6 per RFC 5952), used for storage and
 * to drop duplicates.
 */
import ipaddr from 'ipaddr.js'
import { toAsciiHostname } from './bypass-host.ts'
import { formatIPv4, formatIPv6, ipv4Mask, ipv6Bits, parseIPv4, parseIPv6 } from './bypass-ip-address.ts'

export const BYPASS_RULE_ERROR = 'INVALID_BYPASS_RULE'
export const LOCAL_RULE = '<local>'

/** Longest hostname (RFC 1035) in ASCII form; a wildcard rule may add `*.`. */
const MAX_HOST_LENGTH = 253
const MAX_LABEL_LENGTH = 63
/** Longest rule text accepted before any conversion (IDN input may be long-winded). */
const MAX_INPUT_LENGTH = 512
const EXAMPLES = 'example.com, *.example.com, 192.168.1.20, 10.0.0.0/8, fd00::/8 or <local>'

export type ParsedBypassRule =
  /** `example.com`: the domain itself and its subdomains. */
  | { kind: 'domain'; text: string; domain: string }
  /** `*.example.com`: subdomains only. */
  | { kind: 'subdomains'; text: string; domain: string }
  /** `192.168.1.20`: one address; `address` is the unsigned 32-bit value. */
  | { kind: 'ipv4'; text: string; address: number }
  /** `10.0.0.0/8`: `network` and `mask` are unsigned 32-bit values. */
  | { kind: 'ipv4-cidr'; text: string; network: number; mask: number; prefix: number }
  /** `2001:db8::1`: `address` is 32 lowercase hex digits. */
  | { kind: 'ipv6'; text: string; address: string }
  /** `fd00::/8`: `network` is 32 lowercase hex digits with the host bits zero. */
  | { kind: 'ipv6-cidr'; text: string; network: string; prefix: number }
  /** `<local>`. */
  | { kind: 'local'; text: typeof LOCAL_RULE }

export type BypassRuleKind = ParsedBypassRule['kind']

export interface BypassRuleError {
  index: number
  rule: string
  message: string
}

/** Parse one rule. Throws an Error with code INVALID_BYPASS_RULE and a message naming the fix. */
export function parseBypassRule(input: string): ParsedBypassRule {
  if (typeof input !== 'string') throw ruleError(String(input), 'A bypass rule must be text.')
  const text = input.trim().toLowerCase()
  if (text === '') throw ruleError(input, `The rule is empty. Enter a host such as ${EXAMPLES}.`)
  if (text.length > MAX_INPUT_LENGTH) throw ruleError(input, `The rule is longer than ${MAX_HOST_LENGTH} characters; a hostname cannot be that long.`)
  if (text === LOCAL_RULE) return { kind: 'local', text: LOCAL_RULE }
  if (text.startsWith('<')) {
    throw ruleError(input, 'The only special rule is <local> (localhost, names without a dot and private network addresses).')
  }
  if (text.includes('://')) {
    throw ruleError(input, 'Leave out the scheme: write the host only, e.g. example.com instead of https://example.com.')
  }
  if (/\s/.test(text)) throw ruleError(input, 'A rule cannot contain spaces. Add one host per rule.')
  if (text.includes(',') || text.includes(';')) throw ruleError(input, 'Add one host per rule; do not separate several with commas or semicolons.')
  if (text.includes('@')) throw ruleError(input, 'Leave out user names: write the host only, e.g. example.com.')

  if (text.startsWith('[') || text.includes(':')) return parseIPv6Rule(input, text)

  const slash = text.indexOf('/')
  if (slash !== -1) {
    const address = parseIPv4(text.slice(0, slash))
    if (address === null) {
      throw ruleError(input, 'Leave out the path: write the host only, e.g. example.com. A "/" is only allowed in networks such as 10.0.0.0/8 or fd00::/8.')
    }
    return parseIPv4Cidr(input, address, text.slice(slash + 1))
  }

  // A fully qualified name's trailing dot names the same host.
  const name = text.endsWith('.') && !text.endsWith('..') ? text.slice(0, -1) : text
  const address = parseIPv4(name)
  if (address !== null) return { kind: 'ipv4', text: formatIPv4(address), address }
  if (/^[0-9.]+$/.test(name)) {
    throw ruleError(input, 'This is not a valid IPv4 address: use four numbers from 0 to 255 without leading zeros, e.g. 192.168.1.20.')
  }

  if (name === '*' || name === '*.') throw ruleError(input, 'Name a domain after the wildcard, as in *.example.com.')
  if (name.startsWith('*.')) {
    const domain = hostname(input, name.slice(2))
    return { kind: 'subdomains', text: `*.${domain}`, domain }
  }
  const domain = hostname(input, name)
  return { kind: 'domain', text: domain, domain }
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

function parseIPv6Rule(input: string, text: string): ParsedBypassRule {
  let body = text
  if (text.startsWith('[')) {
    const close = text.indexOf(']')
    if (close === -1) throw ruleError(input, 'The closing "]" is missing: write an IPv6 address as [2001:db8::1] or 2001:db8::1.')
    const after = text.slice(close + 1)
    if (after.startsWith(':')) throw ruleError(input, 'Leave out the port: a rule applies to every port of a host.')
    if (after !== '' && !after.startsWith('/')) throw ruleError(input, 'Nothing may follow "]" except a network prefix, as in [fd00::]/8.')
    body = text.slice(1, close) + after
  }
  if (body.includes('%')) throw ruleError(input, 'Leave out the zone (the part from "%"): write the address only, e.g. fe80::1.')
  const slash = body.indexOf('/')
  const addressText = slash === -1 ? body : body.slice(0, slash)
  const address = parseIPv6(addressText)
  if (address === null) {
    if (!text.startsWith('[') && /^[^:]+:[0-9]*$/.test(body)) {
      throw ruleError(input, 'Leave out the port: a rule applies to every port of a host.')
    }
    throw ruleError(input, 'This is not a valid IPv6 address: write it as in 2001:db8::1 or [2001:db8::1], a network as in fd00::/8.')
  }
  if (slash === -1) return { kind: 'ipv6', text: formatIPv6(address), address }
  const prefixText = body.slice(slash + 1)
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > 128) {
    throw ruleError(input, 'The IPv6 network prefix must be a number from 0 to 128, as in fd00::/8.')
  }
  const prefix = Number(prefixText)
  const bits = ipv6Bits(address)
  if (bits.slice(prefix).includes('1')) {
    const network = ipaddr.IPv6.networkAddressFromCIDR(`${formatIPv6(address)}/${prefix}`).toString()
    throw ruleError(input, `The address has bits set outside the /${prefix} prefix; did you mean ${network}/${prefix}?`)
  }
  return { kind: 'ipv6-cidr', text: `${formatIPv6(address)}/${prefix}`, network: address, prefix }
}

function parseIPv4Cidr(input: string, address: number, prefixText: string): ParsedBypassRule {
  if (!/^(0|[1-9][0-9]?)$/.test(prefixText) || Number(prefixText) > 32) {
    throw ruleError(input, 'The network prefix must be a number from 0 to 32, as in 10.0.0.0/8.')
  }
  const prefix = Number(prefixText)
  const mask = ipv4Mask(prefix)
  const network = (address & mask) >>> 0
  if (network !== address) {
    throw ruleError(input, `The address has bits set outside the /${prefix} prefix; did you mean ${formatIPv4(network)}/${prefix}?`)
  }
  return { kind: 'ipv4-cidr', text: `${formatIPv4(network)}/${prefix}`, network, mask, prefix }
}

/** Validate a hostname (no wildcard, no trailing dot) and return its ASCII form. */
function hostname(input: string, host: string): string {
  if (host === '') throw ruleError(input, 'Name a domain after the wildcard, as in *.example.com.')
  if (host.includes('*')) throw ruleError(input, 'A wildcard is only allowed as a whole first label, as in *.example.com.')
  if (host.startsWith('.')) throw ruleError(input, 'A rule cannot start with a dot: write example.com (it already covers subdomains) or *.example.com.')
  if (host.includes('..') || host.endsWith('.')) throw ruleError(input, 'A hostname cannot contain two dots in a row.')
  if (host.includes('/')) throw ruleError(input, 'Leave out the path: write the host only, e.g. example.com.')
  const hyphenated = (label: string): boolean => label.startsWith('-') || label.endsWith('-')
  if (host.split('.').some(hyphenated)) throw ruleError(input, 'A part of a hostname cannot start or end with a hyphen.')
  let ascii = host
  if (/[^\x00-\x7f]/.test(host)) {
    const converted = toAsciiHostname(host)
    if (converted === null || converted.endsWith('.') || converted.includes('..')) {
      throw ruleError(input, 'This is not a valid international domain name. Check the spelling, or enter its xn-- form.')
    }
    ascii = converted
  }
  if (ascii.length > MAX_HOST_LENGTH) throw tooLong(input)
  const labels = ascii.split('.')
  for (const label of labels) {
    if (label.length > MAX_LABEL_LENGTH) throw ruleError(input, `Each part of a hostname between dots can be at most ${MAX_LABEL_LENGTH} characters long.`)
    if (!/^[a-z0-9_-]+$/.test(label)) {
      throw ruleError(input, 'A hostname may only contain letters, digits, hyphens, underscores and dots.')
    }
    if (hyphenated(label)) throw ruleError(input, 'A part of a hostname cannot start or end with a hyphen.')
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) {
    throw ruleError(input, 'A hostname cannot end in a number; for an address write four numbers, e.g. 192.168.1.20.')
  }
  return ascii
}

function tooLong(input: string): Error {
  return ruleError(input, `The rule is longer than ${MAX_HOST_LENGTH} characters; a hostname cannot be that long.`)
}

function ruleError(rule: string, message: string): Error {
  return Object.assign(new Error(`Invalid bypass rule "${rule.slice(0, 80)}": ${message}`), { code: BYPASS_RULE_ERROR, rule })
}
