/**
 * The in-memory bypass matcher, for the extension (Firefox proxy.onRequest, the popup, the
 * context menu) and the host. It answers exactly what the compiled PAC script answers
 * (shared/bypass-pac-compiler.ts); the unit tests run both on one table.
 */
import { classifyHost } from './bypass-host.ts'
import { buildBypassIndex, type BypassIndex } from './bypass-index.ts'
import { ipv4Mask, ipv6Bits } from './bypass-ip-address.ts'
import type { ParsedBypassRule } from './bypass-rule-parser.ts'

export class BypassMatcher {
  private readonly index: BypassIndex
  private readonly ipv4Prefixes: [prefix: number, mask: number, networks: Set<number>][]
  private readonly ipv6Prefixes: [prefix: number, networks: Set<string>][]

  constructor(rules: readonly ParsedBypassRule[]) {
    this.index = buildBypassIndex(rules)
    this.ipv4Prefixes = [...this.index.ipv4].map(([prefix, set]) => [prefix, ipv4Mask(prefix), set])
    this.ipv6Prefixes = [...this.index.ipv6]
  }

  /** True when `host` (a URL hostname or PAC host: any case, IDN, trailing dot, IPv6 with or without brackets) goes DIRECT. */
  matches(host: string): boolean {
    const h = classifyHost(host)
    switch (h.kind) {
      case 'name':
        return this.matchesName(h.name)
      case 'ipv4':
        return this.matchesIPv4(h.address)
      case 'ipv6':
        return this.matchesIPv6(h.address) || (h.mapped !== null && this.matchesIPv4(h.mapped))
      case 'other':
        return false
    }
  }

  private matchesName(name: string): boolean {
    const { domains, subdomains } = this.index
    if (domains.has(name)) return true
    let dot = name.indexOf('.')
    if (dot === -1) return this.index.dotless
    while (dot !== -1) {
      const suffix = name.slice(dot + 1)
      if (domains.has(suffix) || subdomains.has(suffix)) return true
      dot = name.indexOf('.', dot + 1)
    }
    return false
  }

  private matchesIPv4(address: number): boolean {
    for (const [, mask, networks] of this.ipv4Prefixes) if (networks.has((address & mask) >>> 0)) return true
    return false
  }

  private matchesIPv6(address: string): boolean {
    if (this.ipv6Prefixes.length === 0) return false
    const bits = ipv6Bits(address)
    for (const [prefix, networks] of this.ipv6Prefixes) if (networks.has(bits.slice(0, prefix))) return true
    return false
  }
}

const matchers = new WeakMap<readonly ParsedBypassRule[], { length: number; first: unknown; last: unknown; matcher: BypassMatcher }>()

/**
 * True when `host` is bypassed by any of `rules`. The index built for a rules array is cached
 * per array; treat the array as immutable (a changed length or first/last rule rebuilds it), or
 * hold a BypassMatcher yourself.
 */
export function matchesBypass(rules: readonly ParsedBypassRule[], host: string): boolean {
  let cached = matchers.get(rules)
  if (!cached || cached.length !== rules.length || cached.first !== rules[0] || cached.last !== rules[rules.length - 1]) {
    cached = { length: rules.length, first: rules[0], last: rules[rules.length - 1], matcher: new BypassMatcher(rules) }
    matchers.set(rules, cached)
  }
  return cached.matcher.matches(host)
}

/**
 * The rules that, each on its own, bypass `host` (e.g. what "Stop bypassing this site" must
 * remove). `<local>` is included when it covers the host; callers may choose to keep it.
 */
export function matchingBypassRules(rules: readonly ParsedBypassRule[], host: string): ParsedBypassRule[] {
  return rules.filter((rule) => new BypassMatcher([rule]).matches(host))
}
