/**
 * A host as the browser hands it to the proxy decision (URL hostname or PAC `host`), reduced to
 * the one form rules are compared with: lowercase, ASCII (IDN labels in punycode, via the
 * platform's URL parser), no trailing dot, IPv6 without brackets. The PAC script repeats these
 * steps in ES5 (shared/bypass-pac-compiler.ts); the unit tests check that both agree.
 */
import { ipv4Mapped, parseIPv4, parseIPv6 } from './bypass-ip-address.ts'

export type BypassHost =
  /** A hostname (never contains ':'); `name` is normalized. */
  | { kind: 'name'; name: string }
  | { kind: 'ipv4'; address: number }
  /** `address` is 32 hex digits; `mapped` the IPv4 value of `::ffff:a.b.c.d`, else null. */
  | { kind: 'ipv6'; address: string; mapped: number | null }
  /** Anything else (e.g. a malformed IPv6 literal): matches no rule. */
  | { kind: 'other' }

// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/
/** ASCII characters a hostname may carry next to non-ASCII ones before IDN conversion. */
const IDN_ASCII_OK = /^(?:[a-z0-9._-]|[^\x00-\x7f])+$/

/** Lowercase, punycode for non-ASCII labels, no trailing dot, no IPv6 brackets. */
export function normalizeHost(host: string): string {
  let h = String(host).toLowerCase()
  if (h.length > 1 && h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1)
  if (!ASCII.test(h)) h = toAsciiHostname(h) ?? h
  return h.endsWith('.') ? h.slice(0, -1) : h
}

/**
 * The ASCII (punycode) form of a lowercase hostname with non-ASCII labels, using the platform's
 * IDNA (UTS #46) processing; null when it is not a valid international name.
 */
export function toAsciiHostname(host: string): string | null {
  if (!IDN_ASCII_OK.test(host)) return null
  try {
    return new URL(`http://${host}/`).hostname
  } catch {
    return null
  }
}

/** Classify a host for matching. */
export function classifyHost(host: string): BypassHost {
  const h = normalizeHost(host)
  const v4 = parseIPv4(h)
  if (v4 !== null) return { kind: 'ipv4', address: v4 }
  if (h.includes(':')) {
    const v6 = parseIPv6(h)
    return v6 === null ? { kind: 'other' } : { kind: 'ipv6', address: v6, mapped: ipv4Mapped(v6) }
  }
  return h === '' ? { kind: 'other' } : { kind: 'name', name: h }
}
