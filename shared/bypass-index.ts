/**
 * Parsed rules arranged for constant-time lookups, the one structure both evaluators use:
 * the in-memory matcher (shared/bypass-matcher.ts) queries it directly and the PAC compiler
 * (shared/bypass-pac-compiler.ts) serialises it. Exact domains and subdomain suffixes go into
 * hash sets that a lookup walks label by label; IP rules become networks grouped by prefix
 * length, so a lookup costs one set probe per distinct prefix length, not one test per rule.
 */
import { LOCAL_HOSTNAMES, LOCAL_NETWORKS } from './bypass-local.ts'
import { ipv6Bits } from './bypass-ip-address.ts'
import { parseBypassRule, type ParsedBypassRule } from './bypass-rule-parser.ts'

export interface BypassIndex {
  /** `example.com` rules: the domain and its subdomains. */
  readonly domains: Set<string>
  /** `*.example.com` rules: strict subdomains only. */
  readonly subdomains: Set<string>
  /** `<local>`: every dotless hostname. */
  dotless: boolean
  /** IPv4 networks (single addresses are /32) by prefix length: network values. */
  readonly ipv4: Map<number, Set<number>>
  /** IPv6 networks (single addresses are /128) by prefix length: the leading prefix bits as a '0'/'1' string. */
  readonly ipv6: Map<number, Set<string>>
}

const LOCAL_NETWORK_RULES = LOCAL_NETWORKS.map(parseBypassRule)

export function buildBypassIndex(rules: readonly ParsedBypassRule[]): BypassIndex {
  const index: BypassIndex = { domains: new Set(), subdomains: new Set(), dotless: false, ipv4: new Map(), ipv6: new Map() }
  for (const rule of rules) addRule(index, rule)
  return index
}

function addRule(index: BypassIndex, rule: ParsedBypassRule): void {
  switch (rule.kind) {
    case 'domain':
      index.domains.add(rule.domain)
      break
    case 'subdomains':
      index.subdomains.add(rule.domain)
      break
    case 'ipv4':
      addNetwork(index.ipv4, 32, rule.address)
      break
    case 'ipv4-cidr':
      addNetwork(index.ipv4, rule.prefix, rule.network)
      break
    case 'ipv6':
      addNetwork(index.ipv6, 128, ipv6Bits(rule.address))
      break
    case 'ipv6-cidr':
      addNetwork(index.ipv6, rule.prefix, ipv6Bits(rule.network).slice(0, rule.prefix))
      break
    case 'local':
      index.dotless = true
      for (const name of LOCAL_HOSTNAMES) index.domains.add(name)
      for (const network of LOCAL_NETWORK_RULES) addRule(index, network)
      break
  }
}

function addNetwork<T>(table: Map<number, Set<T>>, prefix: number, network: T): void {
  let set = table.get(prefix)
  if (!set) table.set(prefix, (set = new Set()))
  set.add(network)
}
